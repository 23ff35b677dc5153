"""The one adapter from the services' :class:`~services.events.EventBus` to Qt signals.

Services publish plain events (usually on the loop thread, which under qasync is the GUI
thread; from any other thread they are queued over). Bursts are coalesced: events are
collected for ``interval_ms`` (30 ms) and then emitted once per distinct subject, so 200
webhooks in a second cause a handful of refreshes of the affected rows, not 200 reloads.

Signals (all emitted on the GUI thread):

- ``conversationChanged(conversation_id, contact_id)``: a thread got a message, a status
  change, or was read/assigned;
- ``contactChanged(contact_id)``: name, tags, notes, assignment or opt-out changed;
- ``callChanged(call_id)``: a call was recorded or its outcome/automation changed;
- ``settingsChanged(keys)``: a list of setting keys that changed;
- ``webhookSeen(path, status, reason)``: a webhook arrived (``reason`` may be empty);
- ``colleagueTyping(contact_id, who, active)``: someone on another PC is typing a reply
  in that thread (``active``), or sent/cleared it; in arrival order;
- ``everythingChanged()``: changes may have been missed (the office database connection
  was lost and is back): every view reloads what it shows. In a batch that has it, the
  per-subject signals above are not emitted (the reload covers them);
- ``flushed()``: after each batch (tests and the sidebar counts hang off this).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from services.api import EventSource
from services.events import (
    CallChanged,
    ColleagueTyping,
    ContactChanged,
    ConversationChanged,
    Event,
    EverythingChanged,
    SettingsChanged,
    WebhookSeen,
)


class EventBridge(QObject):
    conversationChanged = Signal(int, int)
    contactChanged = Signal(int)
    callChanged = Signal(int)
    settingsChanged = Signal(list)
    webhookSeen = Signal(str, int, str)
    everythingChanged = Signal()
    colleagueTyping = Signal(int, str, bool)
    flushed = Signal()

    _arrived = Signal(object)  # crosses threads when published off the GUI thread

    def __init__(
        self,
        source: EventSource | None = None,
        *,
        interval_ms: int = 30,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._conversations: dict[int, int] = {}  # contact_id -> conversation_id, in order
        self._contacts: dict[int, None] = {}
        self._calls: dict[int, None] = {}
        self._settings: dict[str, None] = {}
        self._webhooks: list[WebhookSeen] = []
        self._everything = False
        self._typing: list[ColleagueTyping] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.flush)
        self._arrived.connect(self._collect)
        self._unsubscribe: Callable[[], None] | None = None
        if source is not None:
            self.attach(source)

    def attach(self, source: EventSource) -> None:
        """Subscribe to ``source`` (detaching from any previous one)."""
        self.detach()
        self._unsubscribe = source.subscribe(self._on_event)

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_event(self, event: Event) -> None:
        # Direct call on the GUI thread, queued from any other (AutoConnection).
        self._arrived.emit(event)

    @Slot(object)
    def _collect(self, event: Event) -> None:
        if isinstance(event, ConversationChanged):
            self._conversations.pop(event.contact_id, None)
            self._conversations[event.contact_id] = event.conversation_id
        elif isinstance(event, ContactChanged):
            self._contacts[event.contact_id] = None
        elif isinstance(event, CallChanged):
            self._calls[event.call_id] = None
        elif isinstance(event, SettingsChanged):
            self._settings.update(dict.fromkeys(event.keys))
        elif isinstance(event, WebhookSeen):
            self._webhooks.append(event)
        elif isinstance(event, EverythingChanged):
            self._everything = True
        elif isinstance(event, ColleagueTyping):
            self._typing.append(event)
        if not self._timer.isActive():
            self._timer.start()

    @Slot()
    def flush(self) -> None:
        """Emit what was collected (also callable directly, e.g. from tests)."""
        self._timer.stop()
        conversations, self._conversations = self._conversations, {}
        contacts, self._contacts = self._contacts, {}
        calls, self._calls = self._calls, {}
        settings, self._settings = self._settings, {}
        webhooks, self._webhooks = self._webhooks, []
        everything, self._everything = self._everything, False
        typing, self._typing = self._typing, []
        if not (conversations or contacts or calls or settings or webhooks or everything or typing):
            return
        if everything:
            # One reload of every view; refreshing single rows as well would only race it.
            conversations, contacts, calls, settings = {}, {}, {}, {}
            self.everythingChanged.emit()
        if settings:
            self.settingsChanged.emit(list(settings))
        for contact_id, conversation_id in conversations.items():
            self.conversationChanged.emit(conversation_id, contact_id)
        for contact_id in contacts:
            self.contactChanged.emit(contact_id)
        for call_id in calls:
            self.callChanged.emit(call_id)
        for t in typing:
            self.colleagueTyping.emit(t.contact_id, t.who, t.active)
        for hook in webhooks[-50:]:
            self.webhookSeen.emit(hook.path, hook.status, hook.reason or "")
        self.flushed.emit()
