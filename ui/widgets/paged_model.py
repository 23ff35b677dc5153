"""A table model over frozen snapshots, fetched a page at a time.

:class:`PagedSnapshotModel` holds the mechanics the Contacts and Missed calls tables share:
``rowCount``/``columnCount``/``headerData`` from :attr:`~PagedSnapshotModel.COLUMNS`, a
bounds-checked ``data()`` that hands the snapshot of the row to :meth:`cell`, lazy paging
through ``canFetchMore``/``fetchMore`` (a page that arrives after a newer load is dropped;
rows already shown are not added twice), replacing the rows wholesale, and replacing one
row in place with ``dataChanged``. A subclass names its columns and roles in
:meth:`cell` and says how to read a page in :meth:`fetch_page`.
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from typing import Any, Generic, Protocol, TypeVar

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


class Snapshot(Protocol):
    @property
    def id(self) -> int: ...


S = TypeVar("S", bound=Snapshot)


class PagedSnapshotModel(QAbstractTableModel, Generic[S]):
    """Rows of snapshots ``S`` (each with an ``id``), ``PAGE_SIZE`` at a time."""

    COLUMNS: tuple[str, ...] = ()
    PAGE_SIZE = 100
    #: What ``fetchMore`` does, in the words of a failure report ("load more contacts").
    FETCH_WHAT = "load more rows"

    loaded = Signal()

    def __init__(self, parent: QObject | None = None, *, more: bool = False) -> None:
        super().__init__(parent)
        self._rows: list[S] = []
        self._more = more
        self._fetching = False
        self._generation = 0
        self.tasks = TaskRunner(None, quiet=True)

    # ---- to implement --------------------------------------------------------------
    def fetch_page(self, offset: int, limit: int) -> Coroutine[Any, Any, Sequence[S]]:
        """The coroutine that reads ``limit`` rows from ``offset`` (for ``fetchMore``)."""
        raise NotImplementedError

    def cell(self, item: S, column: int, role: int) -> Any:
        """What ``data()`` answers for ``item`` at an in-range ``column``."""
        return None

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
        self._fetching = True
        generation = self._generation
        self.tasks.spawn(
            self.fetch_page(len(self._rows), self.PAGE_SIZE),
            what=self.FETCH_WHAT,
            done=lambda rows: self._append(rows, generation),
            always=self._fetch_done,
        )

    def _fetch_done(self) -> None:
        self._fetching = False

    def _append(self, rows: Sequence[S], generation: int) -> None:
        if generation != self._generation:
            return
        known = {item.id for item in self._rows}
        fresh = [item for item in rows if item.id not in known]
        self._more = len(rows) == self.PAGE_SIZE
        if fresh:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
            self._rows.extend(fresh)
            self.endInsertRows()
        self.appended()

    # ---- rows ----------------------------------------------------------------------
    def _reset_rows(self, rows: Sequence[S]) -> None:
        """Show ``rows`` (a first page) in place of every row."""
        self.beginResetModel()
        self._rows = list(rows)
        self._more = len(rows) == self.PAGE_SIZE
        self.endResetModel()

    def _row_of(self, item_id: int) -> int:
        return next((i for i, item in enumerate(self._rows) if item.id == item_id), -1)

    def _set_row(self, row: int, item: S) -> None:
        """Replace the snapshot at ``row`` and repaint the whole row."""
        self._rows[row] = item
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.COLUMNS) - 1))

    def remove(self, item_id: int) -> bool:
        """Drop the row of ``item_id`` (deleted); False when it is not shown."""
        row = self._row_of(item_id)
        if row < 0:
            return False
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._rows[row]
        self.endRemoveRows()
        return True

    def item_at(self, row: int) -> S | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def shutdown(self) -> None:
        self.tasks.cancel_all()
