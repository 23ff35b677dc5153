"""The Inbox screen: filters, search and the conversation list; the open thread with its
composer; the contact panel.

Services come in through the constructor; nothing here touches storage. Live changes
arrive from the :class:`~ui.event_bridge.EventBridge` and refresh only the affected row
and, when it is open, the affected thread and contact.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from services import errors, phones
from services.api import (
    InboxApi,
    LocationsApi,
    MessagingApi,
    NotFound,
    PresenceApi,
)
from services.locations import FIRST, Location, Locations
from services.send_state import Shown
from services.snapshots import CallItem, ContactDetail, ConversationRow
from ui import theme
from ui.contact_delete import ContactDeletion
from ui.event_bridge import EventBridge
from ui.inbox.collisions import CollisionGuard
from ui.inbox.composer import Composer
from ui.inbox.contact_panel import ContactPanel
from ui.inbox.conversation_delegate import ConversationDelegate
from ui.inbox.conversation_list import ConversationList
from ui.inbox.conversation_model import ConversationListModel, RowRole
from ui.inbox.drafts import DraftStore
from ui.inbox.filter_bar import FilterBar
from ui.inbox.live_updates import LiveUpdates
from ui.inbox.new_conversation import NewConversationDialog, new_conversation_button
from ui.inbox.page_actions import PageActions
from ui.inbox.replying import Replying
from ui.inbox.thread import ThreadView
from ui.inbox.thread_actions import ThreadActions
from ui.widgets import icons
from ui.widgets.location_feed import load_locations, names_locations
from ui.widgets.tasks import TaskRunner

SEARCH_DEBOUNCE_MS = 150
DRAFT_SAVE_MS = 400
COUNTS_DEBOUNCE_MS = 250  # a burst of changes recounts once


class InboxPage(Replying, PageActions, LiveUpdates, QWidget):
    """``InboxPage(inbox, messaging, bridge)``; call :meth:`start` once the loop runs."""

    contactOpened = Signal(int)
    # Once, after the conversation list first painted rows (the start-up probe waits
    # for it); ``first_page_shown`` says whether it happened already.
    firstPageShown = Signal()

    def __init__(
        self,
        inbox: InboxApi,
        messaging: MessagingApi,
        bridge: EventBridge,
        *,
        runner: TaskRunner | None = None,
        drafts: DraftStore | None = None,
        presence: PresenceApi | None = None,
        locations: LocationsApi | None = None,
        now: Callable[[], datetime] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("inboxPage")
        self.drafts = drafts or DraftStore(parent=self)
        if self.drafts.parent() is None:
            self.drafts.setParent(self)
        self._draft_phone: str | None = None  # whose draft the composer holds
        self._business: tuple[str, str, str] = ("", "", "")  # name, phone, booking link
        self._inbox = inbox
        self._messaging = messaging
        self._bridge = bridge
        self.tasks = runner or TaskRunner(self)
        self.me: str | None = None
        self.region = "US"  # business.default_region: how typed national numbers read
        self.new_dialog: NewConversationDialog | None = None
        self.members: list[str] = []
        self.current_contact_id: int | None = None
        # The open thread's location (a contact has a thread at each one they called or
        # texted); None: the first location's.
        self.current_location_id: int | None = None
        self._locations_api = locations
        self.locations: Locations | None = None
        self._contact_generation = 0
        self.first_page_shown = False
        self._sized = False

        # ---- left: filters (with counts), search, list
        self.filter_bar = FilterBar(self)
        self.filter_buttons = self.filter_bar.buttons
        self.filter_bar.filterChosen.connect(self.set_filter)
        self.filter_bar.tagChosen.connect(self.set_tag)
        self.filter_bar.locationChosen.connect(self.set_location)
        filters = self.filter_bar
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(COUNTS_DEBOUNCE_MS)
        self._counts_timer.timeout.connect(self._load_counts)

        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search names, numbers and messages (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search conversations")
        self.search.addAction(icons.icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self._apply_search)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())

        self.model = ConversationListModel(inbox, runner=self.tasks, parent=self)
        self.list = ConversationList(self)
        self.list.setModel(self.model)
        self.delegate = ConversationDelegate(self.list)
        self.list.setItemDelegate(self.delegate)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setAccessibleName("Conversations")
        self.list.setFrameShape(QFrame.Shape.NoFrame)
        selection = self.list.selectionModel()
        selection.currentChanged.connect(self._current_changed)
        self.list.viewport().installEventFilter(self)
        self.empty_list = QLabel("No conversations yet.\nMissed calls and texts appear here.")
        self.empty_list.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_list.setProperty("role", "muted")
        self.empty_list.setWordWrap(True)
        self.list_stack = QStackedWidget(self)
        self.list_stack.addWidget(self.list)
        self.list_stack.addWidget(self.empty_list)
        self.model.loaded.connect(self._update_empty)
        self.model.modelReset.connect(self._update_empty)
        self.model.rowsRemoved.connect(self._update_empty)

        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(8, 8, 0, 0)
        left_layout.setSpacing(8)
        search_row = QHBoxLayout()
        search_row.setSpacing(6)
        search_row.addWidget(self.search, 1)
        self.new_button = new_conversation_button(self)
        self.new_button.clicked.connect(self.new_conversation)
        search_row.addWidget(self.new_button)
        left_layout.addLayout(search_row)
        left_layout.addWidget(filters)
        left_layout.addWidget(self.list_stack, 1)

        # ---- middle: header, thread, composer
        self.header_title = QLabel(self)
        self.header_title.setFont(theme.bold(self.font()))
        self.header_title.setAccessibleName("Conversation with")
        self.header_sub = QLabel(self)
        self.header_sub.setProperty("role", "muted")
        header = QFrame(self)
        header.setObjectName("threadHeader")
        # Name beside the buttons; below them when the thread is too narrow for both
        # (1024 px wide, 200 %): see _fit_header.
        header_row = QBoxLayout(QBoxLayout.Direction.LeftToRight, header)
        header_row.setContentsMargins(14, 10, 14, 8)
        header_row.setSpacing(6)
        self.header, self._header_row = header, header_row
        self._header_sub_whole = ""  # the part of header_sub that must not be cut
        self._header_fitter = _Watcher(
            self, self._fit_header, QEvent.Type.Resize, QEvent.Type.Show, QEvent.Type.LayoutRequest
        )
        header.installEventFilter(self._header_fitter)
        header_layout = QVBoxLayout()
        header_layout.setSpacing(0)
        header_layout.addWidget(self.header_title)
        header_layout.addWidget(self.header_sub)
        header_row.addLayout(header_layout, 1)
        for label in (self.header_title, self.header_sub):
            # The buttons beside them must not widen the window past a 1024 px screen.
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.thread_actions = ThreadActions(header)
        self.thread_actions.hide()
        # Its text changes (Snoozed until…): the header fits again.
        self.thread_actions.installEventFilter(self._header_fitter)
        header_row.addWidget(self.thread_actions)
        self._wire_thread_actions()
        self.thread_view = ThreadView(self)
        self.thread_view.setFrameShape(QFrame.Shape.NoFrame)
        self.composer = Composer(self)
        self.composer.sendRequested.connect(self._send)
        self.composer.scheduleRequested.connect(self._schedule)
        self.thread_view.retryRequested.connect(self._retry)
        self.thread_view.cancelScheduledRequested.connect(self._cancel_scheduled)
        self.composer.noteRequested.connect(self._add_note)
        self._draft_timer = QTimer(self)
        self._draft_timer.setSingleShot(True)
        self._draft_timer.setInterval(DRAFT_SAVE_MS)
        self._draft_timer.timeout.connect(self._save_draft)
        self._shut_down = False
        self.composer.edit.textChanged.connect(self._draft_timer.start)
        # Other PCs see "… is replying"; a send right after a colleague's reply asks first.
        self.collisions = CollisionGuard(inbox, presence, self.tasks, self, now=now)
        self._filling_composer = False
        self.composer.edit.textChanged.connect(self._typed)

        middle = QWidget(self)
        middle_layout = QVBoxLayout(middle)
        middle_layout.setContentsMargins(0, 0, 0, 0)
        middle_layout.setSpacing(0)
        middle_layout.addWidget(header)
        middle_layout.addWidget(_hline(self))
        middle_layout.addWidget(self.thread_view, 1)
        middle_layout.addWidget(_hline(self))
        middle_layout.addWidget(self.collisions.label)
        middle_layout.addWidget(self.composer)

        self.panel = ContactPanel(self)
        self.panel.setMinimumWidth(210)
        self.deletion = ContactDeletion(messaging, self.tasks, self, actor=lambda: self.actor)
        self.deletion.deleted.connect(self.contact_deleted)
        self._wire_panel()

        conversation = QSplitter(Qt.Orientation.Horizontal, self)
        conversation.addWidget(middle)
        conversation.addWidget(self.panel)
        conversation.setStretchFactor(0, 1)
        conversation.setStretchFactor(1, 0)
        conversation.setSizes([600, 260])
        conversation.setChildrenCollapsible(False)
        self.conversation_splitter = conversation

        self.placeholder = QLabel("Pick a conversation on the left to read and reply.", self)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setProperty("role", "muted")
        self.right = QStackedWidget(self)
        self.right.addWidget(self.placeholder)
        self.right.addWidget(conversation)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("inboxSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([340, 900])
        self.splitter.setChildrenCollapsible(False)
        left.setMinimumWidth(220)
        self._left = left
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

        bridge.conversationChanged.connect(self._on_conversation_changed)
        bridge.contactChanged.connect(self._on_contact_changed)
        bridge.callChanged.connect(self._on_call_changed)
        bridge.settingsChanged.connect(self._on_settings_changed)
        bridge.everythingChanged.connect(self.reload_everything)
        bridge.colleagueTyping.connect(self.collisions.colleague_typing)

    THREAD_MIN = 360  # below this, bubbles get too narrow to read

    def resizeEvent(self, event: Any) -> None:
        """Give the thread its room first: on a narrow window (1024 px) the list and the
        contact panel shrink towards their minimums before the thread goes under
        :data:`THREAD_MIN`."""
        super().resizeEvent(event)
        total = self.width()
        left_w = max(self._left.minimumWidth(), min(340, int(total * 0.28)))
        panel_w = max(self.panel.minimumWidth(), min(280, int(total * 0.24)))
        thread_w = total - left_w - panel_w - 2 * self.splitter.handleWidth()
        if thread_w < self.THREAD_MIN or not self._sized:
            self._sized = True
            self.splitter.setSizes([left_w, total - left_w])
            self.conversation_splitter.setSizes([max(1, total - left_w - panel_w), panel_w])

    HEADER_NAME_MIN = 16  # characters of the name kept beside the buttons

    def _fit_header(self) -> None:
        """Put the thread's buttons under the name when, beside it, the name would get
        fewer than :data:`HEADER_NAME_MIN` characters or the line under it would lose
        part of the location and phone number (200 % cut "(415) 555-0123" to "555-012")."""
        margins = self._header_row.contentsMargins()
        room = self.header.width() - margins.left() - margins.right()
        name = self.header_title.fontMetrics().averageCharWidth() * self.HEADER_NAME_MIN
        whole = self.header_sub.fontMetrics().horizontalAdvance(self._header_sub_whole) + 2
        needed = max(name, whole if self.header_sub.isVisibleTo(self.header) else 0)
        beside = (
            room >= needed + self._header_row.spacing() + self.thread_actions.sizeHint().width()
        )
        direction = QBoxLayout.Direction.LeftToRight if beside else QBoxLayout.Direction.TopToBottom
        if self._header_row.direction() != direction:
            self._header_row.setDirection(direction)
            self._header_row.setAlignment(
                self.thread_actions,
                Qt.AlignmentFlag(0) if beside else Qt.AlignmentFlag.AlignLeft,
            )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            not self.first_page_shown
            and event.type() == QEvent.Type.Paint
            and watched is self.list.viewport()
            and self.model.rowCount() > 0
        ):
            # This paint draws the rows; announce it once it is done.
            self.first_page_shown = True
            QTimer.singleShot(0, self, self.firstPageShown.emit)
        return super().eventFilter(watched, event)

    # ---- start and settings -----------------------------------------------------------------
    def start(self) -> None:
        """Load the first page of conversations and the settings (me, team, snippets).

        The page is asked for first, not after the settings: the list starts on "All",
        which does not depend on who "me" is, and storage work runs one query at a time
        (SQLite), so waiting would queue it behind everything else the window loads.
        When the settings land, ``set_me`` reloads only a list that depends on "me".
        """
        self.model.reload()
        self.tasks.spawn(self._inbox.settings(), what="load the settings", done=self._use_settings)
        self._load_locations()
        self._counts_timer.start()

    def _load_locations(self) -> None:
        load_locations(self.tasks, self._locations_api, self._use_locations)

    def _use_locations(self, locations: Locations) -> None:
        """Label rows with their location and offer the location filter only when the
        office has more than one; the composer names the number replies leave from."""
        several = locations.several
        changed = several != self.model.several
        self.locations = locations
        self.model.several = several
        self.delegate.show_locations = several
        self.filter_bar.show_locations(locations)
        if changed:
            self.model.reload()
        self.list.viewport().update()
        self._show_sender()
        self._update_context()

    def _thread_location(self) -> Location | None:
        """The open thread's location, as last loaded (None: not known yet)."""
        if self.locations is None:
            return None
        return self.locations.get(self.current_location_id)

    def _show_sender(self) -> None:
        location = self._thread_location()
        if location is None or self.current_contact_id is None or not location.phone_number:
            self.composer.set_sender("")
            return
        number = phones.format_for_display(location.phone_number)
        several = self.locations is not None and self.locations.several
        self.composer.set_sender(
            f"Texts leave from {location.name} · {number}"
            if several
            else f"Texts leave from {number}"
        )

    def _use_settings(self, settings: Any) -> None:
        self.me = settings["team.me"] or None
        self.region = settings["business.default_region"]
        self.members = list(settings["team.members"])
        self.composer.set_snippets(settings["snippets"])
        phone = settings["business.phone_number"]
        self._business = (
            settings["business.name"],
            phones.format_for_display(phone) if phone else "",
            settings["business.booking_link"],
        )
        self._update_context()
        self.panel.set_members(self.members)
        self.model.set_me(self.me)
        self._counts_timer.start()

    def _on_settings_changed(self, keys: list[str]) -> None:
        watched = ("team.me", "team.members", "snippets")
        if any(k in watched or k.startswith("business.") for k in keys):
            self.tasks.spawn(
                self._inbox.settings(), what="load the settings", done=self._use_settings
            )
        if names_locations(keys):
            self._load_locations()

    # ---- list: filters, search, selection -------------------------------------------
    def set_filter(self, key: str) -> None:
        self.filter_bar.check(key)
        if key != self.model.filter:
            self.model.set_view(filter=key)

    def set_tag(self, tag: str) -> None:
        """Show only threads carrying ``tag`` ("" for any), within the chosen filter."""
        if tag != self.model.tag:
            self.model.set_view(tag=tag)

    def set_location(self, location_id: int) -> None:
        """Show only threads at ``location_id`` (0: every location)."""
        wanted = location_id or None
        if wanted != self.model.location:
            self.model.set_view(location=wanted)
            self._counts_timer.start()

    def _load_counts(self) -> None:
        self.tasks.spawn(
            self._inbox.filter_counts(me=self.me, location_id=self.model.location),
            what="count the conversations",
            done=self.filter_bar.show_counts,
        )

    def _apply_search(self) -> None:
        text = self.search.text().strip()
        if text != self.model.search:
            self.model.set_view(search=text)

    def new_conversation(self) -> NewConversationDialog:
        """Ask for a number (and a name) to text (Ctrl+N); the thread then opens with the
        composer focused."""
        if self.new_dialog is not None and self.new_dialog.isVisible():
            self.new_dialog.raise_()
            self.new_dialog.activateWindow()
            return self.new_dialog
        dialog = NewConversationDialog(
            self._inbox,
            actor=lambda: self.actor,
            region=self.region,
            locations=self.locations,
            location_id=self.model.location,
            parent=self,
        )
        dialog.tasks.quiet = self.tasks.quiet
        dialog.started.connect(self.open_started)
        dialog.finished.connect(dialog.deleteLater)
        dialog.destroyed.connect(lambda *_: setattr(self, "new_dialog", None))
        self.new_dialog = dialog
        dialog.open()
        return dialog

    def open_started(self, contact_id: int, location_id: int | None = None) -> None:
        """Open a conversation just started (at ``location_id``: None, the first) and
        put the cursor in the composer."""
        self.open_contact(contact_id, location_id or FIRST)
        self.composer.edit.setFocus(Qt.FocusReason.OtherFocusReason)

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def _update_empty(self, *_args: object) -> None:
        empty = self.model.rowCount() == 0 and not self.model.loading
        if self.model.filter != "all" or self.model.search or self.model.tag:
            self.empty_list.setText("Nothing matches.\nTry another filter or search.")
        else:
            self.empty_list.setText("No conversations yet.\nMissed calls and texts appear here.")
        self.list_stack.setCurrentWidget(self.empty_list if empty else self.list)
        self._reselect()

    def _reselect(self) -> None:
        """Keep the open conversation selected as rows move."""
        if self.current_contact_id is None:
            return
        row = self.model.row_of(self.current_contact_id, self.current_location_id)
        if row >= 0 and self.list.currentIndex().row() != row:
            selection = self.list.selectionModel()
            selection.blockSignals(True)
            selection.setCurrentIndex(
                self.model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect
            )
            selection.blockSignals(False)
            self.list.viewport().update()

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self.model.removing:
            return  # a row leaving the list (closed under "Open") opens no neighbour
        row = current.data(RowRole)
        if isinstance(row, ConversationRow):
            self.open_contact(row.contact_id, row.location_id)

    def next_unread(self) -> bool:
        """Open the next conversation with unread messages (Ctrl+J); False if none."""
        rows = self.model.rows()
        start = (
            self.model.row_of(self.current_contact_id, self.current_location_id)
            if self.current_contact_id
            else -1
        )
        order = list(range(start + 1, len(rows))) + list(range(0, max(start, 0)))
        for i in order:
            if rows[i].unread:
                self.list.setCurrentIndex(self.model.index(i))
                return True
        return False

    # ---- the open conversation -------------------------------------------------------------
    def open_contact(self, contact_id: int, location_id: int | None = None) -> None:
        """Show ``contact_id``'s thread at ``location_id`` (None: the row the list shows
        for them, else the first location's) and their details, and mark it read."""
        if location_id is None:
            shown = self.model.row_of(contact_id)
            location_id = self.model.rows()[shown].location_id if shown >= 0 else None
        if contact_id != self.current_contact_id:
            self.panel.flush_notes()
            self._save_draft()
            self._draft_phone = None
            self.composer.show_error("")
            self.composer.set_text("")
            self.composer.clear_attachment()  # a photo is for the thread it was attached in
            self._draft_timer.stop()
            row = self.model.row_of(contact_id)
            if row >= 0:
                self._restore_draft(self.model.rows()[row].phone)
        self.current_contact_id = contact_id
        self.current_location_id = location_id
        self._show_sender()
        self.collisions.show_contact(contact_id)
        self._contact_generation += 1
        self.right.setCurrentIndex(1)
        self._reselect()
        self._load_thread(contact_id)
        self._load_contact(contact_id)
        self._mark_read(contact_id)
        self._load_state(contact_id)
        self.contactOpened.emit(contact_id)

    def _is_open(self, contact_id: int, location_id: int | None) -> bool:
        """Whether the thread of ``contact_id`` at ``location_id`` is still the open one."""
        return contact_id == self.current_contact_id and location_id == self.current_location_id

    def _load_state(self, contact_id: int) -> None:
        where = self.current_location_id

        def done(row: ConversationRow) -> None:
            if self._is_open(contact_id, where):
                self.thread_actions.show_row(row)

        self.tasks.spawn(
            self._inbox.conversation(contact_id, location_id=where),
            what="load the conversation",
            done=done,
        )

    def _mark_read(self, contact_id: int) -> None:
        where = self.current_location_id
        row = self.model.row_of(contact_id, where)
        unread = self.model.rows()[row].unread if row >= 0 else 1
        if unread:
            self.tasks.spawn(
                self._inbox.mark_read(contact_id, location_id=where), what="mark the thread read"
            )

    def _load_thread(self, contact_id: int) -> None:
        where = self.current_location_id

        def done(items: list[Any]) -> None:
            if self._is_open(contact_id, where):
                self.thread_view.show_items(contact_id, items)
                waiting = [
                    i.id
                    for i in items
                    if isinstance(i, CallItem) and i.textback_state in (Shown.SCHEDULED, Shown.HELD)
                ]
                self.panel.set_pending_textback(waiting[-1] if waiting else None)

        self.tasks.spawn(
            self._inbox.thread(contact_id, location_id=where), what="load the thread", done=done
        )

    def _load_contact(self, contact_id: int) -> None:
        def done(contact: ContactDetail) -> None:
            if contact_id == self.current_contact_id:
                self._show_contact(contact)

        def failed(exc: BaseException) -> bool:
            if isinstance(exc, NotFound) and contact_id == self.current_contact_id:
                self.close_conversation()
                return True
            return False

        self.tasks.spawn(
            self._inbox.contact(contact_id), what="load the contact", done=done, failed=failed
        )

    def _show_contact(self, contact: ContactDetail) -> None:
        if contact.id != self.current_contact_id:
            return
        self.panel.show_contact(contact)
        if self._draft_phone != contact.phone:
            self._restore_draft(contact.phone)
        self._update_context()
        self.header_title.setText(contact.name or contact.display_phone)
        location = self._thread_location()
        head: list[str] = []
        if location is not None and self.locations is not None and self.locations.several:
            head.append(location.name)  # first: which of the office's numbers this thread is at
        if contact.name:
            head.append(contact.display_phone)
        # What must stay whole beside the buttons: all but the assignment at its end.
        self._header_sub_whole = sub = " · ".join(head)
        if contact.assigned_to:
            sub = (
                f"{sub} · assigned to {contact.assigned_to}"
                if sub
                else f"Assigned to {contact.assigned_to}"
            )
        self.header_sub.setText(sub)
        self.header_sub.setVisible(bool(sub))
        if contact.opted_out:
            self.composer.set_blocked(
                f"{contact.name or contact.display_phone} opted out (texted STOP), so replies "
                "are off. They can text START to opt back in."
            )
        elif location is not None and location.id in contact.blocked_at:
            self.composer.set_blocked(errors.blocked_number(location.name, location.phone_number))
        else:
            self.composer.set_blocked("")

    def close_conversation(self) -> None:
        self.collisions.show_contact(None)
        self._save_draft()
        self._draft_phone = None
        self.composer.clear_attachment()
        self.current_contact_id = None
        self.current_location_id = None
        self._show_sender()
        self.thread_view.thread_model.clear()
        self.panel.show_contact(None)
        self.thread_actions.show_row(None)
        self.list.selectionModel().clearSelection()
        self.right.setCurrentIndex(0)

    def ask_delete_contact(self) -> None:
        """ "Delete contact…" in the contact panel: confirm, then delete (see
        :class:`~ui.contact_delete.ContactDeletion`)."""
        contact = self.panel.contact
        if contact is not None:
            self.deletion.ask(contact.id, contact.name or contact.display_phone)

    def contact_deleted(self, contact_id: int) -> None:
        """The contact is gone (here or on another page): drop its row, and close its
        thread with the draft and unsaved notes to them."""
        row = self.model.row_of(contact_id)
        phone = self.model.rows()[row].phone if row >= 0 else None
        self.model.remove_contact(contact_id)
        if contact_id == self.current_contact_id:
            phone = self._draft_phone or phone
            self.panel.discard_notes()
            self._draft_phone = None
            self.composer.set_text("")
            self.close_conversation()
        if phone is not None:
            self.drafts.put(phone, "")
        self._counts_timer.start()

    def shutdown(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        for timer in (self._counts_timer, self._search_timer, self._draft_timer):
            # A debounce firing after this would start work on a dead page (or after the
            # loop is gone). Disconnected, not only stopped: a change still queued for the
            # page's slots can start a timer again.
            timer.stop()
            timer.timeout.disconnect()
        self.panel.flush_notes()
        self._save_draft()
        self.drafts.sync()
        self.tasks.cancel_all()


class _Watcher(QObject):
    """Calls ``react()`` when a watched object gets one of ``kinds`` of event."""

    def __init__(self, parent: QObject, react: Callable[[], None], *kinds: QEvent.Type) -> None:
        super().__init__(parent)
        self._react = react
        self._kinds = kinds

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in self._kinds:
            self._react()
        return False


def _hline(parent: QWidget) -> QFrame:
    line = QFrame(parent)
    line.setFrameShape(QFrame.Shape.HLine)
    line.setFrameShadow(QFrame.Shadow.Plain)
    line.setStyleSheet("color: palette(midlight);")
    return line
