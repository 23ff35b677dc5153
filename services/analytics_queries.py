"""Each analytics figure as SQL: counts, sums, window functions and one ordered probe.

Every function takes a session, the dialect name and a :class:`Scope` and returns plain
values; nothing loads rows into Python beyond a bounded number of buckets (at most one
per UTC quarter-hour of the period for the calendar, one per person or number). SQLite
and PostgreSQL differ only in date arithmetic and time zones (:func:`plus_days`,
:func:`seconds_between`, :func:`_local_buckets`).

``Scope.location`` limits call-based figures to one called number (``calls.to_number``)
and ``Scope.location_id`` the message-based ones to the threads of one location (a
message belongs to its thread's location, the number it was texted at or sent from).
Per-person figures stay office-wide: a callback or booking is logged per contact, not
per thread.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    distinct,
    exists,
    func,
    literal,
    select,
    true,
    union_all,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from services import sends
from services.analytics_types import RECOVERY_DAYS
from services.storage.models import (
    FIRST_LOCATION,
    AuditEntry,
    Call,
    Contact,
    Conversation,
    Job,
    Message,
)
from services.storage.sqlite_functions import QUANTILES

AUTOMATIC_KINDS = ("textback", "follow_up", "auto")
TEXTBACK_KINDS = ("textback", "follow_up")
CALLBACK_ACTION = "contact.callback_done"
#: How long before it left an automatic text can have been created (held overnight).
SEND_SLACK = timedelta(days=2)
BOOKED_ACTION = "contact.booked"


@dataclass(frozen=True, slots=True)
class Scope:
    """``[start, end)`` in aware UTC, the business time zone, and optionally one called
    number (``location``, for calls) and its location's id (``location_id``, for texts)."""

    start: datetime
    end: datetime
    tz: ZoneInfo
    location: str | None = None
    location_id: int | None = None


