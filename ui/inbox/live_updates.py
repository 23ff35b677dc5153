"""The Inbox page's live updates: what it re-reads when the services say something
changed (a thread, a contact, a call, or everything after a lost connection).

A mixin of :class:`ui.inbox.page.InboxPage` (it owns the widgets and services named
below); split out so each module holds one concern.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer

from services.snapshots import CallItem
from ui.inbox.conversation_model import ConversationListModel
from ui.widgets.tasks import TaskRunner


class LiveUpdates:
    """Refreshes the affected row, and the open thread and contact when they changed."""

    # Provided by InboxPage.
    model: ConversationListModel
    tasks: TaskRunner
    current_contact_id: int | None
    _inbox: Any
    _counts_timer: QTimer
    _load_thread: Callable[[int], None]
    _load_state: Callable[[int], None]
    _load_contact: Callable[[int], None]
    _use_settings: Callable[[Any], None]
    isVisible: Callable[[], bool]
    window: Callable[[], Any]

    # ---- live updates -----------------------------------------------------------------------
    def _on_conversation_changed(self, _conversation_id: int, contact_id: int) -> None:
        self.model.refresh_contact(contact_id)
        self._counts_timer.start()
        if contact_id == self.current_contact_id:
            self._load_thread(contact_id)
            self._load_state(contact_id)
            if self.isVisible() and self.window().isActiveWindow():
                self._mark_read_when_loaded(contact_id)

    def _mark_read_when_loaded(self, contact_id: int) -> None:
        # A message into the open thread, read as it arrives.
        self.tasks.spawn(self._inbox.mark_read(contact_id), what="mark the thread read")

    def _on_contact_changed(self, contact_id: int) -> None:
        self.model.refresh_contact(contact_id)
        self._counts_timer.start()
        if contact_id == self.current_contact_id:
            self._load_contact(contact_id)

    def _on_call_changed(self, call_id: int) -> None:
        def done(call: CallItem) -> None:
            if call.contact_id is None:
                return
            self.model.refresh_contact(call.contact_id)
            if call.contact_id == self.current_contact_id:
                self._load_thread(call.contact_id)

        self.tasks.spawn(self._inbox.call(call_id), what="refresh a call", done=done)

    def reload_everything(self) -> None:
        """Changes may have been missed (the office connection came back): reload the
        list, the settings it depends on, and the open thread and contact."""
        self.model.reload()
        self.tasks.spawn(self._inbox.settings(), what="load the settings", done=self._use_settings)
        if self.current_contact_id is not None:
            self._load_thread(self.current_contact_id)
            self._load_contact(self.current_contact_id)
