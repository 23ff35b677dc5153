"""Plain change events: what changed, never how to redraw it.

Services publish these on an :class:`EventBus`; the UI's adapter (ui/event_bridge.py)
turns them into Qt signals. Subscribers are called synchronously on the publishing
thread, which for the engine is always the event-loop thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConversationChanged:
    """A thread got a message, a status change, or was read/assigned."""

    conversation_id: int
    contact_id: int


@dataclass(frozen=True, slots=True)
class ContactChanged:
    """A contact's name, tags, notes, assignment or opt-out state changed."""

    contact_id: int


@dataclass(frozen=True, slots=True)
class CallChanged:
    """A call was recorded or its outcome / automation state changed."""

    call_id: int


@dataclass(frozen=True, slots=True)
class SettingsChanged:
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WebhookSeen:
    """A webhook arrived (accepted or rejected); for the health panel."""

    path: str
    status: int
    reason: str | None


@dataclass(frozen=True, slots=True)
class EverythingChanged:
    """Changes may have been missed (the office database connection was lost and is back):
    every view reloads what it shows."""


@dataclass(frozen=True, slots=True)
class OfficeChanged:
    """Who holds the number, or this process's role (holder / desk client), changed."""

    holder: str | None
    holding: bool


@dataclass(frozen=True, slots=True)
class ColleagueTyping:
    """Someone on another PC is typing a reply in a thread (``active``), or sent or
    cleared it (not ``active``). Ephemeral: never stored; it expires unless repeated
    (see :mod:`services.collisions`)."""

    contact_id: int
    who: str
    active: bool = True


Event = (
    ConversationChanged
    | ContactChanged
    | CallChanged
    | SettingsChanged
    | WebhookSeen
    | EverythingChanged
    | OfficeChanged
    | ColleagueTyping
)
Subscriber = Callable[[Event], None]


class EventBus:
    """Synchronous fan-out of :data:`Event` values to subscribers.

    A subscriber that raises is logged and does not stop the others.
    """

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Register ``subscriber``; returns a function that unsubscribes it."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber failed on %r", event)
