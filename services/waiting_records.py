"""A call's record still queued for the database, which its Dial result can join.

The voice answer does not wait for the call's record (:meth:`Engine.voice`): the record
is queued and the answer goes out. Under a burst the caller's Dial result often arrives
while that record is still queued behind the other calls' work. Queued as a unit of its
own, the text-back decision would wait for the record, then for everything queued after
the record, and cost a second transaction. Instead the Dial result hands its work to
the waiting record (:meth:`WaitingRecord.join`): the worker writes the record and runs
that work in the same unit of work, at the record's place in the queue, one commit for
both. Once the record has started nothing can join it: the Dial result then queues its
own unit, as before.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from services.storage.database import UnitOfWork

T = TypeVar("T")

__all__ = ["WaitingRecord"]


class WaitingRecord(Generic[T]):
    """The record of one call, from when it is queued until the worker starts it.

    :meth:`join` is called on the event loop, :meth:`start` on the worker: a lock makes
    "joined before the start" and "started first" the only two outcomes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = False
        self._joined: Callable[[UnitOfWork], T] | None = None
        self._outcome: asyncio.Future[T | None] | None = None

    def join(self, work: Callable[[UnitOfWork], T]) -> asyncio.Future[T | None] | None:
        """Run ``work`` right after the record, in the record's unit of work (``work``
        commits it). The future gives ``work``'s result once that unit has committed
        and its after-commit callbacks have run, or None when it did not commit (the
        caller then runs ``work`` in a unit of its own). None instead of a future when
        the record has started already (or another Dial result joined it)."""
        with self._lock:
            if self._started or self._joined is not None:
                return None
            self._joined = work
            self._outcome = asyncio.get_running_loop().create_future()
            return self._outcome

    def start(self) -> Callable[[UnitOfWork], T] | None:
        """On the worker, as the record's unit of work starts: the work joined to it, if
        any (from now on nothing can join)."""
        with self._lock:
            self._started = True
            return self._joined

    def finish(self, result: T | None) -> None:
        """On the loop, once the record's unit of work is over: ``result`` is the joined
        work's result when it committed, None when it did not (an exception, or nothing
        joined). The joined work is not run again by a retry of the record."""
        with self._lock:
            self._started = True
            self._joined = None
            outcome, self._outcome = self._outcome, None
        if outcome is not None and not outcome.done():
            outcome.set_result(result)
