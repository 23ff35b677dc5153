"""The contact beside the thread: name (edit in place), number, tags, notes, assignment,
"Mark booked" with the job's value, "Callback done"."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from services.snapshots import ContactDetail
from ui import theme
from ui.widgets.tag_chips import TagChips
from ui.widgets.time_format import money

PENDING_CALLBACK = "pending callback"
BOOKED = "booked"
UNASSIGNED = "Nobody"


class BookedDialog(QDialog):
    """Asks for the job's value (optional); :attr:`cents` after it is accepted."""

    def __init__(self, name: str, current_cents: int | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Mark booked")
        self.value = QDoubleSpinBox(self)
        self.value.setRange(0, 10_000_000)
        self.value.setDecimals(2)
        self.value.setPrefix("$ ")
        self.value.setSingleStep(50)
        self.value.setAccessibleName("Job value in dollars")
        self.value.setSpecialValueText("Not known")
        if current_cents:
            self.value.setValue(current_cents / 100)
        intro = QLabel(f"Booked a job with {name}. What is it worth? (Leave at 0 if not known.)")
        intro.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        if ok is not None:
            ok.setText("Mark booked")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.value)
        layout.addWidget(buttons)

    @property
    def cents(self) -> int | None:
        value = round(self.value.value() * 100)
        return value or None


