"""Fixtures for UI tests: one qasync loop per test on pytest-qt's QApplication, and the
real runtime on it.

- ``qloop``: a ``qasync.QEventLoop(qapp, already_running=True)`` set as the current loop;
  coroutines scheduled with ``asyncio.ensure_future`` run while ``qtbot.waitUntil`` (or
  :func:`run`) spins Qt. Torn down without ``loop.stop()``/``app.quit()`` (either would
  make every later ``qtbot.waitUntil`` return at once): leftover tasks are cancelled and
  drained, then the loop is closed and unset.
- ``ui_app``: :class:`tests.harness.TestApp` (the real Runtime: database, engine,
  receiver on loopback, gateway → Twilio stand-in) entered on ``qloop``. Uses
  ``database_url`` (SQLite and PostgreSQL), ``data_dir`` and ``twilio_standin``.
  ``ui_app.runtime.inbox`` / ``.engine`` / ``.bus`` are what widgets are handed.
- ``bridge``: an :class:`ui.event_bridge.EventBridge` attached to ``ui_app``'s bus.

Delete parentless QObjects you create (``shiboken6.delete(obj)``) or hand them to
``qtbot.addWidget``: a QObject with a running QTimer freed by the garbage collector on a
worker thread crashes Qt later.
- :func:`run` ``(qtbot, coro, timeout=10)``: run a coroutine to completion while Qt keeps
  processing events; returns its result or raises its exception.
- ``run`` (the fixture, for a test that asks for a parameter named ``run``): ``run(coro)``
  runs a scenario on ``qloop`` the same way, with up to 60 seconds.
- :func:`sqlite_app` ``(tmp_path, twilio_standin, **options)``: ``running_app`` on a SQLite
  file in ``tmp_path``, for a scenario that builds its own data before the page opens.
- :func:`until` ``(predicate, timeout=5)``: inside a scenario, wait (on the loop) until
  ``predicate()`` is true, else fail.

Use them from another UI test module::

    from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
    from tests.ui.conftest import run

    def test_my_page(qtbot, ui_app, bridge):
        page = MyPage(ui_app.runtime.inbox, bridge)
        qtbot.addWidget(page)
        run(qtbot, ui_app.missed_call("+14155550123"))
        qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=2000)
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import qasync
import shiboken6
from pytestqt.qtbot import QtBot

from tests.harness import TestApp, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn
from ui.widgets.gc_guard import GuiThreadCollector

T = TypeVar("T")


def run(qtbot: QtBot, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
    """Run ``coro`` on the current (qasync) loop until done, Qt processing events."""
    task = asyncio.ensure_future(coro)
    try:
        qtbot.waitUntil(task.done, timeout=int(timeout * 1000))
    except BaseException:
        task.cancel()
        raise
    return task.result()


def sqlite_app(
    tmp_path: Path, standin: TwilioStandIn, **options: Any
) -> AbstractAsyncContextManager[TestApp]:
    """``running_app`` on ``tmp_path/fd.db`` with data in ``tmp_path/data``."""
    return running_app(f"sqlite:///{tmp_path}/fd.db", tmp_path / "data", standin, **options)


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait, letting the loop (and Qt) run, until ``predicate()``; fail after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def _close_loop(qtbot: QtBot, loop: qasync.QEventLoop) -> None:
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        with contextlib.suppress(Exception):
            qtbot.waitUntil(lambda: all(t.done() for t in pending), timeout=5000)
    # The loop believes it is running (already_running=True): undo that by hand rather
    # than with stop(), which would quit the QApplication's event loop.
    with contextlib.suppress(RuntimeError, TypeError):
        loop._QEventLoop__app.aboutToQuit.disconnect(loop._after_run_forever)  # type: ignore[attr-defined]
    with contextlib.suppress(Exception):
        loop._after_run_forever()  # type: ignore[attr-defined]
    loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
    asyncio.events._set_running_loop(None)
    with contextlib.suppress(Exception):
        loop.close()
    asyncio.set_event_loop(None)
    # qasync's timer object still has Qt timers registered (stop() only flags them). Kill
    # them and delete its QObjects here, on the GUI thread: left to the garbage collector,
    # they may be destroyed on a worker thread, and Qt then fires a timer at freed memory.
    timer = getattr(loop, "_timer", None)
    if timer is not None and shiboken6.isValid(timer):
        for timer_id in list(getattr(timer, "_SimpleTimer__callbacks", {})):
            timer.killTimer(timer_id)
        shiboken6.delete(timer)
    signaller = getattr(loop, "_QEventLoop__call_soon_signaller", None)
    if signaller is not None and shiboken6.isValid(signaller):
        shiboken6.delete(signaller)


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread(qapp: Any) -> Iterator[None]:
    """Garbage is collected on the GUI thread only, during the test and at its end: a
    collection on a worker or executor thread that frees a Qt object deadlocks with Qt's
    locks (ui/widgets/gc_guard.py; it hung a fresh-clone CI run)."""
    collector = GuiThreadCollector()
    try:
        yield
    finally:
        gc.collect()
        collector.stop()
        shiboken6.delete(collector)


@pytest.fixture
def qloop(qapp: Any, qtbot: QtBot) -> Iterator[qasync.QEventLoop]:
    """A qasync loop on pytest-qt's QApplication, current for this test."""
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        _close_loop(qtbot, loop)


@pytest.fixture(name="run")
def run_fixture(
    qloop: qasync.QEventLoop, qtbot: QtBot
) -> Callable[[Coroutine[Any, Any, None]], None]:
    """Run a scenario on this test's qasync loop (:func:`run` with a 60-second limit)."""
    return lambda coro: run(qtbot, coro, timeout=60)


@pytest.fixture
def ui_app(
    twilio_standin: TwilioStandIn,
    database_url: str,
    data_dir: Path,
    qloop: qasync.QEventLoop,
    qtbot: QtBot,
) -> Iterator[TestApp]:
    """The real runtime (``tests.harness.running_app``) started on the qasync loop.

    (``twilio_standin`` comes first so it is torn down after ``qloop``: its thread's loop
    cannot shut down while the qasync loop is still marked running.)
    """
    manager = running_app(database_url, data_dir, twilio_standin)
    app = run(qtbot, manager.__aenter__(), timeout=30)
    try:
        yield app
    finally:
        run(qtbot, manager.__aexit__(None, None, None), timeout=30)


@pytest.fixture
def bridge(ui_app: TestApp, qtbot: QtBot) -> Iterator[Any]:
    """An EventBridge subscribed to ``ui_app``'s event bus."""
    from ui.event_bridge import EventBridge

    b = EventBridge(ui_app.runtime.bus)
    try:
        yield b
    finally:
        b.detach()
        shiboken6.delete(b)  # on the GUI thread, not whenever (and wherever) GC runs
