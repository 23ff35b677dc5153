"""The conversation list's view: a one-column table whose rows all have one height."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)


class ConversationList(QTableView):
    """The conversation list: one column, no headers or grid, rows of one height.

    A table rather than a QListView because QListView lays out every row again whenever
    rows are inserted, asking the (Python) model for each row's index: with 50,000
    conversations loaded, each 200-row page then cost ~100,000 calls into Python and
    blocked the loop for 60 ms and more. A table's rows are header sections of a fixed
    height, so inserting a page costs a handful of calls whatever the length.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setCornerButtonEnabled(False)
        self.setTabKeyNavigation(False)  # Tab leaves the list, as from a list view
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.horizontalHeader().hide()
        self.horizontalHeader().setStretchLastSection(True)
        rows = self.verticalHeader()
        rows.hide()
        rows.setMinimumSectionSize(1)
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)

    def setItemDelegate(self, delegate: Any) -> None:
        super().setItemDelegate(delegate)
        self._sync_row_height()

    def _sync_row_height(self) -> None:
        """Every row is as tall as the delegate says a row is (it depends on the font)."""
        option = QStyleOptionViewItem()
        self.initViewItemOption(option)
        height = self.itemDelegate().sizeHint(option, QModelIndex()).height()
        self.verticalHeader().setDefaultSectionSize(max(1, height))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._sync_row_height()
