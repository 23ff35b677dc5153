"""Contacts: everyone who called or texted, searchable by name, number, tag or notes.

Shows tags and whether the contact opted out of texts. Selecting a contact shows its
history beside the list (:mod:`ui.contact_history`: every call and text, the counts, the
last contact, the booked value). Double-click (or Enter, or "Open conversation") opens
the contact's thread: :attr:`ContactsPage.openContact` carries the contact id for the
main window to hand to the inbox. "Delete contact…" (when the page is given the
messaging service) asks first, then deletes the contact with their texts, calls and
voicemails.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from services.api import InboxApi, MessagingApi, NotFound
from services.cursors import ContactsAfter
from services.snapshots import ContactDetail, ContactHistory
from ui import theme
from ui.contact_delete import ContactDeletion
from ui.contact_history import ContactHistoryPanel
from ui.widgets.page_parts import page_heading, rows_table
from ui.widgets.paged_model import PagedSnapshotModel
from ui.widgets.tasks import TaskRunner
from ui.widgets.time_format import money

PAGE_SIZE = 200


class ContactsModel(PagedSnapshotModel[ContactDetail, ContactsAfter]):
    """Contacts matching the current search; rows are ContactDetail snapshots."""

    COLUMNS = ("Name", "Phone", "Tags", "Texts", "Assigned to")
    NAME, PHONE, TAGS, TEXTS, ASSIGNED = range(5)
    ContactRole = Qt.ItemDataRole.UserRole
    PAGE_SIZE = PAGE_SIZE
    FETCH_WHAT = "load more contacts"

    def __init__(self, inbox: InboxApi, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._inbox = inbox
        self._search = ""

    def fetch_page(
        self, after: ContactsAfter | None, limit: int
    ) -> Coroutine[Any, Any, list[ContactDetail]]:
        return self._inbox.contacts(search=self._search, after=after, limit=limit)

    def cursor_of(self, item: ContactDetail) -> ContactsAfter:
        return ContactsAfter.of(item)

    def cell(self, contact: ContactDetail, column: int, role: int) -> Any:
        if role == self.ContactRole:
            return contact
        if role == Qt.ItemDataRole.DisplayRole:
            if column == self.NAME:
                return contact.name or "(no name)"
            if column == self.PHONE:
                return contact.display_phone
            if column == self.TAGS:
                tags = ", ".join(contact.tags)
                if contact.booked_value_cents:
                    tags += f" ({money(contact.booked_value_cents)})"
                return tags
            if column == self.TEXTS:
                return "Opted out" if contact.opted_out else "Yes"  # why: the tooltip
            return contact.assigned_to or ""
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == self.TEXTS and contact.opted_out:
                return theme.danger(QGuiApplication.palette())
            if column == self.NAME and not contact.name:
                return theme.muted_text(QGuiApplication.palette())
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == self.TEXTS and contact.opted_out:
                return "Replied STOP: Frontdesk will not text this number until they text START."
            if column == self.TEXTS:
                return "Frontdesk texts this number (missed-call texts and your replies)."
            if column == self.PHONE:
                return contact.phone
            return None
        return None

    async def search(self, text: str) -> None:
        """Show the contacts matching ``text`` (name, digits of the number, a tag, notes)."""
        self._generation += 1
        generation = self._generation
        rows = await self._inbox.contacts(search=text, limit=PAGE_SIZE)
        if generation != self._generation:
            return  # a newer search is on its way
        self._search = text
        self._reset_rows(rows)
        self.loaded.emit()

    def contact_changed(self, contact_id: int) -> None:
        """Refresh one row in place (new contacts appear on the next search)."""
        if self._row_of(contact_id) < 0:
            return
        self.tasks.spawn(
            self._inbox.contact(contact_id),
            what="refresh a contact",
            done=self._replace,
            # Deleted (here or on another PC): its row goes.
            failed=lambda exc: isinstance(exc, NotFound) and (self.remove(contact_id) or True),
        )

    def _replace(self, contact: ContactDetail) -> None:
        row = self._row_of(contact.id)
        if row >= 0:
            self._set_row(row, contact)

    def contact_at(self, row: int) -> ContactDetail | None:
        return self.item_at(row)


class ContactsPage(QWidget):
    """The Contacts screen. ``events``: any QObject with ``contactChanged(int)`` (and
    optionally ``everythingChanged()``: search again; ``conversationChanged(int, int)``
    and ``callChanged(int)``: the shown history is read again). With ``messaging``,
    "Delete contact…" deletes the selected contact once confirmed (``actor`` names who);
    :attr:`contactDeleted` then carries its id."""

    openContact = Signal(int)
    contactDeleted = Signal(int)

    def __init__(
        self,
        inbox: InboxApi,
        events: QObject | None = None,
        *,
        messaging: MessagingApi | None = None,
        actor: str | Callable[[], str] = "front desk",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("contactsPage")
        self.tasks = TaskRunner(self)
        self._inbox = inbox
        self.model = ContactsModel(inbox, self)
        self.history = ContactHistoryPanel(self)
        self.history.openContact.connect(self.openContact)
        self.selected_id: int | None = None
        self._actor = actor
        self.deletion: ContactDeletion | None = None
        if messaging is not None:
            self.deletion = ContactDeletion(messaging, self.tasks, self, actor=self._actor_name)
            self.deletion.deleted.connect(self._deleted)
        self._loaded_once = False
        self._fetched = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        top = QHBoxLayout()
        top.addWidget(page_heading("Contacts"))
        top.addStretch(1)
        self.search_box = QLineEdit()
        self.search_box.setObjectName("contactSearch")
        self.search_box.setPlaceholderText("Search names, numbers, tags and notes")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setMinimumWidth(300)
        top.addWidget(self.search_box)
        layout.addLayout(top)

        self.table = rows_table(
            "contactsTable", self.model, row_height=self.fontMetrics().height() + 16
        )
        header = self.table.horizontalHeader()
        width = self.fontMetrics().averageCharWidth()
        for column, chars in (
            # Narrower than the words at 1024 px: the history beside the list shares the
            # width (every column can be widened by hand, and the tooltip says it all).
            (ContactsModel.NAME, 22),
            (ContactsModel.PHONE, 18),
            (ContactsModel.TEXTS, 12),
            (ContactsModel.ASSIGNED, 12),
        ):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            # Never narrower than its own title ("Assigned tc" at 200 %).
            header.resizeSection(
                column, max(width * chars, header.sectionSizeFromContents(column).width())
            )
        header.setSectionResizeMode(ContactsModel.TAGS, QHeaderView.ResizeMode.Stretch)
        self.table.activated.connect(lambda index: self._open(index.row()))

        self.empty = QLabel()
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: palette(placeholder-text); font-size: 12pt;")
        self.views = QStackedWidget()
        self.views.addWidget(self.table)
        self.views.addWidget(self.empty)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.views)
        self.splitter.addWidget(self.history)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.history.setMinimumWidth(260)
        layout.addWidget(self.splitter, 1)
        self.table.selectionModel().currentRowChanged.connect(
            lambda current, _previous: self._select(current.row())
        )
        self.model.modelReset.connect(lambda: self._select(-1))
        hint = QLabel("Select a contact to see their history; double-click to open the thread.")
        hint.setStyleSheet("color: palette(placeholder-text);")
        bottom = QHBoxLayout()
        bottom.addWidget(hint, 1)
        self.delete_button = QPushButton("Delete contact…")
        self.delete_button.setObjectName("deleteContact")
        self.delete_button.setToolTip(
            "Delete the selected contact with their texts, calls and voicemail recordings"
        )
        self.delete_button.clicked.connect(self.ask_delete_selected)
        self.delete_button.setVisible(self.deletion is not None)
        bottom.addWidget(self.delete_button)
        layout.addLayout(bottom)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(200)
        self._debounce.timeout.connect(self._run_search)
        self.search_box.textChanged.connect(lambda _: self._debounce.start())
        self.model.loaded.connect(self._on_loaded)
        for signal in (self.model.modelReset, self.model.rowsInserted):
            signal.connect(self._update_empty)

        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.model.modelReset.connect(self._update_buttons)
        self.model.rowsRemoved.connect(self._update_buttons)
        self._update_buttons()

        changed = getattr(events, "contactChanged", None)
        if changed is not None:
            changed.connect(self.model.contact_changed)
            changed.connect(self._history_changed)
        conversation = getattr(events, "conversationChanged", None)
        if conversation is not None:
            conversation.connect(lambda _conv, contact: self._history_changed(contact))
        call = getattr(events, "callChanged", None)
        if call is not None:
            call.connect(lambda _call: self._history_changed(self.selected_id))
        everything = getattr(events, "everythingChanged", None)
        if everything is not None:
            everything.connect(self.reload_everything)

    async def load(self) -> None:
        self._loaded_once = True
        await self.model.search(self.search_box.text().strip())

    def _run_search(self) -> None:
        self.tasks.spawn(self.load(), what="search the contacts")

    def _select(self, row: int) -> None:
        """Show the history of the contact on ``row`` (-1: none)."""
        contact = self.model.contact_at(row) if row >= 0 else None
        self.selected_id = contact.id if contact is not None else None
        if contact is None:
            self.history.show_history(None)
            return
        self._load_history(contact.id)

    def _history_changed(self, contact_id: int | None) -> None:
        if contact_id is not None and contact_id == self.selected_id:
            self._load_history(contact_id)

    def _load_history(self, contact_id: int) -> None:
        def done(history: ContactHistory) -> None:
            if history.contact_id == self.selected_id:
                self.history.show_history(history)

        self.tasks.spawn(
            self._inbox.contact_history(contact_id),
            what="load the contact's history",
            done=done,
            failed=lambda exc: isinstance(exc, NotFound),
        )

    def _open(self, row: int) -> None:
        contact = self.model.contact_at(row)
        if contact is not None:
            self.openContact.emit(contact.id)

    def selected(self) -> ContactDetail | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.contact_at(rows[0].row()) if rows else None

    def _actor_name(self) -> str:
        return self._actor() if callable(self._actor) else self._actor

    def _update_buttons(self) -> None:
        self.delete_button.setEnabled(self.selected() is not None)

    def ask_delete_selected(self) -> None:
        """Confirm, then delete the selected contact (see :mod:`ui.contact_delete`)."""
        contact = self.selected()
        if contact is not None and self.deletion is not None:
            self.deletion.ask(contact.id, contact.name or contact.display_phone)

    def _deleted(self, contact_id: int) -> None:
        if contact_id == self.selected_id:
            self._select(-1)
        self.model.remove(contact_id)
        self._update_empty()
        self.contactDeleted.emit(contact_id)

    def _on_loaded(self) -> None:
        self._fetched = True
        self._update_empty()

    def _update_empty(self) -> None:
        empty = self._fetched and self.model.rowCount() == 0
        if empty:
            text = self.search_box.text().strip()
            self.empty.setText(
                f"No contact matches “{text}”."
                if text
                else "No contacts yet. Everyone who calls or texts your number appears here."
            )
        self.views.setCurrentIndex(1 if empty else 0)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._loaded_once:
            self._loaded_once = True
            self._run_search()

    def reload_everything(self) -> None:
        """Changes may have been missed: run the current search again (if it ever ran)."""
        if self._loaded_once:
            self._run_search()

    def shutdown(self) -> None:
        self._debounce.stop()
        self.model.shutdown()
        self.tasks.cancel_all()