class ContactPanel(QFrame):
    """Shows one :class:`ContactDetail`; emits what the user asked for (the page calls the
    service and feeds the fresh detail back with :meth:`show_contact`)."""

    renameRequested = Signal(str)
    notesChanged = Signal(str)
    addTagRequested = Signal(str)
    removeTagRequested = Signal(str)
    assignRequested = Signal(object)  # str | None
    bookedRequested = Signal(object)  # cents: int | None
    callbackDoneRequested = Signal()
    cancelTextbackRequested = Signal(int)  # call id
    callBackRequested = Signal()  # ring the desk's phone, then this contact (Twilio)
    deleteRequested = Signal()  # "Delete contact…": the page asks first

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("contactPanel")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.contact: ContactDetail | None = None

        self.name = QLineEdit(self)
        self.name.setPlaceholderText("Add a name")
        self.name.setAccessibleName("Contact name")
        self.name.setFont(theme.bold(self.font()))
        self.phone = QLabel(self)
        self.phone.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.phone.setAccessibleName("Phone number")
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Contact status")

        self.tags = TagChips(self)
        self.new_tag = QLineEdit(self)
        self.new_tag.setPlaceholderText("Add a tag and press Enter")
        self.new_tag.setAccessibleName("New tag")
        self.pending_button = QPushButton("+ Pending callback", self)
        self.pending_button.setAccessibleName("Tag pending callback")
        self.booked_tag_button = QPushButton("+ Booked", self)
        self.booked_tag_button.setAccessibleName("Tag booked")

        self.assign = QComboBox(self)
        self.assign.setAccessibleName("Assigned to")
        self.notes = QPlainTextEdit(self)
        self.notes.setPlaceholderText("Notes for the team (saved automatically)")
        self.notes.setAccessibleName("Notes")
        self.notes.setTabChangesFocus(True)
        self.notes.installEventFilter(self)

        self.booked_button = QPushButton("Mark booked…", self)
        self.booked_button.setAccessibleName("Mark booked")
        self.callback_button = QPushButton("Callback done", self)
        self.callback_button.setAccessibleName("Callback done")
        self.call_back_button = QPushButton("Call back", self)
        self.call_back_button.setObjectName("callBack")
        self.call_back_button.setAccessibleName("Call back through Twilio")
        self.call_back_button.setToolTip(
            "Ring your desk phone, then this caller, from the business number"
        )
        self.booked_value = QLabel(self)
        self.booked_value.setAccessibleName("Booked value")
        # Shown while a missed call's auto-text is still waiting to go (staff called back).
        self.cancel_textback_button = QPushButton("Cancel auto-text", self)
        self.cancel_textback_button.setAccessibleName("Cancel the pending auto-text")
        self.cancel_textback_button.setToolTip(
            "You are calling them back yourself: the automatic text will not be sent."
        )
        self.cancel_textback_button.hide()
        self._pending_call: int | None = None
        self.delete_button = QPushButton("Delete contact…", self)
        self.delete_button.setObjectName("deleteContact")
        self.delete_button.setAccessibleName("Delete contact")
        self.delete_button.setToolTip(
            "Delete this contact with their texts, calls and voicemail recordings"
        )

        quick = QHBoxLayout()
        quick.setSpacing(6)
        quick.addWidget(self.pending_button)
        quick.addWidget(self.booked_tag_button)
        quick.addStretch(1)
        actions = QHBoxLayout()
        actions.setSpacing(6)
        actions.addWidget(self.booked_button)
        actions.addWidget(self.callback_button)
        # Pairs of buttons side by side; stacked when the panel is too narrow for both
        # labels (a 1024 px window), never cut ("+ Pending callbac").
        self._pairs = (
            (quick, (self.pending_button, self.booked_tag_button)),
            (actions, (self.booked_button, self.callback_button)),
        )

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)
        form.setContentsMargins(0, 0, 0, 0)
        form.setVerticalSpacing(4)
        tags_box = QVBoxLayout()
        tags_box.setSpacing(6)
        tags_box.addWidget(self.tags)
        tags_box.addWidget(self.new_tag)
        tags_box.addLayout(quick)
        form.addRow(self._heading("Tags"), tags_box)
        form.addRow(self._heading("Assigned to"), self.assign)
        form.addRow(self._heading("Notes"), self.notes)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(8)
        layout.addWidget(self.name)
        layout.addWidget(self.phone)
        layout.addWidget(self.status)
        layout.addWidget(self.call_back_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addLayout(actions)
        layout.addWidget(self.cancel_textback_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.booked_value)
        layout.addSpacing(4)
        layout.addLayout(form, 1)
        layout.addWidget(self.delete_button, 0, Qt.AlignmentFlag.AlignLeft)

        self._notes_timer = QTimer(self)
        self._notes_timer.setSingleShot(True)
        self._notes_timer.setInterval(800)
        self._notes_timer.timeout.connect(self._save_notes)
        self._members: list[str] = []

        self.name.editingFinished.connect(self._rename)
        self.new_tag.returnPressed.connect(self._add_tag)
        self.tags.removeRequested.connect(self.removeTagRequested)
        self.pending_button.clicked.connect(lambda: self.addTagRequested.emit(PENDING_CALLBACK))
        self.booked_tag_button.clicked.connect(lambda: self.addTagRequested.emit(BOOKED))
        self.assign.activated.connect(self._assign)
        self.notes.textChanged.connect(self._notes_edited)
        self.booked_button.clicked.connect(self._ask_booked)
        self.callback_button.clicked.connect(self.callbackDoneRequested)
        self.call_back_button.clicked.connect(self.callBackRequested)
        self.cancel_textback_button.clicked.connect(self._cancel_textback)
        self.delete_button.clicked.connect(self.deleteRequested)
        self.set_members([])
        self.setEnabled(False)

    def set_pending_textback(self, call_id: int | None) -> None:
        """Offer "Cancel auto-text" for ``call_id``'s waiting text (None: nothing waits)."""
        self._pending_call = call_id
        self.cancel_textback_button.setVisible(call_id is not None)

    def _cancel_textback(self) -> None:
        if self._pending_call is not None:
            self.cancelTextbackRequested.emit(self._pending_call)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_button_pairs()

    def fit_button_pairs(self) -> None:
        """Each pair of buttons on one row when both labels fit the panel, else stacked
        (a pair with a button hidden is one button: on its row at its own width)."""
        layout = self.layout()
        assert layout is not None
        margins = layout.contentsMargins()
        room = self.width() - margins.left() - margins.right()
        for row, buttons in self._pairs:
            shown = [b for b in buttons if not b.isHidden()]
            need = sum(b.sizeHint().width() for b in shown) + row.spacing() * (len(shown) - 1)
            row.setDirection(
                QBoxLayout.Direction.LeftToRight
                if need <= room
                else QBoxLayout.Direction.TopToBottom
            )

    def _heading(self, text: str) -> QLabel:
        label = QLabel(text, self)
        label.setProperty("role", "heading")
        return label

    # ---- showing ------------------------------------------------------------------------
    def set_members(self, members: Sequence[str]) -> None:
        self._members = list(members)
        self._fill_assign(self.contact.assigned_to if self.contact else None)

    def _fill_assign(self, current: str | None) -> None:
        self.assign.blockSignals(True)
        self.assign.clear()
        self.assign.addItem(UNASSIGNED, None)
        for member in self._members:
            self.assign.addItem(member, member)
        if current and current not in self._members:
            self.assign.addItem(current, current)
        self.assign.setCurrentIndex(max(0, self.assign.findData(current)) if current else 0)
        self.assign.blockSignals(False)

    def show_contact(self, contact: ContactDetail | None) -> None:
        switching = contact is None or self.contact is None or contact.id != self.contact.id
        if switching and self.contact is not None and self._notes_timer.isActive():
            self._save_notes()  # do not lose typing when the user moves on
        self.contact = contact
        self.setEnabled(contact is not None)
        if contact is None:
            self.name.clear()
            self.phone.clear()
            self.status.clear()
            self.tags.set_tags([])
            self.notes.blockSignals(True)
            self.notes.clear()
            self.notes.blockSignals(False)
            self.booked_value.clear()
            return
        if switching or not self.name.hasFocus():
            self.name.setText(contact.name or "")
        self.phone.setText(contact.display_phone)
        status = []
        if contact.opted_out:
            status.append("Opted out: texted STOP")
        self.status.setText(" · ".join(status))
        self.status.setStyleSheet(f"color: {theme.danger(self.palette()).name()};")
        self.status.setVisible(bool(status))
        self.tags.set_tags(contact.tags)
        self.pending_button.setVisible(PENDING_CALLBACK not in contact.tags)
        self.booked_tag_button.setVisible(BOOKED not in contact.tags)
        self.fit_button_pairs()
        self.callback_button.setEnabled(PENDING_CALLBACK in contact.tags)
        self.callback_button.setToolTip(
            "Clears “pending callback”"
            if PENDING_CALLBACK in contact.tags
            else "No callback is pending for this contact"
        )
        self._fill_assign(contact.assigned_to)
        if (switching or not self.notes.hasFocus()) and self.notes.toPlainText() != contact.notes:
            self.notes.blockSignals(True)
            self.notes.setPlainText(contact.notes)
            self.notes.blockSignals(False)
        if BOOKED in contact.tags:
            value = money(contact.booked_value_cents)
            self.booked_value.setText(f"Booked{' · ' + value if value else ''}")
        else:
            self.booked_value.clear()
        self.booked_value.setVisible(BOOKED in contact.tags)

    # ---- edits --------------------------------------------------------------------------
    def _rename(self) -> None:
        if self.contact is None:
            return
        text = " ".join(self.name.text().split())
        if text != (self.contact.name or ""):
            self.renameRequested.emit(text)

    def _add_tag(self) -> None:
        text = " ".join(self.new_tag.text().split())
        if text:
            self.addTagRequested.emit(text)
            self.new_tag.clear()

    def _assign(self, index: int) -> None:
        member = self.assign.itemData(index)
        if self.contact is not None and member != self.contact.assigned_to:
            self.assignRequested.emit(member)

    def _notes_edited(self) -> None:
        self._notes_timer.start()

    def _save_notes(self) -> None:
        self._notes_timer.stop()
        if self.contact is not None and self.notes.toPlainText() != self.contact.notes:
            self.notesChanged.emit(self.notes.toPlainText())

    def discard_notes(self) -> None:
        """The contact is being deleted: notes typed but not yet saved are dropped."""
        self._notes_timer.stop()

    def flush_notes(self) -> None:
        if self._notes_timer.isActive():
            self._save_notes()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.notes and event.type() == QEvent.Type.FocusOut:
            self.flush_notes()
        return super().eventFilter(watched, event)

    def _ask_booked(self) -> None:
        if self.contact is None:
            return
        dialog = BookedDialog(
            self.contact.name or self.contact.display_phone, self.contact.booked_value_cents, self
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.bookedRequested.emit(dialog.cents))
        dialog.open()
        self.booked_dialog = dialog  # tests reach it here
