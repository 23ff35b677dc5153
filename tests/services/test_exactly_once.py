"""Exactly once, by construction: every fault the carrier can throw at a send ends with
one message at Twilio and the thread showing it sent with Twilio's SID.

Time is a :class:`~services.clock.ManualClock`: the settle period before a look-up, the
backoff after a 429, quiet hours and the 24 h follow-up pass when the test says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from services.clock import ManualClock
from services.send_state import SendState, Shown
from services.storage.database import UnitOfWork
from services.storage.models import Job
from tests.harness import BUSINESS, TestApp, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

CALLER = "+14155550123"
BODY = "Sorry we missed you! How can we help?"
ALWAYS_OPEN = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}

Scenario = Callable[[TestApp, ManualClock], Awaitable[None]]


@pytest.fixture
def run(database_url: str, data_dir: Path, twilio_standin: TwilioStandIn) -> Any:
    def go(
        scenario: Scenario,
        *,
        start: datetime | None = None,
        gateway_timeout: float = 0.5,
        **settings: Any,
    ) -> None:
        clock = ManualClock(start)

        async def main() -> None:
            async with running_app(
                database_url,
                data_dir,
                twilio_standin,
                clock=clock,
                gateway_timeout=gateway_timeout,
                settings={
                    "templates.missed_call": BODY,
                    **{k.replace("__", "."): v for k, v in settings.items()},
                },
            ) as app:
                await scenario(app, clock)

        asyncio.run(main())

    return go


async def jobs(app: TestApp) -> list[tuple[str, str]]:
    def read(uow: UnitOfWork) -> list[tuple[str, str]]:
        return [(j.kind, j.state) for j in uow.session.scalars(select(Job).order_by(Job.id))]

    return await app.runtime.db.run(read)


async def textback_shown(app: TestApp) -> Shown:
    (call,) = await app.inbox.missed_calls()
    return call.textback_state


async def assert_sent_once(app: TestApp) -> None:
    """One message at the stand-in, and our row holds its SID, shown as sent."""
    (created,) = app.standin.messages_sent
    ((sid, body, status, _kind, _error),) = await app.outbound()
    assert sid == created["sid"] and body == created["body"]
    assert status not in ("sending", "retrying", "failed")


# ---- the create's answer is lost: look up, adopt, never resend -----------------------------
@pytest.mark.parametrize("fault", ["drop", "500", "hang"])
def test_auto_text_whose_answer_is_lost_is_adopted_not_resent(run: Any, fault: str) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        app.standin.fail_after_create(fault, hang_seconds=1.5)
        await app.missed_call(CALLER)

        async def uncertain() -> bool:
            return await jobs(app) == [("textback", SendState.UNCERTAIN)]

        await app.until("the send to become uncertain", uncertain)
        assert await textback_shown(app) is Shown.SENDING
        assert len(app.standin.messages_sent) == 1
        clock.advance(app.engine.outbox.settle_seconds - 1)
        await asyncio.sleep(0.1)
        await app.idle()
        assert await jobs(app) == [("textback", SendState.UNCERTAIN)]  # not looked up early
        clock.advance(2)

        async def sent() -> bool:
            return await textback_shown(app) is Shown.SENT

        await app.until("the text to be adopted", sent)
        await assert_sent_once(app)
        # The look-up read Twilio's log by To and From, never by DateSent.
        lookups = [
            r
            for r in app.standin.requests_to("/Messages.json", "GET")
            if r.query.get("To") == CALLER
        ]
        assert lookups and not any(k.startswith("DateSent") for r in lookups for k in r.query)

    run(scenario)


def test_a_503_with_nothing_created_is_resent_once_after_the_settle_period(run: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        app.standin.fail_next("Messages.json", 503, method="POST")
        await app.missed_call(CALLER)

        async def uncertain() -> bool:
            return await jobs(app) == [("textback", SendState.UNCERTAIN)]

        await app.until("the send to become uncertain", uncertain)
        assert app.standin.messages_sent == []
        clock.advance(app.engine.outbox.settle_seconds + 1)

        async def sent() -> bool:
            return await textback_shown(app) is Shown.SENT

        await app.until("the resend", sent)
        await assert_sent_once(app)
        assert len(app.standin.requests_to("/Messages.json", "POST")) == 2

    run(scenario)


def test_a_429_waits_for_its_backoff_on_the_clock_then_sends_once(run: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        app.standin.fail_next("Messages.json", 429, method="POST", times=2)
        await app.missed_call(CALLER)

        async def retrying() -> bool:
            return await textback_shown(app) is Shown.RETRYING

        await app.until("the first refusal", retrying)
        (call,) = await app.inbox.missed_calls()
        assert call.textback_due_at == clock.now() + timedelta(
            seconds=app.engine.retry_base_seconds
        )
        ((_sid, _body, status, _kind, _error),) = await app.outbound()
        assert status == "retrying"
        clock.advance(app.engine.retry_base_seconds - 0.5)
        await asyncio.sleep(0.1)
        await app.idle()
        assert len(app.standin.requests_to("/Messages.json", "POST")) == 1  # not before
        clock.advance(1)
        await app.until("the second refusal", lambda: _posts(app, 2))
        clock.advance(app.engine.retry_base_seconds * 2 + 1)  # the backoff doubled

        async def sent() -> bool:
            return await textback_shown(app) is Shown.SENT

        await app.until("the send", sent)
        await assert_sent_once(app)
        # One message row throughout, not one per attempt.
        assert len(await app.outbound()) == 1

    run(scenario)


async def _textback_sent(app: TestApp, phone: str) -> bool:
    """Recorded as sent (so its follow-up exists), not merely received by the stand-in."""
    calls = [c for c in await app.inbox.missed_calls() if c.phone == phone]
    return bool(calls) and calls[0].textback_state is Shown.SENT


async def _posts(app: TestApp, n: int) -> bool:
    return len(app.standin.requests_to("/Messages.json", "POST")) >= n


def test_21610_opts_the_caller_out_and_sends_nothing(run: Any) -> None:
    async def scenario(app: TestApp, _clock: ManualClock) -> None:
        app.standin.opt_out(CALLER)
        await app.missed_call(CALLER)

        async def done() -> bool:
            return await textback_shown(app) is Shown.SKIPPED

        await app.until("the refusal", done)
        assert app.standin.messages_sent == []
        (call,) = await app.inbox.missed_calls()
        assert (await app.inbox.contact(call.contact_id)).opted_out
        assert len(app.standin.requests_to("/Messages.json", "POST")) == 1

    run(scenario)


def test_30007_filtering_is_a_delivery_failure_in_words_and_never_resent(run: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        await app.missed_call(CALLER)

        async def sent() -> bool:
            return await textback_shown(app) is Shown.SENT

        await app.until("the send", sent)
        (created,) = app.standin.messages_sent
        app.standin.set_message_status(created["sid"], "undelivered", error_code=30007)
        status, _ = await app.post(
            "sms_status",
            {
                "MessageSid": created["sid"],
                "MessageStatus": "undelivered",
                "ErrorCode": "30007",
                "To": CALLER,
                "From": BUSINESS,
                "AccountSid": app.standin.account_sid,
            },
        )
        assert status == 204
        clock.advance(3600)
        await asyncio.sleep(0.1)
        await app.idle()
        ((sid, _body, status_now, _kind, error),) = await app.outbound()
        assert sid == created["sid"] and status_now == "undelivered"
        assert error and "30007" in error
        assert len(app.standin.messages_sent) == 1

    run(scenario, followup__delay_seconds=0)


def test_a_status_callback_that_beats_the_answer_is_kept_and_applied(run: Any) -> None:
    """The create's answer is lost; its delivery callback arrives before the look-up."""

    async def scenario(app: TestApp, clock: ManualClock) -> None:
        app.standin.fail_after_create("drop")
        await app.missed_call(CALLER)

        async def uncertain() -> bool:
            return await jobs(app) == [("textback", SendState.UNCERTAIN)]

        await app.until("the send to become uncertain", uncertain)
        (created,) = app.standin.messages_sent
        status, _ = await app.post(
            "sms_status",
            {
                "MessageSid": created["sid"],
                "MessageStatus": "delivered",
                "To": CALLER,
                "From": BUSINESS,
                "AccountSid": app.standin.account_sid,
            },
        )
        assert status == 204
        clock.advance(app.engine.outbox.settle_seconds + 1)

        async def delivered() -> bool:
            (call,) = await app.inbox.missed_calls()
            return call.textback_status == "delivered"

        await app.until("the early status to be applied", delivered)
        await assert_sent_once(app)

    run(scenario)


