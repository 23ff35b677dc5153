"""Startup measurement: milliseconds from process start to the main window's first show.

Off unless ``FRONTDESK_MEASURE_STARTUP=1`` is set (or the hidden ``--measure-startup``
flag is on the command line, which :func:`strip_flag` removes before argparse sees it).
When on, the shell calls :func:`install` once, right after creating the QApplication::

    app = QApplication(argv)
    startup_probe.install(app)          # no-op unless measuring

The probe watches for the first top-level window to be exposed (really shown, first
frame), prints two lines to stdout::

    frontdesk: startup_ms=812 window=MainWindow
    frontdesk: cpu_ms=655

(the second line: the CPU time the process used until then, every thread, in ms: the
figure a busy machine inflates least, for comparing builds side by side in
bench/startup_bench.py) and then quits the app (``app.quit()``; a watchdog ends the
process 10 s later if the loop does not stop). ``FRONTDESK_MEASURE_STARTUP=stay``
prints without quitting.

``FRONTDESK_MEASURE_STARTUP=inbox`` also waits for the Inbox's conversation list to have
painted its first page of rows (the page's ``firstPageShown`` signal; the widget named
``inboxPage``) and prints a second line before quitting::

    frontdesk: startup_ms=812 window=MainWindow
    frontdesk: inbox_ms=1240 rows=200

(``inbox_ms=none`` when no rows were painted within 60 s of the window.)

"Process start" is the operating system's record of when the process was created
(Linux: /proc/self/stat; elsewhere psutil when present), so interpreter start-up and,
in a bundle, the bootloader are included; without either, the time this module was
first imported is used (and the line says ``from=import``).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

ENV = "FRONTDESK_MEASURE_STARTUP"
FLAG = "--measure-startup"

_IMPORTED_AT = time.time()
_PERF_AT_IMPORT = time.perf_counter()
_installed: Any = None  # keeps the event filter alive


def strip_flag(argv: list[str]) -> list[str]:
    """Remove ``--measure-startup`` from ``argv`` (turning the probe on) and return it."""
    if FLAG in argv:
        os.environ[ENV] = os.environ.get(ENV) or "1"
        return [a for a in argv if a != FLAG]
    return argv


def enabled() -> bool:
    return os.environ.get(ENV, "").strip().lower() not in ("", "0", "false", "no")


def _quit_after() -> bool:
    return os.environ.get(ENV, "").strip().lower() != "stay"


def _wait_for_inbox() -> bool:
    return os.environ.get(ENV, "").strip().lower() == "inbox"


def _linux_start_epoch() -> float | None:
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            stat = f.read()
        # Field 22 (starttime, clock ticks since boot); skip "pid (comm)" safely.
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = int(fields[19])
        hz = os.sysconf("SC_CLK_TCK")
        since_boot = time.clock_gettime(time.CLOCK_BOOTTIME)
        return time.time() - (since_boot - ticks / hz)
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def process_start() -> tuple[float, str]:
    """(epoch seconds when this process started, where that figure came from)."""
    if sys.platform.startswith("linux"):
        started = _linux_start_epoch()
        if started is not None:
            return started, "process"
    try:
        import psutil  # type: ignore[import-not-found, unused-ignore]

        return float(psutil.Process().create_time()), "process"
    except Exception:
        return _IMPORTED_AT, "import"


def elapsed_ms() -> tuple[int, str]:
    started, source = process_start()
    return max(0, round((time.time() - started) * 1000)), source


def report(window_name: str) -> str:
    """Print (and return) the measurement line."""
    ms, source = elapsed_ms()
    line = f"frontdesk: startup_ms={ms} window={window_name}"
    if source != "process":
        line += f" from={source}"
    print(line, flush=True)
    return line


def report_cpu() -> str:
    """Print (and return) the CPU line: ms of CPU this process used so far (all threads)."""
    line = f"frontdesk: cpu_ms={round(time.process_time() * 1000)}"
    print(line, flush=True)
    return line


def report_inbox(rows: int | None) -> str:
    """Print (and return) the inbox line: ms from process start to its first rows."""
    if rows is None:
        line = "frontdesk: inbox_ms=none"
    else:
        ms, source = elapsed_ms()
        line = f"frontdesk: inbox_ms={ms} rows={rows}"
        if source != "process":
            line += f" from={source}"
    print(line, flush=True)
    return line


def _watchdog(seconds: float) -> None:
    def run() -> None:
        time.sleep(seconds)
        sys.stdout.flush()
        os._exit(0)

    threading.Thread(target=run, name="startup-probe-watchdog", daemon=True).start()


def install(app: Any) -> bool:
    """Watch ``app`` (a QApplication) for the first window shown; True when measuring."""
    global _installed
    if not enabled() or _installed is not None:
        return False
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtGui import QWindow

    class _FirstShow(QObject):
        def __init__(self) -> None:
            super().__init__(app)
            self.done = False

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if (
                not self.done
                and event.type() == QEvent.Type.Expose
                and isinstance(watched, QWindow)
                and watched.isExposed()
            ):
                self.done = True
                widget = _widget_for(app, watched)
                report(type(widget if widget is not None else watched).__name__)
                report_cpu()
                if _wait_for_inbox():
                    self._watch_inbox()
                elif _quit_after():
                    self._finish()
            return False

        def _finish(self) -> None:
            _watchdog(10.0)
            QTimer.singleShot(0, app.quit)

        def _watch_inbox(self) -> None:
            page = _inbox_page(app)
            if page is None or getattr(page, "first_page_shown", False):
                self._inbox_shown(page)
                return
            page.firstPageShown.connect(lambda: self._inbox_shown(page))
            QTimer.singleShot(60_000, lambda: self._inbox_shown(None))

        def _inbox_shown(self, page: Any) -> None:
            if getattr(self, "inbox_done", False):
                return
            self.inbox_done = True
            report_inbox(page.model.rowCount() if page is not None else None)
            self._finish()

    probe = _FirstShow()
    app.installEventFilter(probe)
    _installed = probe
    return True


def _inbox_page(app: Any) -> Any:
    """The Inbox page (the widget named ``inboxPage``) in any top-level window, or None."""
    from PySide6.QtWidgets import QWidget

    for widget in app.topLevelWidgets():
        if widget.objectName() == "inboxPage":
            return widget
        found = widget.findChild(QWidget, "inboxPage")
        if found is not None:
            return found
    return None


def _widget_for(app: Any, window: Any) -> Any:
    """The top-level QWidget whose native window is ``window`` (for the report's name)."""
    for widget in app.topLevelWidgets():
        try:
            if widget.windowHandle() is window:
                return widget
        except RuntimeError:
            continue
    return None
