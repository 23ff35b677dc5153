"""The database's worker threads: urgent units of work run before the rest.

SQLite has one writer, so every webhook's bookkeeping waits its turn on one thread.
Under a burst of missed calls the work that stands between a caller and their text (the
Dial result's decision, a due job's claim) must not queue behind work nobody waits for
(recording a ringing call, a delivery status, a send's SID): it goes first. Within each
class the order is first come, first served.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class PriorityWorkers:
    """``count`` threads running submitted calls, urgent ones first."""

    def __init__(self, count: int, name: str) -> None:
        self._urgent: deque[tuple[Future[Any], Callable[[], Any]]] = deque()
        self._normal: deque[tuple[Future[Any], Callable[[], Any]]] = deque()
        self._ready = threading.Condition()
        self._closed = False
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

    def _serve(self) -> None:
        while True:
            with self._ready:
                while not self._urgent and not self._normal and not self._closed:
                    self._ready.wait()
                if not self._urgent and not self._normal:
                    return  # closed and drained
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
