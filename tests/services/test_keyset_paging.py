"""Keyset paging of the three lists (conversations, contacts, missed calls): walking the
pages with a cursor sees every row exactly once, in the list's order, while new rows
arrive above the cursor and seen rows move to the top (an offset would show rows twice).
Ties in the sort key (same second, same name, no name) are broken by id/phone. SQLite and
PostgreSQL, rows made over real signed HTTP, time on the injected clock."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from services.clock import ManualClock
from services.cursors import CallsAfter, ContactsAfter, ConversationsAfter
from tests.harness import TestApp, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn


@pytest.fixture
def env(database_url: str, data_dir: Path, twilio_standin: TwilioStandIn) -> Any:
    clock = ManualClock()

    def go(scenario: Any) -> None:
        async def main() -> None:
            async with running_app(database_url, data_dir, twilio_standin, clock=clock) as app:
                await scenario(app, clock)

        asyncio.run(main())

    return go


def _phone(n: int) -> str:
    return f"+1415555{n:04d}"


def test_conversation_pages_see_every_thread_once_while_threads_arrive_and_move_up(
    env: Any,
) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        for i in range(17):
            await app.reply(_phone(i), f"hello {i}")
            if i % 3 == 2:  # threads in threes share a second: the id breaks the tie
                clock.advance(60)
        clock.advance(60)
        everything = [r.contact_id for r in await app.inbox.conversations(limit=1000)]
        assert len(everything) == 17

        seen: list[int] = []
        after: ConversationsAfter | None = None
        arrivals = 0
        while True:
            page = await app.inbox.conversations(after=after, limit=4)
            seen += [r.contact_id for r in page]
            if len(page) < 4:
                break
            after = ConversationsAfter.of(page[-1])
            # Meanwhile a new caller texts (newest: above the cursor) and a thread already
            # seen gets a new message (moves to the top): neither may shift the next page.
            arrivals += 1
            clock.advance(1)
            await app.reply(_phone(100 + arrivals), "new here")
            await app.reply((await app.inbox.conversation(seen[0])).phone, "me again")

        assert arrivals >= 4
        assert seen == everything, Counter(seen).most_common(3)
        # The first page of a filter or search pages the same way.
        unread = await app.inbox.conversations(filter="unread", limit=3)
        rest = await app.inbox.conversations(
            filter="unread", after=ConversationsAfter.of(unread[-1]), limit=1000
        )
        ids = [r.contact_id for r in unread + rest]
        assert len(ids) == len(set(ids)) == 17 + arrivals
        found = await app.inbox.conversations(search="hello", limit=2)
        more = await app.inbox.conversations(
            search="hello", after=ConversationsAfter.of(found[-1]), limit=1000
        )
        assert {r.contact_id for r in found}.isdisjoint({r.contact_id for r in more})
        assert len(found) + len(more) == 17

    env(scenario)


def test_contact_pages_see_every_contact_once_while_contacts_arrive(env: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        names = ["Ana", None, "Ana", "Luis", None, "Chen", "Ana", None, "Dana", "Zoe"]
        for i in range(len(names)):
            await app.reply(_phone(i), "hi")
        rows = {r.phone: r.contact_id for r in await app.inbox.conversations(limit=100)}
        for i, name in enumerate(names):
            if name:
                await app.inbox.rename(rows[_phone(i)], name, actor="test")
        everything = [c.id for c in await app.inbox.contacts(limit=1000)]
        assert len(everything) == len(names)
        # Named first by name (ties by phone), then the unnamed by phone.
        listed = await app.inbox.contacts(limit=1000)
        assert [c.name for c in listed] == sorted((n for n in names if n), key=str) + [
            None
        ] * names.count(None)

        seen: list[int] = []
        after: ContactsAfter | None = None
        arrivals = 0
        while True:
            page = await app.inbox.contacts(after=after, limit=3)
            seen += [c.id for c in page]
            if len(page) < 3:
                break
            after = ContactsAfter.of(page[-1])
            # A new contact that sorts first ("Aaron") would shift an offset by one.
            arrivals += 1
            await app.reply(_phone(200 + arrivals), "hi")
            new = next(
                r
                for r in await app.inbox.conversations(limit=100)
                if r.phone == _phone(200 + arrivals)
            )
            await app.inbox.rename(new.contact_id, "Aaron", actor="test")

        assert arrivals >= 3
        assert seen == everything, Counter(seen).most_common(3)

    env(scenario)


def test_missed_call_pages_see_every_call_once_while_calls_arrive(env: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        for i in range(7):
            await app.missed_call(_phone(i))
            if i % 2:
                clock.advance(30)
        everything = [c.id for c in await app.inbox.missed_calls(limit=1000)]
        assert len(everything) == 7

        seen: list[int] = []
        after: CallsAfter | None = None
        arrivals = 0
        while True:
            page = await app.inbox.missed_calls(after=after, limit=2)
            seen += [c.id for c in page]
            if len(page) < 2:
                break
            after = CallsAfter.of(page[-1])
            arrivals += 1
            clock.advance(5)
            await app.missed_call(_phone(300 + arrivals))

        assert arrivals >= 3
        assert seen == everything, Counter(seen).most_common(3)

    env(scenario)
