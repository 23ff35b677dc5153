"""The analytics figures handed to the UI: plain frozen dataclasses (no storage imports).

:mod:`services.analytics` computes them; ui/ may import this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from services import phones

Period = Literal["today", "7d", "30d"]
PERIODS: tuple[Period, ...] = ("today", "7d", "30d")
PERIOD_LABELS: dict[Period, str] = {"today": "Today", "7d": "7 days", "30d": "30 days"}
#: A missed caller counts as recovered by what happens within this many days of the call.
RECOVERY_DAYS = 7
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class Figures:
    """What happened in one period; compared period over period in the pane.

    ``missed_calls`` are calls missed in the period, ``missed_callers`` the distinct
    callers among them. ``texts_sent`` counts automatic texts (text-backs, follow-ups,
    keyword answers) that left in the period, ``delivered`` those the carrier reported
    delivered. ``texted_callers`` are distinct callers whose missed call in the period was
    texted back (its text-back job is ``sent``); ``replied_callers`` those who then
    replied. ``median_seconds_to_text`` runs from the end of the missed call to the
    text-back leaving.

    Recovered: a missed caller of the period who, within :data:`RECOVERY_DAYS` days of a
    missed call, replied (``recovered_by_reply``), was on a later answered call from or to
    the same contact (``recovered_by_callback``), or was marked booked
    (``recovered_by_booking``); ``recovered_callers`` is the distinct union, and
    ``recovered_value_cents`` sums the booked value of the bookings that recovered a
    caller (nothing else: a regular customer's booking is not a recovery).

    ``human_replies`` counts waits that the desk answered: a wait starts at an inbound
    text or a missed call of the period and ends at the first ``manual`` text after it
    in the same thread; ``median_`` / ``p90_seconds_to_human`` are over those waits
    (nearest rank for p90).

    Cost is Twilio's own price (``price_micros``: millionths of ``cost_unit``):
    ``textback_cost_micros`` for text-backs and follow-ups created in the period,
    ``messages_cost_micros`` for every text in or out, ``calls_cost_micros`` for the calls;
    ``unpriced`` counts texts and calls of the period Twilio has not priced yet.
    """

    missed_calls: int
    missed_callers: int
    texts_sent: int
    delivered: int
    texted_callers: int
    replied_callers: int
    median_seconds_to_text: float | None
    recovered_callers: int
    recovered_by_reply: int
    recovered_by_callback: int
    recovered_by_booking: int
    recovered_value_cents: int
    human_replies: int
    median_seconds_to_human: float | None
    p90_seconds_to_human: float | None
    textback_cost_micros: int
    messages_cost_micros: int
    calls_cost_micros: int
    cost_unit: str
    unpriced: int

    @property
    def reply_rate(self) -> float | None:
        """Replied callers / texted callers, 0..1, or ``None`` when nobody was texted."""
        if self.texted_callers == 0:
            return None
        return self.replied_callers / self.texted_callers

    @property
    def recovery_rate(self) -> float | None:
        """Recovered callers / missed callers, 0..1, or ``None`` with no missed caller."""
        if self.missed_callers == 0:
            return None
        return self.recovered_callers / self.missed_callers

    @property
    def total_cost_micros(self) -> int:
        return self.messages_cost_micros + self.calls_cost_micros


@dataclass(frozen=True, slots=True)
class DayFigures:
    """One local day of the daily trend: missed calls, and how many of them recovered."""

    day: date
    missed_calls: int
    recovered_calls: int


@dataclass(frozen=True, slots=True)
class PersonFigures:
    """What one person did in the period: texts typed (``messages.author``), callbacks
    marked done and bookings marked (from the audit log). ``name`` "" is unattributed."""

    name: str
    replies: int
    callbacks: int
    bookings: int


@dataclass(frozen=True, slots=True)
class LocationFigures:
    """Missed and recovered callers per number called (``calls.to_number``); ``name`` is
    the location that number belongs to ("" when none does)."""

    number: str
    missed_calls: int
    missed_callers: int
    recovered_callers: int
    name: str = ""

    @property
    def label(self) -> str:
        """How the pane names it, as Settings does: "Northside · (500) 555-0077", or the
        number alone."""
        number = phones.format_for_display(self.number) if self.number else "(unknown)"
        return f"{self.name} · {number}" if self.name else number


@dataclass(frozen=True, slots=True)
class AnalyticsReport:
    """The pane's figures for ``[start, end)`` (aware UTC), with the previous period of
    the same length ``[previous_start, start)`` for comparison.

    ``days`` covers every local day of the period (zeros included); ``heatmap[weekday][hour]``
    counts missed calls by local weekday (0 = Monday) and hour; ``location`` is the number
    the figures were limited to (None: every number).
    """

    period: Period
    start: datetime
    end: datetime
    previous_start: datetime
    timezone: str
    location: str | None
    current: Figures
    previous: Figures
    days: tuple[DayFigures, ...]
    heatmap: tuple[tuple[int, ...], ...]
    people: tuple[PersonFigures, ...]
    locations: tuple[LocationFigures, ...]

    @property
    def missed_by_hour(self) -> tuple[int, ...]:
        """24 counts: missed calls by local hour of day."""
        return tuple(sum(row[h] for row in self.heatmap) for h in range(24))
