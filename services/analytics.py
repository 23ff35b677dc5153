"""Analytics for the owner: what missed calls cost and what Frontdesk won back.

Every figure is SQL (:mod:`services.analytics_queries`), so the cost does not grow with
rows loaded into Python. Works on SQLite and PostgreSQL.

The UI is handed :class:`Analytics` (it satisfies :class:`services.api.AnalyticsApi`);
results are :class:`services.analytics_types.AnalyticsReport`: the period's
:class:`~services.analytics_types.Figures` next to the previous period's of the same
length, the daily trend, the weekday x hour heatmap, per-person and per-number figures.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from services import analytics_queries as q
from services import location_store, settings_store
from services.analytics_queries import AUTOMATIC_KINDS, Scope
from services.analytics_types import (
    PERIODS,
    AnalyticsReport,
    DayFigures,
    Figures,
    LocationFigures,
    Period,
    PersonFigures,
)
from services.clock import Clock, as_utc
from services.locations import Locations
from services.storage.database import Database, UnitOfWork

__all__ = [
    "AUTOMATIC_KINDS",
    "FIGURES",
    "Analytics",
    "AnalyticsReport",
    "compute",
    "figures",
    "period_bounds",
    "report",
]

#: The queries making up :class:`Figures`, by name (the benchmark times each).
FIGURES: dict[str, Callable[[Session, str, Scope], dict[str, Any]]] = {
    "volume": q.volume,
    "recovery": q.recovery,
    "human_reply": q.human_reply,
    "cost": q.cost,
}


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


def figures(s: Session, dialect: str, scope: Scope) -> Figures:
    """The headline figures for one scope."""
    values: dict[str, Any] = {}
    for query in FIGURES.values():
        values |= query(s, dialect, scope)
    return Figures(**values)


def compute(
    s: Session,
    dialect: str,
    period: Period,
    now: datetime,
    tz: ZoneInfo,
    *,
    location: str | None = None,
) -> AnalyticsReport:
    """Everything the pane shows for ``period`` ending at ``now`` (and the one before)."""
    start, end = period_bounds(period, now, tz)
    known = location_store.load(s)
    # A number's texts are its location's threads: the one the number routes to today
    # (a number no location has routes to the first, as webhooks to it did).
    location_id = None if location is None else known.for_number(location).id
    scope = Scope(start, end, tz, location, location_id)
    previous_start = start - (end - start)
    days, heat = q.calendar(s, dialect, scope)
    return AnalyticsReport(
        period=period,
        start=start,
        end=end,
        previous_start=previous_start,
        timezone=tz.key,
        location=location,
        current=figures(s, dialect, scope),
        previous=figures(s, dialect, Scope(previous_start, start, tz, location, location_id)),
        days=tuple(DayFigures(d, m, r) for d, m, r in days),
        heatmap=tuple(tuple(row) for row in heat),
        people=tuple(PersonFigures(*row) for row in q.people(s, dialect, scope)),
        locations=_named_locations(known, q.locations(s, dialect, scope)),
    )


def _named_locations(
    known: Locations, rows: list[tuple[str, int, int, int]]
) -> tuple[LocationFigures, ...]:
    """Each called number's figures, named for the location it belongs to."""
    result = []
    for row in rows:
        location = known.by_number(row[0]) if row[0] else None
        result.append(LocationFigures(*row, name=location.name if location else ""))
    return tuple(result)


async def report(
    db: Database, period: Period, now: datetime, tz: ZoneInfo, *, location: str | None = None
) -> AnalyticsReport:
    """The figures for ``period`` ending at ``now``, days and hours in ``tz``."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")
    return await db.run(
        lambda uow: compute(uow.session, db.dialect, period, now, tz, location=location)
    )


class Analytics:
    """The analytics pane's service: ``await analytics.analytics("7d")``.

    The period ends at the clock's now; days and hours are in the business time zone
    from Settings. ``location`` limits the figures to one called number: calls to it,
    and the texts of the location it belongs to.
    """

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def analytics(self, period: Period, *, location: str | None = None) -> AnalyticsReport:
        if period not in PERIODS:
            raise ValueError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")
        now = self._clock.now()

        def work(uow: UnitOfWork) -> AnalyticsReport:
            tz = settings_store.load(uow.session).tz
            return compute(uow.session, self._db.dialect, period, now, tz, location=location)

        return await self._db.run(work)
