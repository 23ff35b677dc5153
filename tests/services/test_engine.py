"""The engine's rules, each as the scenario an office would see, over real HTTP."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.api import ReplyRefused
from tests.harness import BUSINESS, TestApp, call_sid, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

CALLER = "+14155550123"
OTHER = "+14155550124"
ALWAYS_OPEN = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def run(
    database_url: str,
    data_dir: Path,
    standin: TwilioStandIn,
    scenario: Any,
    settings: dict[str, Any] | None = None,
) -> None:
    async def main() -> None:
        async with running_app(database_url, data_dir, standin, settings=settings) as app:
            await scenario(app)

    asyncio.run(main())


async def settle(app: TestApp) -> None:
    """Let every job that is due now, and what it schedules, finish."""
    for _ in range(3):
        await asyncio.sleep(0.05)
        await app.idle()


@pytest.fixture
def env(database_url: str, data_dir: Path, twilio_standin: TwilioStandIn) -> Any:
    def go(scenario: Any, **settings: Any) -> None:
        run(
            database_url,
            data_dir,
            twilio_standin,
            scenario,
            {k.replace("__", "."): v for k, v in settings.items()},
        )

    go.standin = twilio_standin  # type: ignore[attr-defined]
    return go


def test_answered_call_sends_nothing(env: Any) -> None:
    async def scenario(app: TestApp) -> None:
        await app.missed_call(CALLER, dial_status="completed")
        await settle(app)
        assert app.standin.messages_sent == []
        assert await app.inbox.missed_calls() == []

    env(scenario)


def test_ring_mode_dials_the_office_phones_with_the_dial_result_action(env: Any) -> None:
    async def scenario(app: TestApp) -> None:
        status, twiml = await app.post(
            "voice", {"CallSid": call_sid(), "From": CALLER, "To": BUSINESS}
        )
        assert status == 200
        assert '<Dial timeout="25" action="/twilio/voice/dial-result"' in twiml
        assert "<Number>+15005550002</Number><Number>+15005550003</Number>" in twiml

    env(scenario, forwarding__numbers=["+15005550002", "+15005550003"], forwarding__ring_seconds=25)


def test_forward_mode_greets_and_texts_every_call(env: Any) -> None:
    async def scenario(app: TestApp) -> None:
        status, twiml = await app.post(
            "voice", {"CallSid": call_sid(), "From": CALLER, "To": BUSINESS}
        )
        assert status == 200
        assert "<Say>Sorry we missed your call" in twiml and "<Record" in twiml
        await app.standin.wait_for_messages(1)
        await settle(app)
        assert len(app.standin.messages_sent) == 1

    env(scenario, forwarding__numbers=[], voicemail__record=True)


def test_caller_hanging_up_while_ringing_counts_as_missed(env: Any) -> None:
    async def scenario(app: TestApp) -> None:
        sid = call_sid()
        await app.post("voice", {"CallSid": sid, "From": CALLER, "To": BUSINESS})
        await app.post(
            "call_status",
            {"CallSid": sid, "From": CALLER, "To": BUSINESS, "CallStatus": "canceled"},
        )
        await app.standin.wait_for_messages(1)
        calls = await app.inbox.missed_calls()
        assert [c.sid for c in calls] == [sid]

    env(scenario)


def test_child_leg_status_is_ignored_and_dial_result_for_unknown_call_is_kept(env: Any) -> None:
    async def scenario(app: TestApp) -> None:
        parent = call_sid()
        status, _ = await app.post(
            "call_status",
            {
                "CallSid": call_sid(),
                "ParentCallSid": parent,
                "From": CALLER,
                "To": BUSINESS,
                "CallStatus": "no-answer",
            },
        )
        assert status == 204
        assert await app.inbox.missed_calls() == []
        # A Dial result whose voice webhook we never saw (e.g. we were restarting).
        status, _ = await app.post(
            "dial_result",
            {"CallSid": parent, "From": CALLER, "To": BUSINESS, "DialCallStatus": "busy"},
        )
        assert status == 200
        await app.standin.wait_for_messages(1)
        assert [c.sid for c in await app.inbox.missed_calls()] == [parent]

    env(scenario)


@pytest.mark.parametrize(
    ("caller", "reason"),
    [
        ("anonymous", "anonymous"),
        ("+266696687", "anonymous"),
        ("client:alice", "client"),
        ("sip:bob@example.com", "sip"),
        ("72345", "short_code"),
        ("+1555", "short_code"),
        ("12", "invalid"),
    ],
)
def test_numbers_that_cannot_take_a_text_are_recorded_and_never_texted(
    env: Any, caller: str, reason: str
) -> None:
    async def scenario(app: TestApp) -> None:
        await app.missed_call(caller)
        await settle(app)
        assert app.standin.messages_sent == []
        (call,) = await app.inbox.missed_calls()
        assert call.textback_state == "skipped"
        assert call.from_raw == caller
        assert call.textback_reason  # said in words
        from services import phones

        assert call.textback_reason == phones.describe_reason(reason)

    env(scenario)


def test_stop_opts_out_start_opts_back_in_and_help_is_answered(env: Any) -> None:
    async def scenario(app: TestApp) -> None:
        await app.missed_call(CALLER)
        await app.standin.wait_for_messages(1)
        await app.reply(CALLER, "Stop.")
        await settle(app)
        (row,) = await app.inbox.conversations(filter="opted_out")
        assert row.opted_out
        with pytest.raises(ReplyRefused, match="opted out"):
            await app.engine.send_reply(row.contact_id, "Hello?", author="Dana")
        # Their next missed call is not texted, and says why.
        await app.missed_call(CALLER)
        await settle(app)
        assert len(app.standin.messages_sent) == 1
        newest = (await app.inbox.missed_calls())[0]
        assert newest.textback_reason == "the caller opted out (texted STOP)"
        await app.reply(CALLER, "START")
        await app.reply(CALLER, "help")
        await app.standin.wait_for_messages(2)
        assert "Reply STOP to opt out" in app.standin.messages_sent[1]["body"]
        assert not (await app.inbox.contact(row.contact_id)).opted_out

    env(scenario)


def test_second_call_inside_the_repeat_window_is_not_texted_again(env: Any) -> None:
    async def scenario(app: TestApp) -> None:
        await app.missed_call(CALLER)
        await app.missed_call(CALLER)
        await app.missed_call(OTHER)
        await app.standin.wait_for_messages(2)
        await settle(app)
        assert sorted(m["to"] for m in app.standin.messages_sent) == [CALLER, OTHER]
        states = [(c.phone, c.textback_state) for c in await app.inbox.missed_calls()]
        assert states.count((CALLER, "skipped")) == 1

    env(scenario)


def test_after_hours_call_gets_the_after_hours_template(env: Any) -> None:
    async def scenario(app: TestApp) -> None:
        await app.missed_call(CALLER)
        await app.standin.wait_for_messages(1)
        assert app.standin.messages_sent[0]["body"] == "We're closed. Back at 8!"
        (call,) = await app.inbox.missed_calls()
        assert call.after_hours

    env(scenario, business__hours={}, templates__after_hours="We're closed. Back at 8!")


def test_quiet_hours_hold_the_text_until_they_end(env: Any) -> None:
    from datetime import datetime

    # Quiet hours are read on the caller's clock: a 415 number is in Los Angeles.
    tz = ZoneInfo("America/Los_Angeles")
    now = datetime.now(tz)
    start = (now - timedelta(hours=1)).strftime("%H:%M")
    end = (now + timedelta(hours=2)).strftime("%H:%M")

    async def scenario(app: TestApp) -> None:
        await app.missed_call(CALLER)
        await settle(app)
        assert app.standin.messages_sent == []
        (call,) = await app.inbox.missed_calls()
        assert call.textback_state == "held"
        assert call.textback_due_at is not None
        local_due = call.textback_due_at.astimezone(tz)
        assert local_due.strftime("%H:%M") == end
        assert local_due > now

    env(scenario, quiet_hours={"start": start, "end": end})


def test_carrier_opt_out_error_marks_the_contact_and_explains_the_failure(env: Any) -> None:
    async def scenario(app: TestApp) -> None:
        app.standin.opt_out(CALLER)
        await app.missed_call(CALLER)
        await settle(app)
        (call,) = await app.inbox.missed_calls()
        assert call.textback_state == "skipped"
        assert "opted out" in (call.textback_reason or "")
        contact = await app.inbox.contact(call.contact_id)
        assert contact.opted_out
        thread = await app.inbox.thread(call.contact_id)
        failed = [i for i in thread if getattr(i, "status", None) == "failed"]
        assert failed and "21610" in (failed[0].error or "")

    env(scenario)


def test_not_textable_error_is_recorded_not_retried(env: Any) -> None:
    async def scenario(app: TestApp) -> None:
        app.standin.fail_next("Messages.json", 400, 21614, "not a mobile number", method="POST")
        await app.missed_call(CALLER)
        await settle(app)
        (call,) = await app.inbox.missed_calls()
        assert call.textback_state == "skipped"
        assert "cannot receive texts" in (call.textback_reason or "")
        assert app.standin.messages_sent == []

    env(scenario)


def test_delivery_status_moves_forward_only_and_failure_is_in_words(env: Any) -> None:
    async def scenario(app: TestApp) -> None:
        await app.missed_call(CALLER)
        (sent,) = await app.standin.wait_for_messages(1)
        await settle(app)
        sid = sent["sid"]
        await app.post("sms_status", {"MessageSid": sid, "MessageStatus": "delivered"})
        await app.post("sms_status", {"MessageSid": sid, "MessageStatus": "sent"})  # late
        (call,) = await app.inbox.missed_calls()
        assert call.textback_status == "delivered"
        await app.missed_call(OTHER)
        (_, second) = await app.standin.wait_for_messages(2)
        await settle(app)
        await app.post(
            "sms_status",
            {"MessageSid": second["sid"], "MessageStatus": "undelivered", "ErrorCode": "30006"},
        )
        contact = (await app.inbox.missed_calls())[0].contact_id
        thread = await app.inbox.thread(contact)
        out = [i for i in thread if getattr(i, "direction", None) == "out"][-1]
        assert out.status == "undelivered"
        assert out.error == "the number is a landline or cannot receive texts (error 30006)"

    env(scenario)


def test_inbound_text_keeps_media_emoji_rtl_and_ignores_duplicates(env: Any) -> None:
    body = "Leak again 💧 שלום مرحبا"

    async def scenario(app: TestApp) -> None:
        sid = "SM" + "b" * 32
        params = {
            "MessageSid": sid,
            "From": CALLER,
            "To": BUSINESS,
            "Body": body,
            "NumMedia": "2",
            "MediaUrl0": "https://api.twilio.com/media/ME1",
            "MediaContentType0": "image/jpeg",
            "MediaUrl1": "https://api.twilio.com/media/ME2",
            "MediaContentType1": "image/png",
        }
        for _ in range(2):  # Twilio retried the webhook
            status, twiml = await app.post("sms", params)
            assert status == 200 and twiml.endswith("<Response />")
        (row,) = await app.inbox.conversations()
        assert row.unread == 1
        (message,) = await app.inbox.thread(row.contact_id)
        assert message.body == body
        assert message.media == (
            ("https://api.twilio.com/media/ME1", "image/jpeg"),
            ("https://api.twilio.com/media/ME2", "image/png"),
        )
        assert (await app.inbox.conversations(search="שלום"))[0].contact_id == row.contact_id

    env(scenario)


@pytest.mark.parametrize(
    ("name", "params", "missing"),
    [
        ("voice", {"From": CALLER}, "CallSid"),
        ("dial_result", {"CallSid": "CA" + "1" * 32}, "DialCallStatus"),
        ("call_status", {"CallSid": "CA" + "2" * 32}, "CallStatus"),
        ("sms", {"From": CALLER, "Body": "hi"}, "MessageSid"),
        ("sms_status", {"MessageSid": "SM" + "3" * 32}, "MessageStatus"),
        ("voice", {}, "CallSid"),
    ],
)
def test_missing_fields_get_a_clear_400_and_change_nothing(
    env: Any, name: str, params: dict[str, str], missing: str
) -> None:
    async def scenario(app: TestApp) -> None:
        status, text = await app.post(name, params)
        assert status == 400
        assert missing in text
        assert await app.inbox.conversations() == []
        assert await app.inbox.missed_calls() == []

    env(scenario)


def test_webhooks_signed_wrongly_are_refused_and_change_nothing(env: Any) -> None:
    async def scenario(app: TestApp) -> None:
        status, _ = await app.post(
            "sms",
            {"MessageSid": "SM" + "c" * 32, "From": CALLER, "To": BUSINESS, "Body": "hi"},
            token="not-the-auth-token",
        )
        assert status == 403
        assert await app.inbox.conversations() == []
        rejected = [r for r in app.runtime.webhooks.recent if r.status == 403]
        assert (
            rejected and rejected[0].checked_url == "https://frontdesk-test.example.com/twilio/sms"
        )

    env(scenario)


def test_manual_reply_reaches_the_carrier_with_a_status_callback(env: Any) -> None:
    async def scenario(app: TestApp) -> None:
        await app.reply(CALLER, "Can someone call me?")
        (row,) = await app.inbox.conversations()
        message_id = await app.engine.send_reply(
            row.contact_id, "Calling you in 5 min", author="Dana"
        )
        (sent,) = await app.standin.wait_for_messages(1)
        assert sent["body"] == "Calling you in 5 min"
        assert sent["status_callback"] == "https://frontdesk-test.example.com/twilio/sms/status"
        thread = await app.inbox.thread(row.contact_id)
        mine = [i for i in thread if getattr(i, "id", None) == message_id and hasattr(i, "author")]
        assert mine[0].author == "Dana" and mine[0].kind == "manual"
        with pytest.raises(ReplyRefused):
            await app.engine.send_reply(row.contact_id, "   ", author="Dana")

    env(scenario)


def test_staff_can_cancel_a_pending_auto_text(env: Any) -> None:
    async def scenario(app: TestApp) -> None:
        await app.missed_call(CALLER)
        (call,) = await app.inbox.missed_calls()
        assert call.textback_state == "scheduled" and call.textback_due_at is not None
        assert await app.engine.cancel_textback(call.id, actor="Dana")
        (call,) = await app.inbox.missed_calls()
        assert call.textback_state == "cancelled"
        await asyncio.sleep(0.2)
        assert app.standin.messages_sent == []

    env(scenario, textback__delay_seconds=60)