# ---- dialect helpers -------------------------------------------------------------------
def seconds_between(dialect: str, later: Any, earlier: Any) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier)
    result: ColumnElement[Any] = (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return result


def plus_days(dialect: str, moment: Any, days: int) -> ColumnElement[Any]:
    """``moment + days`` in SQL, comparable with stored datetimes on either database."""
    if dialect == "postgresql":
        result: ColumnElement[Any] = moment + timedelta(days=days)
        return result
    # SQLite stores "YYYY-MM-DD HH:MM:SS.ffffff"; %f gives SS.SSS, so pad to six digits.
    return func.strftime("%Y-%m-%d %H:%M:%f000", moment, f"+{days} days")


def _count(s: Session, stmt: Any) -> int:
    return int(s.scalar(stmt) or 0)


def _missed(scope: Scope) -> ColumnElement[bool]:
    where = and_(
        Call.outcome == "missed", Call.started_at >= scope.start, Call.started_at < scope.end
    )
    if scope.location is not None:
        where = and_(where, Call.to_number == scope.location)
    return where


def _texts_in_scope(scope: Scope) -> ColumnElement[bool]:
    """Messages of the scope's location (all messages when it has none)."""
    if scope.location_id is None:
        return true()
    # A correlated EXISTS, one primary-key probe per text already chosen by its period:
    # as IN (...) SQLite drove the query from the location's threads instead, seeking
    # each of them (volume: 4x slower at 50,000 threads).
    return exists().where(
        Conversation.id == Message.conversation_id,
        Conversation.location_id == scope.location_id,
    )


def _local_buckets(
    s: Session, dialect: str, tz: ZoneInfo, at: Any, stmt: Select[Any]
) -> list[tuple[datetime, Sequence[Any]]]:
    """Group ``stmt`` (its columns are aggregates) by local hour of ``at``: a list of
    ``(local hour start as naive datetime, aggregates)``.

    PostgreSQL converts in SQL. SQLite has no time zones: rows are grouped by UTC
    quarter-hour (every real UTC offset is a multiple of 15 minutes) and placed in the
    local hour here, at most 96 buckets a day.
    """
    found: list[tuple[datetime, Sequence[Any]]] = []
    if dialect == "postgresql":
        hour = func.date_trunc("hour", func.timezone(tz.key, at))
        for row in s.execute(stmt.add_columns(hour).group_by(hour)).all():
            found.append((row[-1].replace(tzinfo=None), row[:-1]))
        return found
    day_hour = func.strftime("%Y-%m-%d %H", at)
    quarter = sql_cast(func.strftime("%M", at), Integer) // 15
    for row in s.execute(stmt.add_columns(day_hour, quarter).group_by(day_hour, quarter)).all():
        moment = datetime.strptime(str(row[-2]), "%Y-%m-%d %H").replace(tzinfo=UTC)
        moment += timedelta(minutes=15 * int(row[-1]))
        local = moment.astimezone(tz).replace(tzinfo=None, minute=0)
        found.append((local, row[:-2]))
    return found


# ---- recovery flags, per missed call -----------------------------------------------------
def _recovery_flags(dialect: str) -> tuple[Any, Any, Any]:
    """Correlated EXISTS for a missed ``Call`` row: replied / called back / booked within
    :data:`RECOVERY_DAYS` days of it."""
    until = plus_days(dialect, Call.started_at, RECOVERY_DAYS)
    replied = (
        select(literal(1))
        .select_from(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Conversation.contact_id == Call.contact_id,
            Message.direction == "in",
            Message.created_at >= Call.started_at,
            Message.created_at < until,
        )
        .exists()
    )
    later = Call.__table__.alias("later")
    called_back = (
        select(literal(1))
        .select_from(later)
        .where(
            later.c.contact_id == Call.contact_id,
            later.c.outcome == "answered",
            later.c.started_at > Call.started_at,
            later.c.started_at < until,
        )
        .exists()
    )
    booked = (
        select(literal(1))
        .select_from(Contact)
        .where(
            Contact.id == Call.contact_id,
            Contact.booked_at >= Call.started_at,
            Contact.booked_at < until,
        )
        .exists()
    )
    return replied, called_back, booked


def _flagged_missed_calls(dialect: str, scope: Scope) -> Any:
    replied, called_back, booked = _recovery_flags(dialect)
    return (
        select(
            Call.contact_id.label("contact_id"),
            Call.to_number.label("to_number"),
            case((replied, 1), else_=0).label("replied"),
            case((called_back, 1), else_=0).label("called_back"),
            case((booked, 1), else_=0).label("booked"),
        )
        .where(_missed(scope), Call.contact_id.is_not(None))
        .subquery()
    )


def _distinct_when(flag: Any, contact: Any) -> ColumnElement[Any]:
    return func.count(distinct(case((flag == 1, contact), else_=None)))


# ---- the figures -------------------------------------------------------------------------
def volume(s: Session, dialect: str, scope: Scope) -> dict[str, Any]:
    """Missed calls and callers, automatic texts, texted and replied callers, time to text."""
    start, end = scope.start, scope.end
    row = s.execute(
        select(func.count(), func.count(distinct(Call.contact_id))).where(_missed(scope))
    ).one()
    sent_row = s.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((Message.status == "delivered", 1), else_=0)), 0),
        )
        .select_from(Message)
        .where(
            Message.direction == "out",
            Message.kind.in_(AUTOMATIC_KINDS),
            # Bounds on created_at keep this an index range: an automatic text leaves
            # within hours of its creation (quiet hours hold it at most overnight).
            Message.created_at >= start - SEND_SLACK,
            Message.created_at < end,
            Message.sent_at.is_not(None),
            Message.sent_at >= start,
            Message.sent_at < end,
            _texts_in_scope(scope),
        )
    ).one()
    texted = and_(
        _missed(scope),
        Call.contact_id.is_not(None),
        exists().where(
            Job.call_id == Call.id,
            Job.kind == sends.JobKind.TEXTBACK,
            Job.state == sends.SendState.SENT,
        ),
    )
    replied_after_call = exists().where(
        Conversation.contact_id == Call.contact_id,
        Message.conversation_id == Conversation.id,
        Message.direction == "in",
        Message.created_at >= Call.started_at,
    )
    texted_row = s.execute(
        select(
            func.count(distinct(Call.contact_id)),
            func.count(distinct(case((replied_after_call, Call.contact_id), else_=None))),
        ).where(texted)
    ).one()
    delta = seconds_between(dialect, Message.sent_at, func.coalesce(Call.ended_at, Call.started_at))
    probe = (
        select(delta.label("v"))
        .select_from(Message)
        .join(Call, Call.id == Message.call_id)
        .where(
            Message.kind == "textback",
            Message.direction == "out",
            Message.sent_at.is_not(None),
            _missed(scope),
        )
    )
    median, _p90, _n = _median_and_p90(s, dialect, probe.subquery())
    return {
        "missed_calls": int(row[0] or 0),
        "missed_callers": int(row[1] or 0),
        "texts_sent": int(sent_row[0] or 0),
        "delivered": int(sent_row[1] or 0),
        "texted_callers": int(texted_row[0] or 0),
        "replied_callers": int(texted_row[1] or 0),
        "median_seconds_to_text": median,
    }


