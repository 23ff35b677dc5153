"""Every location's number is wired, caught up, health-checked and taken offline (issue 13).

Real parts: the runtime (tests.harness.running_app) with its receiver on loopback, the
gateway over HTTP to the Twilio stand-in holding several IncomingPhoneNumbers, locations
stored with services.location_store, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from desktop.health import RuntimeHealth
from services import location_store, sync_state
from services.catchup import cursor_key
from services.clock import SystemClock
from services.events import SettingsChanged
from services.location_wiring import WIRED_KEY
from services.settings import Settings
from services.storage import migrate
from services.storage.database import Database, UnitOfWork
from services.wiring import BACKUP_KEY, FALLBACK_KEYS, backup_key, offline_voice_url
from tests.harness import BUSINESS, PUBLIC_URL, TestApp, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

NORTH = "+15005550011"
SOUTH = "+15005550012"
CALLER_MAIN = "+14155550121"
CALLER_NORTH = "+14155550122"
FORWARD_TO = "+14155550199"
OFFLINE = {
    "offline.mode": "forward",
    "offline.forward_to": FORWARD_TO,
    "offline.voicemail_email": "office@example.com",
}
ours = PUBLIC_URL + "/twilio/voice"


def number_of(standin: TwilioStandIn, phone: str) -> dict[str, Any]:
    return next(n for n in standin.numbers if n["phone_number"] == phone)


def offline_url() -> str:
    return offline_voice_url(Settings(OFFLINE), None)


def _write(database_url: str, work: Any) -> Any:
    db = Database(database_url)
    try:
        migrate.upgrade(db.engine)

        def run(uow: UnitOfWork) -> Any:
            result = work(uow.session)
            uow.commit()
            return result

        return db.run_sync(run)
    finally:
        db.close()


def state(database_url: str, *keys: str) -> list[Any]:
    """The sync_state values of ``keys`` (None for a key not set or cleared)."""
    return list(_write(database_url, lambda ses: [sync_state.get(ses, key) for key in keys]))


def add_location(database_url: str, name: str, number: str, *, at: datetime | None = None) -> int:
    """Store a location (before start, or while running: then publish the change)."""
    now = at or SystemClock().now()
    location = _write(
        database_url, lambda s: location_store.add(s, name, number, actor="test", now=now)
    )
    return int(location.id)


async def changed(app: TestApp, work: Any) -> None:
    """Change the locations as the Settings screen does: store, then say so on the bus."""

    def store(uow: UnitOfWork) -> None:
        work(uow.session)
        uow.commit()

    await app.runtime.db.run(store)
    app.runtime.bus.publish(SettingsChanged(("locations",)))
    await app.runtime.numbers_settled()


def test_every_locations_number_is_wired_shown_and_taken_offline(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    s = twilio_standin
    s.add_number(NORTH, capabilities={"sms": False})
    add_location(database_url, "North", NORTH)

    async def scenario() -> None:
        async with running_app(database_url, data_dir, s, settings=OFFLINE) as app:
            for phone in (BUSINESS, NORTH):
                number = number_of(s, phone)
                assert number["voice_url"] == ours
                assert number["sms_url"] == PUBLIC_URL + "/twilio/sms"
                assert number["status_callback"] == PUBLIC_URL + "/twilio/voice/status"
                assert number["voice_fallback_url"] == offline_url()
            assert app.runtime.numbers is not None
            assert app.runtime.numbers.wired == [BUSINESS, NORTH]
            assert app.runtime.wiring_error is None

            snap = await RuntimeHealth(app.runtime).health()
            assert [(n.location, n.phone_number) for n in snap.numbers] == [
                ("Main", BUSINESS),
                ("North", NORTH),
            ]
            assert all(n.points_here and n.wired and n.error is None for n in snap.numbers)
            north = snap.numbers[1].webhooks
            assert north is not None
            assert (north.voice_capable, north.sms_capable) == (True, False)
            assert snap.number == snap.numbers[0].webhooks
            assert snap.healthy
        for phone in (BUSINESS, NORTH):
            number = number_of(s, phone)
            assert number["voice_url"] == offline_url()
            assert number["sms_url"] == ""

    asyncio.run(scenario())


def test_a_changed_offline_setting_reaches_every_numbers_fallback_at_once(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    """The owner changes where calls forward while Frontdesk is down: each number's
    VoiceFallbackUrl follows now, not at the next start."""
    s = twilio_standin
    s.add_number(NORTH)
    add_location(database_url, "North", NORTH)
    new_forward = "+14155550188"

    async def scenario() -> None:
        async with running_app(database_url, data_dir, s, settings=OFFLINE) as app:
            assert number_of(s, NORTH)["voice_fallback_url"] == offline_url()
            await app.set(offline__forward_to=new_forward)
            await app.runtime.numbers_settled()
            want = offline_voice_url(Settings({**OFFLINE, "offline.forward_to": new_forward}), None)
            assert want != offline_url() and new_forward[1:] in want
            for phone in (BUSINESS, NORTH):
                assert number_of(s, phone)["voice_fallback_url"] == want
                assert number_of(s, phone)["voice_url"] == ours
            # A setting the fallback does not read changes nothing at Twilio.
            updates = len(s.requests_to("/IncomingPhoneNumbers/", "POST"))
            await app.set(business__name="Smith Plumbing & Heating")
            await app.runtime.numbers_settled()
            assert len(s.requests_to("/IncomingPhoneNumbers/", "POST")) == updates

    asyncio.run(scenario())


def test_the_fallback_keys_are_every_setting_the_offline_voice_url_reads() -> None:
    class Reads(Settings):
        read: set[str]

        def __getitem__(self, key: str) -> Any:
            self.read.add(key)
            return super().__getitem__(key)

    read: set[str] = set()
    for mode in ("forward", "twiml_url", "none"):
        for values in ({}, OFFLINE, {"offline.twiml_url": "https://handler.twilio.com/x"}):
            settings = Reads({**values, "offline.mode": mode})
            settings.read = read
            offline_voice_url(settings, None)
    assert read == FALLBACK_KEYS


def test_a_number_not_on_the_account_is_reported_and_the_others_are_wired(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    s = twilio_standin
    s.add_number(SOUTH)
    add_location(database_url, "North", NORTH)  # not on this Twilio account
    add_location(database_url, "South", SOUTH)

    async def scenario() -> None:
        async with running_app(database_url, data_dir, s, settings=OFFLINE) as app:
            assert number_of(s, BUSINESS)["voice_url"] == ours
            assert number_of(s, SOUTH)["voice_url"] == ours
            assert app.runtime.numbers is not None
            assert app.runtime.numbers.wired == [BUSINESS, SOUTH]
            error = app.runtime.wiring_error
            assert error is not None and error.startswith(f"North ({NORTH}): ")
            assert "not a phone number on this Twilio account" in error
            snap = await RuntimeHealth(app.runtime).health()
            by_number = {n.phone_number: n for n in snap.numbers}
            assert by_number[NORTH].webhooks is None and not by_number[NORTH].wired
            assert "not a phone number on this Twilio account" in str(by_number[NORTH].error)
            assert by_number[SOUTH].points_here and by_number[BUSINESS].points_here
            assert not snap.healthy

    asyncio.run(scenario())


def test_a_number_added_while_running_is_wired_and_a_removed_one_released(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    s = twilio_standin
    s.add_number(NORTH, voice_url="https://old.example.com/north")
    now = datetime.now(UTC)
    # A caller reached North just before it became a location: its first catch-up reads
    # from when it joined (earlier than now - max age), so that call is not skipped.
    joined = now - timedelta(hours=3)
    s.seed_call(from_=CALLER_NORTH, to=NORTH, start_time=now - timedelta(hours=2))
    settings = {**OFFLINE, "catchup.max_age_hours": 1}

    async def scenario() -> None:
        async with running_app(database_url, data_dir, s, settings=settings) as app:
            assert number_of(s, NORTH)["voice_url"] == "https://old.example.com/north"
            location_id = 0

            def add(session: Any) -> None:
                nonlocal location_id
                location_id = location_store.add(
                    session, "North", NORTH, actor="test", now=joined
                ).id

            await changed(app, add)
            assert number_of(s, NORTH)["voice_url"] == ours
            assert number_of(s, NORTH)["voice_fallback_url"] == offline_url()
            assert app.runtime.numbers is not None
            assert app.runtime.numbers.wired == [BUSINESS, NORTH]
            # The new number was caught up at once, from when it joined.
            result = app.runtime.catchup.results[NORTH]
            assert result.since <= joined + timedelta(seconds=1)
            assert result.calls_missed == 1
            assert CALLER_NORTH in [c.phone for c in await app.inbox.missed_calls()]

            updates = len(s.requests_to("/IncomingPhoneNumbers/", "POST"))
            # Removed on the Settings screen (LocationAdmin publishes the change).
            await app.runtime.locations.remove(location_id, actor="test")
            await app.runtime.numbers_settled()
            north = number_of(s, NORTH)
            assert north["voice_url"] == offline_url()
            assert north["sms_url"] == ""
            assert app.runtime.numbers.wired == [BUSINESS]
            # Only North was moved: the first number was already pointed here.
            moved = s.requests_to("/IncomingPhoneNumbers/", "POST")[updates:]
            assert [r.path.rsplit("/", 1)[-1] for r in moved] == [north["sid"] + ".json"]
        # Leaving: the first number goes offline; North is no longer ours to touch.
        assert number_of(s, BUSINESS)["voice_url"] == offline_url()

    asyncio.run(scenario())


def test_a_renumbered_location_moves_the_wiring_to_its_new_number(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    s = twilio_standin
    s.add_number(NORTH)
    s.add_number(SOUTH)
    north_id = add_location(database_url, "North", NORTH)

    async def scenario() -> None:
        async with running_app(database_url, data_dir, s, settings=OFFLINE) as app:
            assert number_of(s, NORTH)["voice_url"] == ours
            await app.runtime.locations.update(
                north_id, {"business.phone_number": SOUTH}, actor="test"
            )
            await app.runtime.numbers_settled()
            assert number_of(s, SOUTH)["voice_url"] == ours
            assert number_of(s, NORTH)["voice_url"] == offline_url()

    asyncio.run(scenario())


def test_catch_up_finds_a_call_missed_at_each_number_while_offline(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    s = twilio_standin
    s.add_number(NORTH)
    now = datetime.now(UTC)
    north_id = add_location(database_url, "North", NORTH, at=now - timedelta(days=2))
    # North words its catch-up text itself (the engine reads it for the To it is given).
    _write(
        database_url,
        lambda ses: location_store.set_values(
            ses,
            north_id,
            {"templates.catch_up": "North desk: sorry we missed your call."},
            actor="test",
            now=now,
        ),
    )
    # Both numbers were caught up five hours ago (the first by the cursor from before
    # locations), then Frontdesk was off.
    five_hours = (now - timedelta(hours=5)).isoformat()
    _write(database_url, lambda ses: sync_state.put(ses, "catchup.cursor", five_hours))
    _write(database_url, lambda ses: sync_state.put(ses, cursor_key(NORTH), five_hours))
    main_call = s.seed_call(from_=CALLER_MAIN, to=BUSINESS, start_time=now - timedelta(minutes=30))
    north_call = s.seed_call(from_=CALLER_NORTH, to=NORTH, start_time=now - timedelta(minutes=20))
    # Texted before calling (a text after the call would be the desk's to answer: no
    # catch-up text then, test_going_live).
    s.seed_message(
        from_=CALLER_NORTH, to=NORTH, body="Still there?", date_sent=now - timedelta(minutes=25)
    )

    async def scenario() -> None:
        async with running_app(database_url, data_dir, s, settings=OFFLINE) as app:
            await s.wait_for_messages(2)
            await app.idle()
            assert sorted(m["to"] for m in s.messages_sent) == [CALLER_MAIN, CALLER_NORTH]
            (north_text,) = [m for m in s.messages_sent if m["to"] == CALLER_NORTH]
            assert north_text["from"] == NORTH
            assert north_text["body"] == "North desk: sorry we missed your call."
            (main_text,) = [m for m in s.messages_sent if m["to"] == CALLER_MAIN]
            assert main_text["from"] == BUSINESS
            calls = {c.sid: c for c in await app.inbox.missed_calls()}
            assert set(calls) == {main_call["sid"], north_call["sid"]}
            results = app.runtime.catchup.results
            assert (results[BUSINESS].calls_missed, results[BUSINESS].messages) == (1, 0)
            assert (results[NORTH].calls_missed, results[NORTH].messages) == (1, 1)
            assert results[BUSINESS].since == datetime.fromisoformat(five_hours)
            assert app.runtime.catchup_error is None
        # Each number has its own cursor now; the shared one was adopted by the first.
        values = state(database_url, "catchup.cursor", cursor_key(BUSINESS), cursor_key(NORTH))
        assert values[0] is None
        assert all(datetime.fromisoformat(v) > now - timedelta(minutes=5) for v in values[1:])
        # The calls were handed over with the number they reached.
        from services import export

        db = Database(database_url)
        try:
            data = db.run_sync(lambda uow: export.collect(uow.session))
        finally:
            db.close()
        to = {c["sid"]: c["to"] for c in data["calls"]}
        assert to == {main_call["sid"]: BUSINESS, north_call["sid"]: NORTH}

    asyncio.run(scenario())


def test_disconnect_gives_each_number_its_own_previous_configuration(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    s = twilio_standin
    main = s.add_number(BUSINESS, voice_url="https://old.example.com/main")
    s.add_number(NORTH, voice_url="https://old.example.com/north")
    add_location(database_url, "North", NORTH)
    # A backup from before locations (the single key) is still the first number's.
    legacy = {
        "sid": main["sid"],
        "phone_number": BUSINESS,
        "voice_url": "https://older.example.com/main",
    }
    _write(database_url, lambda ses: sync_state.put(ses, BACKUP_KEY, legacy))

    async def scenario() -> None:
        async with running_app(database_url, data_dir, s, settings=OFFLINE) as app:
            assert number_of(s, NORTH)["voice_url"] == ours
            assert number_of(s, BUSINESS)["voice_url"] == ours
            await app.runtime.disconnect()
            assert not app.runtime.wired

    asyncio.run(scenario())
    assert number_of(s, BUSINESS)["voice_url"] == "https://older.example.com/main"
    assert number_of(s, NORTH)["voice_url"] == "https://old.example.com/north"
    keys = (BACKUP_KEY, backup_key(BUSINESS), backup_key(NORTH))
    assert state(database_url, *keys) == [None, None, None]


def test_a_new_business_number_is_wired_and_the_old_one_released(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    """Settings → Business changes the first location's number: the settings change says
    so on the bus (business.phone_number), and the holder moves the wiring."""
    s = twilio_standin
    s.add_number(SOUTH)

    async def scenario() -> None:
        async with running_app(database_url, data_dir, s, settings=OFFLINE) as app:
            assert number_of(s, BUSINESS)["voice_url"] == ours
            await app.set(business__phone_number=SOUTH)
            await app.runtime.numbers_settled()
            assert number_of(s, SOUTH)["voice_url"] == ours
            assert number_of(s, BUSINESS)["voice_url"] == offline_url()
            assert app.runtime.numbers is not None
            assert app.runtime.numbers.wired == [SOUTH]
        assert number_of(s, SOUTH)["voice_url"] == offline_url()

    asyncio.run(scenario())


def test_a_location_removed_while_nobody_held_the_numbers_is_released_by_the_next_holder(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    s = twilio_standin
    s.add_number(NORTH)
    south_sid = s.add_number(SOUTH)["sid"]
    north_id = add_location(database_url, "North", NORTH)
    south_id = add_location(database_url, "South", SOUTH)

    async def scenario() -> None:
        async with running_app(database_url, data_dir, s, settings=OFFLINE) as app:
            assert all(number_of(s, n)["voice_url"] == ours for n in (NORTH, SOUTH))
            assert app.runtime.numbers is not None
            app.runtime.numbers.forget()  # as a holder that died: nothing goes offline
        assert number_of(s, NORTH)["voice_url"] == ours
        assert state(database_url, WIRED_KEY) == [[BUSINESS, NORTH, SOUTH]]

        # While no PC holds the numbers, both locations are removed, and the owner gives
        # South another use in the Twilio Console.
        def remove(session: Any) -> None:
            for location_id in (north_id, south_id):
                location_store.remove(session, location_id, actor="test", now=SystemClock().now())

        _write(database_url, remove)
        s.add_number(SOUTH, sid=south_sid, voice_url="https://owner.example.com/south")

        async with running_app(database_url, data_dir, s, settings=OFFLINE) as app:
            north = number_of(s, NORTH)
            assert (north["voice_url"], north["sms_url"]) == (offline_url(), "")
            assert number_of(s, SOUTH)["voice_url"] == "https://owner.example.com/south"
            assert state(database_url, WIRED_KEY) == [[BUSINESS]]

    asyncio.run(scenario())


def test_a_location_added_without_an_event_is_found_by_the_holders_check(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    """``frontdesk location add`` in another process writes the database and tells no bus:
    the holder's periodic check (here called at once) finds the new number and wires it."""
    s = twilio_standin
    s.add_number(NORTH)

    async def scenario() -> None:
        async with running_app(database_url, data_dir, s, settings=OFFLINE) as app:
            assert not await app.runtime.check_numbers()  # nothing changed: nothing done
            await asyncio.to_thread(add_location, database_url, "North", NORTH)
            assert number_of(s, NORTH)["voice_url"] != ours
            assert await app.runtime.check_numbers()
            assert number_of(s, NORTH)["voice_url"] == ours
            assert not await app.runtime.check_numbers()

    asyncio.run(scenario())


def test_the_holder_checks_for_such_changes_on_its_own(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    s = twilio_standin
    s.add_number(NORTH)

    def often(runtime: Any) -> None:
        runtime.numbers_check_seconds = 0.05

    async def scenario() -> None:
        async with running_app(database_url, data_dir, s, settings=OFFLINE, configure=often) as app:
            await asyncio.to_thread(add_location, database_url, "North", NORTH)

            async def wired() -> bool:
                return bool(number_of(s, NORTH)["voice_url"] == ours)

            await app.until("North wired by the periodic check", wired)

    asyncio.run(scenario())
