"""The Inbox page's replying: drafts kept per conversation, sending, scheduling, retrying
and internal notes, all into the open thread.

A mixin of :class:`ui.inbox.page.InboxPage` (it owns the widgets and services named
below); split out so each module holds one concern.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer

from services import phones, templates
from services.api import MessagingApi, ReplyRefused
from services.locations import Location
from ui.inbox.collisions import CollisionGuard
from ui.inbox.composer import Composer
from ui.inbox.contact_panel import ContactPanel
from ui.inbox.conversation_model import ConversationListModel
from ui.inbox.drafts import DraftStore
from ui.widgets.tasks import TaskRunner


class Replying:
    """Drafts, send, schedule, retry, cancel and notes for :class:`InboxPage`."""

    # Provided by InboxPage.
    composer: Composer
    drafts: DraftStore
    panel: ContactPanel
    model: ConversationListModel
    collisions: CollisionGuard
    tasks: TaskRunner
    current_contact_id: int | None
    current_location_id: int | None
    _thread_location: Callable[[], Location | None]
    me: str | None
    _inbox: Any
    _messaging: MessagingApi
    _draft_phone: str | None
    _draft_timer: QTimer
    _filling_composer: bool
    _business: tuple[str, str, str]
    _load_thread: Callable[[int], None]

    @property
    def actor(self) -> str:
        return self.me or "desk"

    # ---- drafts and snippet context ------------------------------------------------------
    def _restore_draft(self, phone: str) -> None:
        """The composer now belongs to ``phone``: show its draft unless typing began."""
        self._draft_phone = phone
        draft = self.drafts.get(phone)
        if draft and not self.composer.text:
            self._filling_composer = True  # not typing: nobody is told about it
            try:
                self.composer.set_text(draft)
            finally:
                self._filling_composer = False
            self._draft_timer.stop()

    def _save_draft(self) -> None:
        self._draft_timer.stop()
        if self._draft_phone is not None:
            self.drafts.put(self._draft_phone, self.composer.text)

    def _update_context(self) -> None:
        contact = self.panel.contact
        name, phone, link = self._business
        location = self._thread_location()
        if location is not None:  # the thread's location's values, over the office's
            number = location.phone_number
            name = location.settings["business.name"]
            phone = phones.format_for_display(number) if number else ""
            link = location.settings["business.booking_link"]
        self.composer.set_context(
            templates.TemplateContext(contact.name if contact else None, name, phone, link)
        )

    # ---- sending ----------------------------------------------------------------------------
    def send_current(self) -> None:
        """Send what is typed (Ctrl+Enter from anywhere in the window)."""
        self.composer.submit()

    def _typed(self) -> None:
        if self._filling_composer or self.current_contact_id is None:
            return
        if self.composer.text.strip():
            self.collisions.typed(self.current_contact_id, self.actor)
        else:
            self.collisions.sent(self.current_contact_id, self.actor, None)  # cleared

    def _send(self, body: str) -> None:
        """Send ``body`` into the open thread, asking first when a colleague replied
        there in the last 30 s."""
        contact_id, where = self.current_contact_id, self.current_location_id
        if contact_id is None:
            return
        phone = self._draft_phone
        photo = self.composer.attachment
        self.composer.set_busy(True)
        self.composer.show_error("")
        row = self.model.row_of(contact_id)
        title = self.model.rows()[row].title if row >= 0 else "this customer"
        self.collisions.check(
            contact_id,
            self.me,
            title,
            send=lambda: self._send_now(contact_id, phone, body, photo, where),
            cancel=lambda: self.composer.set_busy(False),
        )

    def _send_now(
        self,
        contact_id: int,
        phone: str | None,
        body: str,
        photo: Path | None = None,
        where: int | None = None,
    ) -> None:
        def done(message_id: int) -> None:
            self.collisions.sent(contact_id, self.actor, message_id)
            if contact_id == self.current_contact_id:
                self.composer.sent()
            if phone is not None:
                self.drafts.put(phone, "")  # sent: no draft left, here or where it was
            self._load_thread(contact_id)

        def failed(exc: BaseException) -> bool:
            if isinstance(exc, ReplyRefused):
                self.composer.show_error(str(exc))
                return True
            self.composer.show_error(f"Not sent: {exc}")
            return False

        self.tasks.spawn(
            self._messaging.send_reply(
                contact_id, body, author=self.me, photo=photo, location_id=where
            ),
            what="send the reply",
            done=done,
            failed=failed,
            always=lambda: self.composer.set_busy(False),
        )

    def _schedule(self, body: str, when: datetime) -> None:
        """Schedule ``body`` for ``when`` in the open thread (shown there until it sends)."""
        contact_id, where = self.current_contact_id, self.current_location_id
        if contact_id is None:
            return
        phone = self._draft_phone
        self.composer.set_busy(True)
        self.composer.show_error("")

        def done(_job_id: int) -> None:
            if contact_id == self.current_contact_id:
                self.composer.sent()
            if phone is not None:
                self.drafts.put(phone, "")
            self._load_thread(contact_id)

        self.tasks.spawn(
            self._messaging.schedule_reply(
                contact_id, body, when, author=self.me, location_id=where
            ),
            what="schedule the text",
            done=done,
            failed=self._refused_in_composer,
            always=lambda: self.composer.set_busy(False),
        )

    def _retry(self, message_id: int) -> None:
        contact_id = self.current_contact_id
        self.composer.show_error("")
        self.tasks.spawn(
            self._messaging.retry_text(message_id, author=self.me),
            what="send the text again",
            done=lambda _id: self._load_thread(contact_id) if contact_id is not None else None,
            failed=self._refused_in_composer,
        )

    def _cancel_scheduled(self, job_id: int) -> None:
        contact_id = self.current_contact_id
        self.tasks.spawn(
            self._messaging.cancel_scheduled(job_id, actor=self.actor),
            what="cancel the scheduled text",
            done=lambda _ok: self._load_thread(contact_id) if contact_id is not None else None,
        )

    def _refused_in_composer(self, exc: BaseException) -> bool:
        if isinstance(exc, ReplyRefused):
            self.composer.show_error(str(exc))
            return True
        return False

    def _add_note(self, body: str) -> None:
        contact_id = self.current_contact_id
        if contact_id is None:
            return
        self.composer.set_busy(True)

        def done(_note: Any) -> None:
            if contact_id == self.current_contact_id:
                self.composer.sent()
            self._load_thread(contact_id)

        def failed(exc: BaseException) -> bool:
            if isinstance(exc, ValueError):
                self.composer.show_error(str(exc))
                return True
            return False

        self.tasks.spawn(
            self._inbox.add_note(
                contact_id, body, actor=self.actor, location_id=self.current_location_id
            ),
            what="add the note",
            done=done,
            failed=failed,
            always=lambda: self.composer.set_busy(False),
        )
