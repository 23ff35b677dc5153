"""The conversation list: a thin Qt adapter over :class:`ConversationRow` snapshots.

Rows are loaded lazily in pages of :data:`PAGE` through ``InboxApi.conversations`` by the
shared keyset pager (:class:`~ui.widgets.paged_model.PagedSnapshotModel`: the view asks
through ``canFetchMore``/``fetchMore``; each page starts after the last row of the one
before, by ``last_at`` and id). Rows are threads: a contact has one at each location they
called or texted (keyed by conversation id). A change announced by the event bridge
refreshes only that contact's rows (``InboxApi.conversation``, per location): ``dataChanged``
in place, or a move to the top when it has new activity, or an insert when it is new and
matches the current filter.
A row that moved up past the cursor is brought by that refresh, not by a later page, and
a later page never repeats a row shown.
"""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, Qt

from services.api import InboxApi, NotFound
from services.cursors import ConversationsAfter
from services.snapshots import ConversationRow
from ui.widgets.paged_model import PagedSnapshotModel
from ui.widgets.tasks import TaskRunner

PAGE = 200
FILTERS: tuple[tuple[str, str], ...] = (
    ("all", "All"),
    ("open", "Open"),
    ("unread", "Unread"),
    ("assigned_to_me", "Mine"),
    ("unassigned", "Unassigned"),
    ("pending_callback", "Callback"),
    ("snoozed", "Snoozed"),
    ("closed", "Closed"),
    ("opted_out", "Opted out"),
)
PENDING_CALLBACK = "pending callback"
STATE_FILTERS = ("open", "closed", "snoozed")

RowRole = Qt.ItemDataRole.UserRole + 1
ContactIdRole = Qt.ItemDataRole.UserRole + 2
UnreadRole = Qt.ItemDataRole.UserRole + 3

Index = QModelIndex | QPersistentModelIndex

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _key(row: ConversationRow) -> datetime:
    return row.last_at or _EPOCH


def matches(
    row: ConversationRow,
    filter: str,
    search: str,
    me: str | None,
    tag: str = "",
    location: int | None = None,
) -> bool:
    """Whether a row that was not in the list belongs there under the current view.

    (Message text cannot be searched here: a new row joins a searched list only when its
    name or number matches; the next full reload catches the rest.)
    """
    if filter == "unread" and row.unread <= 0:
        return False
    if filter == "pending_callback" and PENDING_CALLBACK not in row.tags:
        return False
    if filter == "assigned_to_me" and (not me or row.assigned_to != me):
        return False
    if filter == "opted_out" and not row.opted_out:
        return False
    if filter in STATE_FILTERS and row.state != filter:
        return False
    if filter == "unassigned" and row.assigned_to:
        return False
    if tag and tag not in row.tags:
        return False
    if location is not None and row.location_id != location:
        return False
    text = search.strip().lower()
    if text:
        digits = "".join(ch for ch in text if ch.isdigit())
        hay = f"{row.name or ''} {row.preview}".lower()
        if text not in hay and not (len(digits) >= 3 and digits in row.phone):
            return False
    return True


