"""When the event loop has nothing to do: a selector that says so.

The database's worker thread shares the GIL with the event loop. Work nobody is waiting
for (a call's later status, a send's outcome, the recorder's batches) run while webhooks
are being answered takes the GIL from them: every socket call the loop makes then waits
for the worker to hand it back. :class:`IdleSelector` is the loop's selector with one
addition, :attr:`IdleSelector.idle`, set while the loop waits for I/O with nothing ready
to run; the worker starts such work when it is set (:class:`~services.storage.workers.
PriorityWorkers`), so it fills the loop's idle time instead of the webhooks' answers.
"""

from __future__ import annotations

import asyncio
import selectors
import threading


class IdleSelector(selectors.DefaultSelector):
    """The platform's default selector; :attr:`idle` is set while a ``select`` that may
    block is under way (the loop has no callback ready), clear otherwise."""

    def __init__(self) -> None:
        super().__init__()
        self.idle = threading.Event()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None or timeout > 0:  # 0: callbacks are ready, the loop is busy
            self.idle.set()
        try:
            return super().select(timeout)
        finally:
            self.idle.clear()


def idle_aware_loop() -> tuple[asyncio.AbstractEventLoop, threading.Event]:
    """A new selector event loop and the event set while it is idle."""
    selector = IdleSelector()
    return asyncio.SelectorEventLoop(selector), selector.idle
