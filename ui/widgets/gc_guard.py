"""Python's cyclic garbage collection, on the GUI thread only.

The collector runs in whichever thread happens to allocate when a threshold is crossed.
When that is a database worker or an executor thread and the garbage holds a Qt object
(a widget, a timer, a model caught in a reference cycle), Qt's destructor runs there: it
takes Qt's connection lock, then waits for the GIL to look up the Python side, while the
GUI thread, holding the GIL, waits for that lock to connect a signal. Both wait forever
(seen in CI: a worker's collection destroying an old QObject while the GUI thread
connected a signal). :class:`GuiThreadCollector` turns automatic collection off and
collects on the GUI thread from a timer instead, by the same thresholds.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 250


class GuiThreadCollector(QObject):
    """While alive (until :meth:`stop`), collection happens only on this object's thread
    (create it on the GUI thread): every :data:`INTERVAL_MS`, the youngest generation
    whose count passed its threshold, as the automatic collector would have."""

    def __init__(self, parent: QObject | None = None, *, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        self._timer.start()

    def collect_due(self) -> int:
        """Collect the oldest generation that is due (-1: none was)."""
        thresholds = gc.get_threshold()
        counts = gc.get_count()
        due = -1
        for generation in range(3):
            if thresholds[generation] and counts[generation] > thresholds[generation]:
                due = generation
        if due >= 0:
            gc.collect(due)
        return due

    def stop(self) -> None:
        """Give collection back to Python (as it was before)."""
        self._timer.stop()
        if self._was_enabled:
            gc.enable()
