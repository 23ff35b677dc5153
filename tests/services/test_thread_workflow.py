"""The desk's workflow on a thread: close (reopened by a new text or call), snooze on the
injected clock, mark unread, the filters with their counts, internal notes and activity
lines. SQLite and PostgreSQL, over real signed HTTP."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.clock import ManualClock
from services.snapshots import ActivityItem, MessageItem, NoteItem
from services.thread_state import ThreadState
from services.threads import ThreadStateError
from tests.harness import TestApp, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

MARIA = "+14155550123"
JAMES = "+14155550124"
PRIYA = "+14155550125"


@pytest.fixture
def env(database_url: str, data_dir: Path, twilio_standin: TwilioStandIn) -> Any:
    clock = ManualClock()

    def go(scenario: Any) -> None:
        async def main() -> None:
            async with running_app(database_url, data_dir, twilio_standin, clock=clock) as app:
                await scenario(app, clock)

        asyncio.run(main())

    return go


async def _ids(app: TestApp) -> dict[str, int]:
    return {r.phone: r.contact_id for r in await app.inbox.conversations()}


async def _phones(app: TestApp, filter: str, **kw: Any) -> set[str]:
    return {r.phone for r in await app.inbox.conversations(filter=filter, **kw)}


def test_close_and_a_new_text_or_call_reopens(env: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        await app.reply(MARIA, "Is Tuesday ok?")
        await app.missed_call(JAMES)
        ids = await _ids(app)
        row = await app.inbox.close(ids[MARIA], actor="Dana")
        assert row.state is ThreadState.CLOSED
        assert await _phones(app, "closed") == {MARIA}
        assert await _phones(app, "open") == {JAMES}

        clock.advance(timedelta(minutes=5).total_seconds())
        await app.reply(MARIA, "Actually Wednesday please")
        assert (await app.inbox.conversation(ids[MARIA])).state is ThreadState.OPEN
        assert await _phones(app, "closed") == set()

        await app.inbox.close(ids[JAMES], actor="Luis")
        await app.missed_call(JAMES)  # a call reopens it too
        assert (await app.inbox.conversation(ids[JAMES])).state is ThreadState.OPEN

        # Closing twice changes nothing; reopening by hand works.
        await app.inbox.close(ids[MARIA], actor="Dana")
        await app.inbox.close(ids[MARIA], actor="Dana")
        await app.inbox.reopen(ids[MARIA], actor="Luis")
        lines = [
            (i.actor, i.text)
            for i in await app.inbox.thread(ids[MARIA])
            if isinstance(i, ActivityItem)
        ]
        assert lines == [
            ("Dana", "Closed the conversation"),
            ("Frontdesk", "Reopened the conversation"),
            ("Dana", "Closed the conversation"),
            ("Luis", "Reopened the conversation"),
        ]

    env(scenario)


def test_snooze_until_a_time_on_the_clock(env: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        await app.reply(MARIA, "Call me after lunch")
        maria = (await _ids(app))[MARIA]
        with pytest.raises(ThreadStateError, match="future"):
            await app.inbox.snooze(maria, clock.now() - timedelta(minutes=1), actor="Dana")
        with pytest.raises(ThreadStateError, match="90 days"):
            await app.inbox.snooze(maria, clock.now() + timedelta(days=400), actor="Dana")
        assert await _phones(app, "open") == {MARIA}  # nothing changed

        until = clock.now() + timedelta(hours=2)
        row = await app.inbox.snooze(maria, until, actor="Dana")
        assert row.state is ThreadState.SNOOZED and row.snoozed_until == until
        assert await _phones(app, "snoozed") == {MARIA}
        assert await _phones(app, "open") == set()

        clock.advance(timedelta(hours=1, minutes=59).total_seconds())
        assert await _phones(app, "snoozed") == {MARIA}
        clock.advance(timedelta(minutes=1).total_seconds())  # its time has come: open again
        assert await _phones(app, "open") == {MARIA}
        assert await _phones(app, "snoozed") == set()
        assert (await app.inbox.conversation(maria)).state is ThreadState.OPEN

        # A reply during a snooze brings the thread back at once.
        await app.inbox.snooze(maria, clock.now() + timedelta(days=1), actor="Dana")
        await app.reply(MARIA, "Are you there?")
        assert await _phones(app, "open") == {MARIA}

    env(scenario)


def test_mark_unread_and_the_filters_with_their_counts(env: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        for phone in (MARIA, JAMES, PRIYA):
            await app.reply(phone, "Hello")
        ids = await _ids(app)
        for contact_id in ids.values():
            await app.inbox.mark_read(contact_id)
        row = await app.inbox.mark_unread(ids[PRIYA])
        assert row.unread == 1
        assert (await app.inbox.counts()).unread == 1

        await app.inbox.assign(ids[MARIA], "Dana", actor="Dana")
        await app.inbox.assign(ids[JAMES], "Luis", actor="Dana")
        await app.inbox.add_tag(ids[JAMES], "VIP", actor="Dana")
        await app.inbox.add_tag(ids[PRIYA], "VIP", actor="Dana")
        await app.inbox.close(ids[JAMES], actor="Luis")
        await app.inbox.snooze(ids[PRIYA], clock.now() + timedelta(hours=1), actor="Dana")

        assert await _phones(app, "assigned_to_me", me="Dana") == {MARIA}
        assert await _phones(app, "unassigned") == {PRIYA}
        assert await _phones(app, "all", tag="VIP") == {JAMES, PRIYA}
        assert await _phones(app, "open", tag="VIP") == set()
        counts = await app.inbox.filter_counts(me="Dana")
        assert counts.filters["all"] == 3
        assert counts.filters["open"] == 1
        assert counts.filters["closed"] == 1
        assert counts.filters["snoozed"] == 1
        assert counts.filters["unassigned"] == 1
        assert counts.filters["assigned_to_me"] == 1
        assert counts.filters["unread"] == 1
        assert counts.tags == {"VIP": 2, "pending callback": 3}
        clock.advance(timedelta(hours=1).total_seconds())
        assert (await app.inbox.filter_counts(me="Dana")).filters["open"] == 2

    env(scenario)


def test_internal_notes_are_never_sent_and_activity_says_who_and_when(env: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        await app.reply(MARIA, "Can you come Friday?")
        maria = (await _ids(app))[MARIA]
        sent_before = len(app.standin.messages_sent)
        with pytest.raises(ValueError, match="Write the note"):
            await app.inbox.add_note(maria, "  \x00 ", actor="Dana")
        with pytest.raises(ValueError, match="5,000"):
            await app.inbox.add_note(maria, "x" * 5001, actor="Dana")
        clock.advance(timedelta(minutes=1).total_seconds())
        note = await app.inbox.add_note(maria, "She prefers mornings \x00", actor="Dana")
        assert note.body == "She prefers mornings" and note.author == "Dana"
        clock.advance(timedelta(minutes=1).total_seconds())
        await app.inbox.assign(maria, "Luis", actor="Dana")
        await app.inbox.add_tag(maria, "VIP", actor="Luis")
        await app.inbox.mark_booked(maria, 18500, actor="Luis")
        await app.idle()
        assert len(app.standin.messages_sent) == sent_before  # a note is never sent
        items = await app.inbox.thread(maria)
        kinds = [type(i).__name__ for i in items]
        assert kinds[:2] == ["MessageItem", "NoteItem"]
        notes = [i for i in items if isinstance(i, NoteItem)]
        assert [(n.author, n.body, n.at) for n in notes] == [
            ("Dana", "She prefers mornings", note.at)
        ]
        lines = [(i.actor, i.text) for i in items if isinstance(i, ActivityItem)]
        assert lines == [
            ("Dana", "Assigned to Luis"),
            ("Luis", "Tagged “VIP”"),
            ("Luis", "Marked booked ($185.00)"),
        ]
        assert all(i.at == clock.now() for i in items if isinstance(i, ActivityItem))
        # The export's conversations hold messages only.
        assert all(isinstance(i, MessageItem) for i in items if i.at < note.at)

    env(scenario)
