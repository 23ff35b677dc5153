"""What the desk's inbox counts and finds: missed calls wanting attention, tags that keep
their case, the automation's tags, contacts found by tag and notes. SQLite and
PostgreSQL, over real HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.harness import TestApp, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

CALLER = "+14155550123"
OTHER = "+14155550124"


@pytest.fixture
def env(database_url: str, data_dir: Path, twilio_standin: TwilioStandIn) -> Any:
    def go(scenario: Any) -> None:
        async def main() -> None:
            async with running_app(database_url, data_dir, twilio_standin) as app:
                await scenario(app)

        asyncio.run(main())

    return go


def test_a_missed_call_is_unread_and_waits_for_the_desk_until_its_thread_is_opened(
    env: Any,
) -> None:
    async def scenario(app: TestApp) -> None:
        await app.missed_call(CALLER)
        await app.missed_call(OTHER)
        await app.missed_call(CALLER)
        counts = await app.inbox.counts()
        assert counts.unread == 2  # both threads bold in the list, the Inbox badge
        assert counts.missed_waiting == 3  # three missed calls nobody has looked at
        rows = {r.phone: r for r in await app.inbox.conversations()}
        assert rows[CALLER].unread == 2 and rows[OTHER].unread == 1

        await app.inbox.mark_read(rows[CALLER].contact_id)
        counts = await app.inbox.counts()
        assert (counts.unread, counts.missed_waiting) == (1, 1)

        await app.inbox.callback_done(rows[OTHER].contact_id, actor="Dana")
        assert (await app.inbox.counts()).missed_waiting == 0
        # A reply is unread, but it is not a missed call.
        await app.reply(OTHER, "Thanks!")
        counts = await app.inbox.counts()
        assert (counts.unread, counts.missed_waiting) == (1, 0)

    env(scenario)


def test_tags_keep_their_case_and_the_automations_tags_cannot_be_removed(env: Any) -> None:
    async def scenario(app: TestApp) -> None:
        await app.missed_call(CALLER)
        await app.missed_call(OTHER)
        rows = {r.phone: r.contact_id for r in await app.inbox.conversations()}
        maria = await app.inbox.add_tag(rows[CALLER], "  VIP  Plumbing ", actor="Dana")
        assert "VIP Plumbing" in maria.tags
        # The same tag written another way is the same tag, shown as first written.
        other = await app.inbox.add_tag(rows[OTHER], "vip plumbing", actor="Dana")
        assert "VIP Plumbing" in other.tags and "vip plumbing" not in other.tags
        again = await app.inbox.add_tag(rows[CALLER], "vip PLUMBING", actor="Dana")
        assert again.tags.count("VIP Plumbing") == 1
        booked = await app.inbox.add_tag(rows[CALLER], "Booked", actor="Dana")
        assert "booked" in booked.tags  # the automation's spelling

        for system in ("missed call", "booked"):
            with pytest.raises(ValueError, match="set by Frontdesk"):
                await app.inbox.remove_tag(rows[CALLER], system, actor="Dana")
        assert {"missed call", "booked"} <= set((await app.inbox.contact(rows[CALLER])).tags)
        left = await app.inbox.remove_tag(rows[CALLER], "VIP Plumbing", actor="Dana")
        assert "VIP Plumbing" not in left.tags

    env(scenario)


def test_contacts_are_found_by_tag_and_by_notes(env: Any) -> None:
    async def scenario(app: TestApp) -> None:
        await app.missed_call(CALLER)
        await app.missed_call(OTHER)
        rows = {r.phone: r.contact_id for r in await app.inbox.conversations()}
        await app.inbox.add_tag(rows[CALLER], "VIP", actor="Dana")
        await app.inbox.set_notes(rows[OTHER], "Gate code 4411. Dog is friendly.", actor="Dana")

        assert [c.phone for c in await app.inbox.contacts(search="vip")] == [CALLER]
        assert [c.phone for c in await app.inbox.contacts(search="gate code")] == [OTHER]
        # "4411" is in the notes, and in neither number.
        assert [c.phone for c in await app.inbox.contacts(search="4411")] == [OTHER]
        # LIKE wildcards are text here.
        assert await app.inbox.contacts(search="%") == []

    env(scenario)
