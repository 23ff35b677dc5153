"""Lookup before texting and callbacks through Twilio, end to end over real HTTP (the
Twilio stand-in behind the SDK, webhooks signed as Twilio signs them), on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

from services import policy
from services.clock import ManualClock
from services.export import collect
from services.settings import Settings
from tests.harness import BUSINESS, OFFICE_PHONE, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

CALLER = "+14155550123"
LANDLINE = "+14155550188"


def test_a_landline_is_not_texted_and_shows_call_back(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        twilio_standin.set_lookup(LANDLINE, line_type="landline")
        async with running_app(database_url, data_dir, twilio_standin) as app:
            await app.missed_call(LANDLINE)
            await app.idle()
            await asyncio.sleep(0.1)
            assert twilio_standin.messages_sent == []
            calls = await app.inbox.missed_calls()
            assert calls[0].textback_state == "skipped"
            assert calls[0].textback_reason is not None
            assert calls[0].textback_reason.startswith("Landline: call back")
            assert calls[0].line_type == "landline"
            lookups = twilio_standin.requests_to("/v2/PhoneNumbers/", "GET")
            assert len(lookups) == 1
            assert lookups[0].query["Fields"] == "line_type_intelligence,caller_name"
            # Cached with its date: a second call is not looked up again.
            await app.missed_call(LANDLINE)
            await app.idle()
            assert len(twilio_standin.requests_to("/v2/PhoneNumbers/", "GET")) == 1
            data = await app.runtime.db.run(lambda uow: collect(uow.session))
            assert {c["line_type"] for c in data["calls"]} == {"landline"}

    asyncio.run(scenario())


def test_caller_name_fills_first_name_unless_staff_typed_one(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        twilio_standin.set_lookup(CALLER, caller_name="SMITH,JOHN", caller_type="CONSUMER")
        async with running_app(database_url, data_dir, twilio_standin) as app:
            await app.missed_call(CALLER)
            sent = await twilio_standin.wait_for_messages(1)
            assert sent[0]["body"].startswith("Hi John, this is Smith & Sons Plumbing.")
            calls = await app.inbox.missed_calls()
            assert calls[0].name == "John Smith"
            # A name staff typed is never overwritten by Lookup.
            other = "+14155550999"
            twilio_standin.set_lookup(other, caller_name="DOE,JANE", caller_type="CONSUMER")
            await app.reply(other, "hello")
            rows = await app.inbox.conversations(search="hello")
            await app.inbox.rename(rows[0].contact_id, "Janie", actor="test")
            await app.missed_call(other)
            sent = await twilio_standin.wait_for_messages(2)
            assert sent[1]["body"].startswith("Hi Janie,")

    asyncio.run(scenario())


def test_lookup_failing_or_slow_never_blocks_the_textback(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        async with running_app(database_url, data_dir, twilio_standin) as app:
            twilio_standin.fail_next("/v2/PhoneNumbers/", 500, 20500)
            await app.missed_call(CALLER)
            await twilio_standin.wait_for_messages(1)
            # Slow: the text waits at most the Lookup timeout.
            app.engine.lookups.timeout_seconds = 0.3
            twilio_standin.lookup_latency_seconds = 5.0
            started = time.monotonic()
            await app.missed_call("+14155550177")
            await twilio_standin.wait_for_messages(2, timeout=4.0)
            assert time.monotonic() - started < 3.0
            twilio_standin.lookup_latency_seconds = 0.0
            # Off: no Lookup at all.
            await app.set(lookup__enabled=False)
            before = len(twilio_standin.requests_to("/v2/PhoneNumbers/"))
            await app.missed_call("+14155550166")
            await twilio_standin.wait_for_messages(3)
            assert len(twilio_standin.requests_to("/v2/PhoneNumbers/")) == before

    asyncio.run(scenario())


def test_call_back_rings_the_desk_then_the_caller_and_counts(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        settings = {"textback.delay_seconds": 120}
        async with running_app(
            database_url, data_dir, twilio_standin, settings=settings, clock=clock
        ) as app:
            await app.missed_call(CALLER)
            await app.reply(CALLER, "call me please")  # tagged pending callback
            await app.idle()
            calls = await app.inbox.missed_calls()
            contact_id = calls[0].contact_id
            await app.missed_call(CALLER, sid=None)  # a text-back waits (repeat window: skip)
            callback_id = await app.engine.call_back(contact_id, actor="Dana")
            created = twilio_standin.calls_created
            assert len(created) == 1
            form = created[0]["_form"]
            assert form["To"] == OFFICE_PHONE and form["From"] == BUSINESS
            dial = ET.fromstring(form["Twiml"]).find("Dial")
            assert dial is not None and dial.get("callerId") == BUSINESS
            assert dial.get("action", "").endswith("/twilio/voice/callback-dial")
            assert [n.text for n in dial.findall("Number")] == [CALLER]
            assert form["StatusCallback"].endswith("/twilio/voice/callback-status")
            detail = await app.inbox.contact(contact_id)
            assert "pending callback" not in detail.tags
            sid = created[0]["sid"]
            base = {"CallSid": sid, "From": BUSINESS, "To": OFFICE_PHONE}
            assert (await app.post("callback_status", {**base, "CallStatus": "in-progress"}))[
                0
            ] == 204
            status, body = await app.post(
                "callback_dial",
                {**base, "DialCallStatus": "completed", "DialCallDuration": "95"},
            )
            assert status == 200 and ET.fromstring(body).find("Hangup") is not None
            await app.post("callback_status", {**base, "CallStatus": "completed"})
            thread = await app.inbox.thread(contact_id)
            backs = [i for i in thread if type(i).__name__ == "CallbackItem"]
            assert [(b.id, b.state, b.duration_seconds, b.actor) for b in backs] == [
                (callback_id, "connected", 95, "Dana")
            ]
            # A late duplicate changes nothing.
            await app.post("callback_dial", {**base, "DialCallStatus": "no-answer"})
            thread = await app.inbox.thread(contact_id)
            assert [b.state for b in thread if type(b).__name__ == "CallbackItem"] == ["connected"]
            clock.advance(600)
            app.runtime.scheduler.wake()
            await app.idle()
            assert [m["to"] for m in twilio_standin.messages_sent] == []

    asyncio.run(scenario())


def test_call_back_cancels_the_waiting_auto_text(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        settings = {"textback.delay_seconds": 120}
        async with running_app(
            database_url, data_dir, twilio_standin, settings=settings, clock=clock
        ) as app:
            await app.missed_call(CALLER)
            await app.idle()
            calls = await app.inbox.missed_calls()
            assert calls[0].textback_state == "scheduled"
            await app.engine.call_back(calls[0].contact_id, actor="Dana")
            calls = await app.inbox.missed_calls()
            assert calls[0].textback_state == "cancelled"
            assert calls[0].textback_reason == "Dana called back"
            clock.advance(600)
            app.runtime.scheduler.wake()
            await app.idle()
            assert twilio_standin.messages_sent == []

    asyncio.run(scenario())


def test_a_call_made_elsewhere_found_at_catch_up_counts(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        settings = {"textback.delay_seconds": 3600}
        async with running_app(
            database_url, data_dir, twilio_standin, settings=settings, clock=clock
        ) as app:
            await app.missed_call(CALLER)
            await app.idle()
            calls = await app.inbox.missed_calls()
            started = datetime.now(UTC) + timedelta(seconds=5)
            twilio_standin.seed_call(
                from_=BUSINESS,
                to=CALLER,
                status="completed",
                direction="outbound-api",
                start_time=started,
                end_time=started + timedelta(seconds=40),
            )
            await app.runtime.catch_up()
            assert app.runtime.catchup.last_result is not None
            assert app.runtime.catchup.last_result.callbacks == 1
            calls = await app.inbox.missed_calls()
            assert calls[0].textback_state == "cancelled"
            thread = await app.inbox.thread(calls[0].contact_id)
            backs = [i for i in thread if type(i).__name__ == "CallbackItem"]
            assert [(b.state, b.duration_seconds, b.source) for b in backs] == [
                ("connected", 40, "log")
            ]
            await app.runtime.catch_up()  # idempotent by CallSid
            thread = await app.inbox.thread(calls[0].contact_id)
            assert len([i for i in thread if type(i).__name__ == "CallbackItem"]) == 1

    asyncio.run(scenario())


def _settings(**values: object) -> Settings:
    return Settings({k.replace("__", "."): v for k, v in values.items()})


def test_closed_dates_are_after_hours_all_day() -> None:
    cfg = _settings(business__timezone="America/New_York", business__closed_dates=["2025-12-25"])
    open_hour = datetime(2025, 12, 24, 15, 0, tzinfo=UTC)  # Wed 10:00 New York
    closed_day = datetime(2025, 12, 25, 15, 0, tzinfo=UTC)  # Thu 10:00 New York
    assert not policy.after_hours(cfg, open_hour)
    assert policy.after_hours(cfg, closed_day)


def test_quiet_hours_follow_the_callers_clock() -> None:
    cfg = _settings(
        business__timezone="America/New_York", quiet_hours={"start": "21:00", "end": "08:00"}
    )
    due = datetime(2025, 6, 3, 2, 30, tzinfo=UTC)  # 22:30 New York, 19:30 Los Angeles
    _, until_ny = policy.hold_for_quiet_hours(cfg, due, "+12125550100")
    assert until_ny == datetime(2025, 6, 3, 12, 0, tzinfo=UTC)  # 08:00 New York
    held_la, until_la = policy.hold_for_quiet_hours(cfg, due, "+13105550100")
    assert until_la is None and held_la == due  # 19:30 in LA: send now
    # A number spanning several zones falls back to the business's.
    _, until_gb = policy.hold_for_quiet_hours(cfg, due, "+447400123456")
    assert until_gb == until_ny
