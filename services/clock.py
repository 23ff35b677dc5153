"""Time, injected: the engine asks a :class:`Clock` instead of calling ``datetime.now``
or sleeping, so tests and the benchmark can move time.

Production uses :class:`SystemClock`; tests drive a :class:`ManualClock`. All values are
timezone-aware UTC.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    async def sleep_until(self, moment: datetime) -> None:
        """Return once this clock reads ``moment`` or later (at once if it already does).

        An absolute deadline, so time that passes before the sleeper starts still counts.
        """
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, moment: datetime) -> None:
        await asyncio.sleep(max(0.0, (moment - self.now()).total_seconds()))


class ManualClock:
    """A clock that moves only when told (:meth:`advance`); sleepers wake as it passes
    their deadline. Use it on one event loop."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime.now(UTC)).astimezone(UTC)
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, moment: datetime) -> None:
        if moment <= self._now:
            await asyncio.sleep(0)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (moment, waiter)
        self._sleepers.append(entry)
        try:
            await waiter
        finally:
            with contextlib.suppress(ValueError):
                self._sleepers.remove(entry)

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has come."""
        self._now += timedelta(seconds=seconds)
        for deadline, waiter in list(self._sleepers):
            if deadline <= self._now and not waiter.done():
                waiter.set_result(None)

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (never backwards)."""
        self.advance(max(0.0, (moment.astimezone(UTC) - self._now).total_seconds()))


async def wait_for_event(clock: Clock, event: asyncio.Event, until: datetime) -> bool:
    """Wait until ``event`` is set or ``clock`` reads ``until``; True if it was set."""
    if event.is_set():
        return True
    waiter = asyncio.ensure_future(event.wait())
    sleeper = asyncio.ensure_future(clock.sleep_until(until))
    try:
        await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (waiter, sleeper):
            task.cancel()
        await asyncio.gather(waiter, sleeper, return_exceptions=True)
    return event.is_set()


def as_utc(value: datetime) -> datetime:
    """Make a datetime read back from the database timezone-aware UTC.

    SQLite hands back naive datetimes for timezone-aware columns; everything stored is UTC.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