class ConversationListModel(PagedSnapshotModel[ConversationRow, ConversationsAfter]):
    """Threads under the current filter, search and tag, newest activity first; one
    column (the delegate paints the row); ``RowRole`` gives the snapshot."""

    COLUMNS = ("Conversation",)
    PAGE_SIZE = PAGE
    FETCH_WHAT = "load the conversations"

    def __init__(
        self, inbox: InboxApi, *, runner: TaskRunner | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent, more=True, runner=runner or TaskRunner(None))
        self._inbox = inbox
        self._filter = "all"
        self._search = ""
        self._me: str | None = None
        self._tag = ""
        self._location: int | None = None
        # More than one location: rows read each of a contact's threads, and the
        # delegate labels them (the page sets it from the locations it knows).
        self.several = False
        self.removing = False
        self._refreshing: dict[int, bool] = {}  # contact_id -> asked again while in flight
        self._newer: dict[int, ConversationRow] = {}  # re-read while a page was loading

    # ---- the pager's hooks ------------------------------------------------------------
    def fetch_page(
        self, after: ConversationsAfter | None, limit: int
    ) -> Coroutine[Any, Any, list[ConversationRow]]:
        return self._inbox.conversations(
            filter=self._filter,
            search=self._search,
            me=self._me,
            tag=self._tag or None,
            after=after,
            limit=limit,
            location_id=self._location,
        )

    def cursor_of(self, item: ConversationRow) -> ConversationsAfter:
        return ConversationsAfter.of(item)

    def key_of(self, item: ConversationRow) -> int:
        return item.conversation_id

    def take_page(self, rows: list[ConversationRow]) -> list[ConversationRow]:
        # A row re-read after a change committed while this page was loading is newer
        # than the page's snapshot: it wins (else the row would stay stale until the
        # contact's next change).
        newer, self._newer = self._newer, {}
        rows = [
            r
            for r in (newer.get(r.conversation_id, r) for r in rows)
            if r.conversation_id not in newer or self._matches(r)
        ]
        # Newest activity first (a newer copy may have moved up within its page).
        rows.sort(key=_key, reverse=True)
        return rows

    def appended(self) -> None:
        self.loaded.emit()

    def index(
        self,
        row: int,
        column: int = 0,
        parent: Index = QModelIndex(),  # noqa: B008
    ) -> QModelIndex:
        """As a list model's: the column may be left out (there is one)."""
        return super().index(row, column, parent)

    def cell(self, row: ConversationRow, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return row.title
        if role == RowRole:
            return row
        if role == ContactIdRole:
            return row.contact_id
        if role == UnreadRole:
            return row.unread
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{row.title}\n{row.display_phone}" if row.name else row.display_phone
            if self.several and row.location_name:
                tip += f"\nTexts {row.location_name}"
            return tip
        if role == Qt.ItemDataRole.AccessibleTextRole:
            parts = [row.title]
            if self.several and row.location_name:
                parts.append(f"at {row.location_name}")
            if row.unread:
                parts.append(f"{row.unread} unread")
            if row.after_hours:
                parts.append("after hours")
            if row.tags:
                parts.append("tags " + ", ".join(row.tags))
            parts.append(row.preview)
            return ", ".join(parts)
        return None

    # ---- what is shown ------------------------------------------------------------------
    @property
    def filter(self) -> str:
        return self._filter

    @property
    def search(self) -> str:
        return self._search

    @property
    def tag(self) -> str:
        return self._tag

    @property
    def location(self) -> int | None:
        return self._location

    def rows(self) -> list[ConversationRow]:
        return list(self._rows)

    def row_of(self, contact_id: int, location_id: int | None = None) -> int:
        """The row index showing ``contact_id``'s thread at ``location_id`` (None: their
        first row shown), or -1."""
        for i, row in enumerate(self._rows):
            if row.contact_id == contact_id and location_id in (None, row.location_id):
                return i
        return -1

    def set_view(
        self,
        *,
        filter: str | None = None,
        search: str | None = None,
        me: str | None = "",
        tag: str | None = None,
        location: int | str | None = "",
    ) -> None:
        """Change the filter, search text, tag, location (None: all) or "me"; reloads
        from the first page."""
        if tag is not None:
            self._tag = tag
        if location != "":
            self._location = location if isinstance(location, int) else None
        if filter is not None:
            self._filter = filter
        if search is not None:
            self._search = search
        if me != "":
            self._me = me
        self.reload()

    def set_me(self, me: str | None) -> None:
        if me == self._me:
            return
        self._me = me
        if self._filter == "assigned_to_me":
            self.reload()

    def reload(self) -> None:
        """Show the current view again from its first page."""
        self._newer = {}
        self.restart()

    def _matches(self, row: ConversationRow) -> bool:
        return matches(row, self._filter, self._search, self._me, self._tag, self._location)

    # ---- live updates -------------------------------------------------------------------
    def refresh_contact(self, contact_id: int) -> None:
        """Re-read one contact's rows (after the bridge said it changed)."""
        if contact_id in self._refreshing:
            self._refreshing[contact_id] = True  # once more when the running one lands
            return
        self._refreshing[contact_id] = False
        generation = self._generation

        def done(rows: list[ConversationRow]) -> None:
            if generation == self._generation:
                for row in rows:
                    self.apply(row)

        def always() -> None:
            again = self._refreshing.pop(contact_id, False)
            if again:
                self.refresh_contact(contact_id)

        def failed(exc: BaseException) -> bool:
            if not isinstance(exc, NotFound):
                return False
            self.remove_contact(contact_id)  # deleted (here or on another PC)
            return True

        self.tasks.spawn(
            self._threads_of(contact_id),
            what="refresh a conversation",
            done=done,
            failed=failed,
            always=always,
        )

    async def _threads_of(self, contact_id: int) -> list[ConversationRow]:
        """The contact's rows: its one thread, or (several locations) each of theirs."""
        if not self.several:
            return [await self._inbox.conversation(contact_id)]
        contact = await self._inbox.contact(contact_id)
        return [
            await self._inbox.conversation(contact_id, location_id=location)
            for location in contact.location_ids or (None,)
        ]

    def apply(self, row: ConversationRow) -> None:
        """Put a fresh snapshot in place: update, move up on new activity, or insert."""
        at = self._row_of(row.conversation_id)
        if at < 0:
            if self.loading:
                self._newer[row.conversation_id] = row  # the loading page may hold an older copy
            if row.last_at is None or not self._matches(row):
                return
            target = self._position_in(self._rows, row)
            if target == len(self._rows) and self._more:
                return  # belongs further down than what is loaded: a later page brings it
            self._insert_row(target, row)
            self.loaded.emit()
            return
        if self._filter in STATE_FILTERS and row.state != self._filter:
            # Closed or snoozed under "Open" (or reopened under "Closed"): it leaves.
            self._remove_at(at)
            return
        old = self._rows[at]
        if _key(row) > _key(old):
            others = self._rows[:at] + self._rows[at + 1 :]
            self._move_row(at, self._position_in(others, row), row)
        else:
            self._set_row(at, row)
        self.loaded.emit()

    def remove_contact(self, contact_id: int) -> None:
        """Drop every row of ``contact_id`` (deleted, here or on another PC)."""
        while (at := self.row_of(contact_id)) >= 0:
            self._remove_at(at)

    def _remove_at(self, at: int) -> None:
        self.removing = True  # the view moves its current row meanwhile: not a user's pick
        try:
            self._remove_row(at)
        finally:
            self.removing = False

    @staticmethod
    def _position_in(rows: list[ConversationRow], row: ConversationRow) -> int:
        key = _key(row)
        for i, other in enumerate(rows):
            if _key(other) <= key:
                return i
        return len(rows)
