"""The thread lifecycle: the only code that writes ``conversations.state``.

Transitions (each records who and when, and an audit line the thread shows):

- :func:`close`: open or snoozed → closed (staff).
- :func:`reopen`: closed or snoozed → open (staff).
- :func:`snooze`: open or closed → snoozed until a time in the future (staff); the thread
  reads as open again once the clock passes it (:func:`services.thread_state.effective`).
- :func:`on_inbound`: a new inbound text or missed call brings a closed or snoozed thread
  back to open (the automation; no staff action needed).

Refused transitions raise :class:`ThreadStateError` with a sentence for the desk.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from services import records
from services.clock import as_utc
from services.storage.models import FIRST_LOCATION, Contact, Conversation
from services.thread_state import ThreadState, ThreadStateError, effective

__all__ = ["ThreadStateError", "close", "current", "on_inbound", "reopen", "snooze"]

#: Snoozes longer than this are refused (a typo of a year, not a plan).
MAX_SNOOZE_DAYS = 90


def current(conversation: Conversation, now: datetime) -> ThreadState:
    until = as_utc(conversation.snoozed_until) if conversation.snoozed_until else None
    return effective(conversation.state or ThreadState.OPEN, until, now)


def _set(
    s: Session,
    conversation: Conversation,
    contact: Contact,
    state: ThreadState,
    now: datetime,
    actor: str,
    *,
    until: datetime | None = None,
) -> None:
    before = current(conversation, now)
    conversation.state = state.value
    conversation.snoozed_until = until
    conversation.state_at = now
    conversation.state_by = actor[:100]
    action = {
        ThreadState.OPEN: "conversation.reopened",
        ThreadState.CLOSED: "conversation.closed",
        ThreadState.SNOOZED: "conversation.snoozed",
    }[state]
    detail: dict[str, object] = {"from": before.value}
    if until is not None:
        detail["until"] = until.isoformat()
    if conversation.location_id not in (None, FIRST_LOCATION):
        # Whose thread it was (a contact has one at each location; none: the first's).
        detail["location"] = conversation.location_id
    records.audit(s, now, action, actor=actor, subject=contact.phone, **detail)


def close(
    s: Session, conversation: Conversation, contact: Contact, now: datetime, actor: str
) -> bool:
    """Close the thread; False when it already was."""
    if current(conversation, now) is ThreadState.CLOSED:
        return False
    _set(s, conversation, contact, ThreadState.CLOSED, now, actor)
    return True


def reopen(
    s: Session, conversation: Conversation, contact: Contact, now: datetime, actor: str
) -> bool:
    """Open the thread again; False when it was open (a passed snooze counts as open)."""
    if current(conversation, now) is ThreadState.OPEN and conversation.state == ThreadState.OPEN:
        return False
    _set(s, conversation, contact, ThreadState.OPEN, now, actor)
    return True


def snooze(
    s: Session,
    conversation: Conversation,
    contact: Contact,
    now: datetime,
    until: datetime,
    actor: str,
) -> bool:
    """Snooze the thread until ``until`` (which must be in the future, within
    :data:`MAX_SNOOZE_DAYS`)."""
    until = as_utc(until)
    if until <= now:
        raise ThreadStateError("Pick a time in the future to snooze until.")
    if (until - now).days >= MAX_SNOOZE_DAYS:
        raise ThreadStateError(f"A snooze can last up to {MAX_SNOOZE_DAYS} days.")
    _set(s, conversation, contact, ThreadState.SNOOZED, now, actor, until=until)
    return True


def on_inbound(s: Session, conversation: Conversation, contact: Contact, now: datetime) -> bool:
    """A new inbound text or missed call: a closed or snoozed thread is open again."""
    if (conversation.state or ThreadState.OPEN) == ThreadState.OPEN:
        return False
    _set(s, conversation, contact, ThreadState.OPEN, now, "Frontdesk")
    return True
