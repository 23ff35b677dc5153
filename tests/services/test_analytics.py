"""Analytics figures on seeded rows, on SQLite and PostgreSQL; and on a real missed call."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Float, false, literal, select, union_all, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from services import analytics_queries as q
from services import location_store, settings_store
from services.analytics import Analytics, period_bounds, report
from services.analytics_queries import Scope
from services.analytics_types import DayFigures, LocationFigures, PersonFigures
from services.clock import as_utc
from services.storage import migrate
from services.storage.database import Database, UnitOfWork
from services.storage.models import AuditEntry, Call, Contact, Conversation, Job, Message
from tests.harness import running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

NOW = datetime(2025, 6, 10, 15, 0, tzinfo=UTC)  # 10:00 in Chicago (CDT, UTC-5)
CHICAGO = ZoneInfo("America/Chicago")
LINE_1, LINE_2 = "+15005550001", "+15005550002"
SEGMENT = 7900  # micro-dollars: one SMS segment


class FixedClock:
    def now(self) -> datetime:
        return NOW


def seed(uow: UnitOfWork) -> None:
    """A hand-built office history around NOW (Tuesday 10:00 in Chicago).

    Today: A, B and D missed (D on the second line); A was texted, replied, got Dana's
    reply 70 min after the call and booked ($100); B was texted and followed up, never
    answered; D was called back (an answered call 20 min later, Luis marked it done).
    E (no missed call) texted and got Dana's answer 5 min later. Yesterday: C missed,
    texted, replied, answered by Luis 2 h after the call, booked ($250). 9 days ago F
    missed and booked 8 days later ($500: not a recovery); 10 days ago D missed.
    """
    s = uow.session
    contacts: dict[str, Contact] = {}
    convs: dict[str, Conversation] = {}
    for i, key in enumerate("ABCDEF"):
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
        to: str = LINE_1,
        price: int | None = None,
    ) -> Call:
        row = Call(
            sid=f"CA{next(sids):032x}",
            from_raw=contacts[who].phone,
            phone=contacts[who].phone,
            to_number=to,
            contact_id=contacts[who].id,
            started_at=at,
            ended_at=at + timedelta(seconds=ring) if ring else None,
            status="completed",
            outcome=outcome,
            price_micros=price,
            price_unit=None if price is None else "USD",
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
        price: int | None = SEGMENT,
        author: str | None = None,
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
                author=author,
                created_at=at,
                sent_at=at if direction == "out" else None,
                price_micros=price,
                price_unit=None if price is None else "USD",
            )
        )

    def audit(actor: str, action: str, at: datetime, who: str) -> None:
        s.add(AuditEntry(at=at, actor=actor, action=action, subject=contacts[who].phone))

    def inbound(who: str, at: datetime) -> None:
        message(who, at, kind="inbound", status="received", direction="in")

    # Today (since 05:00 UTC): missed calls at 08:00, 07:00 and 09:20 Chicago.
    a = call("A", NOW - timedelta(hours=2), ring=20, price=8500)
    message(
        "A", a.started_at + timedelta(seconds=50), kind="textback", status="delivered", call_id=a.id
    )
    inbound("A", NOW - timedelta(hours=1))
    message("A", NOW - timedelta(minutes=50), kind="manual", author="Dana")
    b = call("B", NOW - timedelta(hours=3), ring=10, price=8500)
    message("B", b.started_at + timedelta(seconds=60), kind="textback", call_id=b.id)
    message(
        "B",
        NOW - timedelta(minutes=30),
        kind="follow_up",
        status="delivered",
        call_id=b.id,
        price=2 * SEGMENT,
    )
    call("D", NOW - timedelta(minutes=40), state="skipped", to=LINE_2)
    call("D", NOW - timedelta(minutes=20), outcome="answered", state="none", to=LINE_2, price=8500)
    audit("Luis", "contact.callback_done", NOW - timedelta(minutes=15), "D")
    call("E", NOW - timedelta(hours=1), outcome="answered", state="none", price=17000)
    inbound("E", NOW - timedelta(minutes=45))
    message("E", NOW - timedelta(minutes=40), kind="manual", author="Dana", price=None)
    # Yesterday: C was texted (70 s after the call), replied and booked.
    c = call("C", NOW - timedelta(days=1))
    message(
        "C", c.started_at + timedelta(seconds=70), kind="textback", status="delivered", call_id=c.id
    )
    inbound("C", NOW - timedelta(hours=23))
    message("C", NOW - timedelta(hours=22), kind="manual", author="Luis")
    contacts["C"].booked_at = NOW - timedelta(hours=20)
    contacts["C"].booked_value_cents = 25000
    audit("Luis", "contact.booked", NOW - timedelta(hours=20), "C")
    contacts["A"].booked_at = NOW - timedelta(minutes=30)
    contacts["A"].booked_value_cents = 10000
    audit("Dana", "contact.booked", NOW - timedelta(minutes=30), "A")
    # Outside 7 days, inside 30: D's first call, and F booked 8 days after its call.
    call("D", NOW - timedelta(days=10), state="skipped")
    call("F", NOW - timedelta(days=9), state="skipped")
    contacts["F"].booked_at = NOW - timedelta(days=1)
    contacts["F"].booked_value_cents = 50000
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


def test_today(seeded: Database) -> None:
    result = asyncio.run(report(seeded, "today", NOW, CHICAGO))
    now = result.current
    assert (now.missed_calls, now.missed_callers) == (3, 3)
    assert now.texts_sent == 3  # two text-backs and a follow-up
    assert now.delivered == 2
    assert (now.texted_callers, now.replied_callers) == (2, 1)
    assert now.reply_rate == 0.5
    assert now.median_seconds_to_text == pytest.approx(40.0, abs=0.01)  # 30 s and 50 s
    # Recovered: A (replied and booked), D (called back); B never answered.
    assert now.recovered_callers == 2
    assert (now.recovered_by_reply, now.recovered_by_callback, now.recovered_by_booking) == (
        1,
        1,
        1,
    )
    assert now.recovered_value_cents == 10000
    # Waits for the desk: A from the missed call (70 min), E from its text (5 min).
    assert now.human_replies == 2
    assert now.median_seconds_to_human == pytest.approx(2250.0, abs=0.01)
    assert now.p90_seconds_to_human == pytest.approx(4200.0, abs=0.01)
    # Cost: text-backs 2 x 7900 + a two-segment follow-up; texts add A's and E's inbound
    # and Dana's reply to A (her reply to E is not priced yet); calls a, b, E and D's
    # callback (D's missed call is not priced yet).
    assert now.textback_cost_micros == 31600
    assert now.messages_cost_micros == 31600 + 3 * SEGMENT
    assert now.calls_cost_micros == 3 * 8500 + 17000
    assert now.total_cost_micros == 31600 + 3 * SEGMENT + 42500
    assert (now.cost_unit, now.unpriced) == ("USD", 2)
    assert result.days == (DayFigures(date(2025, 6, 10), 3, 2),)
    expected = [[0] * 24 for _ in range(7)]
    expected[1][7] = expected[1][8] = expected[1][9] = 1  # Tuesday 07:00, 08:00, 09:00
    assert [list(row) for row in result.heatmap] == expected
    assert result.missed_by_hour[7] == result.missed_by_hour[9] == 1
    assert result.people == (PersonFigures("Dana", 2, 0, 1), PersonFigures("Luis", 0, 1, 0))
    assert result.locations == (
        LocationFigures(LINE_1, 2, 2, 1),
        LocationFigures(LINE_2, 1, 1, 1),
    )
    # The previous period (the 10 hours before local midnight) had none of it.
    assert result.previous_start == NOW - timedelta(hours=20)
    assert result.previous.missed_calls == 0
    assert result.previous.human_replies == 0
    assert result.previous.median_seconds_to_human is None


def test_each_called_number_is_named_for_its_location(seeded: Database) -> None:
    """Locations (issue 13): the per-number figures say which location a number is."""

    def add(uow: UnitOfWork) -> None:
        settings_store.apply_changes(
            uow.session, {"business.phone_number": LINE_1}, actor="t", now=NOW
        )
        location_store.add(uow.session, "Uptown", LINE_2, actor="t", now=NOW)
        uow.commit()

    seeded.run_sync(add)
    result = asyncio.run(Analytics(seeded, FixedClock()).analytics("today"))
    assert [(x.number, x.name, x.label) for x in result.locations] == [
        (LINE_1, "Main", "Main · (500) 555-0001"),
        (LINE_2, "Uptown", "Uptown · (500) 555-0002"),
    ]


def test_seven_days_against_the_week_before(seeded: Database) -> None:
    result = asyncio.run(Analytics(seeded, FixedClock()).analytics("7d"))
    week = result.current
    assert result.timezone == "America/Chicago"
    assert (week.missed_calls, week.missed_callers) == (4, 4)
    assert (week.texts_sent, week.delivered) == (4, 3)
    assert (week.texted_callers, week.replied_callers) == (3, 2)
    assert week.median_seconds_to_text == pytest.approx(50.0, abs=0.01)  # 30, 50, 70
    assert week.recovered_callers == 3  # A, C, D
    assert (week.recovered_by_reply, week.recovered_by_callback, week.recovered_by_booking) == (
        2,
        1,
        2,
    )
    assert week.recovered_value_cents == 35000
    assert week.recovery_rate == 0.75
    assert week.human_replies == 3  # 300 s, 4200 s, 7200 s
    assert week.median_seconds_to_human == pytest.approx(4200.0, abs=0.01)
    assert week.p90_seconds_to_human == pytest.approx(7200.0, abs=0.01)
    assert [d.day for d in result.days] == [date(2025, 6, n) for n in range(3, 11)]
    assert result.days[-2] == DayFigures(date(2025, 6, 9), 1, 1)  # C, Monday 10:00
    assert result.heatmap[0][10] == 1
    assert result.people == (PersonFigures("Dana", 2, 0, 1), PersonFigures("Luis", 1, 1, 1))
    # The week before: D (10 days ago) and F (9 days ago) missed, neither recovered
    # within 7 days (D's callback and F's booking came later).
    before = result.previous
    assert (before.missed_calls, before.recovered_callers, before.recovered_value_cents) == (
        2,
        0,
        0,
    )


def test_thirty_days_count_only_bookings_that_recovered_a_call(seeded: Database) -> None:
    month = asyncio.run(report(seeded, "30d", NOW, CHICAGO)).current
    assert (month.missed_calls, month.missed_callers) == (6, 5)
    assert month.recovered_callers == 3
    assert month.recovered_value_cents == 35000  # F's $500 came 8 days after its call
    assert month.recovered_by_booking == 2


def test_one_location(seeded: Database) -> None:
    result = asyncio.run(report(seeded, "today", NOW, CHICAGO, location=LINE_2))
    assert (result.current.missed_calls, result.current.recovered_callers) == (1, 1)
    # The second line's calls: D's callback; D's missed call is not priced yet.
    assert (result.current.calls_cost_micros, result.current.unpriced) == (8500, 2)
    assert result.locations == (LocationFigures(LINE_2, 1, 1, 1),)
    assert sum(result.missed_by_hour) == 1


def test_one_location_counts_only_its_own_texts(seeded: Database) -> None:
    """Locations (issue 13): picking a number limits the texts too, to its location's
    threads. D's missed call reached Uptown (LINE_2); D texted Uptown 5 min later and
    Luis answered 10 min after the call, from Uptown's thread."""

    def uptown(uow: UnitOfWork) -> None:
        s = uow.session
        settings_store.apply_changes(s, {"business.phone_number": LINE_1}, actor="t", now=NOW)
        place = location_store.add(s, "Uptown", LINE_2, actor="t", now=NOW)
        d = s.scalars(select(Contact).where(Contact.name == "D")).one()
        s.execute(update(Call).where(Call.to_number == LINE_2).values(location_id=place.id))
        conv = Conversation(contact_id=d.id, location_id=place.id, unread_count=0, last_preview="")
        s.add(conv)
        s.flush()
        for n, (kind, minutes) in enumerate((("inbound", 35), ("manual", 30))):
            s.add(
                Message(
                    sid=f"SMuptown{n:024d}",
                    conversation_id=conv.id,
                    direction="in" if kind == "inbound" else "out",
                    body="x",
                    status="received" if kind == "inbound" else "delivered",
                    kind=kind,
                    author="Luis" if kind == "manual" else None,
                    created_at=NOW - timedelta(minutes=minutes),
                    price_micros=SEGMENT,
                    price_unit="USD",
                )
            )
        uow.commit()

    seeded.run_sync(uptown)
    clock = FixedClock()
    line_2 = asyncio.run(Analytics(seeded, clock).analytics("today", location=LINE_2)).current
    assert (line_2.missed_calls, line_2.texts_sent) == (1, 0)
    assert line_2.human_replies == 1  # from the missed call, not the text after it
    assert line_2.median_seconds_to_human == pytest.approx(600.0, abs=0.01)
    assert line_2.messages_cost_micros == 2 * SEGMENT
    assert (line_2.calls_cost_micros, line_2.unpriced) == (8500, 1)  # D's missed call
    # The first line no longer sees Uptown's texts; the whole office sees all of them.
    line_1 = asyncio.run(Analytics(seeded, clock).analytics("today", location=LINE_1)).current
    assert (line_1.texts_sent, line_1.human_replies) == (3, 2)
    assert line_1.messages_cost_micros == 31600 + 3 * SEGMENT
    office = asyncio.run(Analytics(seeded, clock).analytics("today")).current
    assert office.human_replies == 3
    assert office.messages_cost_micros == 31600 + 5 * SEGMENT
    assert office.median_seconds_to_human == pytest.approx(600.0, abs=0.01)  # 300, 600, 4200