# ---- desk replies are jobs too --------------------------------------------------------------
@pytest.mark.parametrize("fault", ["drop", "500"])
def test_desk_reply_whose_answer_is_lost_shows_one_bubble_then_sent(run: Any, fault: str) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        await app.reply(CALLER, "Is anyone there?")
        (row,) = await app.inbox.conversations()
        app.standin.fail_after_create(fault)
        message_id = await app.engine.send_reply(
            row.contact_id, "Yes! Calling you now.", author="Dana"
        )
        thread = await app.inbox.thread(row.contact_id)
        mine = [i for i in thread if getattr(i, "id", None) == message_id]
        assert [m.status for m in mine] == ["sending"]  # shown at once, before Twilio answers

        async def uncertain() -> bool:
            return ("reply", SendState.UNCERTAIN) in await jobs(app)

        await app.until("the reply to become uncertain", uncertain)
        clock.advance(app.engine.outbox.settle_seconds + 1)

        async def adopted() -> bool:
            return ("reply", SendState.SENT) in await jobs(app)

        await app.until("the reply to be adopted", adopted)
        thread = await app.inbox.thread(row.contact_id)
        outbound = [i for i in thread if getattr(i, "direction", None) == "out"]
        assert len(outbound) == 1 and outbound[0].status == "queued"
        assert outbound[0].author == "Dana"
        await assert_sent_once(app)

    run(scenario, textback__enabled=False)