def recovery(s: Session, dialect: str, scope: Scope) -> dict[str, Any]:
    """Recovered callers (by reply, callback, booking, and in all) and their booked value."""
    flagged = _flagged_missed_calls(dialect, scope)
    c = flagged.c
    anything = case(((c.replied + c.called_back + c.booked) > 0, 1), else_=0)
    row = s.execute(
        select(
            _distinct_when(anything, c.contact_id),
            _distinct_when(c.replied, c.contact_id),
            _distinct_when(c.called_back, c.contact_id),
            _distinct_when(c.booked, c.contact_id),
        )
    ).one()
    value = _count(
        s,
        select(func.coalesce(func.sum(Contact.booked_value_cents), 0)).where(
            Contact.id.in_(select(c.contact_id).where(c.booked == 1))
        ),
    )
    return {
        "recovered_callers": int(row[0] or 0),
        "recovered_by_reply": int(row[1] or 0),
        "recovered_by_callback": int(row[2] or 0),
        "recovered_by_booking": int(row[3] or 0),
        "recovered_value_cents": value,
    }


def _median_and_p90(
    s: Session, dialect: str, deltas: Any
) -> tuple[float | None, float | None, int]:
    """Median (mean of the middle two), p90 (nearest rank) and count of ``deltas.c.v``
    (negative values count as 0), in SQL: never the whole list in Python.

    PostgreSQL has them as ordered-set aggregates (one sort, no per-row window state);
    SQLite has the same as the aggregate :data:`~services.storage.sqlite_functions.QUANTILES`.
    """
    v = deltas.c.v
    if dialect == "postgresql":
        clamped = case((v < 0, 0.0), else_=v)  # greatest() would turn NULL into 0
        row = s.execute(
            select(
                func.count(v),
                func.percentile_cont(0.5).within_group(clamped),
                func.percentile_disc(0.9).within_group(clamped),
            )
        ).one()
        if not row[0]:
            return None, None, 0
        return float(row[1]), float(row[2]), int(row[0])
    found = s.scalar(select(getattr(func, QUANTILES)(v)))
    if found is None:
        return None, None, 0
    count, median, p90 = json.loads(found)
    return float(median), float(p90), int(count)


def human_reply(s: Session, dialect: str, scope: Scope) -> dict[str, Any]:
    """Waits for the desk: from an inbound text or missed call of the period to the first
    ``manual`` text after it in the thread; count, median and p90 in seconds.

    A wait is one (thread, reply) pair: the reply is the thread's first manual text at or
    after a trigger (an inbound text of the period, or a missed call of the period in
    each of its caller's threads), the wait starts at the earliest trigger it answers. A
    trigger with no reply yet is no wait. Two plans compute the same set
    (tests/services/test_analytics.py holds both to the definition on both databases),
    each the faster on its database at 50,000 contacts / 1,000,000 messages over 30 days
    (bench.analytics_bench): PostgreSQL sorts the period's events once
    (:func:`_waits_by_window`); SQLite, whose window functions copy every row several
    times, seeks each trigger's reply in an index (:func:`_waits_by_seek`).
    """
    if dialect == "postgresql":
        deltas = _waits_by_window(dialect, scope)  # server CPU 135 ms, the seeks' 165 ms
    else:
        deltas = _waits_by_seek(dialect, scope)  # 143 ms of CPU, the window plan's 178 ms
    median, p90, count = _median_and_p90(s, dialect, deltas)
    return {
        "human_replies": count,
        "median_seconds_to_human": median,
        "p90_seconds_to_human": p90,
    }


