"""Two runtimes on one database: one holds the number, both see every change live."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from services.events import (
    ContactChanged,
    ConversationChanged,
    Event,
    EverythingChanged,
    OfficeChanged,
    SettingsChanged,
)
from services.holder import libpq_url
from services.office_bus import chunk_payloads, decode_event, encode_event
from services.this_pc import ThisPc
from tests.harness import TestApp, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

CALLER = "+14155550123"


def _pc(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "this-pc.json").write_text(json.dumps({"pc_name": name}))
    return folder


async def _until(predicate: object, timeout: float) -> float:
    """Seconds until ``predicate()`` is true (AssertionError after ``timeout``)."""
    start = time.monotonic()
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() - start < timeout, "timed out"
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def test_events_round_trip_and_chunk_under_the_notify_limit() -> None:
    events: list[Event] = [
        ConversationChanged(3, 4),
        ContactChanged(5),
        SettingsChanged(("team.members", "business.name")),
    ]
    assert [decode_event(encode_event(e)) for e in events] == events
    assert decode_event(["ContactChanged", "5"]) is None
    assert decode_event(["Nope", 1]) is None
    assert decode_event(["ContactChanged", True]) is None
    payloads = chunk_payloads("me", [["ContactChanged", i] for i in range(3000)])
    assert len(payloads) > 1 and all(len(p) < 8000 for p in payloads)
    assert sum(len(json.loads(p)["e"]) for p in payloads) == 3000


@pytest.fixture
def office_url() -> Iterator[str]:
    """A fresh PostgreSQL database (an office shares PostgreSQL; SQLite is one PC's)."""
    from tests.conftest import _fresh_postgres_database

    yield from _fresh_postgres_database()


@contextlib.asynccontextmanager
async def two_pcs(
    database_url: str, tmp_path: Path, standin: TwilioStandIn
) -> AsyncIterator[tuple[TestApp, TestApp]]:
    """PC "front" starts first and holds the number; "back" is a desk client."""
    front, back = _pc(tmp_path, "front"), _pc(tmp_path, "back")
    async with (
        running_app(database_url, front, standin) as a,
        running_app(database_url, back, standin) as b,
    ):
        assert a.runtime.holding and not b.runtime.holding
        yield a, b


@pytest.mark.postgres
def test_two_pcs_one_holder_and_each_sees_the_others_changes(
    office_url: str, tmp_path: Path, twilio_standin: TwilioStandIn
) -> None:
    database_url = office_url

    async def scenario() -> None:
        async with two_pcs(database_url, tmp_path, twilio_standin) as (a, b):
            assert b.runtime.office.holder == "front"
            assert b.runtime.receiver.local_url() is None  # a desk client does not listen
            seen_on_b: list[Event] = []
            b.runtime.bus.subscribe(seen_on_b.append)
            seen_on_a: list[Event] = []
            a.runtime.bus.subscribe(seen_on_a.append)

            # A webhook on the holder: B's bus hears the new thread within 1 s.
            await a.missed_call(CALLER)
            await _until(lambda: any(isinstance(e, ConversationChanged) for e in seen_on_b), 1.0)
            contact_id = next(e.contact_id for e in seen_on_b if isinstance(e, ConversationChanged))
            # A desk client's edit reaches the holder within 1 s, and not twice.
            await b.inbox.assign(contact_id, "Dana", actor="Luis")
            await _until(lambda: ContactChanged(contact_id) in seen_on_a, 1.0)
            assert (await a.inbox.contact(contact_id)).assigned_to == "Dana"
            await asyncio.sleep(0.3)
            assert seen_on_b.count(ContactChanged(contact_id)) == 2  # call + assign

            # A reply typed on the desk client is a job the holder sends, once, at once
            # (woken by NOTIFY, not a poll): B never talks to Twilio.
            await _until(lambda: len(twilio_standin.messages_sent) == 1, 5.0)  # text-back
            posts_before = len(twilio_standin.requests_to("/Messages.json", "POST"))
            await b.runtime.carrier.close()  # B could not send even if it tried
            reply_id = await b.engine.send_reply(contact_id, "On our way", author="Luis")
            # Woken by NOTIFY: well before the holder's 5 s idle poll would find it.
            took = await _until(lambda: len(twilio_standin.messages_sent) == 2, 4.0)
            assert took < 3.0
            assert twilio_standin.messages_sent[1]["body"] == "On our way"
            assert twilio_standin.messages_sent[1]["status_callback"].startswith(
                "https://frontdesk-test.example.com"
            )
            await a.idle()

            async def reply_sent() -> bool:
                thread = await b.inbox.thread(contact_id)
                mine = [i for i in thread if getattr(i, "id", None) == reply_id]
                return bool(mine) and mine[0].status == "queued"

            for _ in range(200):
                if await reply_sent():
                    break
                await asyncio.sleep(0.01)
            assert await reply_sent()
            assert len(twilio_standin.requests_to("/Messages.json", "POST")) == posts_before + 1
            await b.runtime.carrier.start()

            # team.me is per PC: B's person does not rename A's.
            await a.set(team__me="Dana")
            await b.set(team__me="Luis")
            assert (await a.inbox.settings())["team.me"] == "Dana"
            assert (await b.inbox.settings())["team.me"] == "Luis"

            # The connection is cut (as by a PostgreSQL restart): B reconnects,
            # reloads everything, and hears A again.
            with psycopg.connect(libpq_url(database_url), autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = 'frontdesk-listen'"
                    " AND datname = current_database()"
                )
            await _until(lambda: EverythingChanged() in seen_on_b, 5.0)
            seen_on_b.clear()
            await a.inbox.rename(contact_id, "Maria", actor="Dana")
            await _until(lambda: ContactChanged(contact_id) in seen_on_b, 1.0)
            assert (await b.inbox.contact(contact_id)).name == "Maria"

            # B asks for the number: A hands it over without going offline.
            updates = len(twilio_standin.requests_to("/IncomingPhoneNumbers/", "POST"))
            await b.runtime.request_takeover()
            await _until(lambda: b.runtime.holding, 10.0)
            assert not a.runtime.holding
            await _until(lambda: OfficeChanged("back", False) in seen_on_a, 5.0)
            posted = twilio_standin.requests_to("/IncomingPhoneNumbers/", "POST")[updates:]
            assert all(r.form.get("SmsUrl") for r in posted)  # never the offline state

    asyncio.run(scenario())


def test_team_me_lives_on_the_pc_and_a_bad_batch_stores_nothing(tmp_path: Path) -> None:
    from services import settings as settings_mod

    pc = ThisPc(tmp_path)
    mine, shared = pc.split({"team.me": " Dana ", "business.name": "X"})
    assert shared == {"business.name": "X"} and "team.me" in mine
    assert pc.me == ""  # split stores nothing
    pc.apply(mine)
    assert ThisPc(tmp_path).me == mine["team.me"]
    with pytest.raises(settings_mod.SettingsError):
        pc.split({"team.me": "x" * 500})
    assert ThisPc(tmp_path).me == mine["team.me"]
    assert (tmp_path / "this-pc.json").stat().st_mode & 0o077 == 0


@pytest.mark.postgres
def test_a_location_added_on_a_desk_client_is_wired_by_the_holder(
    office_url: str, tmp_path: Path, twilio_standin: TwilioStandIn
) -> None:
    """The Settings screen of any PC adds a location; the holder hears it and wires it."""
    from services import location_store
    from services.storage.database import UnitOfWork

    north = "+15005550011"
    twilio_standin.add_number(north)

    async def scenario() -> None:
        async with two_pcs(office_url, tmp_path, twilio_standin) as (a, b):

            def add(uow: UnitOfWork) -> None:
                now = b.runtime.clock.now()
                location_store.add(uow.session, "North", north, actor="Luis", now=now)
                uow.commit()

            await b.runtime.db.run(add)
            b.runtime.bus.publish(SettingsChanged(("locations",)))
            number = next(n for n in twilio_standin.numbers if n["phone_number"] == north)

            def wired() -> bool:
                voice = twilio_standin.number(number["sid"])["voice_url"]
                return bool(voice == "https://frontdesk-test.example.com/twilio/voice")

            await _until(wired, 5.0)
            await a.runtime.numbers_settled()
            assert a.runtime.numbers is not None and north in a.runtime.numbers.wired
            assert b.runtime.numbers is not None and b.runtime.numbers.wired == []

    asyncio.run(scenario())
