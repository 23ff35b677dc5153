"""The inbox's filters: one chip per filter with its count, a tag picker and, when the
office has more than one location, a location picker.

Renders :class:`~services.snapshots.FilterCounts` snapshots; it never queries. Emits
``filterChosen(key)``, ``tagChosen(tag or "")`` and ``locationChosen(id, 0: all)``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from services import phones
from services.locations import Locations
from services.snapshots import FilterCounts
from ui.inbox.conversation_model import FILTERS
from ui.widgets.tag_chips import FlowLayout

ANY_TAG = "Any tag"
ALL_LOCATIONS = "All locations"


class FilterBar(QWidget):
    filterChosen = Signal(str)
    tagChosen = Signal(str)
    locationChosen = Signal(int)

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
        self.location = QComboBox(self)
        self.location.setObjectName("locationFilter")
        self.location.setAccessibleName("Show conversations at this location")
        self.location.addItem(ALL_LOCATIONS, 0)
        self.location.activated.connect(
            lambda _i: self.locationChosen.emit(int(self.location.currentData() or 0))
        )
        self.location.hide()
        layout.addWidget(chips)
        pickers = QHBoxLayout()
        pickers.setSpacing(6)
        pickers.addWidget(self.tag, 1)
        pickers.addWidget(self.location, 1)
        layout.addLayout(pickers)

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

    def show_locations(self, locations: Locations) -> None:
        """Offer each location (only when there is more than one), keeping the choice
        while it still exists."""
        chosen = int(self.location.currentData() or 0)
        self.location.blockSignals(True)
        self.location.clear()
        self.location.addItem(ALL_LOCATIONS, 0)
        for loc in locations:
            number = phones.format_for_display(loc.phone_number) if loc.phone_number else ""
            self.location.addItem(loc.name, loc.id)
            self.location.setItemData(
                self.location.count() - 1, number, Qt.ItemDataRole.ToolTipRole
            )
        index = self.location.findData(chosen)
        self.location.setCurrentIndex(max(index, 0))
        self.location.blockSignals(False)
        self.location.setVisible(locations.several)
        if index < 0 and chosen:
            self.locationChosen.emit(0)  # the chosen one was removed: show them all
