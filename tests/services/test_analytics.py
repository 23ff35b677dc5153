"""Analytics figures on seeded rows, on SQLite and PostgreSQL; and on a real missed call."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services import settings_store
from services.analytics import Analytics, period_bounds, summary
from services.storage import migrate
from services.storage.database import Database, UnitOfWork
from services.storage.models import Call, Contact, Conversation, Job, Message
from tests.harness import running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

NOW = datetime(2025, 6, 10, 15, 0, tzinfo=UTC)  # 10:00 in Chicago (CDT, UTC-5)
CHICAGO = ZoneInfo("America/Chicago")


class FixedClock:
    def now(self) -> datetime:
        return NOW


def seed(uow: UnitOfWork) -> None:
    s = uow.session
    contacts: dict[str, Contact] = {}
    convs: dict[str, Conversation] = {}
    for i, key in enumerate("ABCDE"):
        contact = Contact(
            phone=f"+1415555010{i}",
            name=key,
            notes="",
            opted_out=False,
            created_at=NOW - timedelta(days=40),
            updated_at=NOW,
        )
        s.add(contact)
        s.flush()
        conv = Conversation(contact_id=contact.id, unread_count=0, last_preview="")
        s.add(conv)
        s.flush()
        contacts[key], convs[key] = contact, conv
    sids = iter(range(1000))

    def call(
        who: str,
        at: datetime,
        *,
        ring: int = 0,
        outcome: str = "missed",
        state: str = "sent",
    ) -> Call:
        row = Call(
            sid=f"CA{next(sids):032x}",
            from_raw=contacts[who].phone,
            phone=contacts[who].phone,
            to_number="+15005550001",
            contact_id=contacts[who].id,
            started_at=at,
            ended_at=at + timedelta(seconds=ring) if ring else None,
            status="completed",
            outcome=outcome,
        )
        s.add(row)
        s.flush()
        if state != "none":  # the call's text-back is its job
            s.add(
                Job(
                    kind="textback",
                    state=state,
                    due_at=at,
                    contact_id=row.contact_id,
                    call_id=row.id,
                    template_key="templates.missed_call",
                    attempts=1,
                    created_at=at,
                )
            )
        return row

    def message(
        who: str,
        at: datetime,
        *,
        kind: str,
        status: str = "sent",
        call_id: int | None = None,
        direction: str = "out",
    ) -> None:
        s.add(
            Message(
                sid=f"SM{next(sids):032x}",
                conversation_id=convs[who].id,
                direction=direction,
                body="x",
                status=status,
                kind=kind,
                call_id=call_id,
                created_at=at,
                sent_at=at if direction == "out" else None,
            )
        )

    # Today (since 05:00 UTC): three missed calls at 08:00, 07:00 and 09:20 Chicago.
    a = call("A", NOW - timedelta(hours=2), ring=20)
    message(
        "A", a.started_at + timedelta(seconds=50), kind="textback", status="delivered", call_id=a.id
    )
    message("A", NOW - timedelta(hours=1), kind="inbound", status="received", direction="in")
    b = call("B", NOW - timedelta(hours=3), ring=10)
    message("B", b.started_at + timedelta(seconds=60), kind="textback", call_id=b.id)
    message("B", NOW - timedelta(minutes=30), kind="follow_up", status="delivered", call_id=b.id)
    call("D", NOW - timedelta(minutes=40), state="skipped")
    call("E", NOW - timedelta(hours=1), outcome="answered", state="none")
    # Yesterday: C was texted (70 s after the call), replied and booked.
    c = call("C", NOW - timedelta(days=1))
    message(
        "C", c.started_at + timedelta(seconds=70), kind="textback", status="delivered", call_id=c.id
    )
    message("C", NOW - timedelta(hours=23), kind="inbound", status="received", direction="in")
    contacts["C"].booked_at = NOW - timedelta(hours=20)
    contacts["C"].booked_value_cents = 25000
    contacts["A"].booked_at = NOW - timedelta(minutes=30)
    contacts["A"].booked_value_cents = 10000
    # Ten days ago: outside 7 days, inside 30.
    call("D", NOW - timedelta(days=10), state="skipped")
    settings_store.apply_changes(s, {"business.timezone": "America/Chicago"}, actor="test", now=NOW)
    uow.commit()


@pytest.fixture
def seeded(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    migrate.upgrade(db.engine)
    db.run_sync(seed)
    try:
        yield db
    finally:
        db.close()


def test_today_bounds_start_at_local_midnight() -> None:
    start, end = period_bounds("today", NOW, CHICAGO)
    assert start == datetime(2025, 6, 10, 5, 0, tzinfo=UTC)
    assert end == NOW
    assert period_bounds("7d", NOW, CHICAGO)[0] == NOW - timedelta(days=7)
    with pytest.raises(ValueError):
        period_bounds("year", NOW, CHICAGO)  # type: ignore[arg-type]


def test_summary_today(seeded: Database) -> None:
    result = asyncio.run(summary(seeded, "today", NOW, CHICAGO))
    assert result.missed_calls == 3
    assert result.texts_sent == 3  # two text-backs and a follow-up
    assert result.delivered == 2
    assert (result.texted_callers, result.replied_callers) == (2, 1)
    assert result.reply_rate == 0.5
    assert (result.bookings, result.booked_value_cents) == (1, 10000)
    assert result.median_seconds_to_text == pytest.approx(40.0, abs=0.01)  # 30 s and 50 s
    expected = [0] * 24
    expected[7] = expected[8] = expected[9] = 1
    assert list(result.missed_by_hour) == expected


def test_summary_seven_and_thirty_days(seeded: Database) -> None:
    week = asyncio.run(Analytics(seeded, FixedClock()).analytics("7d"))
    assert week.timezone == "America/Chicago"
    assert week.missed_calls == 4
    assert (week.texts_sent, week.delivered) == (4, 3)
    assert (week.texted_callers, week.replied_callers) == (3, 2)
    assert (week.bookings, week.booked_value_cents) == (2, 35000)
    assert week.median_seconds_to_text == pytest.approx(50.0, abs=0.01)  # 30, 50, 70
    assert week.missed_by_hour[10] == 1  # C's call, 10:00 Chicago
    month = asyncio.run(summary(seeded, "30d", NOW, CHICAGO))
    assert month.missed_calls == 5
    assert sum(month.missed_by_hour) == 5


def test_hours_follow_half_hour_time_zones(seeded: Database) -> None:
    # 13:00 / 12:00 / 14:20 UTC are 18:30 / 17:30 / 19:50 in Kolkata (UTC+5:30).
    result = asyncio.run(summary(seeded, "7d", NOW, ZoneInfo("Asia/Kolkata")))
    assert result.missed_by_hour[17] == 1
    assert result.missed_by_hour[18] == 1
    assert result.missed_by_hour[19] == 1


def test_empty_database(database_url: str) -> None:
    db = Database(database_url)
    migrate.upgrade(db.engine)
    try:
        result = asyncio.run(summary(db, "30d", NOW, CHICAGO))
    finally:
        db.close()
    assert result.missed_calls == result.texts_sent == result.bookings == 0
    assert result.reply_rate is None
    assert result.median_seconds_to_text is None
    assert result.missed_by_hour == (0,) * 24


def test_real_missed_call_counts(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        async with running_app(database_url, data_dir, twilio_standin) as app:
            await app.missed_call("+14155550123")
            await twilio_standin.wait_for_messages(1)
            await app.idle()
            await app.reply("+14155550123", "Yes please")
            await app.idle()
            result = await Analytics(app.runtime.db, app.runtime.clock).analytics("today")
            assert result.missed_calls == 1
            assert result.texts_sent == 1
            assert (result.texted_callers, result.replied_callers) == (1, 1)
            assert result.median_seconds_to_text is not None
            assert 0 <= result.median_seconds_to_text < 30

    asyncio.run(scenario())