def test_hours_follow_half_hour_time_zones(seeded: Database) -> None:
    # 13:00 / 12:00 / 14:20 UTC are 18:30 / 17:30 / 19:50 in Kolkata (UTC+5:30).
    result = asyncio.run(report(seeded, "7d", NOW, ZoneInfo("Asia/Kolkata")))
    assert result.missed_by_hour[17] == 1
    assert result.missed_by_hour[18] == 1
    assert result.missed_by_hour[19] == 1


def test_empty_database(database_url: str) -> None:
    db = Database(database_url)
    migrate.upgrade(db.engine)
    try:
        result = asyncio.run(report(db, "30d", NOW, CHICAGO))
    finally:
        db.close()
    empty = result.current
    assert empty.missed_calls == empty.texts_sent == empty.recovered_callers == 0
    assert empty.reply_rate is None and empty.recovery_rate is None
    assert empty.median_seconds_to_text is None
    assert empty.median_seconds_to_human is None and empty.p90_seconds_to_human is None
    assert (empty.total_cost_micros, empty.unpriced) == (0, 0)
    assert result.missed_by_hour == (0,) * 24
    assert len(result.days) == 31 and not any(d.missed_calls for d in result.days)
    assert result.people == result.locations == ()


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
            full = await Analytics(app.runtime.db, app.runtime.clock).analytics("today")
            result = full.current
            assert result.missed_calls == 1
            assert result.texts_sent == 1
            assert (result.texted_callers, result.replied_callers) == (1, 1)
            assert result.median_seconds_to_text is not None
            assert 0 <= result.median_seconds_to_text < 30

    asyncio.run(scenario())


