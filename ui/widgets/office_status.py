"""The status bar's office corner: who holds the number, and who is at this PC.

A thin view: the composition root feeds it :meth:`show_holder` (from the office's
``OfficeChanged`` events) and :meth:`show_people` (from the settings), and connects
``takeOverRequested`` and ``personChosen`` to the services.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget


class OfficeStatus(QWidget):
    takeOverRequested = Signal()
    personChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.setSpacing(6)
        self.holder = QLabel(self)
        self.holder.setAccessibleName("Number holder")
        self.take_over = QPushButton("Take over the number", self)
        self.take_over.setToolTip("Ask the PC holding the number to hand it to this PC")
        self.take_over.clicked.connect(self._ask)
        self.take_over.hide()
        self.person = QComboBox(self)
        self.person.setAccessibleName("At this PC")
        self.person.setToolTip("Who is at this PC: replies and assignments carry this name")
        self.person.activated.connect(lambda _i: self.personChosen.emit(self.person.currentText()))
        layout.addWidget(self.holder)
        layout.addWidget(self.take_over)
        layout.addWidget(QLabel("At this PC:", self))
        layout.addWidget(self.person)

    def _ask(self) -> None:
        self.take_over.setEnabled(False)
        self.take_over.setText("Asking…")
        self.takeOverRequested.emit()

    def show_holder(self, holder: str | None, holding: bool, shared: bool) -> None:
        """Say who holds the number; offer the take-over to a desk client of an office."""
        if holding:
            text = "This PC holds the number" if shared else ""
        elif holder:
            text = f"Number held by {holder}"
        else:
            text = "Nobody holds the number: taking it over…"
        self.holder.setText(text)
        self.holder.setVisible(bool(text))
        self.take_over.setVisible(shared and not holding and bool(holder))
        self.take_over.setEnabled(True)
        self.take_over.setText("Take over the number")

    def show_people(self, members: list[str], me: str) -> None:
        self.person.blockSignals(True)
        self.person.clear()
        names = list(members)
        if me and me not in names:
            names.insert(0, me)
        self.person.addItems(names or [""])
        self.person.setCurrentText(me)
        self.person.blockSignals(False)
        self.person.setEnabled(bool(names))