def _waits_by_seek(dialect: str, scope: Scope) -> Any:
    """The waits (``v``, seconds) by index seeks (SQLite's plan): each trigger, read
    from the covering ``ix_messages_kind_created``, looks up its thread's next manual
    text with one seek in ``ix_messages_conversation_kind_created``; grouped by
    (thread, reply)."""
    start, end = scope.start, scope.end
    reply = Message.__table__.alias("reply")
    inbound = select(Message.conversation_id.label("conv"), Message.created_at.label("at")).where(
        Message.kind == "inbound",
        Message.created_at >= start,
        Message.created_at < end,
        _texts_in_scope(scope),
    )
    calls = (
        select(Conversation.id.label("conv"), Call.started_at.label("at"))
        .select_from(Call)
        .join(
            Conversation,
            and_(
                Conversation.contact_id == Call.contact_id,
                Conversation.location_id == func.coalesce(Call.location_id, FIRST_LOCATION),
            ),
        )
        .where(_missed(scope))
    )
    triggers = union_all(inbound, calls).subquery("triggers")
    # ORDER BY .. LIMIT 1 rather than min(): SQLite then stops at the first index entry
    # (a third less CPU over 40,000 triggers).
    answered = (
        select(reply.c.created_at)
        .where(
            reply.c.conversation_id == triggers.c.conv,
            reply.c.kind == "manual",
            reply.c.created_at >= triggers.c.at,
        )
        .order_by(reply.c.created_at)
        .limit(1)
        .scalar_subquery()
    )
    # MATERIALIZED: else SQLite inlines the CTE and runs the lookup once per reference
    # (the filter, the grouping and the output).
    paired = (
        select(triggers.c.conv, triggers.c.at, answered.label("answered"))
        .cte("paired")
        .prefix_with("MATERIALIZED")
    )
    asked = func.min(paired.c.at)
    if dialect == "postgresql":
        delta = seconds_between(dialect, paired.c.answered, asked)
    else:
        # Julian days, subtracted in the same order as the window plan's, so both plans
        # give the same floating-point seconds.
        delta = (func.julianday(paired.c.answered) - func.julianday(asked)) * 86400.0
    return (
        select(delta.label("v"))
        .where(paired.c.answered.is_not(None))
        .group_by(paired.c.conv, paired.c.answered)
        .subquery()
    )


def _waits_by_window(dialect: str, scope: Scope) -> Any:
    """The waits (``v``, seconds) by window functions (PostgreSQL's plan), over one sort
    of the period's events by (thread, time, trigger before reply):

    - an *opening* trigger is one whose previous event in the thread is a reply (or
      none): the earliest trigger of its wait;
    - a reply right after a trigger (not after another reply) ends a wait that began at
      the latest opening trigger before it.
    """
    start, end = scope.start, scope.end
    inbound = select(
        Message.conversation_id.label("conv"),
        Message.created_at.label("at"),
        literal(0).label("is_reply"),
    ).where(
        Message.kind == "inbound",
        Message.created_at >= start,
        Message.created_at < end,
        _texts_in_scope(scope),
    )
    replies = select(
        Message.conversation_id.label("conv"),
        Message.created_at.label("at"),
        literal(1).label("is_reply"),
    ).where(Message.kind == "manual", Message.created_at >= start)
    # One seek per missed call (its thread at the call's location: one row, by
    # uq_conversations_contact_id_location_id); a join made PostgreSQL read every
    # conversation. A call without a thread (NULL) shares no partition with any reply,
    # so it ends no wait, as an inner join would drop it.
    conv_of_call = (
        select(Conversation.id)
        .where(
            Conversation.contact_id == Call.contact_id,
            Conversation.location_id == func.coalesce(Call.location_id, FIRST_LOCATION),
        )
        .scalar_subquery()
    )
    calls = select(
        conv_of_call.label("conv"), Call.started_at.label("at"), literal(0).label("is_reply")
    ).where(_missed(scope))
    events = union_all(inbound, replies, calls).subquery()
    order = (events.c.at, events.c.is_reply)
    marked = select(
        events.c.conv,
        events.c.at,
        events.c.is_reply,
        func.lag(events.c.is_reply).over(partition_by=events.c.conv, order_by=order).label("prev"),
    ).subquery()
    opening = case(
        ((marked.c.is_reply == 0) & (marked.c.prev.is_(None) | (marked.c.prev == 1)), marked.c.at),
        else_=None,
    )
    opened = select(
        marked.c.at,
        marked.c.is_reply,
        marked.c.prev,
        func.max(opening)
        .over(partition_by=marked.c.conv, order_by=(marked.c.at, marked.c.is_reply), rows=(None, 0))
        .label("opened"),
    ).subquery()
    delta = seconds_between(dialect, opened.c.at, opened.c.opened)
    return select(delta.label("v")).where(opened.c.is_reply == 1, opened.c.prev == 0).subquery()


