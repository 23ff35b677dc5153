"""Time, injected: the engine asks a :class:`Clock` instead of calling ``datetime.now``.

Tests and the benchmark pass a clock they control; production uses :class:`SystemClock`.
All values are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Make a datetime read back from the database timezone-aware UTC.

    SQLite hands back naive datetimes for timezone-aware columns; everything stored is UTC.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
