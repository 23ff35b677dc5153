"""Missed calls: every missed call with what the automation did or will do about it.

:class:`MissedCallsModel` is a thin table adapter over :class:`~services.snapshots.CallItem`
snapshots: it loads a page at a time (``fetchMore``), refreshes one row when the event
bridge says that call changed, and ticks the countdown of scheduled texts once a second.
:class:`MissedCallsPage` adds "Cancel auto-text" for pending texts and "Call back".
When the office has more than one location, a Location column says which number was
called.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from services import phones
from services.api import InboxApi, LocationsApi, MessagingApi, NotFound
from services.cursors import CallsAfter
from services.locations import Locations
from services.send_state import FAILED_DELIVERY, Shown
from services.snapshots import CallItem
from ui import theme
from ui.widgets.location_feed import load_locations, names_locations
from ui.widgets.page_parts import page_heading, rows_table
from ui.widgets.paged_model import PagedSnapshotModel
from ui.widgets.tasks import TaskRunner
from ui.widgets.time_format import clock, day_and_clock, format_duration

PAGE_SIZE = 100
#: Auto-texts still waiting: staff can cancel them, and a countdown ticks.
PENDING_STATES = (Shown.SCHEDULED, Shown.HELD)

DELIVERY_WORDS = {
    "delivered": "Delivered",
    "read": "Delivered",
    "sent": "Sent",
    "queued": "Sent",
    "accepted": "Sent",
    "sending": "Sending…",
    "retrying": "Sending… (retrying)",
    "undelivered": "Not delivered",
    "failed": "Not delivered",
}


def _when(moment: datetime, now: datetime) -> str:
    """``at 4:53 PM`` today, ``tomorrow at 8:00 AM``, else ``Mon at 8:00 AM``."""
    days = (moment.astimezone().date() - now.astimezone().date()).days
    if days <= 0:
        return f"at {clock(moment)}"
    if days == 1:
        return f"tomorrow at {clock(moment)}"
    return f"{moment.astimezone().strftime('%a')} at {clock(moment)}"


def automation_text(call: CallItem, now: datetime) -> str:
    """What the automation did or will do, as a receptionist would say it."""
    state = call.textback_state
    if state is Shown.SCHEDULED:
        if call.textback_due_at is None:
            return "Text scheduled"
        left = (call.textback_due_at - now).total_seconds()
        return f"Sends in {format_duration(left)}" if left >= 0.5 else "Sending now…"
    if state is Shown.HELD:
        if call.textback_due_at is None:
            return "Held for quiet hours"
        return f"Held for quiet hours — sends {_when(call.textback_due_at, now)}"
    if state is Shown.SENDING:
        return "Sending…"
    if state is Shown.RETRYING:
        if call.textback_due_at is None:
            return "Sending… (retrying)"
        return f"Twilio was busy — trying again {_when(call.textback_due_at, now)}"
    if state is Shown.SENT:
        words = DELIVERY_WORDS.get(call.textback_status or "", "Sent")
        kind = "After-hours text" if call.after_hours else "Text"
        return f"{kind} {words.lower()}" if words != "Sending…" else f"{kind} sending…"
    if state is Shown.SKIPPED:
        return f"Not texted: {call.textback_reason or 'skipped'}"
    if state is Shown.CANCELLED:
        reason = call.textback_reason or ""
        if reason.startswith("cancelled "):
            return f"Auto-text {reason}"
        return f"Auto-text cancelled{f' ({reason})' if reason else ''}"
    if state is Shown.FAILED:
        return f"Text failed{f': {call.textback_reason}' if call.textback_reason else ''}"
    return "Deciding…" if call.outcome == "pending" else "No auto-text"


def reply_text(call: CallItem, now: datetime) -> str:
    if call.replied:
        return "Replied"
    if call.followup_state is Shown.SCHEDULED and call.followup_due_at is not None:
        left = (call.followup_due_at - now).total_seconds()
        return f"No reply yet · follow-up in {format_duration(left)}"
    if call.followup_state is Shown.SENT:
        return "No reply · follow-up sent"
    if call.textback_state is Shown.SENT:
        return "No reply yet"
    return ""


class MissedCallsModel(PagedSnapshotModel[CallItem, CallsAfter]):
    """Missed calls newest first; rows are CallItem snapshots (``Qt.UserRole``)."""

    COLUMNS = ("When", "Caller", "Location", "Auto-text", "Reply")
    WHEN, CALLER, LOCATION, AUTOMATION, REPLY = range(5)
    CallRole = Qt.ItemDataRole.UserRole
    PAGE_SIZE = PAGE_SIZE
    FETCH_WHAT = "load more missed calls"

    def __init__(
        self,
        inbox: InboxApi,
        *,
        now: Callable[[], datetime] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent, more=True)
        self._inbox = inbox
        self._now = now or (lambda: datetime.now(UTC))
        #: The office's locations, to name each call's (None until the page loads them).
        self.locations: Locations | None = None
        self._ticker = QTimer(self)
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self._tick)

    # ---- Qt model interface --------------------------------------------------------
    def fetch_page(
        self, after: CallsAfter | None, limit: int
    ) -> Coroutine[Any, Any, list[CallItem]]:
        return self._inbox.missed_calls(after=after, limit=limit)

    def cursor_of(self, item: CallItem) -> CallsAfter:
        return CallsAfter.of(item)

    def cell(self, call: CallItem, column: int, role: int) -> Any:
        if role == self.CallRole:
            return call
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(call, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == self.CALLER:
                return call.phone or call.from_raw
            if column == self.AUTOMATION and call.textback_reason:
                return call.textback_reason
            if column == self.LOCATION and self.locations is not None:
                location = self.locations.find(call.location_id)
                if location is None or not location.phone_number:
                    return None
                return f"Called {phones.format_for_display(location.phone_number)}"
            return None
        if role == Qt.ItemDataRole.ForegroundRole and column == self.AUTOMATION:
            if (
                call.textback_state in (Shown.SKIPPED, Shown.FAILED)
                or call.textback_status in FAILED_DELIVERY
            ):
                return theme.danger(QGuiApplication.palette())
            if call.textback_state in PENDING_STATES:
                return QGuiApplication.palette().color(QPalette.ColorRole.Highlight)
            return None
        return None

    def _display(self, call: CallItem, column: int) -> str:
        now = self._now()
        if column == self.WHEN:
            return day_and_clock(call.at, now)
        if column == self.CALLER:
            if call.name:
                return f"{call.name} · {call.display_phone}"
            return call.display_phone
        if column == self.LOCATION:
            return self._location_name(call)
        if column == self.AUTOMATION:
            return automation_text(call, now)
        return reply_text(call, now)

    def _location_name(self, call: CallItem) -> str:
        if self.locations is None:
            return ""
        location = self.locations.find(call.location_id)
        return location.name if location is not None else "Removed"

    def set_locations(self, locations: Locations) -> None:
        """Name each call's location from ``locations`` (repaints the column)."""
        self.locations = locations
        if self.rowCount():
            last = self.index(self.rowCount() - 1, self.LOCATION)
            self.dataChanged.emit(self.index(0, self.LOCATION), last)

    def appended(self) -> None:
        self._update_ticker()
        self.loaded.emit()

    # ---- loading and live updates --------------------------------------------------
    async def reload(self) -> None:
        """Replace every row with the newest page."""
        self._generation += 1
        rows = await self._inbox.missed_calls(limit=PAGE_SIZE)
        self._reset_rows(rows)
        self._update_ticker()
        self.loaded.emit()

    def call_changed(self, call_id: int) -> None:
        """The event bridge's ``callChanged``: refresh (or add, or drop) that one row."""
        self.tasks.spawn(
            self._inbox.call(call_id),
            what="refresh a missed call",
            done=self._apply,
            failed=lambda exc: isinstance(exc, NotFound) and self._remove(call_id),
        )

    def _remove(self, call_id: int) -> bool:
        row = self._row_of(call_id)
        if row >= 0:
            self._remove_row(row)
        return True

    def _apply(self, call: CallItem) -> None:
        row = self._row_of(call.id)
        if call.outcome != "missed":
            if row >= 0:
                self._remove(call.id)
            return
        if row >= 0:
            self._set_row(row, call)
        else:
            # Newest first: place by (at, id) descending.
            keys = [(-c.at.timestamp(), -c.id) for c in self._rows]
            position = bisect.bisect_left(keys, (-call.at.timestamp(), -call.id))
            if position == len(self._rows) and self._more:
                return  # older than what is loaded; fetchMore will bring it
            self._insert_row(position, call)
        self._update_ticker()

    def call_at(self, row: int) -> CallItem | None:
        return self.item_at(row)

    def _update_ticker(self) -> None:
        live = any(
            c.textback_state in PENDING_STATES or c.followup_state is Shown.SCHEDULED
            for c in self._rows
        )
        if live and not self._ticker.isActive():
            self._ticker.start()
        elif not live:
            self._ticker.stop()

    def _tick(self) -> None:
        for row, call in enumerate(self._rows):
            if call.textback_state in PENDING_STATES or call.followup_state is Shown.SCHEDULED:
                self.dataChanged.emit(
                    self.index(row, self.AUTOMATION),
                    self.index(row, self.REPLY),
                    [Qt.ItemDataRole.DisplayRole],
                )

    def shutdown(self) -> None:
        self._ticker.stop()
        super().shutdown()


