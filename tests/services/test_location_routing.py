"""Locations on the wire (issue 13): each number the office has is a location, and what
comes in on it, and what answers it, is that location's.

Real signed webhooks to the receiver, the real gateway to the Twilio stand-in, on SQLite
and PostgreSQL. The office (the first location, "Main") answers BUSINESS; "North" answers
NORTH with its own name, templates, hours and time zone, everything else inherited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.analytics import Analytics
from services.api import ReplyRefused
from services.clock import ManualClock
from services.locations import FIRST
from services.send_state import SendState, Shown
from services.snapshots import ActivityItem, CallItem, MessageItem, ScheduledItem
from services.storage.database import UnitOfWork
from services.storage.models import Call, Job
from tests.harness import BUSINESS, TestApp, call_sid, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

NORTH = "+15005550007"
CALLER = "+14155550123"
MAIN_WORDS = "Main here: sorry we missed you. [Business Name], [Business Phone]"
NORTH_WORDS = "North here: sorry we missed you. [Business Name], [Business Phone] [Booking Link]"
NORTH_VALUES = {
    "business.name": "Smith North",
    "business.booking_link": "https://north.example.com/book",
    "templates.missed_call": NORTH_WORDS,
    "templates.help": "Smith North help: call (500) 555-0007. Reply STOP to opt out.",
}
WEDNESDAY_3PM_UTC = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)

Scenario = Callable[[TestApp, ManualClock, int], Awaitable[None]]


@pytest.fixture
def run(database_url: str, data_dir: Path, twilio_standin: TwilioStandIn) -> Any:
    """Run ``scenario(app, clock, north_id)`` with North added (``north`` its values)."""

    def go(
        scenario: Scenario,
        *,
        north: dict[str, Any] | None = None,
        gateway_timeout: float = 30.0,
        start: datetime | None = None,
        **settings: Any,
    ) -> None:
        # Now, unless a test needs a moment: the stand-in's log keeps real times.
        clock = ManualClock(start)

        async def main() -> None:
            async with running_app(
                database_url,
                data_dir,
                twilio_standin,
                clock=clock,
                gateway_timeout=gateway_timeout,
                settings={
                    "templates.missed_call": MAIN_WORDS,
                    "lookup.enabled": False,
                    **{k.replace("__", "."): v for k, v in settings.items()},
                },
            ) as app:
                north_id = await app.add_location("North", NORTH, north or NORTH_VALUES)
                await scenario(app, clock, north_id)

        asyncio.run(main())

    return go


async def settle(app: TestApp) -> None:
    for _ in range(3):
        await asyncio.sleep(0.05)
        await app.idle()


def sent(app: TestApp) -> list[tuple[str, str, str]]:
    """Every text the stand-in took, as (from, to, body)."""
    return [(m["from"], m["to"], m["body"]) for m in app.standin.messages_sent]


async def call_location(app: TestApp, sid: str) -> int | None:
    def read(uow: UnitOfWork) -> int | None:
        return uow.session.scalar(select(Call.location_id).where(Call.sid == sid))

    return await app.runtime.db.run(read)


async def job_locations(app: TestApp) -> list[tuple[str, str, int | None]]:
    def read(uow: UnitOfWork) -> list[tuple[str, str, int | None]]:
        rows = uow.session.scalars(select(Job).order_by(Job.id))
        return [(j.kind, j.state, j.location_id) for j in rows]

    return await app.runtime.db.run(read)


def messages(items: list[Any]) -> list[tuple[str, str]]:
    return [(i.direction, i.body) for i in items if isinstance(i, MessageItem)]


def calls(items: list[Any]) -> list[str]:
    return [i.sid for i in items if isinstance(i, CallItem)]


# ---- a call to a location ------------------------------------------------------------------
def test_a_call_to_north_is_texted_from_north_with_norths_words_in_norths_thread(
    run: Any,
) -> None:
    async def scenario(app: TestApp, _clock: ManualClock, north: int) -> None:
        north_call = await app.missed_call(CALLER, to=NORTH)
        await app.standin.wait_for_messages(1)
        await settle(app)
        assert sent(app) == [
            (
                NORTH,
                CALLER,
                "North here: sorry we missed you. Smith North, (500) 555-0007 "
                "https://north.example.com/book",
            )
        ]
        assert await call_location(app, north_call) == north
        (row,) = await app.inbox.conversations()
        assert (row.location_id, row.location_name, row.location_number) == (north, "North", NORTH)

        # The same caller rings Main: a second thread, the same contact, Main's words.
        main_call = await app.missed_call(CALLER, to=BUSINESS)
        await app.standin.wait_for_messages(2)
        await settle(app)
        assert sent(app)[1] == (
            BUSINESS,
            CALLER,
            "Main here: sorry we missed you. Smith & Sons Plumbing, (500) 555-0001",
        )
        rows = await app.inbox.conversations()
        assert {r.contact_id for r in rows} == {row.contact_id}
        assert sorted((r.location_id, r.location_name, r.location_number) for r in rows) == [
            (FIRST, "Main", BUSINESS),
            (north, "North", NORTH),
        ]
        assert [r.location_id for r in await app.inbox.conversations(location_id=north)] == [north]
        north_thread = await app.inbox.thread(row.contact_id, location_id=north)
        main_thread = await app.inbox.thread(row.contact_id)  # None: the first location's
        assert calls(north_thread) == [north_call] and calls(main_thread) == [main_call]
        assert [body[:10] for _d, body in messages(north_thread)] == ["North here"]
        assert [body[:9] for _d, body in messages(main_thread)] == ["Main here"]
        detail = await app.inbox.contact(row.contact_id)
        assert detail.location_ids == (FIRST, north)
        assert detail.conversation_id == next(r.conversation_id for r in rows if r.location_id == 1)
        # Each location's badge counts its own.
        assert (await app.inbox.counts(location_id=north)).unread == 1
        assert (await app.inbox.filter_counts(location_id=north)).filters["all"] == 1
        assert (await app.inbox.filter_counts()).filters["all"] == 2
        # Reading North's thread leaves Main's unread, its missed call waiting.
        await app.inbox.mark_read(row.contact_id, location_id=north)
        counts = await app.inbox.counts()
        assert (counts.unread, counts.missed_waiting) == (1, 1)

    run(scenario)


def test_the_voice_answer_rings_the_phones_of_the_location_called(run: Any) -> None:
    async def scenario(app: TestApp, _clock: ManualClock, _north: int) -> None:
        _status, main = await app.post(
            "voice", {"CallSid": call_sid(), "From": CALLER, "To": BUSINESS}
        )
        _status, north = await app.post(
            "voice", {"CallSid": call_sid(), "From": CALLER, "To": NORTH}
        )
        assert "<Number>+15005550002</Number>" in main and "+15005550077" not in main
        assert '<Dial timeout="12"' in north and "<Number>+15005550077</Number>" in north
        assert "+15005550002" not in north

    run(
        scenario,
        north={"forwarding.numbers": ["+15005550077"], "forwarding.ring_seconds": 12},
    )


def test_a_call_to_a_number_no_location_has_lands_at_the_first(run: Any) -> None:
    async def scenario(app: TestApp, _clock: ManualClock, _north: int) -> None:
        sid = await app.missed_call(CALLER, to="+15005550099")
        await app.standin.wait_for_messages(1)
        await settle(app)
        assert [(frm, body[:9]) for frm, _to, body in sent(app)] == [(BUSINESS, "Main here")]
        assert await call_location(app, sid) == FIRST
        (row,) = await app.inbox.conversations()
        assert (row.location_id, row.location_name) == (FIRST, "Main")

    run(scenario)


def test_norths_hours_and_time_zone_decide_after_hours_for_north(run: Any) -> None:
    """15:00 UTC on a Wednesday: 10:00 in New York (the office is open), midnight in
    Tokyo (North is closed)."""
    nine_to_five = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}

    async def scenario(app: TestApp, _clock: ManualClock, _north: int) -> None:
        await app.missed_call(CALLER, to=NORTH)
        await app.missed_call("+14155550124", to=BUSINESS)
        await app.standin.wait_for_messages(2)
        await settle(app)
        assert sorted((frm, body) for frm, _to, body in sent(app)) == [
            (BUSINESS, "Main here: sorry we missed you. Smith & Sons Plumbing, (500) 555-0001"),
            (NORTH, "North is closed now."),
        ]
        by_phone = {c.phone: c.after_hours for c in await app.inbox.missed_calls()}
        assert by_phone == {CALLER: True, "+14155550124": False}
        rows = {r.location_id: r.after_hours for r in await app.inbox.conversations()}
        assert rows == {_north: True, FIRST: False}

    run(
        scenario,
        start=WEDNESDAY_3PM_UTC,
        business__hours=nine_to_five,
        business__timezone="America/New_York",
        north={
            "business.timezone": "Asia/Tokyo",
            "templates.after_hours": "North is closed now.",
        },
    )


# ---- texts to a location ---------------------------------------------------------------------
def test_a_reply_to_north_lands_in_norths_thread_and_cancels_only_norths_follow_up(
    run: Any,
) -> None:
    async def scenario(app: TestApp, _clock: ManualClock, north: int) -> None:
        north_call = await app.missed_call(CALLER, to=NORTH)
        main_call = await app.missed_call(CALLER, to=BUSINESS)
        # Each location keeps its own repeat window: both calls are texted back.
        await app.standin.wait_for_messages(2)

        async def both_follow_ups_planned() -> bool:
            kinds = [(kind, loc) for kind, _s, loc in await job_locations(app)]
            return kinds.count(("follow_up", north)) == kinds.count(("follow_up", FIRST)) == 1

        await app.until("both follow-ups to be planned", both_follow_ups_planned)
        await app.reply(CALLER, "Yes, can you come Friday?", To=NORTH)
        await settle(app)
        states = {
            c.sid: c.followup_state for c in await app.inbox.missed_calls() if c.phone == CALLER
        }
        assert states == {north_call: Shown.CANCELLED, main_call: Shown.SCHEDULED}
        replied = {c.sid: (c.replied, c.location_id) for c in await app.inbox.missed_calls()}
        assert replied == {north_call: (True, north), main_call: (False, FIRST)}
        assert [c.sid for c in await app.inbox.missed_calls(location_id=north)] == [north_call]
        (contact_id,) = {r.contact_id for r in await app.inbox.conversations()}
        north_thread = await app.inbox.thread(contact_id, location_id=north)
        assert messages(north_thread)[-1] == ("in", "Yes, can you come Friday?")
        assert ("in", "Yes, can you come Friday?") not in messages(
            await app.inbox.thread(contact_id)
        )
        rows = {r.location_id: r for r in await app.inbox.conversations(filter="unread")}
        assert rows[north].last_inbound_at is not None and rows[FIRST].last_inbound_at is None

    run(scenario, followup__delay_seconds=3600)


def test_help_texted_to_north_is_answered_from_north_with_norths_words(run: Any) -> None:
    async def scenario(app: TestApp, _clock: ManualClock, north: int) -> None:
        await app.reply(CALLER, "HELP", To=NORTH)
        await app.standin.wait_for_messages(1)
        await settle(app)
        assert sent(app) == [
            (NORTH, CALLER, "Smith North help: call (500) 555-0007. Reply STOP to opt out.")
        ]
        (row,) = await app.inbox.conversations()
        assert row.location_id == north
        assert [(kind, loc) for kind, _s, loc in await job_locations(app)] == [("auto", north)]

    run(scenario)


def test_a_text_to_an_unknown_number_lands_in_the_first_locations_thread(run: Any) -> None:
    async def scenario(app: TestApp, _clock: ManualClock, _north: int) -> None:
        await app.reply(CALLER, "Hello?", To="+15005550099")
        await settle(app)
        (row,) = await app.inbox.conversations()
        assert (row.location_id, row.preview) == (FIRST, "Hello?")

    run(scenario)


# ---- the desk's texts ---------------------------------------------------------------------------
def test_the_desks_texts_in_norths_thread_go_from_norths_number(run: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock, north: int) -> None:
        await app.reply(CALLER, "Do you do boilers?", To=NORTH)
        await settle(app)
        (row,) = await app.inbox.conversations()
        await app.engine.send_reply(row.contact_id, "We do!", author="Dana", location_id=north)
        await app.standin.wait_for_messages(1)
        assert sent(app) == [(NORTH, CALLER, "We do!")]
        # A failed text sent again leaves from its own thread's number.
        app.standin.fail_next("Messages.json", 400, 21606, method="POST")
        await app.engine.send_reply(row.contact_id, "Booked?", author="Dana", location_id=north)
        await settle(app)
        items = await app.inbox.thread(row.contact_id, location_id=north)
        (bad,) = [i for i in items if isinstance(i, MessageItem) and i.status == "failed"]
        await app.engine.retry_text(bad.id, author="Dana")
        await app.standin.wait_for_messages(2)
        assert sent(app)[1] == (NORTH, CALLER, "Booked?")
        # Scheduled in North's thread: shown there only, and sent from North.
        due = clock.now() + timedelta(hours=1)
        await app.engine.schedule_reply(
            row.contact_id, "On our way", due, author="Dana", location_id=north
        )
        north_items = await app.inbox.thread(row.contact_id, location_id=north)
        main_items = await app.inbox.thread(row.contact_id)
        assert [i.body for i in north_items if isinstance(i, ScheduledItem)] == ["On our way"]
        assert not any(isinstance(i, ScheduledItem) for i in main_items)
        clock.advance(3601)

        async def three_sent() -> bool:
            return len(app.standin.messages_sent) == 3

        await app.until("the scheduled text is sent", three_sent)
        assert sent(app)[2] == (NORTH, CALLER, "On our way")
        # None of it made a thread at Main.
        assert [r.location_id for r in await app.inbox.conversations()] == [north]
        # The desk's callback from North's thread shows North's number to the caller.
        await app.engine.call_back(row.contact_id, actor="Dana", location_id=north)
        (placed,) = app.standin.calls_created
        assert placed["_form"]["From"] == NORTH

    run(scenario, callbacks__desk_phone="+15005550002")


@pytest.mark.parametrize("moved_to", [None, "+15005550008"], ids=["same", "number-moved"])
def test_a_norths_text_whose_answer_is_lost_is_looked_up_under_the_number_it_left_from(
    run: Any, moved_to: str | None
) -> None:
    """North's text is adopted from Twilio's log, not sent twice; looked up under North's
    number, even when the owner moves North to a new number while the text is uncertain
    (it went From the old one, so that is where Twilio's log has it)."""

    async def scenario(app: TestApp, clock: ManualClock, north: int) -> None:
        app.standin.fail_after_create("drop")
        await app.missed_call(CALLER, to=NORTH)

        async def uncertain() -> bool:
            return [(k, s) for k, s, _loc in await job_locations(app)] == [
                ("textback", SendState.UNCERTAIN)
            ]

        await app.until("the send to become uncertain", uncertain)
        if moved_to is not None:
            app.standin.add_number(moved_to)
            await app.runtime.locations.update(
                north, {"business.phone_number": moved_to}, actor="Owner"
            )
            assert (await app.runtime.locations.locations()).get(north).phone_number == moved_to
        clock.advance(app.engine.outbox.settle_seconds + 1)

        async def adopted() -> bool:
            return ("textback", SendState.SENT, north) in await job_locations(app)

        await app.until("the text to be adopted", adopted)
        assert [frm for frm, _to, _body in sent(app)] == [NORTH]  # not sent twice
        lookups = [
            r
            for r in app.standin.requests_to("/Messages.json", "GET")
            if r.query.get("To") == CALLER
        ]
        assert lookups and all(r.query.get("From") == NORTH for r in lookups)

    run(scenario, gateway_timeout=0.5)


@pytest.mark.parametrize("refused_by", ["create", "status-callback"])
def test_start_at_mains_number_is_not_undone_by_twilios_block_at_norths(
    run: Any, refused_by: str
) -> None:
    """STOP to North opts the contact out everywhere; START to Main opts them back in. Twilio
    keeps North's block (it is per sender), so North's next text is refused with 21610
    (on the create, or later in a status callback): that text fails and says where to text
    START, and the contact stays opted in (Main's text-back still reaches them)."""

    async def scenario(app: TestApp, _clock: ManualClock, north: int) -> None:
        await app.reply(CALLER, "STOP", To=NORTH)
        await settle(app)
        (row,) = await app.inbox.conversations(filter="opted_out")
        contact_id = row.contact_id
        if refused_by == "create":
            app.standin.opt_out(CALLER, sender=NORTH)  # what Twilio does on that STOP
        await app.reply(CALLER, "START", To=BUSINESS)
        await settle(app)
        assert not (await app.inbox.contact(contact_id)).opted_out

        await app.engine.send_reply(
            contact_id, "Boiler still on?", author="Dana", location_id=north
        )
        await settle(app)
        if refused_by == "status-callback":
            (out,) = app.standin.messages_sent
            status, _ = await app.post(
                "sms_status",
                {"MessageSid": out["sid"], "MessageStatus": "failed", "ErrorCode": "21610"},
            )
            assert status == 204
            await settle(app)
        items = await app.inbox.thread(contact_id, location_id=north)
        (bad,) = [i for i in items if isinstance(i, MessageItem) and i.direction == "out"]
        assert bad.status == "failed"
        assert bad.error == (
            "they opted out of texts from (500) 555-0007 only: they must text START to it"
            " (error 21610)"
        )
        contact = await app.inbox.contact(contact_id)
        assert not contact.opted_out and contact.blocked_at == (north,)

        before = len(app.standin.messages_sent)
        await app.missed_call(CALLER, to=BUSINESS)
        await app.standin.wait_for_messages(before + 1)
        assert sent(app)[-1][:2] == (BUSINESS, CALLER)

        # North's next text-back is skipped, saying why, without asking Twilio.
        creates = len(app.standin.requests_to("/Messages.json", "POST"))
        await app.missed_call(CALLER, to=NORTH)
        await settle(app)
        newest = (await app.inbox.missed_calls())[0]
        assert newest.textback_state == Shown.SKIPPED
        assert newest.textback_reason == (
            "they opted out of texts from this number (texted STOP to it)"
        )
        assert len(app.standin.requests_to("/Messages.json", "POST")) == creates
        # The desk's next text from North is refused before Twilio is asked, with words.
        with pytest.raises(ReplyRefused, match=r"North · \(500\) 555-0007.*START"):
            await app.engine.send_reply(contact_id, "Hello?", author="Dana", location_id=north)
        # START to North lifts Twilio's block there: North texts them again.
        app.standin.opt_in(CALLER, sender=NORTH)
        await app.reply(CALLER, "Start", To=NORTH)
        await settle(app)
        assert (await app.inbox.contact(contact_id)).blocked_at == ()
        before = len(app.standin.messages_sent)
        await app.engine.send_reply(contact_id, "Welcome back", author="Dana", location_id=north)
        await app.standin.wait_for_messages(before + 1)
        assert sent(app)[-1] == (NORTH, CALLER, "Welcome back")

    run(scenario)


def test_threads_of_one_contact_are_closed_and_snoozed_separately(run: Any) -> None:
    async def scenario(app: TestApp, _clock: ManualClock, north: int) -> None:
        await app.reply(CALLER, "North question", To=NORTH)
        await app.reply(CALLER, "Main question", To=BUSINESS)
        await settle(app)
        (contact_id,) = {r.contact_id for r in await app.inbox.conversations()}
        closed = await app.inbox.close(contact_id, actor="Dana", location_id=north)
        assert (closed.location_id, closed.state) == (north, "closed")
        states = {r.location_id: r.state for r in await app.inbox.conversations()}
        assert states == {north: "closed", FIRST: "open"}
        # Closing is the thread's own: shown in North's, not in Main's.
        lines = {
            where: [
                i.text
                for i in await app.inbox.thread(contact_id, location_id=where)
                if isinstance(i, ActivityItem)
            ]
            for where in (north, FIRST)
        }
        assert lines == {north: ["Closed the conversation"], FIRST: []}
        row = await app.inbox.mark_unread(contact_id, location_id=north)
        assert row.location_id == north
        # A new text to North reopens North's thread only.
        await app.inbox.close(contact_id, actor="Dana")
        await app.reply(CALLER, "Still there?", To=NORTH)
        await settle(app)
        states = {r.location_id: r.state for r in await app.inbox.conversations()}
        assert states == {north: "open", FIRST: "closed"}
        # A note is the contact's: both threads show it.
        await app.inbox.add_note(contact_id, "Prefers mornings", actor="Dana", location_id=north)
        for where in (north, None):
            items = await app.inbox.thread(contact_id, location_id=where)
            assert any(getattr(i, "body", "") == "Prefers mornings" for i in items)
        # The desk starts a conversation from North: North's thread, no thread at Main.
        started = await app.inbox.start_conversation(
            "(415) 555-0199", actor="Dana", location_id=north
        )
        assert started.location_ids == (north,)
        row = await app.inbox.conversation(started.id, location_id=north)
        assert started.conversation_id == row.conversation_id

    run(scenario)


def test_analytics_wait_for_the_desk_in_the_thread_of_the_call(run: Any) -> None:
    """A missed call's wait for the desk ends at a reply in its own location's thread (a
    contact with two threads is two waits, not a query that finds two threads)."""

    async def scenario(app: TestApp, clock: ManualClock, north: int) -> None:
        await app.missed_call(CALLER, to=NORTH)
        await app.missed_call(CALLER, to=BUSINESS)
        await app.standin.wait_for_messages(2)
        await settle(app)
        (contact_id,) = {r.contact_id for r in await app.inbox.conversations()}
        clock.advance(120)
        await app.engine.send_reply(contact_id, "Hi!", author="Dana", location_id=north)
        await app.standin.wait_for_messages(3)
        figures = (await Analytics(app.runtime.db, clock).analytics("today")).current
        assert (figures.missed_calls, figures.human_replies) == (2, 1)

    run(scenario)


def test_norths_greeting_plays_and_its_voicemail_words_thank_the_caller(run: Any) -> None:
    """The Dial result's voicemail answer greets with North's words; the recording's
    webhooks (no To of their own) find North through the call's record."""

    async def scenario(app: TestApp, clock: ManualClock, _north: int) -> None:
        sid = call_sid()
        base = {"CallSid": sid, "From": CALLER, "To": NORTH}
        await app.post("voice", {**base, "CallStatus": "ringing"})
        _status, twiml = await app.post(
            "dial_result", {**base, "CallStatus": "in-progress", "DialCallStatus": "no-answer"}
        )
        assert "North: please leave a message." in twiml
        status, _ = await app.post(
            "recorded", {**base, "RecordingSid": "RE" + "7" * 32, "RecordingDuration": "9"}
        )
        assert status == 200
        await app.idle()
        assert app.standin.messages_sent == []  # the text-back waits its delay
        clock.advance(61)
        app.runtime.scheduler.wake()
        await app.standin.wait_for_messages(1)
        assert sent(app) == [(NORTH, CALLER, "North got your message.")]

    run(
        scenario,
        voicemail__record=True,
        textback__delay_seconds=60,
        north={
            "voicemail.greeting": "North: please leave a message.",
            "templates.voicemail": "North got your message.",
        },
    )
