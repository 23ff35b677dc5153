""" "New conversation": text any number, not only someone who called.

Asks for the number (national or international; checked by the services, the reason
shown under the field), an optional name, and reminds the desk that the person must have
agreed to receive texts. :meth:`NewConversationDialog.submit` asks
:meth:`services.api.InboxApi.start_conversation` to find or create the contact; on
success :attr:`NewConversationDialog.started` carries the contact id and the dialog
closes (the inbox then opens the thread with the composer focused). Nothing is sent
here: the first text goes from the composer like any reply.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from services import phones
from services.api import InboxApi, StartRefused
from services.locations import FIRST, Locations
from services.snapshots import ContactDetail
from ui import theme
from ui.widgets import icons
from ui.widgets.tasks import TaskRunner

CONSENT = (
    "<b>Only text people who agreed to hear from you by text</b>: they asked you to, or "
    "gave you their number for it. Texting anyone else can break the law (the TCPA in "
    "the US) and get your number blocked by carriers. Frontdesk never texts a number "
    "that opted out."
)


class NewConversationDialog(QDialog):
    """``NewConversationDialog(inbox, actor=lambda: "Dana", region="US")``; show it with
    ``open()`` (the loop keeps running)."""

    started = Signal(int, int)  # the contact id, the location id its thread is at

    def __init__(
        self,
        inbox: InboxApi,
        *,
        actor: Callable[[], str],
        region: str = "US",
        locations: Locations | None = None,
        location_id: int | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("newConversation")
        self.setWindowTitle("New conversation")
        self._inbox = inbox
        self._actor = actor
        self._region = region
        self.tasks = TaskRunner(self)
        self.contact: ContactDetail | None = None

        self.number = QLineEdit(self)
        self.number.setObjectName("newNumber")
        self.number.setPlaceholderText("(415) 555-0123 or +44 20 7946 0958")
        self.number.setAccessibleName("Phone number")
        self.number.setMaxLength(64)
        self.number_hint = QLabel(self)
        self.number_hint.setProperty("role", "muted")
        self.number_hint.setWordWrap(True)
        self.error = QLabel(self)
        self.error.setObjectName("newNumberError")
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.hide()
        self.name = QLineEdit(self)
        self.name.setPlaceholderText("Optional")
        self.name.setAccessibleName("Name")
        self.name.setMaxLength(200)

        self.consent = QLabel(CONSENT, self)
        self.consent.setObjectName("consentReminder")
        self.consent.setWordWrap(True)
        self.consent.setTextFormat(Qt.TextFormat.RichText)
        self.consent.setFrameShape(QFrame.Shape.StyledPanel)
        self.consent.setMargin(8)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        number_box = QVBoxLayout()
        number_box.setSpacing(2)
        number_box.addWidget(self.number)
        number_box.addWidget(self.error)
        number_box.addWidget(self.number_hint)
        form.addRow("Phone number", number_box)
        form.addRow("Name", self.name)
        # Which of the office's numbers the thread texts from (only with several).
        self.location = QComboBox(self)
        self.location.setObjectName("newLocation")
        self.location.setAccessibleName("Text from")
        if locations is not None and locations.several:
            for loc in locations:
                number = phones.format_for_display(loc.phone_number) if loc.phone_number else ""
                self.location.addItem(f"{loc.name} · {number}" if number else loc.name, loc.id)
            self.location.setCurrentIndex(max(0, self.location.findData(location_id)))
            form.addRow("Text from", self.location)
        else:
            self.location.hide()

        self.buttons = QDialogButtonBox(self)
        self.start_button = self.buttons.addButton(
            "Start conversation", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.start_button.setDefault(True)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.consent)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(min(560, max(360, self.fontMetrics().averageCharWidth() * 72)))

        self.number.textChanged.connect(self._typed)
        self._typed("")

    def _typed(self, text: str) -> None:
        """Say which number will be texted as it is typed; clear an old error."""
        if not self.error.isHidden():
            self.error.hide()
            self.number_hint.show()
            self.adjustSize()
        e164 = phones.normalize(text, self._region) if text.strip() else None
        if e164 is None and text.strip().startswith("00"):
            e164 = phones.normalize("+" + text.strip()[2:], self._region)
        if e164 is not None:
            self.number_hint.setText(f"Texts go to {phones.format_for_display(e164)}.")
        else:
            self.number_hint.setText(
                f"A number in your country ({self._region}), or any number with its "
                "country code (+…)."
            )
        self.start_button.setEnabled(bool(text.strip()))

    def show_error(self, message: str) -> None:
        self.error.setStyleSheet(theme.error_style())
        self.error.setText(message)
        self.error.setVisible(bool(message))
        self.number_hint.setVisible(not message)  # the error says it all
        self.adjustSize()  # room for the error: the reminder below stays whole
        if message:
            self.number.setFocus()
            self.number.selectAll()

    def submit(self) -> None:
        """Find or create the contact; refused: the reason under the number field."""
        if not self.start_button.isEnabled():
            return
        self.start_button.setEnabled(False)
        self.show_error("")

        where = self.location.currentData() if self.location.count() else None

        def done(contact: ContactDetail) -> None:
            self.contact = contact
            self.started.emit(contact.id, where or FIRST)
            self.accept()

        def failed(exc: BaseException) -> bool:
            if isinstance(exc, StartRefused):
                self.show_error(str(exc))
                return True
            return False

        self.tasks.spawn(
            self._inbox.start_conversation(
                self.number.text(), self.name.text(), actor=self._actor(), location_id=where
            ),
            what="start the conversation",
            done=done,
            failed=failed,
            always=lambda: self.start_button.setEnabled(bool(self.number.text().strip())),
        )


def new_conversation_button(parent: QWidget) -> QToolButton:
    """The Inbox's "New" button (its shortcut, Ctrl+N, belongs to the main window)."""
    button = QToolButton(parent)
    button.setObjectName("newConversationButton")
    button.setIcon(icons.icon("compose"))
    button.setText("New")
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    button.setToolTip("New conversation: text any number (Ctrl+N)")
    button.setAccessibleName("New conversation")
    return button
