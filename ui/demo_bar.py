"""The thin bar across the top of the demo window.

It says plainly that this is a demo workspace and offers the two simulations. It knows
nothing about the simulated carrier: the shell hands it two coroutine functions::

    bar = DemoBar(actions.missed_call, actions.reply)   # desktop.demo.DemoActions

Each may return a short sentence (shown in the bar) or None. While one runs its button
is disabled; a failure is shown in the bar, never raised into Qt. Every task the bar
starts is kept, and :meth:`DemoBar.cancel_pending` (also called when the bar is closed)
cancels what is left.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QCloseEvent, QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

log = logging.getLogger(__name__)

Simulation = Callable[[], Awaitable[Any]]

BANNER = "Demo workspace — nothing is sent to real phones"


class DemoBar(QFrame):
    """ "Demo workspace" label + "Simulate a missed call" / "Simulate a reply" buttons."""

    simulated = Signal(str)  # the sentence a simulation returned ("" when it returned None)
    failed = Signal(str)  # why a simulation failed, in words

    def __init__(
        self,
        on_missed_call: Simulation,
        on_reply: Simulation,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("DemoBar")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAutoFillBackground(True)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._tasks: set[asyncio.Task[Any]] = set()

        self.label = QLabel(BANNER, self)
        self.label.setObjectName("DemoBarLabel")
        font = self.label.font()
        font.setBold(True)
        self.label.setFont(font)
        self.status = QLabel("", self)
        self.status.setObjectName("DemoBarStatus")
        self.status.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.missed_call_button = QPushButton("Simulate a missed call", self)
        self.missed_call_button.setToolTip(
            "A made-up caller rings the demo number and nobody answers: watch the "
            "text-back count down and go out"
        )
        self.reply_button = QPushButton("Simulate a reply", self)
        self.reply_button.setToolTip("The caller texted last answers the demo number")

        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 4)
        layout.setSpacing(8)
        layout.addWidget(self.label)
        layout.addWidget(self.status, 1)
        layout.addWidget(self.missed_call_button)
        layout.addWidget(self.reply_button)

        self.missed_call_button.clicked.connect(
            lambda: self._run(on_missed_call, self.missed_call_button)
        )
        self.reply_button.clicked.connect(lambda: self._run(on_reply, self.reply_button))
        self._apply_palette()

    # -- look ----------------------------------------------------------------------------

    def _apply_palette(self) -> None:
        """A tinted strip derived from the palette's highlight (works in light and dark)."""
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Window)
        highlight = palette.color(QPalette.ColorRole.Highlight)
        t = 0.18
        tint = base.fromRgbF(
            base.redF() + (highlight.redF() - base.redF()) * t,
            base.greenF() + (highlight.greenF() - base.greenF()) * t,
            base.blueF() + (highlight.blueF() - base.blueF()) * t,
            1.0,
        )
        palette.setColor(QPalette.ColorRole.Window, tint)
        self.setPalette(palette)

    # -- running the simulations ---------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def _run(self, simulation: Simulation, button: QPushButton) -> None:
        button.setEnabled(False)
        self.status.setText("Simulating…")

        async def go() -> Any:
            return await simulation()

        task: asyncio.Task[Any] = asyncio.ensure_future(go())
        self._tasks.add(task)

        def finished(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            try:
                button.setEnabled(True)
            except RuntimeError:  # the widget is already deleted
                return
            if t.cancelled():
                self.status.setText("")
                return
            exc = t.exception()
            if exc is not None:
                log.warning("demo simulation failed: %s", exc, exc_info=exc)
                message = f"Simulation failed: {exc}" if str(exc) else "Simulation failed"
                self.status.setText(message)
                self.failed.emit(message)
                return
            result = t.result()
            text = result if isinstance(result, str) else ""
            self.status.setText(text)
            self.simulated.emit(text)

        task.add_done_callback(finished)

    def cancel_pending(self) -> None:
        """Cancel simulations still running (the window is going away)."""
        for task in list(self._tasks):
            task.cancel()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.cancel_pending()
        super().closeEvent(event)
