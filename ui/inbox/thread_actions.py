"""The thread header's buttons: Call back (through Twilio, as on the Missed calls
page), and the workflow: Close / Reopen, Snooze (a menu of times), Mark unread. Shows
the state of a :class:`~services.snapshots.ConversationRow` snapshot; emits requests,
never changes state itself (services.threads and services.callbacks do)."""

from __future__ import annotations

from datetime import datetime, timedelta

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QPushButton, QToolButton, QWidget

from services.snapshots import ConversationRow
from services.thread_state import ThreadState
from ui.widgets.time_format import day_and_clock


def snooze_choices(now: datetime) -> list[tuple[str, datetime]]:
    """(label, until) for the Snooze menu, in local time: later today, tomorrow morning,
    next Monday morning."""
    local = now.astimezone()
    tomorrow = (local + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    days_to_monday = (7 - local.weekday()) % 7 or 7
    monday = (local + timedelta(days=days_to_monday)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    return [
        ("For 1 hour", now + timedelta(hours=1)),
        ("For 3 hours", now + timedelta(hours=3)),
        ("Until tomorrow, 9:00", tomorrow),
        ("Until Monday, 9:00", monday),
    ]


class ThreadActions(QWidget):
    closeRequested = Signal()
    reopenRequested = Signal()
    snoozeRequested = Signal(object)  # datetime (UTC-aware)
    unreadRequested = Signal()
    callBackRequested = Signal()  # ring the desk's phone, then this contact (Twilio)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.state_label = QLabel(self)
        self.state_label.setProperty("role", "muted")
        self.close_button = QPushButton("Close", self)
        self.close_button.setObjectName("closeThread")
        self.close_button.setToolTip("Done for now; a new text or call reopens it")
        self.close_button.clicked.connect(self._close_clicked)
        self.snooze_button = QToolButton(self)
        self.snooze_button.setObjectName("snoozeThread")
        self.snooze_button.setText("Snooze")
        self.snooze_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.snooze_menu = QMenu(self.snooze_button)
        self.snooze_menu.aboutToShow.connect(self._fill_snooze_menu)
        self.snooze_button.setMenu(self.snooze_menu)
        self.unread_button = QPushButton("Mark unread", self)
        self.unread_button.setObjectName("markUnread")
        self.unread_button.clicked.connect(self.unreadRequested.emit)
        self.call_back_button = QPushButton("Call back", self)
        self.call_back_button.setObjectName("callBackThread")
        self.call_back_button.setAccessibleName("Call back through Twilio")
        self.call_back_button.setToolTip(
            "Ring your desk phone, then this caller, from the business number"
        )
        self.call_back_button.clicked.connect(self.callBackRequested.emit)
        layout.addWidget(self.state_label)
        layout.addWidget(self.call_back_button)
        layout.addWidget(self.unread_button)
        layout.addWidget(self.snooze_button)
        layout.addWidget(self.close_button)
        self.state = ThreadState.OPEN
        self.now: datetime | None = None  # tests pin it; else the wall clock

    def _close_clicked(self) -> None:
        if self.state is ThreadState.OPEN:
            self.closeRequested.emit()
        else:
            self.reopenRequested.emit()

    def _fill_snooze_menu(self) -> None:
        self.snooze_menu.clear()
        for label, until in snooze_choices(self.now or datetime.now().astimezone()):
            action = self.snooze_menu.addAction(label)
            action.triggered.connect(lambda _=False, u=until: self.snoozeRequested.emit(u))

    def show_row(self, row: ConversationRow | None) -> None:
        self.setVisible(row is not None)
        if row is None:
            return
        self.state = row.state
        self.close_button.setText("Close" if row.state is ThreadState.OPEN else "Reopen")
        if row.state is ThreadState.CLOSED:
            self.state_label.setText("Closed")
        elif row.state is ThreadState.SNOOZED and row.snoozed_until is not None:
            self.state_label.setText(f"Snoozed until {day_and_clock(row.snoozed_until)}")
        else:
            self.state_label.setText("")
        self.state_label.setVisible(bool(self.state_label.text()))
        self.unread_button.setEnabled(row.unread == 0)
