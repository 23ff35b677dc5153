"""Garbage collection happens on the GUI thread only (ui/widgets/gc_guard.py): a
worker thread allocating past the thresholds collects nothing, the GUI thread's timer
collects what is due, and stopping gives collection back."""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any

from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot

from ui.widgets.gc_guard import GuiThreadCollector


class _Cycle:
    def __init__(self) -> None:
        self.me = self
        self.qobject = QObject()


def test_cycles_holding_qt_objects_are_freed_on_the_gui_thread(qtbot: QtBot) -> None:
    # The test fixture holds one collector already; this one is the unit under test.
    collector = GuiThreadCollector(interval_ms=20)
    try:
        assert not gc.isenabled()
        cycle = _Cycle()
        gone = weakref.ref(cycle)
        freed_on: list[str] = []
        cycle.qobject.destroyed.connect(lambda *_: freed_on.append(threading.current_thread().name))
        del cycle

        kept: list[Any] = []

        def churn() -> None:
            # A worker allocating far past generation 0's threshold, and keeping it all
            # (freed objects would lower the count again and nothing would be due).
            for _ in range(50_000):
                kept.append([[]])

        worker = threading.Thread(target=churn, name="worker")
        worker.start()
        worker.join()
        assert gone() is not None  # the worker collected nothing
        qtbot.waitUntil(lambda: gone() is None, timeout=3000)
        assert freed_on in ([], [threading.main_thread().name])
    finally:
        collector.stop()
        collector.deleteLater()


def test_stop_gives_collection_back(qtbot: QtBot) -> None:
    was = gc.isenabled()
    collector = GuiThreadCollector(interval_ms=20)
    collector.stop()
    assert gc.isenabled() == was
    collector.deleteLater()
