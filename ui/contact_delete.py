""" "Delete contact…": the confirmation, then the deletion through the services.

Used by the Contacts page and the Inbox's contact panel. The confirmation says what
goes (texts, calls, voicemail recordings, notes and tags, on every PC of the office) and
that it cannot be undone; Cancel is the default, so Enter or Esc deletes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

from services.api import MessagingApi
from ui.widgets.tasks import TaskRunner

WHAT_GOES = (
    "Their texts, calls and voicemail recordings are deleted, with their notes and tags, "
    "on every PC of this office. A text still waiting to go to them is not sent. "
    "(The logs in your Twilio account are not changed.)"
)
NO_UNDO = "This cannot be undone."


class DeleteContactDialog(QMessageBox):
    """The confirmation: "Delete contact" (destructive) or Cancel (the default)."""

    def __init__(self, who: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("deleteContactDialog")
        self.setIcon(QMessageBox.Icon.Warning)
        self.setWindowTitle("Delete contact")
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText(f"Delete {who} and everything of theirs?")
        self.setInformativeText(f"{WHAT_GOES}\n\n{NO_UNDO}")
        self.delete_button: QPushButton = self.addButton(
            "Delete contact", QMessageBox.ButtonRole.DestructiveRole
        )
        self.delete_button.setObjectName("confirmDeleteContact")
        cancel = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(cancel)
        self.setEscapeButton(cancel)

    def confirmed(self) -> bool:
        return self.clickedButton() is self.delete_button


class ContactDeletion(QObject):
    """Asks, then deletes. :attr:`deleted` carries the contact id once it is gone;
    :attr:`dialog` is the open confirmation (tests press its buttons)."""

    deleted = Signal(int)

    def __init__(
        self,
        messaging: MessagingApi,
        tasks: TaskRunner,
        window: QWidget,
        *,
        actor: Callable[[], str],
    ) -> None:
        super().__init__(window)
        self._messaging = messaging
        self._tasks = tasks
        self._window = window
        self._actor = actor
        self.dialog: DeleteContactDialog | None = None

    def ask(self, contact_id: int, who: str) -> DeleteContactDialog:
        """Open the confirmation (window-modal, not blocking the loop); deletes on yes."""
        dialog = DeleteContactDialog(who, self._window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def finished(_result: int) -> None:
            if self.dialog is dialog:
                self.dialog = None
            if dialog.confirmed():
                self._delete(contact_id, who)

        dialog.finished.connect(finished)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _delete(self, contact_id: int, who: str) -> None:
        def done(_existed: bool) -> None:
            # Gone either way (a colleague may have deleted them first).
            self.deleted.emit(contact_id)

        self._tasks.spawn(
            self._messaging.delete_contact(contact_id, actor=self._actor()),
            what=f"delete {who}",
            done=done,
        )
