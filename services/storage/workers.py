"""The database's worker threads: urgent units of work run before the rest.

SQLite has one writer, so every webhook's bookkeeping waits its turn on one thread.
Under a burst of missed calls the work that stands between a caller and their text (the
Dial result's decision, a due job's claim) must not queue behind work nobody waits for
(a delivery status, a send's SID): it goes first. Within each class the order is first
come, first served.

Work that is not urgent also gives way to the event loop: given the loop's idle signal
(:mod:`services.loop_idle`), a worker with only such work queued waits for the loop to
be idle before starting it, up to :data:`LOOP_PATIENCE` seconds (an urgent unit
submitted meanwhile goes at once). The worker shares the GIL with the loop, and a unit
started while webhooks are being answered stretches every one of their answers.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

# How long work that is not urgent waits for the event loop to be idle before it starts
# anyway: long enough for the loop to answer the webhooks in hand (a few ms each), short
# enough that a loop busy for good still leaves it ~100 units a second.
LOOP_PATIENCE = 0.01
_LOOK_AGAIN = 0.001  # how often a waiting worker looks for urgent work


class PriorityWorkers:
    """``count`` threads running submitted calls, urgent ones first."""

    def __init__(self, count: int, name: str) -> None:
        self._urgent: deque[tuple[Future[Any], Callable[[], Any]]] = deque()
        self._normal: deque[tuple[Future[Any], Callable[[], Any]]] = deque()
        self._ready = threading.Condition()
        self._closed = False
        self._loop_idle: threading.Event | None = None
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{i}", daemon=True)
            for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[], T], *, urgent: bool = False) -> Future[T]:
        future: Future[T] = Future()
        with self._ready:
            if self._closed:
                raise RuntimeError("the database is closed")
            (self._urgent if urgent else self._normal).append((future, fn))
            self._ready.notify()
        return future

    def give_way_to(self, loop_idle: threading.Event | None) -> None:
        """Start work that is not urgent when ``loop_idle`` is set (None: at once)."""
        self._loop_idle = loop_idle

    def _wait_for_idle_loop(self, loop_idle: threading.Event) -> None:
        """Until the loop is idle, an urgent unit is queued, or LOOP_PATIENCE is up."""
        deadline = time.monotonic() + LOOP_PATIENCE
        while not loop_idle.is_set() and not self._urgent and not self._closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            loop_idle.wait(min(left, _LOOK_AGAIN))

    def _serve(self) -> None:
        while True:
            with self._ready:
                while not self._urgent and not self._normal and not self._closed:
                    self._ready.wait()
                if not self._urgent and not self._normal:
                    return  # closed and drained
                loop_idle = None if self._urgent else self._loop_idle
            if loop_idle is not None:
                self._wait_for_idle_loop(loop_idle)
            with self._ready:
                if not self._urgent and not self._normal:
                    continue  # another worker took it
                future, fn = (self._urgent or self._normal).popleft()
            if not future.set_running_or_notify_cancel():
                continue  # its awaiter was cancelled before it started
            try:
                result = fn()
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self) -> None:
        """Run what was submitted, then stop the threads (waits for them)."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        for thread in self._threads:
            thread.join()
