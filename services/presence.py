"""Who is replying where, told to the other PCs of the office (never stored).

:class:`Presence` sends "typing" control messages over the office channel (PostgreSQL
NOTIFY) and turns the other PCs' into :class:`~services.events.ColleagueTyping` events on
this process's bus. On one PC (SQLite, no channel) it says nothing to nobody.

While someone types, the UI calls :meth:`Presence.typing` on every edit; at most one
message per thread every :data:`~services.collisions.TYPING_REPEAT_SECONDS` goes out,
and receivers forget it after :data:`~services.collisions.TYPING_TTL_SECONDS` without a
repeat, so a PC that dies mid-sentence leaves no "is replying…" behind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from services.collisions import TYPING_REPEAT_SECONDS, clean_name
from services.events import ColleagueTyping, EventBus

log = logging.getLogger(__name__)

TYPING = "typing"  # the control message kind
SendControl = Callable[..., None]


class Presence:
    """Implements :class:`services.api.PresenceApi`. Runs on the event loop thread."""

    def __init__(
        self,
        bus: EventBus,
        send_control: SendControl | None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bus = bus
        self._send = send_control
        self._monotonic = monotonic
        self._last: dict[tuple[int, str], float] = {}

    @property
    def shared(self) -> bool:
        return self._send is not None

    def typing(self, contact_id: int, who: str) -> None:
        """``who`` is typing in ``contact_id``'s thread (call on every edit: throttled)."""
        name = clean_name(who)
        if self._send is None or name is None:
            return
        now = self._monotonic()
        last = self._last.get((contact_id, name))
        if last is not None and now - last < TYPING_REPEAT_SECONDS:
            return
        self._last[(contact_id, name)] = now
        self._send(TYPING, c=contact_id, w=name, a=1)

    def stopped(self, contact_id: int, who: str) -> None:
        """``who`` sent or cleared the reply: the others stop showing it at once."""
        name = clean_name(who)
        if self._send is None or name is None:
            return
        if self._last.pop((contact_id, name), None) is None:
            return  # never said they were typing
        self._send(TYPING, c=contact_id, w=name, a=0)

    def received(self, message: Mapping[str, Any]) -> None:
        """Another PC's typing message (from the office channel): publish it, or drop a
        malformed one (it came over the network)."""
        contact_id, name, active = message.get("c"), clean_name(message.get("w")), message.get("a")
        if (
            not isinstance(contact_id, int)
            or isinstance(contact_id, bool)
            or not 0 < contact_id < 2**63
            or name is None
            or active not in (0, 1)
        ):
            log.debug("dropped a malformed typing message")
            return
        self._bus.publish(ColleagueTyping(contact_id, name, bool(active)))