def cost(s: Session, dialect: str, scope: Scope) -> dict[str, Any]:
    """What Twilio charged for the period's texts (text-backs apart) and calls."""
    start, end = scope.start, scope.end
    in_period = and_(Message.created_at >= start, Message.created_at < end, _texts_in_scope(scope))
    unpriced = and_(Message.sid.is_not(None), Message.price_micros.is_(None))
    msg = s.execute(
        select(
            func.coalesce(
                func.sum(case((Message.kind.in_(TEXTBACK_KINDS), Message.price_micros), else_=0)),
                0,
            ),
            func.coalesce(func.sum(Message.price_micros), 0),
            func.coalesce(func.sum(case((unpriced, 1), else_=0)), 0),
            func.max(Message.price_unit),
        ).where(in_period)
    ).one()
    call_where = and_(Call.started_at >= start, Call.started_at < end)
    if scope.location is not None:
        call_where = and_(call_where, Call.to_number == scope.location)
    calls = s.execute(
        select(
            func.coalesce(func.sum(Call.price_micros), 0),
            func.coalesce(func.sum(case((Call.price_micros.is_(None), 1), else_=0)), 0),
            func.max(Call.price_unit),
        ).where(call_where, Call.source != "demo")
    ).one()
    return {
        "textback_cost_micros": int(msg[0] or 0),
        "messages_cost_micros": int(msg[1] or 0),
        "calls_cost_micros": int(calls[0] or 0),
        "cost_unit": str(msg[3] or calls[2] or "USD"),
        "unpriced": int(msg[2] or 0) + int(calls[1] or 0),
    }


def calendar(
    s: Session, dialect: str, scope: Scope
) -> tuple[list[tuple[date, int, int]], list[list[int]]]:
    """Missed and recovered calls per local day (every day of the period), and missed
    calls by local weekday x hour."""
    replied, called_back, booked = _recovery_flags(dialect)
    recovered = case(
        (and_(Call.contact_id.is_not(None), replied | called_back | booked), 1), else_=0
    )
    stmt = select(func.count(), func.coalesce(func.sum(recovered), 0)).where(_missed(scope))
    days: dict[date, list[int]] = {}
    first = scope.start.astimezone(scope.tz).date()
    last = (scope.end - timedelta(microseconds=1)).astimezone(scope.tz).date()
    day = first
    while day <= last:
        days[day] = [0, 0]
        day += timedelta(days=1)
    heat = [[0] * 24 for _ in range(7)]
    for local, (missed, rec) in _local_buckets(s, dialect, scope.tz, Call.started_at, stmt):
        bucket = days.setdefault(local.date(), [0, 0])
        bucket[0] += int(missed)
        bucket[1] += int(rec)
        heat[local.weekday()][local.hour] += int(missed)
    return [(d, v[0], v[1]) for d, v in sorted(days.items())], heat


def people(s: Session, dialect: str, scope: Scope) -> list[tuple[str, int, int, int]]:
    """``(name, replies, callbacks, bookings)`` per person, busiest first."""
    del dialect
    start, end = scope.start, scope.end
    found: dict[str, list[int]] = {}
    author = func.coalesce(Message.author, "")
    for name, n in s.execute(
        select(author, func.count())
        .where(Message.kind == "manual", Message.created_at >= start, Message.created_at < end)
        .group_by(author)
    ).all():
        found.setdefault(str(name), [0, 0, 0])[0] += int(n)
    for action, slot in ((CALLBACK_ACTION, 1), (BOOKED_ACTION, 2)):
        for name, n in s.execute(
            select(AuditEntry.actor, func.count())
            .where(AuditEntry.action == action, AuditEntry.at >= start, AuditEntry.at < end)
            .group_by(AuditEntry.actor)
        ).all():
            found.setdefault(str(name), [0, 0, 0])[slot] += int(n)
    rows = [(name, v[0], v[1], v[2]) for name, v in found.items()]
    rows.sort(key=lambda r: (-(r[1] + r[2] + r[3]), r[0] == "", r[0]))
    return rows


def locations(s: Session, dialect: str, scope: Scope) -> list[tuple[str, int, int, int]]:
    """``(called number, missed calls, missed callers, recovered callers)`` per number."""
    replied, called_back, booked = _recovery_flags(dialect)
    recovered_contact = case((replied | called_back | booked, Call.contact_id), else_=None)
    stmt = (
        select(
            Call.to_number,
            func.count(),
            func.count(distinct(Call.contact_id)),
            func.count(distinct(recovered_contact)),
        )
        .where(_missed(scope))
        .group_by(Call.to_number)
        .order_by(func.count().desc(), Call.to_number)
    )
    return [(str(n or ""), int(a), int(b), int(c)) for n, a, b, c in s.execute(stmt).all()]