def test_help_answer_is_a_job_and_never_sent_twice(run: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        app.standin.fail_after_create("drop")
        await app.reply(CALLER, "HELP")

        async def uncertain() -> bool:
            return ("auto", SendState.UNCERTAIN) in await jobs(app)

        await app.until("the answer to become uncertain", uncertain)
        clock.advance(app.engine.outbox.settle_seconds + 1)

        async def adopted() -> bool:
            return ("auto", SendState.SENT) in await jobs(app)

        await app.until("the answer to be adopted", adopted)
        await assert_sent_once(app)

    run(scenario)


# ---- time you can drive ---------------------------------------------------------------------
def test_a_held_text_goes_out_when_quiet_hours_end(run: Any) -> None:
    # The caller (415) and the business share a clock: quiet hours are the caller's.
    tz = ZoneInfo("America/Los_Angeles")
    start = datetime(2026, 12, 2, 21, 30, tzinfo=tz).astimezone(UTC)  # a Wednesday, 9:30 PM

    async def scenario(app: TestApp, clock: ManualClock) -> None:
        await app.missed_call(CALLER)

        async def held() -> bool:
            return await textback_shown(app) is Shown.HELD

        await app.until("the text to be held", held)
        (call,) = await app.inbox.missed_calls()
        assert call.textback_due_at == datetime(2026, 12, 3, 8, 0, tzinfo=tz)
        clock.set(datetime(2026, 12, 3, 7, 59, tzinfo=tz))
        await asyncio.sleep(0.1)
        await app.idle()
        assert app.standin.messages_sent == []  # still quiet
        clock.set(datetime(2026, 12, 3, 8, 0, 1, tzinfo=tz))

        async def sent() -> bool:
            return await textback_shown(app) is Shown.SENT

        await app.until("the held text", sent)
        await assert_sent_once(app)

    run(
        scenario,
        start=start,
        business__timezone="America/Los_Angeles",
        business__hours=ALWAYS_OPEN,
        quiet_hours={"start": "21:00", "end": "08:00"},
    )


def test_the_24_hour_follow_up_goes_once_and_a_reply_cancels_the_next(run: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        await app.missed_call(CALLER)
        await app.until("the text-back", lambda: _textback_sent(app, CALLER))
        clock.advance(24 * 3600 - 60)
        await asyncio.sleep(0.1)
        await app.idle()
        assert len(app.standin.messages_sent) == 1  # not before its day
        clock.advance(61)
        await app.until("the follow-up", lambda: _posts(app, 2))
        (call,) = await app.inbox.missed_calls()
        assert call.followup_state is Shown.SENT

        # A second caller replies before their follow-up: it is cancelled.
        other = "+14155550999"
        await app.missed_call(other)
        await app.until("the second text-back", lambda: _textback_sent(app, other))
        await app.reply(other, "Thanks, I'll call tomorrow")
        clock.advance(25 * 3600)
        await asyncio.sleep(0.1)
        await app.idle()
        assert [m["to"] for m in app.standin.messages_sent] == [CALLER, CALLER, other]
        second = next(c for c in await app.inbox.missed_calls() if c.phone == other)
        assert second.followup_state is Shown.CANCELLED

    run(scenario, followup__delay_seconds=24 * 3600, templates__follow_up="Still need a hand?")


def test_a_follow_up_that_falls_in_quiet_hours_is_held_at_send_time(run: Any) -> None:
    """Decided at 8 PM, due at 10 PM: the send-time check holds it until 8 AM."""
    tz = ZoneInfo("America/Los_Angeles")
    start = datetime(2026, 12, 2, 20, 0, tzinfo=tz).astimezone(UTC)

    async def scenario(app: TestApp, clock: ManualClock) -> None:
        await app.missed_call(CALLER)
        await app.until("the text-back", lambda: _textback_sent(app, CALLER))
        clock.set(datetime(2026, 12, 2, 22, 0, 1, tzinfo=tz))

        async def held() -> bool:
            (call,) = await app.inbox.missed_calls()
            return call.followup_state is Shown.HELD

        await app.until("the follow-up to be held", held)
        assert len(app.standin.messages_sent) == 1
        clock.set(datetime(2026, 12, 3, 7, 59, tzinfo=tz))
        await asyncio.sleep(0.1)
        await app.idle()
        assert len(app.standin.messages_sent) == 1
        clock.set(datetime(2026, 12, 3, 8, 0, 1, tzinfo=tz))
        await app.until("the follow-up", lambda: _posts(app, 2))
        assert app.standin.messages_sent[1]["body"] == "Still need a hand?"

    run(
        scenario,
        start=start,
        business__timezone="America/Los_Angeles",
        quiet_hours={"start": "21:00", "end": "08:00"},
        followup__delay_seconds=2 * 3600,
        templates__follow_up="Still need a hand?",
    )


def test_a_reply_that_crosses_the_text_backs_answer_still_cancels_the_follow_up(
    run: Any,
) -> None:
    """The caller answers while Twilio's answer to the text-back is still on its way, so
    the follow-up job is recorded after the reply: it must still never go out."""

    async def scenario(app: TestApp, clock: ManualClock) -> None:
        app.standin.fail_after_create("hang", hang_seconds=1.0)  # the answer comes late
        await app.missed_call(CALLER)
        await app.standin.wait_for_messages(1)  # created at Twilio, answer not back yet
        await app.reply(CALLER, "Yes please, come today")
        clock.advance(5)  # the answer lands a little later than the reply
        await app.until("the text-back to be recorded", lambda: _textback_sent(app, CALLER))
        clock.advance(3600 + 1)
        await asyncio.sleep(0.1)
        await app.idle()
        assert len(app.standin.messages_sent) == 1
        (call,) = await app.inbox.missed_calls()
        assert call.followup_state is Shown.CANCELLED

    run(scenario, gateway_timeout=10.0, followup__delay_seconds=3600, lookup__enabled=False)
