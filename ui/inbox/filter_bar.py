"""The inbox's filters: one chip per filter with its count, and a tag picker.

Renders :class:`~services.snapshots.FilterCounts` snapshots; it never queries. Emits
``filterChosen(key)`` and ``tagChosen(tag or "")``.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QButtonGroup, QComboBox, QToolButton, QVBoxLayout, QWidget

from services.snapshots import FilterCounts
from ui.inbox.conversation_model import FILTERS
from ui.widgets.tag_chips import FlowLayout

ANY_TAG = "Any tag"


class FilterBar(QWidget):
    filterChosen = Signal(str)
    tagChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        chips = QWidget(self)
        flow = FlowLayout(chips, spacing=6)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QToolButton] = {}
        self._titles = dict(FILTERS)
        for key, title in FILTERS:
            button = QToolButton(chips)
            button.setObjectName("filterButton")
            button.setText(title)
            button.setCheckable(True)
            button.setAccessibleName(f"Show {title.lower()} conversations")
            self.group.addButton(button)
            flow.addWidget(button)
            self.buttons[key] = button
            button.clicked.connect(lambda _=False, k=key: self.filterChosen.emit(k))
        self.buttons["all"].setChecked(True)
        self.tag = QComboBox(self)
        self.tag.setObjectName("tagFilter")
        self.tag.setAccessibleName("Show conversations with this tag")
        self.tag.addItem(ANY_TAG, "")
        self.tag.activated.connect(lambda _i: self.tagChosen.emit(self.tag.currentData() or ""))
        layout.addWidget(chips)
        layout.addWidget(self.tag)

    def check(self, key: str) -> None:
        self.buttons[key].setChecked(True)

    def show_counts(self, counts: FilterCounts) -> None:
        """Each chip says how many threads it holds ("Open 12"); the tag list, each tag's."""
        for key, button in self.buttons.items():
            n = counts.filters.get(key)
            title = self._titles[key]
            button.setText(f"{title} {n:,}" if n else title)
            button.setAccessibleName(f"Show {title.lower()} conversations ({n or 0})")
        chosen = self.tag.currentData() or ""
        self.tag.blockSignals(True)
        self.tag.clear()
        self.tag.addItem(ANY_TAG, "")
        for name, n in counts.tags.items():
            self.tag.addItem(f"{name} ({n:,})", name)
        index = self.tag.findData(chosen)
        if index < 0 and chosen:
            self.tag.addItem(f"{chosen} (0)", chosen)  # keep the chosen tag visible
            index = self.tag.count() - 1
        self.tag.setCurrentIndex(max(index, 0))
        self.tag.blockSignals(False)
