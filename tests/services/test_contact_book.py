"""Starting a conversation with any number (find or create the contact, one unit of
work, an activity line) and a contact's history. SQLite and PostgreSQL, the real runtime
over the Twilio stand-in."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.api import ReplyRefused, StartRefused
from services.clock import ManualClock
from services.contact_book import parse_number
from services.snapshots import ActivityItem
from tests.harness import TestApp, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

MARIA = "+14155550123"


@pytest.fixture
def env(database_url: str, data_dir: Path, twilio_standin: TwilioStandIn) -> Any:
    clock = ManualClock()

    def go(scenario: Any) -> None:
        async def main() -> None:
            async with running_app(database_url, data_dir, twilio_standin, clock=clock) as app:
                await scenario(app, clock)

        asyncio.run(main())

    return go


@pytest.mark.parametrize(
    ("typed", "region", "e164"),
    [
        ("(415) 555-0123", "US", "+14155550123"),
        ("415.555.0123", "US", "+14155550123"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("0044 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("tel:+33 1 42 68 53 00", "US", "+33142685300"),
    ],
)
def test_typed_numbers_national_and_international(typed: str, region: str, e164: str) -> None:
    assert parse_number(typed, region) == e164


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("", "Type the phone number"),
        ("12345", "short code"),
        ("415-555-01", "not a phone number"),
        ("hello", "not a phone number"),
        ("+1 415 555 0123" + "9" * 80, "too long"),
        ("anonymous", "withheld"),
    ],
)
def test_bad_numbers_say_why(typed: str, words: str) -> None:
    with pytest.raises(StartRefused, match=words):
        parse_number(typed, "US")


def test_new_number_creates_contact_and_thread_once(
    env: Any, twilio_standin: TwilioStandIn
) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        contact = await app.inbox.start_conversation(
            "(415) 555-0123", "  Maria\x00 Lopez ", actor="Dana"
        )
        assert contact.phone == MARIA and contact.name == "Maria Lopez"
        assert contact.conversation_id is not None
        # Same number typed another way: the same contact, the name kept.
        again = await app.inbox.start_conversation("+1 415-555-0123", "Someone Else", actor="Jo")
        assert again.id == contact.id and again.name == "Maria Lopez"
        assert again.conversation_id == contact.conversation_id
        assert [c.id for c in await app.inbox.contacts()] == [contact.id]

        thread = await app.inbox.thread(contact.id)
        started = [i for i in thread if isinstance(i, ActivityItem)]
        assert [(i.actor, i.text) for i in started] == [
            ("Dana", "Started the conversation"),
            ("Jo", "Started the conversation"),
        ]

        # The text goes out as a reply job through the outbox: one message at Twilio.
        clock.advance(5)
        await app.engine.send_reply(contact.id, "Hi Maria, this is the shop.", author="Dana")
        sent = await twilio_standin.wait_for_messages(1)
        await app.idle()
        assert [(m["to"], m["body"]) for m in twilio_standin.messages_sent] == [
            (MARIA, "Hi Maria, this is the shop.")
        ]
        assert len(sent) == 1
        rows = await app.inbox.conversations()
        assert [r.contact_id for r in rows] == [contact.id]

    env(scenario)


def test_opted_out_number_is_refused_and_nothing_changes(
    env: Any, twilio_standin: TwilioStandIn
) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        await app.reply(MARIA, "STOP")
        await app.idle()
        before = await app.inbox.contacts()
        thread_before = await app.inbox.thread(before[0].id)
        with pytest.raises(StartRefused, match="opted out"):
            await app.inbox.start_conversation("4155550123", "Maria", actor="Dana")
        after = await app.inbox.contacts()
        assert after == before  # not renamed either: the whole unit of work rolled back
        assert await app.inbox.thread(before[0].id) == thread_before
        with pytest.raises(ReplyRefused):
            await app.engine.send_reply(before[0].id, "hello?", author="Dana")
        assert not [m for m in twilio_standin.messages_sent if m["to"] == MARIA]

    env(scenario)


def test_long_and_nul_names_fit_both_databases(env: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        contact = await app.inbox.start_conversation("+14155550199", "x\x00" * 400, actor="d")
        assert contact.name == "x" * 200

    env(scenario)


def test_history_counts_and_order(env: Any, twilio_standin: TwilioStandIn) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        await app.missed_call(MARIA)
        await app.idle()
        clock.advance(timedelta(minutes=2).total_seconds())
        await app.reply(MARIA, "Can you come Tuesday?")
        clock.advance(60)
        contact_id = (await app.inbox.conversations())[0].contact_id
        await app.engine.send_reply(contact_id, "Yes, 9am works.", author="Dana")
        await app.idle()
        await app.inbox.mark_booked(contact_id, 45000, actor="Dana")

        history = await app.inbox.contact_history(contact_id)
        kinds = [(e.kind, e.direction) for e in history.entries]
        assert kinds[0] == ("call", "in")
        assert ("text", "in") in kinds and kinds[-1] == ("text", "out")
        ats = [e.at for e in history.entries]
        assert ats == sorted(ats)
        assert history.calls == 1 and history.missed_calls == 1
        assert history.texts_in == 1
        assert history.texts_out == len([k for k in kinds if k == ("text", "out")]) >= 2
        assert history.last_contact_at == ats[-1]
        assert history.booked_value_cents == 45000
        assert history.entries[0].summary.startswith("Missed call")

    env(scenario)
