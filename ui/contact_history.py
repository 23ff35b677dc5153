"""The Contacts page's right-hand side: one contact's calls and texts in order, with the
counts, the last contact and the booked value.

:class:`HistoryModel` is a thin adapter over a :class:`services.snapshots.ContactHistory`
snapshot (read by :meth:`services.api.InboxApi.contact_history`); the panel only shows
it. :attr:`ContactHistoryPanel.openContact` asks for the contact's thread in the Inbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from services.snapshots import ContactHistory, HistoryEntry
from ui import theme
from ui.widgets.page_parts import rows_table
from ui.widgets.time_format import day_and_clock, money

Index = QModelIndex | QPersistentModelIndex

_STATUS_SHOWN = {"failed": "not delivered", "undelivered": "not delivered"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def figures(history: ContactHistory) -> str:
    """ "3 calls (2 missed) · 4 texts in · 5 texts out": the counts over everything."""
    calls = _plural(history.calls, "call")
    if history.missed_calls:
        calls += f" ({history.missed_calls} missed)"
    return (
        f"{calls} · {_plural(history.texts_in, 'text')} in · "
        f"{_plural(history.texts_out, 'text')} out"
    )


def entry_words(entry: HistoryEntry) -> str:
    """What one row says: the call, or who texted and what."""
    if entry.kind == "call":
        return entry.summary
    who = "They texted" if entry.direction == "in" else "You texted"
    text = f"{who}: {entry.summary}" if entry.summary else who
    shown = _STATUS_SHOWN.get(entry.status or "")
    return f"{text} ({shown})" if shown else text


class HistoryModel(QAbstractTableModel):
    """Rows of one :class:`ContactHistory` (oldest first): When, What."""

    COLUMNS = ("When", "What")
    WHEN, WHAT = range(2)
    EntryRole = Qt.ItemDataRole.UserRole

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.history: ContactHistory | None = None
        self._now: datetime | None = None

    def show(self, history: ContactHistory | None, now: datetime | None = None) -> None:
        self.beginResetModel()
        self.history = history
        self._now = now
        self.endResetModel()

    def entries(self) -> tuple[HistoryEntry, ...]:
        return self.history.entries if self.history is not None else ()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.entries())

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        entries = self.entries()
        if not index.isValid() or not 0 <= index.row() < len(entries):
            return None
        entry = entries[index.row()]
        if role == self.EntryRole:
            return entry
        if role == Qt.ItemDataRole.DisplayRole:
            if index.column() == self.WHEN:
                return day_and_clock(entry.at, self._now)
            return entry_words(entry)
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == self.WHAT:
            return entry_words(entry)
        if role == Qt.ItemDataRole.ForegroundRole:
            palette = QGuiApplication.palette()
            if entry.kind == "call" and entry.summary.startswith("Missed"):
                return theme.danger(palette)
            if index.column() == self.WHEN:
                return theme.muted_text(palette)
        return None


class ContactHistoryPanel(QWidget):
    """The selected contact's history; a hint while none is selected."""

    openContact = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("contactHistory")
        self.model = HistoryModel(self)
        self.title = QLabel(self)
        self.title.setFont(theme.bold(self.font()))
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.phone = QLabel(self)
        self.phone.setProperty("role", "muted")
        self.figures = QLabel(self)
        self.figures.setObjectName("historyFigures")
        self.figures.setWordWrap(True)
        self.last_contact = QLabel(self)
        self.booked = QLabel(self)
        self.booked.setObjectName("historyBooked")
        self.open_button = QPushButton("Open conversation", self)
        self.open_button.clicked.connect(self._open)
        self.table = rows_table(
            "historyTable", self.model, row_height=self.fontMetrics().height() + 10
        )
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(HistoryModel.WHEN, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(HistoryModel.WHAT, QHeaderView.ResizeMode.Stretch)
        self.empty_history = QLabel("No calls or texts yet.", self)
        self.empty_history.setProperty("role", "muted")
        self.empty_history.setAlignment(Qt.AlignmentFlag.AlignCenter)

        details = QWidget(self)
        box = QVBoxLayout(details)
        box.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        names = QVBoxLayout()
        names.setSpacing(0)
        names.addWidget(self.title)
        names.addWidget(self.phone)
        top.addLayout(names, 1)
        top.addWidget(self.open_button, 0, Qt.AlignmentFlag.AlignTop)
        box.addLayout(top)
        box.addWidget(self.figures)
        box.addWidget(self.last_contact)
        box.addWidget(self.booked)
        self.list_stack = QStackedWidget(self)
        self.list_stack.addWidget(self.table)
        self.list_stack.addWidget(self.empty_history)
        box.addWidget(self.list_stack, 1)
        for label in (self.title, self.phone, self.last_contact, self.booked):
            label.setWordWrap(True)

        self.hint = QLabel("Select a contact to see every call and text with them.", self)
        self.hint.setProperty("role", "muted")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.hint)
        self.stack.addWidget(details)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 0, 0, 0)
        layout.addWidget(self.stack)

    @property
    def history(self) -> ContactHistory | None:
        return self.model.history

    def show_history(self, history: ContactHistory | None, now: datetime | None = None) -> None:
        """Show ``history`` (None: the hint), newest row in view."""
        self.model.show(history, now)
        if history is None:
            self.stack.setCurrentIndex(0)
            return
        self.title.setText(history.title)
        self.phone.setText(history.display_phone if history.title != history.display_phone else "")
        self.phone.setVisible(bool(self.phone.text()))
        self.figures.setText(figures(history))
        self.last_contact.setText(
            "Last contact: " + day_and_clock(history.last_contact_at, now)
            if history.last_contact_at
            else "No contact yet."
        )
        if history.booked_value_cents:
            self.booked.setText(f"Booked: {money(history.booked_value_cents)}")
        elif history.booked_at is not None:
            self.booked.setText("Booked (no value entered)")
        else:
            self.booked.setText("Not booked yet.")
        self.list_stack.setCurrentIndex(0 if history.entries else 1)
        self.stack.setCurrentIndex(1)
        if history.entries:
            self.table.scrollToBottom()

    def _open(self) -> None:
        if self.model.history is not None:
            self.openContact.emit(self.model.history.contact_id)
