"""The analytics figures handed to the UI: a plain frozen dataclass (no storage imports).

:mod:`services.analytics` computes it; ui/ may import this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Period = Literal["today", "7d", "30d"]
PERIODS: tuple[Period, ...] = ("today", "7d", "30d")
PERIOD_LABELS: dict[Period, str] = {"today": "Today", "7d": "7 days", "30d": "30 days"}


@dataclass(frozen=True, slots=True)
class AnalyticsSummary:
    """What happened in ``[start, end)`` (timezone-aware UTC bounds).

    ``texts_sent`` counts automatic texts (text-backs, follow-ups, keyword answers) that
    left in the period, ``delivered`` those of them the carrier reported delivered.
    ``texted_callers`` are distinct callers whose missed call in the period was texted
    back; ``replied_callers`` those of them who then replied. ``median_seconds_to_text``
    runs from the end of the missed call to the text-back leaving (``None`` with no
    text-backs). ``missed_by_hour`` has 24 counts by hour of day in the business time zone.
    """

    period: Period
    start: datetime
    end: datetime
    timezone: str
    missed_calls: int
    texts_sent: int
    delivered: int
    texted_callers: int
    replied_callers: int
    bookings: int
    booked_value_cents: int
    median_seconds_to_text: float | None
    missed_by_hour: tuple[int, ...]

    @property
    def reply_rate(self) -> float | None:
        """Replied callers / texted callers, 0..1, or ``None`` when nobody was texted."""
        if self.texted_callers == 0:
            return None
        return self.replied_callers / self.texted_callers

    @property
    def replies(self) -> int:
        return self.replied_callers