def test_report_csv(seeded: Database) -> None:
    from services.analytics_export import report_csv

    rows = report_csv(asyncio.run(report(seeded, "today", NOW, CHICAGO))).splitlines()
    assert rows[0] == "section,item,value,previous"
    assert "period,timezone,America/Chicago," in rows
    assert "figures,missed_calls,3,0" in rows
    assert "figures,recovered_value,100.00,0.00" in rows
    assert "figures,recovery_rate,0.6667," in rows  # none missed before: no rate
    assert "figures,median_to_human,2250," in rows
    assert "figures,textback_cost,0.0316,0.0000" in rows
    assert "day,2025-06-10,3,2" in rows
    assert "heatmap,Tue 07,1," in rows
    assert "person,Dana,2,0/1" in rows
    assert "location,+15005550002,1,1" in rows


def _reference_waits(s: Any, scope: Scope) -> list[float]:
    """Time to first human reply straight from its definition, in Python: per thread,
    events in time order (a trigger before a reply at the same moment); each reply ends
    one wait that began at the earliest trigger of the period since the previous reply."""
    events: dict[int, list[tuple[datetime, int]]] = {}
    located = {c.id: c.location_id for c in s.scalars(select(Conversation))}
    for m in s.scalars(select(Message)):
        at = as_utc(m.created_at)
        mine = scope.location_id in (None, located[m.conversation_id])
        if m.kind == "inbound" and scope.start <= at < scope.end and mine:
            events.setdefault(m.conversation_id, []).append((at, 0))
        elif m.kind == "manual" and at >= scope.start:
            events.setdefault(m.conversation_id, []).append((at, 1))
    for call in s.scalars(select(Call).where(Call.outcome == "missed")):
        at = as_utc(call.started_at)
        if not scope.start <= at < scope.end:
            continue
        if scope.location is not None and call.to_number != scope.location:
            continue
        for conv_id in s.scalars(
            select(Conversation.id).where(Conversation.contact_id == call.contact_id)
        ):
            events.setdefault(conv_id, []).append((at, 0))
    waits: list[float] = []
    for rows in events.values():
        asked: datetime | None = None
        for at, is_reply in sorted(rows):
            if not is_reply:
                asked = asked or at
            elif asked is not None:
                waits.append((at - asked).total_seconds())
                asked = None
    return sorted(waits)


