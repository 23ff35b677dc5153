"""The Inbox page's actions on the open thread and its contact: close, reopen, snooze,
mark unread; rename, notes, tags, assign, booked, callback done, call back, voicemail.

A mixin of :class:`ui.inbox.page.InboxPage` (it owns the widgets and services named
below); split out so each module holds one concern.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from PySide6.QtCore import QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox, QWidget

from services.api import MessagingApi, ThreadStateError
from services.snapshots import ContactDetail, ConversationRow
from ui.inbox.composer import Composer
from ui.inbox.contact_panel import ContactPanel
from ui.inbox.conversation_model import ConversationListModel
from ui.inbox.thread import ThreadView
from ui.inbox.thread_actions import ThreadActions
from ui.widgets.tasks import TaskRunner


class PageActions:
    """Wires the thread header's and the contact panel's requests to the services."""

    # Provided by InboxPage.
    thread_actions: ThreadActions
    thread_view: ThreadView
    panel: ContactPanel
    composer: Composer
    model: ConversationListModel
    tasks: TaskRunner
    current_contact_id: int | None
    current_location_id: int | None
    _inbox: Any
    _messaging: MessagingApi
    _counts_timer: QTimer
    close_conversation: Callable[[], None]
    _show_contact: Callable[[ContactDetail], None]
    ask_delete_contact: Callable[[], None]

    if TYPE_CHECKING:

        @property
        def actor(self) -> str: ...  # Replying's: who is at this PC, else "desk"

    # ---- the thread's workflow: close, reopen, snooze, unread, notes -----------------------
    def _wire_thread_actions(self) -> None:
        a = self.thread_actions
        inbox = self._inbox

        def act(what: str, make: Any, *, leave: bool = False) -> None:
            """Run ``make(contact_id, location_id)`` on the open thread."""
            contact_id, where = self.current_contact_id, self.current_location_id
            if contact_id is None:
                return

            def done(row: ConversationRow) -> None:
                self.model.apply(row)
                if contact_id == self.current_contact_id and where == self.current_location_id:
                    if leave:
                        self.close_conversation()
                    else:
                        self.thread_actions.show_row(row)
                self._counts_timer.start()

            def failed(exc: BaseException) -> bool:
                if isinstance(exc, ThreadStateError):
                    self.composer.show_error(str(exc))
                    return True
                return False

            self.tasks.spawn(make(contact_id, where), what=what, done=done, failed=failed)

        a.closeRequested.connect(
            lambda: act(
                "close the conversation",
                lambda c, w: inbox.close(c, actor=self.actor, location_id=w),
            )
        )
        a.reopenRequested.connect(
            lambda: act(
                "reopen the conversation",
                lambda c, w: inbox.reopen(c, actor=self.actor, location_id=w),
            )
        )
        a.snoozeRequested.connect(
            lambda until: act(
                "snooze the conversation",
                lambda c, w: inbox.snooze(c, until, actor=self.actor, location_id=w),
            )
        )
        # Marked unread: leave the thread, or opening it would mark it read again.
        a.unreadRequested.connect(
            lambda: act(
                "mark it unread", lambda c, w: inbox.mark_unread(c, location_id=w), leave=True
            )
        )
        a.callBackRequested.connect(self.call_back)

    # ---- contact actions ------------------------------------------------------------------
    def _wire_panel(self) -> None:
        p = self.panel

        def act(what: str, make: Any) -> None:
            contact = p.contact
            if contact is None:
                return
            self.tasks.spawn(make(contact.id), what=what, done=self._show_contact)

        inbox = self._inbox
        p.renameRequested.connect(
            lambda name: act(
                "rename the contact", lambda c: inbox.rename(c, name, actor=self.actor)
            )
        )
        p.notesChanged.connect(
            lambda notes: act(
                "save the notes", lambda c: inbox.set_notes(c, notes, actor=self.actor)
            )
        )
        p.addTagRequested.connect(
            lambda tag: act("add the tag", lambda c: inbox.add_tag(c, tag, actor=self.actor))
        )
        p.removeTagRequested.connect(
            lambda tag: act("remove the tag", lambda c: inbox.remove_tag(c, tag, actor=self.actor))
        )
        p.assignRequested.connect(
            lambda who: act("assign the thread", lambda c: inbox.assign(c, who, actor=self.actor))
        )
        p.bookedRequested.connect(
            lambda cents: act(
                "mark it booked", lambda c: inbox.mark_booked(c, cents, actor=self.actor)
            )
        )
        p.callbackDoneRequested.connect(
            lambda: act(
                "mark the callback done", lambda c: inbox.callback_done(c, actor=self.actor)
            )
        )
        p.callBackRequested.connect(self.call_back)
        p.deleteRequested.connect(self.ask_delete_contact)
        self.thread_view.playVoicemail.connect(self.play_voicemail)
        p.cancelTextbackRequested.connect(
            lambda call_id: self.tasks.spawn(
                self._messaging.cancel_textback(call_id, actor=self.actor),
                what="cancel the auto-text",
            )
        )

    def call_back(self) -> None:
        """Ring the desk's phone through Twilio, then the open thread's contact (the
        thread header's and the contact panel's "Call back"; the same service as the
        Missed calls page). Both buttons wait while Twilio places the call, so one click
        never rings the desk twice; the callback then shows in the thread."""
        contact_id, where = self.current_contact_id, self.current_location_id
        if contact_id is None:
            return
        buttons = (self.thread_actions.call_back_button, self.panel.call_back_button)
        for button in buttons:
            button.setEnabled(False)

        def refused(exc: BaseException) -> bool:
            if isinstance(exc, ValueError):
                QMessageBox.information(cast(QWidget, self), "Call back", str(exc))
                return True
            return False

        def again() -> None:
            for button in buttons:
                button.setEnabled(True)

        self.tasks.spawn(
            self._messaging.call_back(contact_id, actor=self.actor, location_id=where),
            what="call back",
            failed=refused,
            always=again,
        )

    def play_voicemail(self, voicemail_id: int) -> None:
        """Open the voicemail in the system's audio player (fetched first if needed)."""

        def refused(exc: BaseException) -> bool:
            if isinstance(exc, LookupError):
                QMessageBox.information(cast(QWidget, self), "Voicemail", str(exc))
                return True
            return False

        self.tasks.spawn(
            self._messaging.voicemail_file(voicemail_id),
            what="play the voicemail",
            done=self._open_file,
            failed=refused,
        )

    @staticmethod
    def _open_file(path: str) -> None:
        # The system's audio player: PySide6-Essentials has no QtMultimedia.
        QDesktopServices.openUrl(QUrl.fromLocalFile(path))
