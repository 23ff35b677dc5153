"""Times as a receptionist reads them: "now", "2 min", "2:14 PM", "Yesterday", "Mon"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def _local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone()


def clock(moment: datetime) -> str:
    """``2:14 PM`` in the PC's local time."""
    local = _local(moment)
    hour = local.hour % 12 or 12
    return f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


def relative(moment: datetime | None, now: datetime | None = None) -> str:
    """Short relative time for a list row."""
    if moment is None:
        return ""
    now_local = _local(now or datetime.now(UTC))
    local = _local(moment)
    delta = now_local - local
    if delta < timedelta(minutes=1):
        return "now"
    if delta < timedelta(hours=1):
        return f"{int(delta.total_seconds() // 60)} min"
    days = (now_local.date() - local.date()).days
    if days <= 0:
        return clock(moment)
    if days == 1:
        return "Yesterday"
    if days < 7:
        return local.strftime("%a")
    if local.year == now_local.year:
        return f"{local.strftime('%b')} {local.day}"
    return f"{local.strftime('%b')} {local.day}, {local.year}"


def day_and_clock(moment: datetime, now: datetime | None = None) -> str:
    """``Today 2:14 PM`` / ``Yesterday 9:02 AM`` / ``Mar 4, 9:02 AM`` for bubbles."""
    now_local = _local(now or datetime.now(UTC))
    local = _local(moment)
    days = (now_local.date() - local.date()).days
    if days == 0:
        return clock(moment)
    if days == 1:
        return f"Yesterday {clock(moment)}"
    if 1 < days < 7:
        return f"{local.strftime('%a')} {clock(moment)}"
    return f"{local.strftime('%b')} {local.day}, {clock(moment)}"


def format_duration(seconds: float) -> str:
    """``28 s``, ``4 min 5 s``, ``2 h 10 min``, ``1 day 2 h``: every duration the app
    shows (countdowns, ring times, the Settings read-outs) is written this one way."""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    day_words = f"{days} day{'s' if days != 1 else ''}"
    return f"{day_words} {hours} h" if hours else day_words


def money(cents: int | None) -> str:
    if cents is None:
        return ""
    return f"${cents / 100:,.2f}"