def test_first_human_reply_plans_match_the_definition_after_edits(database_url: str) -> None:
    """Both plans of "time to first human reply" (the window plan and the index-seek
    plan) give the definition's waits on a random history, and still do after edits: a
    contact deleted, a reply logged late (before texts already there), a reply at the very
    moment of a trigger, a missed call on a second line."""
    db = Database(database_url)
    migrate.upgrade(db.engine)
    rng = random.Random(13)
    start = NOW - timedelta(days=30)

    def fill(uow: UnitOfWork) -> None:
        s = uow.session
        for i in range(40):
            contact = Contact(
                phone=f"+1415555{2000 + i:04d}",
                notes="",
                opted_out=False,
                created_at=start - timedelta(days=5),
                updated_at=NOW,
            )
            s.add(contact)
            s.flush()
            conv = Conversation(contact_id=contact.id, unread_count=0, last_preview="")
            s.add(conv)
            s.flush()
            at = start - timedelta(days=2)
            for n in range(rng.randrange(1, 12)):
                at += timedelta(minutes=rng.randrange(0, 3000))
                kind = rng.choice(("inbound", "inbound", "manual", "textback"))
                s.add(
                    Message(
                        conversation_id=conv.id,
                        direction="in" if kind == "inbound" else "out",
                        body="x",
                        status="received" if kind == "inbound" else "delivered",
                        kind=kind,
                        created_at=at,
                        sid=f"SM{i:04d}{n:028d}",
                    )
                )
            if rng.random() < 0.5:
                s.add(
                    Call(
                        sid=f"CA{i:032d}",
                        from_raw=contact.phone,
                        phone=contact.phone,
                        to_number=rng.choice((LINE_1, LINE_2)),
                        contact_id=contact.id,
                        started_at=start + timedelta(minutes=rng.randrange(0, 40000)),
                        status="completed",
                        outcome="missed",
                        mode="ring",
                        after_hours=False,
                        source="live",
                    )
                )
        uow.commit()

    def check(s: Any) -> int:
        scopes = [
            Scope(start, NOW, CHICAGO),
            Scope(start, NOW, CHICAGO, LINE_2),
            Scope(start, NOW, CHICAGO, LINE_2, location_id=99),  # its texts: none of these
            Scope(NOW - timedelta(days=7), NOW, CHICAGO),
            Scope(start + timedelta(days=3), start + timedelta(days=10), CHICAGO),
        ]
        for scope in scopes:
            want = _reference_waits(s, scope)
            plans = (q._waits_by_window(db.dialect, scope), q._waits_by_seek(db.dialect, scope))
            for plan in plans:
                got = sorted(float(v) for v in s.scalars(select(plan.c.v)))
                assert got == pytest.approx(want, abs=0.01), scope
            figures = q.human_reply(s, db.dialect, scope)
            assert figures["human_replies"] == len(want)
        return len(_reference_waits(s, scopes[0]))

    try:
        db.run_sync(fill)
        with Session(db.engine) as s:
            assert check(s) > 10  # the history has waits to measure

            # Edits: a contact with waits deleted (cascade), a reply logged late between
            # texts already there, a reply at the very moment of an inbound text, a
            # missed call on the second line for a thread with no text in the period.
            victim = s.scalars(
                select(Message.conversation_id).where(
                    Message.kind == "manual", Message.created_at >= start
                )
            ).first()
            assert victim is not None
            s.delete(s.get(Contact, s.get(Conversation, victim).contact_id))
            inbound = s.scalars(
                select(Message)
                .where(Message.kind == "inbound", Message.created_at >= start)
                .order_by(Message.id)
            ).all()
            late, tie = inbound[0], inbound[-1]
            for n, (conv_id, at) in enumerate(
                [
                    (late.conversation_id, as_utc(late.created_at) + timedelta(seconds=1)),
                    (tie.conversation_id, as_utc(tie.created_at)),
                ]
            ):
                s.add(
                    Message(
                        conversation_id=conv_id,
                        direction="out",
                        body="late",
                        status="delivered",
                        kind="manual",
                        created_at=at,
                        sid=f"SMedit{n:026d}",
                    )
                )
            quiet = s.scalars(select(Conversation).order_by(Conversation.id.desc())).first()
            assert quiet is not None
            s.add(
                Call(
                    sid="CA" + "e" * 32,
                    from_raw="+14155559999",
                    phone=None,
                    to_number=LINE_2,
                    contact_id=quiet.contact_id,
                    started_at=NOW - timedelta(hours=3),
                    status="completed",
                    outcome="missed",
                    mode="ring",
                    after_hours=False,
                    source="live",
                )
            )
            s.commit()
            check(s)
    finally:
        db.close()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], (None, None, 0)),
        ([None], (None, None, 0)),
        ([7.5], (7.5, 7.5, 1)),
        ([30, 10, 20, 40], (25.0, 40.0, 4)),  # even: the mean of the middle two
        ([5, -2, 3, None, 1], (2.0, 5.0, 4)),  # a negative wait counts as 0; NULL not at all
        (list(range(1, 21)), (10.5, 18.0, 20)),  # p90 by nearest rank: the 18th of 20
        (list(range(11, 0, -1)), (6.0, 10.0, 11)),
    ],
)
def test_median_and_p90_in_sql(
    database_url: str, values: list[int | float | None], expected: tuple[Any, ...]
) -> None:
    """The one statistic every wait figure uses, the same on both databases (PostgreSQL's
    ordered-set aggregates, SQLite's registered aggregate)."""
    db = Database(database_url)
    try:
        rows = [select(sql_cast(literal(v), Float).label("v")) for v in values]
        deltas = (union_all(*rows) if len(rows) > 1 else rows[0]).subquery() if rows else None
        with Session(db.engine) as s:
            if deltas is None:  # no rows at all: a query that yields none
                deltas = select(sql_cast(literal(1.0), Float).label("v")).where(false()).subquery()
            median, p90, count = q._median_and_p90(s, db.dialect, deltas)
        assert (median, p90, count) == expected
    finally:
        db.close()
