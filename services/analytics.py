"""Analytics for the owner: missed calls, texts, replies, bookings, speed, busy hours.

Every figure is an aggregate query (counts, sums, one ordered probe for the median, a
GROUP BY for the hour histogram), so the cost does not grow with rows loaded into
Python. Works on SQLite and PostgreSQL; the two differ only in date arithmetic and time
zone conversion, which are chosen per dialect below.

The UI is handed :class:`Analytics` (it satisfies :class:`services.api.AnalyticsApi`);
results are :class:`services.analytics_types.AnalyticsSummary`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, and_, case, distinct, exists, func, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from services import sends, settings_store
from services.analytics_types import PERIODS, AnalyticsSummary, Period
from services.clock import Clock, as_utc
from services.storage.database import Database, UnitOfWork
from services.storage.models import Call, Contact, Conversation, Job, Message

__all__ = ["AUTOMATIC_KINDS", "Analytics", "AnalyticsSummary", "period_bounds", "summary"]

AUTOMATIC_KINDS = ("textback", "follow_up", "auto")


def period_bounds(period: Period, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC: since local midnight for "today", else the last 7 / 30 days."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")
    end = as_utc(now)
    if period == "today":
        local = end.astimezone(tz)
        midnight = datetime(local.year, local.month, local.day, tzinfo=tz)
        start = midnight.astimezone(UTC)
    else:
        start = end - timedelta(days=7 if period == "7d" else 30)
    return start, end


def _seconds_between(dialect: str, later: Any, earlier: Any) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier)
    result: ColumnElement[Any] = (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return result


def _count(s: Session, stmt: Any) -> int:
    return int(s.scalar(stmt) or 0)


def _missed_by_hour(
    s: Session, dialect: str, tz: ZoneInfo, in_period: ColumnElement[bool]
) -> tuple[int, ...]:
    buckets = [0] * 24
    missed = and_(Call.outcome == "missed", in_period)
    if dialect == "postgresql":
        hour = func.extract("hour", func.timezone(tz.key, Call.started_at))
        for h, n in s.execute(select(hour, func.count()).where(missed).group_by(hour)).all():
            buckets[int(h)] += int(n)
        return tuple(buckets)
    # SQLite has no time zones: group by UTC quarter-hour (every real UTC offset is a
    # multiple of 15 minutes), then place each bucket in the business's local hour.
    day_hour = func.strftime("%Y-%m-%d %H", Call.started_at)
    quarter = sql_cast(func.strftime("%M", Call.started_at), Integer) / 15
    rows = s.execute(
        select(day_hour, quarter, func.count()).where(missed).group_by(day_hour, quarter)
    ).all()
    for text, q, n in rows:
        at = datetime.strptime(str(text), "%Y-%m-%d %H").replace(tzinfo=UTC)
        at += timedelta(minutes=15 * int(q))
        buckets[at.astimezone(tz).hour] += int(n)
    return tuple(buckets)


def _median(s: Session, delta: ColumnElement[Any], where: ColumnElement[bool]) -> float | None:
    base = select(delta).select_from(Message).join(Call, Call.id == Message.call_id).where(where)
    n = _count(s, select(func.count()).select_from(base.subquery()))
    if n == 0:
        return None
    middle: Sequence[Any] = s.scalars(
        base.order_by(delta).offset((n - 1) // 2).limit(1 if n % 2 else 2)
    ).all()
    values = [float(v) for v in middle]
    return max(0.0, sum(values) / len(values))


def compute(
    s: Session, dialect: str, period: Period, now: datetime, tz: ZoneInfo
) -> AnalyticsSummary:
    """Every figure for ``period`` ending at ``now``, in the session's database."""
    start, end = period_bounds(period, now, tz)
    call_in = and_(Call.started_at >= start, Call.started_at < end)
    missed = _count(
        s, select(func.count()).select_from(Call).where(Call.outcome == "missed", call_in)
    )
    auto_sent = and_(
        Message.direction == "out",
        Message.kind.in_(AUTOMATIC_KINDS),
        Message.sent_at.is_not(None),
        Message.sent_at >= start,
        Message.sent_at < end,
    )
    sent_row = s.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((Message.status == "delivered", 1), else_=0)), 0),
        )
        .select_from(Message)
        .where(auto_sent)
    ).one()
    texted = and_(
        Call.outcome == "missed",
        call_in,
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
    texted_callers = _count(s, select(func.count(distinct(Call.contact_id))).where(texted))
    replied_callers = _count(
        s, select(func.count(distinct(Call.contact_id))).where(texted, replied_after_call)
    )
    booked_row = s.execute(
        select(func.count(), func.coalesce(func.sum(Contact.booked_value_cents), 0)).where(
            Contact.booked_at.is_not(None), Contact.booked_at >= start, Contact.booked_at < end
        )
    ).one()
    delta = _seconds_between(
        dialect, Message.sent_at, func.coalesce(Call.ended_at, Call.started_at)
    )
    median = _median(
        s,
        delta,
        and_(
            Message.kind == "textback",
            Message.direction == "out",
            Message.sent_at.is_not(None),
            call_in,
        ),
    )
    return AnalyticsSummary(
        period=period,
        start=start,
        end=end,
        timezone=tz.key,
        missed_calls=missed,
        texts_sent=int(sent_row[0] or 0),
        delivered=int(sent_row[1] or 0),
        texted_callers=texted_callers,
        replied_callers=replied_callers,
        bookings=int(booked_row[0] or 0),
        booked_value_cents=int(booked_row[1] or 0),
        median_seconds_to_text=median,
        missed_by_hour=_missed_by_hour(s, dialect, tz, call_in),
    )


async def summary(db: Database, period: Period, now: datetime, tz: ZoneInfo) -> AnalyticsSummary:
    """The figures for ``period`` ending at ``now``, hours bucketed in ``tz``."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")
    return await db.run(lambda uow: compute(uow.session, db.dialect, period, now, tz))


class Analytics:
    """The analytics pane's service: ``await analytics.analytics("7d")``.

    The period ends at the clock's now; hours are bucketed in the business time zone
    from Settings.
    """

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def analytics(self, period: Period) -> AnalyticsSummary:
        if period not in PERIODS:
            raise ValueError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")
        now = self._clock.now()

        def work(uow: UnitOfWork) -> AnalyticsSummary:
            tz = settings_store.load(uow.session).tz
            return compute(uow.session, self._db.dialect, period, now, tz)

        return await self._db.run(work)
