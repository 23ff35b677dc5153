"""TaskRunner when the event loop is gone: a change still queued for a widget while the
app closes starts nothing, and its coroutine is closed, not left un-awaited (which
pytest's ``filterwarnings = error`` turns into a failure, as it did in CI)."""

from __future__ import annotations

import asyncio
import inspect

from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from ui.widgets.tasks import TaskRunner


async def _work() -> int:
    return 1


def test_spawn_without_an_event_loop_closes_the_coroutine(qtbot: QtBot) -> None:
    owner = QWidget()
    qtbot.addWidget(owner)
    runner = TaskRunner(owner, quiet=True)
    asyncio.set_event_loop(None)  # what a closed test loop (or a closing app) leaves
    coro = _work()
    assert runner.spawn(coro, what="refresh a conversation") is None
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
    assert runner.pending == 0
