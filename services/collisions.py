"""Two people answering one customer: who is typing where, and "a colleague just replied".

Pure: no I/O, no clock of its own (every call is handed ``now``), so the expiry and the
30-second window are tested by passing times.

- :class:`TypingBoard` remembers the last "is typing" signal per (thread, person) and
  says who is replying in a thread; a signal expires :data:`TYPING_TTL_SECONDS` after
  it was seen (the typist's PC repeats it every :data:`TYPING_REPEAT_SECONDS` while
  typing goes on, and says nothing when it stops).
- :func:`colleague_reply` finds a reply someone else sent into the thread in the last
  :data:`RECENT_REPLY_SECONDS`: sending then asks first.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from services.snapshots import MessageItem

TYPING_TTL_SECONDS = 10.0
TYPING_REPEAT_SECONDS = 3.0
RECENT_REPLY_SECONDS = 30.0
MAX_NAME = 60  # a typing signal's name is shown in a label: keep it short


def clean_name(name: Any) -> str | None:
    """A printable, trimmed name of at most :data:`MAX_NAME` characters, else None."""
    if not isinstance(name, str):
        return None
    text = " ".join(name.split())[:MAX_NAME]
    return text if text and text.isprintable() else None


class TypingBoard:
    """Who is typing in which thread, as last heard (monotonic seconds)."""

    def __init__(self, ttl: float = TYPING_TTL_SECONDS) -> None:
        self.ttl = ttl
        self._seen: dict[tuple[int, str], float] = {}

    def seen(self, contact_id: int, who: str, now: float) -> None:
        """``who`` was typing in ``contact_id``'s thread at ``now``."""
        self._seen[(contact_id, who)] = now

    def stopped(self, contact_id: int, who: str) -> None:
        """``who`` sent (or cleared) their reply: no longer replying."""
        self._seen.pop((contact_id, who), None)

    def typing(self, contact_id: int, now: float) -> list[str]:
        """Names replying in ``contact_id``'s thread now, longest-typing first."""
        self.expire(now)
        found = [(at, who) for (cid, who), at in self._seen.items() if cid == contact_id]
        return [who for _at, who in sorted(found)]

    def expire(self, now: float) -> bool:
        """Forget signals older than the TTL; True when any was forgotten."""
        old = [key for key, at in self._seen.items() if now - at >= self.ttl]
        for key in old:
            del self._seen[key]
        return bool(old)

    def __bool__(self) -> bool:
        return bool(self._seen)


def replying_text(names: Iterable[str]) -> str:
    """ "Dana is replying…", "Dana and Luis are replying…", "" when nobody is."""
    people = list(names)
    if not people:
        return ""
    if len(people) == 1:
        return f"{people[0]} is replying…"
    return f"{', '.join(people[:-1])} and {people[-1]} are replying…"


def colleague_reply(
    items: Iterable[object],
    *,
    now: datetime,
    me: str | None,
    mine: Collection[int] = (),
    window_seconds: float = RECENT_REPLY_SECONDS,
) -> MessageItem | None:
    """The newest reply typed by someone else into this thread in the last
    ``window_seconds``, else None.

    ``items`` is the thread as :meth:`InboxApi.thread` gives it (calls are skipped).
    A reply is a person's outbound ``manual`` message (automatic texts never count);
    it is someone else's unless its id is in ``mine`` (sent from this screen) or its
    author is ``me``.
    """
    since = now - timedelta(seconds=window_seconds)
    found: MessageItem | None = None
    for item in items:
        if not isinstance(item, MessageItem):
            continue
        if item.direction != "out" or item.kind != "manual" or item.id in mine:
            continue
        if me and item.author == me:
            continue
        if since <= item.at <= now + timedelta(seconds=5) and (found is None or item.at > found.at):
            found = item
    return found
