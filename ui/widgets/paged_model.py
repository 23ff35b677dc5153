"""A table model over frozen snapshots, fetched a page at a time with keyset cursors.

:class:`PagedSnapshotModel` holds the mechanics the Inbox's conversation list, Contacts and
Missed calls share: ``rowCount``/``columnCount``/``headerData`` from
:attr:`~PagedSnapshotModel.COLUMNS`, a bounds-checked ``data()`` that hands the snapshot of
the row to :meth:`cell`, lazy paging through ``canFetchMore``/``fetchMore``, replacing the
rows wholesale, and changing one row in place, inserting, moving and removing one.

Paging is by keyset: the next page is asked for strictly after the cursor of the last row
of the previous *page* (:meth:`cursor_of`, the row's sort key and id), not after a count of
rows. Rows that arrive or move to the top meanwhile neither shift the next page (an offset
would repeat its first rows) nor make it dearer (an offset walks every row before it, so a
full scroll is quadratic). A page that arrives after a newer load is dropped; a row already
shown (say, inserted live) is not added twice. Rows are found by :meth:`key_of` through a
dict, so a change to one of 50,000 rows does not scan them.

A subclass names its columns and roles in :meth:`cell`, says how to read a page in
:meth:`fetch_page` and what a row's cursor is in :meth:`cursor_of`.
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from typing import Any, Generic, TypeVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from ui.widgets.tasks import TaskRunner

Index = QModelIndex | QPersistentModelIndex


S = TypeVar("S")
C = TypeVar("C")


class PagedSnapshotModel(QAbstractTableModel, Generic[S, C]):
    """Rows of snapshots ``S``, ``PAGE_SIZE`` at a time, each page after a cursor ``C``."""

    COLUMNS: tuple[str, ...] = ()
    PAGE_SIZE = 100
    #: What ``fetchMore`` does, in the words of a failure report ("load more contacts").
    FETCH_WHAT = "load more rows"

    loaded = Signal()  # a page (or a changed row) was taken in
    loadingChanged = Signal(bool)  # a page is (no longer) on its way

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        more: bool = False,
        runner: TaskRunner | None = None,
    ) -> None:
        super().__init__(parent)
        self._rows: list[S] = []
        self._where: dict[int, int] = {}  # key_of(row) -> its row number
        self._more = more
        self._cursor: C | None = None  # where the next page starts (None: the first)
        self._fetching = False
        self._generation = 0
        self.tasks = runner or TaskRunner(None, quiet=True)

    # ---- to implement --------------------------------------------------------------
    def fetch_page(self, after: C | None, limit: int) -> Coroutine[Any, Any, Sequence[S]]:
        """The coroutine that reads ``limit`` rows strictly after ``after`` (None: from
        the first), in the list's order."""
        raise NotImplementedError

    def cursor_of(self, item: S) -> C:
        """The cursor a page ending on ``item`` continues from (its sort key and id)."""
        raise NotImplementedError

    def key_of(self, item: S) -> int:
        """What identifies a row across snapshots (the snapshot's ``id`` by default)."""
        return int(item.id)  # type: ignore[attr-defined]

    def cell(self, item: S, column: int, role: int) -> Any:
        """What ``data()`` answers for ``item`` at an in-range ``column``."""
        return None

    def take_page(self, rows: list[S]) -> list[S]:
        """The rows of a fetched page to append (a subclass may swap in newer snapshots
        or drop rows); the page's cursor was already taken from the page as read."""
        return rows

    def appended(self) -> None:
        """Called after a fetched page was taken in (even when it added no row)."""

    # ---- Qt model interface --------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self.COLUMNS)
        ):
            return self.COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        column = index.column()
        if not 0 <= column < len(self.COLUMNS):
            return None
        return self.cell(self._rows[index.row()], column, role)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and self._more and not self._fetching

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        self._set_fetching(True)
        generation = self._generation
        self.tasks.spawn(
            self.fetch_page(self._cursor, self.PAGE_SIZE),
            what=self.FETCH_WHAT,
            done=lambda rows: self._append(list(rows), generation),
            always=lambda: self._fetch_done(generation),
        )

    @property
    def loading(self) -> bool:
        """Whether a page is on its way."""
        return self._fetching

    def _set_fetching(self, value: bool) -> None:
        if value != self._fetching:
            self._fetching = value
            self.loadingChanged.emit(value)

    def _fetch_done(self, generation: int) -> None:
        if generation == self._generation:
            self._set_fetching(False)

    def _append(self, rows: list[S], generation: int) -> None:
        if generation != self._generation:
            return
        self._more = len(rows) >= self.PAGE_SIZE
        if rows:
            self._cursor = self.cursor_of(rows[-1])
        fresh = [item for item in self.take_page(rows) if self.key_of(item) not in self._where]
        if fresh:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
            self._rows.extend(fresh)
            # Appended: index only the new rows (re-indexing 50,000 would stall).
            for i, item in enumerate(fresh, start=first):
                self._where[self.key_of(item)] = i
            self.endInsertRows()
        self.appended()

    # ---- rows ----------------------------------------------------------------------
    def restart(self) -> None:
        """Drop every row (and any page on its way) and fetch the first page."""
        self._generation += 1
        self.beginResetModel()
        self._rows = []
        self._where = {}
        self._cursor = None
        self._more = True
        was_fetching, self._fetching = self._fetching, False
        self.endResetModel()
        self.fetchMore()
        if was_fetching and not self._fetching:
            self.loadingChanged.emit(False)

    def _reset_rows(self, rows: Sequence[S]) -> None:
        """Show ``rows`` (a first page, read by the caller) in place of every row."""
        self._generation += 1  # a page on its way continues an older list
        self.beginResetModel()
        self._rows = list(rows)
        self._reindex()
        self._more = len(rows) >= self.PAGE_SIZE
        self._cursor = self.cursor_of(self._rows[-1]) if self._rows else None
        self._set_fetching(False)
        self.endResetModel()

    def _reindex(self) -> None:
        self._where = {self.key_of(item): i for i, item in enumerate(self._rows)}

    def _row_of(self, key: int) -> int:
        """The row number of the row whose :meth:`key_of` is ``key``, or -1."""
        return self._where.get(key, -1)

    def _set_row(self, row: int, item: S) -> None:
        """Replace the snapshot at ``row`` and repaint the whole row."""
        self._rows[row] = item
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.COLUMNS) - 1))

    def _insert_row(self, row: int, item: S) -> None:
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.insert(row, item)
        self._reindex()
        self.endInsertRows()

    def _move_row(self, at: int, target: int, item: S) -> None:
        """Move the row at ``at`` so that it ends up at ``target``, showing ``item``."""
        if target == at:
            self._set_row(at, item)
            return
        # beginMoveRows' destination counts positions before the move.
        dest = target if target < at else target + 1
        self.beginMoveRows(QModelIndex(), at, at, QModelIndex(), dest)
        self._rows.pop(at)
        self._rows.insert(target, item)
        self._reindex()
        self.endMoveRows()
        self._set_row(target, item)

    def _remove_row(self, row: int) -> None:
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._rows[row]
        self._reindex()
        self.endRemoveRows()

    def remove(self, item_id: int) -> bool:
        """Drop the row of ``item_id`` (deleted); False when it is not shown."""
        row = self._row_of(item_id)
        if row < 0:
            return False
        self._remove_row(row)
        return True

    def item_at(self, row: int) -> S | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def shutdown(self) -> None:
        self.tasks.cancel_all()
