"""Locations (issue 13): the office's numbers, each with its own values over the office's.

The first location is the office itself (its values are DESIGN.md's settings keys); another
sets only what differs, a number belongs to one location, and threads from before the
migration belong to the first. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from services import export, location_store, settings_store
from services.account_check import account_gateway, number_problems
from services.clock import ManualClock
from services.credentials import TwilioCredentials
from services.events import EventBus, SettingsChanged
from services.location_admin import LocationAdmin, LocationRefused
from services.locations import FIRST, LocationError, Locations
from services.settings import Settings, SettingsError
from services.storage import migrate
from services.storage.database import Database
from services.storage.models import Call, Contact, Conversation
from tests.standin_fixtures import twilio_standin_fixture
from tests.twilio_standin import TwilioStandIn

__all__ = ["twilio_standin_fixture"]

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
MAIN = "+15005550006"
NORTH = "+15005550007"


@pytest.fixture
def db(database_url: str) -> Database:
    database = Database(database_url)
    migrate.upgrade(database.engine)
    yield database  # type: ignore[misc]
    database.close()


def write(db: Database, fn):  # type: ignore[no-untyped-def]
    def work(uow):  # type: ignore[no-untyped-def]
        result = fn(uow.session)
        uow.commit()
        return result

    return db.run_sync(work)


def read(db: Database) -> Locations:
    return db.run_sync(lambda uow: location_store.load(uow.session))


def test_an_office_starts_with_one_location_that_is_the_office(db: Database) -> None:
    write(
        db,
        lambda s: settings_store.apply_changes(
            s, {"business.phone_number": MAIN, "business.name": "Acme"}, actor="t", now=NOW
        ),
    )
    locations = read(db)
    assert [loc.id for loc in locations] == [FIRST]
    assert not locations.several
    assert locations.first.name == "Main"
    assert locations.first.phone_number == MAIN
    assert locations.for_number(MAIN).id == FIRST
    # A number no location answers still reaches the office's inbox.
    assert locations.for_number("+15005550099").id == FIRST


def test_a_location_inherits_what_it_does_not_set(db: Database) -> None:
    write(
        db,
        lambda s: settings_store.apply_changes(
            s,
            {"business.phone_number": MAIN, "business.timezone": "America/Chicago"},
            actor="t",
            now=NOW,
        ),
    )
    north = write(db, lambda s: location_store.add(s, " North  side ", NORTH, actor="t", now=NOW))
    assert north.name == "North side"
    write(
        db,
        lambda s: location_store.set_values(
            s,
            north.id,
            {"business.timezone": "America/Denver", "templates.missed_call": "North here"},
            actor="t",
            now=NOW,
        ),
    )
    locations = read(db)
    assert locations.several
    got = locations.named("north SIDE")
    assert got.phone_number == NORTH
    assert got.settings["business.timezone"] == "America/Denver"
    assert got.settings["templates.missed_call"] == "North here"
    assert got.inherits("business.hours") and not got.inherits("business.timezone")
    assert locations.for_number(NORTH).id == north.id
    # The office's own values are unchanged, and an office change reaches what North
    # inherits but not what it sets.
    assert locations.first.settings["business.timezone"] == "America/Chicago"
    write(
        db,
        lambda s: settings_store.apply_changes(
            s, {"business.booking_link": "https://book.example"}, actor="t", now=NOW
        ),
    )
    assert read(db).named("North side").settings["business.booking_link"] == (
        "https://book.example"
    )
    write(
        db,
        lambda s: location_store.reset_values(
            s, north.id, ["business.timezone"], actor="t", now=NOW
        ),
    )
    assert read(db).get(north.id).settings["business.timezone"] == "America/Chicago"


def test_a_number_belongs_to_one_location(db: Database) -> None:
    write(
        db,
        lambda s: settings_store.apply_changes(
            s, {"business.phone_number": MAIN}, actor="t", now=NOW
        ),
    )
    with pytest.raises(LocationError, match="already the number"):
        write(db, lambda s: location_store.add(s, "North", MAIN, actor="t", now=NOW))
    north = write(db, lambda s: location_store.add(s, "North", NORTH, actor="t", now=NOW))
    with pytest.raises(LocationError, match="already a location"):
        write(db, lambda s: location_store.add(s, "NORTH", "+15005550008", actor="t", now=NOW))
    # The office's key cannot take another location's number either.
    with pytest.raises(SettingsError, match="another location"):
        write(
            db,
            lambda s: settings_store.apply_changes(
                s, {"business.phone_number": NORTH}, actor="t", now=NOW
            ),
        )
    # A key that is the office's alone is refused for a location, and nothing is written.
    with pytest.raises(SettingsError, match="office's, not a location's"):
        write(
            db,
            lambda s: location_store.set_values(
                s,
                north.id,
                {"business.hours": {}, "team.members": ["Dana"]},
                actor="t",
                now=NOW,
            ),
        )
    assert read(db).get(north.id).inherits("business.hours")
    with pytest.raises(SettingsError, match="not a valid phone number"):
        write(db, lambda s: location_store.add(s, "South", "12", actor="t", now=NOW))
    with pytest.raises(LocationError, match="first location"):
        write(db, lambda s: location_store.remove(s, FIRST, actor="t", now=NOW))
    write(db, lambda s: location_store.remove(s, north.id, actor="t", now=NOW))
    locations = read(db)
    assert not locations.several and locations.for_number(NORTH).id == FIRST
    # A removed location's number is free again.
    write(db, lambda s: location_store.add(s, "North", NORTH, actor="t", now=NOW))


def test_threads_from_before_locations_belong_to_the_first(database_url: str) -> None:
    database = Database(database_url)
    try:
        migrate.upgrade(database.engine, "0020")
        with database.engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO contacts (id, phone, notes, opted_out, created_at, updated_at)"
                    " VALUES (7, '+14155550100', '', false, :now, :now)"
                ),
                {"now": NOW},
            )
            c.execute(
                text(
                    "INSERT INTO conversations (id, contact_id, last_preview, unread_count, state)"
                    " VALUES (3, 7, 'hi', 1, 'open')"
                )
            )
        migrate.upgrade(database.engine)

        def check(uow):  # type: ignore[no-untyped-def]
            s = uow.session
            conv = s.scalar(select(Conversation).where(Conversation.contact_id == 7))
            assert conv is not None and conv.location_id == FIRST
            # One contact, one thread per location: a second thread at another location
            # is allowed, a second at the same one is not.
            north = location_store.add(s, "North", NORTH, actor="t", now=NOW)
            s.add(Conversation(contact_id=7, location_id=north.id, last_preview="", unread_count=0))
            s.flush()
            assert s.get(Contact, 7) is not None
            uow.commit()

        database.run_sync(check)
        with pytest.raises(Exception, match=r"(?i)unique"):
            database.run_sync(
                lambda uow: (
                    uow.session.add(
                        Conversation(
                            contact_id=7, location_id=FIRST, last_preview="", unread_count=0
                        )
                    ),
                    uow.session.flush(),
                )
            )
    finally:
        database.close()


def test_the_pure_snapshot_resolves_without_storage() -> None:
    office = Settings({"business.phone_number": MAIN})
    single = Locations.single(office)
    assert single.first.settings is office and single.numbers() == [MAIN]
    with pytest.raises(LocationError, match="no location called"):
        single.named("Uptown")


def test_adding_a_location_checks_its_number_in_the_account_first(
    db: Database, twilio_standin: TwilioStandIn
) -> None:
    """LocationAdmin asks Twilio (the stand-in, over HTTP) before saving a number, saves
    nothing when it is refused, and tells every listener that locations changed."""
    twilio_standin.add_number(NORTH)
    twilio_standin.add_number("+15005550008", capabilities={"voice": False})
    creds = TwilioCredentials(twilio_standin.account_sid, twilio_standin.auth_token, None, None)

    async def check(number: str) -> list[str]:
        gateway = account_gateway(creds, twilio_standin.base_url)
        await gateway.start()
        try:
            return await number_problems(gateway, number)
        finally:
            await gateway.close()

    bus = EventBus()
    seen: list[SettingsChanged] = []
    bus.subscribe(lambda e: seen.append(e) if isinstance(e, SettingsChanged) else None)
    admin = LocationAdmin(db, bus, ManualClock(NOW), check_number=check)

    async def scenario() -> None:
        with pytest.raises(LocationRefused, match="not a phone number on this Twilio account"):
            await admin.add("South", "+15005550009", actor="t")
        with pytest.raises(LocationRefused, match="cannot receive calls"):
            await admin.add("South", "+15005550008", actor="t")
        assert not (await admin.locations()).several and seen == []
        north = await admin.add("North", NORTH, actor="t")
        assert "locations" in seen[-1].keys
        # A changed number is checked too; an unchanged one is not asked about again.
        with pytest.raises(LocationRefused):
            await admin.update(north.id, {"business.phone_number": "+15005550008"}, actor="t")
        await admin.update(
            north.id, {"business.phone_number": NORTH, "business.name": "Acme North"}, actor="t"
        )
        assert (await admin.locations()).get(north.id).settings["business.name"] == "Acme North"
        await admin.reset(north.id, ["business.name"], actor="t")
        await admin.rename(north.id, "Uptown", actor="t")
        assert [x.name for x in await admin.locations()] == ["Main", "Uptown"]
        await admin.remove(north.id, actor="t")
        assert not (await admin.locations()).several

    asyncio.run(scenario())
    assert len(seen) == 5 and all("locations" in e.keys for e in seen)


def test_the_export_names_each_threads_and_calls_location(db: Database) -> None:
    def fill(s):  # type: ignore[no-untyped-def]
        north = location_store.add(s, "North", NORTH, actor="t", now=NOW)
        contact = Contact(
            phone="+14155550100", notes="", opted_out=False, created_at=NOW, updated_at=NOW
        )
        s.add(contact)
        s.flush()
        for where in (FIRST, north.id):
            s.add(
                Conversation(
                    contact_id=contact.id, location_id=where, last_preview="", unread_count=0
                )
            )
        s.add(
            Call(
                sid="CA1",
                from_raw=contact.phone,
                phone=contact.phone,
                to_number=NORTH,
                location_id=north.id,
                started_at=NOW,
            )
        )
        s.add(
            Call(
                sid="CA2",
                from_raw=contact.phone,
                phone=contact.phone,
                to_number=MAIN,
                started_at=NOW,
            )
        )
        return north

    north = write(db, fill)
    data = db.run_sync(lambda uow: export.collect(uow.session))
    assert [c["location"] for c in data["calls"]] == ["North", "Main"]
    assert sorted(c["location"] for c in data["conversations"]) == ["Main", "North"]
    assert "location" in export.to_csv(data).splitlines()[0].split(",")
    # A removed location's threads keep a name that says what they were.
    write(db, lambda s: location_store.remove(s, north.id, actor="t", now=NOW))
    data = db.run_sync(lambda uow: export.collect(uow.session))
    assert data["calls"][0]["location"] == f"North (removed #{north.id})"