class MissedCallsPage(QWidget):
    """The Missed calls screen.

    ``events`` is any QObject with a ``callChanged(int)`` signal (the UI's event bridge;
    its ``everythingChanged()``, when it has one, reloads the list).
    ``actor`` names who cancels a text (a string or a function giving one). Double-click
    a row to open the caller's thread: :attr:`openContact` carries the contact id.
    ``locations`` names each call's location; the column shows only when there are
    several (an event bridge's ``settingsChanged`` naming "locations" reloads them).
    """

    openContact = Signal(int)

    def __init__(
        self,
        inbox: InboxApi,
        messaging: MessagingApi,
        events: QObject | None = None,
        *,
        actor: str | Callable[[], str] = "front desk",
        now: Callable[[], datetime] | None = None,
        locations: LocationsApi | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("missedCallsPage")
        self._messaging = messaging
        self._locations_api = locations
        self._actor = actor
        self._loaded_once = False
        self._fetched = False
        self.tasks = TaskRunner(self)
        self.model = MissedCallsModel(inbox, now=now, parent=self)
        self.model.loaded.connect(self._on_loaded)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addWidget(page_heading("Missed calls"))
        hint = QLabel(
            "Every call nobody answered, and the text Frontdesk sends. Cancel a pending "
            "text if you are calling back yourself."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(hint)

        self.table = rows_table(
            "missedCallsTable", self.model, row_height=self.fontMetrics().height() + 16
        )
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(MissedCallsModel.WHEN, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(MissedCallsModel.CALLER, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(MissedCallsModel.LOCATION, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(MissedCallsModel.AUTOMATION, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(MissedCallsModel.REPLY, QHeaderView.ResizeMode.Interactive)
        width = self.fontMetrics().averageCharWidth()
        header.resizeSection(MissedCallsModel.WHEN, width * 23)  # "Yesterday 12:54 PM"
        header.resizeSection(MissedCallsModel.CALLER, width * 33)
        header.resizeSection(MissedCallsModel.LOCATION, width * 13)
        self.table.setColumnHidden(MissedCallsModel.LOCATION, True)  # until there are several
        header.resizeSection(MissedCallsModel.REPLY, width * 28)
        header.setMinimumSectionSize(width * 10)
        self.table.doubleClicked.connect(self._double_clicked)

        self.empty = QLabel("No missed calls. When a call goes unanswered it shows up here.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet("color: palette(placeholder-text); font-size: 12pt;")
        self.views = QStackedWidget()
        self.views.addWidget(self.table)
        self.views.addWidget(self.empty)
        layout.addWidget(self.views, 1)

        buttons = QHBoxLayout()
        self.status = QLabel()
        self.status.setObjectName("missedStatus")
        self.cancel_button = QPushButton("Cancel auto-text")
        self.cancel_button.setObjectName("cancelAutoText")
        self.cancel_button.setToolTip("Don't send the pending text to this caller")
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.call_button = QPushButton("Call back")
        self.call_button.setObjectName("callBack")
        self.call_button.setToolTip(
            "Ring your desk phone, then the caller, from the business number"
        )
        self.call_button.clicked.connect(self.call_back_selected)
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.call_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)

        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.model.dataChanged.connect(lambda *_: self._update_buttons())
        self.model.modelReset.connect(self._update_buttons)
        for signal in (self.model.modelReset, self.model.rowsInserted, self.model.rowsRemoved):
            signal.connect(self._update_empty)
        self._update_buttons()
        self._update_empty()

        changed = getattr(events, "callChanged", None)
        if changed is not None:
            changed.connect(self.model.call_changed)
        everything = getattr(events, "everythingChanged", None)
        if everything is not None:
            everything.connect(self.reload_everything)
        settings_changed = getattr(events, "settingsChanged", None)
        if settings_changed is not None:
            settings_changed.connect(self._on_settings_changed)

    # ---- actions -------------------------------------------------------------------
    async def load(self) -> None:
        self._loaded_once = True
        if self._locations_api is not None:
            self._use_locations(await self._locations_api.locations())
        await self.model.reload()

    def selected(self) -> CallItem | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.call_at(rows[0].row()) if rows else None

    def select_call(self, call_id: int) -> bool:
        row = self.model._row_of(call_id)
        if row < 0:
            return False
        self.table.selectRow(row)
        return True

    def _actor_name(self) -> str:
        return self._actor() if callable(self._actor) else self._actor

    def cancel_selected(self) -> None:
        call = self.selected()
        if call is None or call.textback_state not in PENDING_STATES:
            return
        self.cancel_button.setEnabled(False)

        def done(cancelled: bool) -> None:
            self.status.setText(
                f"Auto-text to {call.name or call.display_phone} cancelled."
                if cancelled
                else "That text could not be cancelled: it has already gone out."
            )
            self.model.call_changed(call.id)

        self.tasks.spawn(
            self._messaging.cancel_textback(call.id, actor=self._actor_name()),
            what="cancel the auto-text",
            done=done,
            always=self._update_buttons,
        )

    def call_back_selected(self) -> None:
        """Ring the desk's phone through Twilio, then the caller (business number as
        caller ID); the waiting auto-text is cancelled and "pending callback" cleared."""
        call = self.selected()
        if call is None or call.contact_id is None:
            return
        contact_id, who = call.contact_id, call.name or call.display_phone
        self.call_button.setEnabled(False)
        self.status.setText(f"Calling your desk phone, then {who}…")

        def refused(exc: BaseException) -> bool:
            if isinstance(exc, ValueError):
                self.status.setText(str(exc))
                return True
            return False

        self.tasks.spawn(
            self._messaging.call_back(contact_id, actor=self._actor_name()),
            what="call back",
            done=lambda _id: self.status.setText(
                f"Your desk phone is ringing: pick up to be connected to {who}."
            ),
            failed=refused,
            always=self._update_buttons,
        )

    def _double_clicked(self, index: QModelIndex) -> None:
        call = self.model.call_at(index.row())
        if call is not None and call.contact_id is not None:
            self.openContact.emit(call.contact_id)

    def _update_buttons(self) -> None:
        call = self.selected()
        self.cancel_button.setEnabled(call is not None and call.textback_state in PENDING_STATES)
        self.call_button.setEnabled(call is not None and call.contact_id is not None)

    def _update_empty(self) -> None:
        empty = self._fetched and self.model.rowCount() == 0
        self.views.setCurrentIndex(1 if empty else 0)

    def _on_loaded(self) -> None:
        self._fetched = True
        self._update_empty()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._loaded_once:
            self._loaded_once = True
            self._load_locations()
            self.tasks.spawn(self.model.reload(), what="load the missed calls")

    def _load_locations(self) -> None:
        load_locations(self.tasks, self._locations_api, self._use_locations)

    def _use_locations(self, locations: Locations) -> None:
        self.model.set_locations(locations)
        self.table.setColumnHidden(MissedCallsModel.LOCATION, not locations.several)

    def _on_settings_changed(self, keys: list[str]) -> None:
        if names_locations(keys):
            self._load_locations()

    def reload_everything(self) -> None:
        """Changes may have been missed: reload, if the page was ever loaded (else its
        first showing loads it)."""
        if self._loaded_once:
            self.tasks.spawn(self.model.reload(), what="reload the missed calls")

    def shutdown(self) -> None:
        self.model.shutdown()
        self.tasks.cancel_all()
