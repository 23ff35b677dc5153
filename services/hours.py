"""Business hours and quiet hours, evaluated in the business's own time zone."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.settings import WEEKDAYS


def _hm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def is_open(hours: dict[str, Any], tz: ZoneInfo, when: datetime) -> bool:
    """True when ``when`` (aware) falls inside one of that weekday's opening ranges."""
    local = when.astimezone(tz)
    ranges = hours.get(WEEKDAYS[local.weekday()], [])
    now = local.time()
    return any(_hm(start) <= now < _hm(end) for start, end in ranges)


def quiet_until(quiet: dict[str, str] | None, tz: ZoneInfo, when: datetime) -> datetime | None:
    """If ``when`` is inside the quiet period, the aware UTC time it ends; else None.

    A period whose start is after its end spans midnight (21:00 → 08:00).
    """
    if not quiet:
        return None
    local = when.astimezone(tz)
    start, end = _hm(quiet["start"]), _hm(quiet["end"])
    now = local.time()
    if start < end:
        inside = start <= now < end
        end_day = local.date()
    else:
        inside = now >= start or now < end
        end_day = local.date() + timedelta(days=1) if now >= start else local.date()
    if not inside:
        return None
    # Build the wall-clock end in the zone; fold handles DST transitions sensibly.
    ends = datetime.combine(end_day, end, tzinfo=tz)
    return ends.astimezone(when.tzinfo)
