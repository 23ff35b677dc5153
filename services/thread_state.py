"""A thread's workflow state as the desk sees it: open, closed, snoozed.

Pure values, free of storage, so ui/ can read them; the transitions live in
:mod:`services.threads`, the only code that writes ``conversations.state``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class ThreadStateError(ValueError):
    """A transition the thread's state does not allow; the message is for the desk."""


class ThreadState(StrEnum):
    """Stored in ``conversations.state``."""

    OPEN = "open"  # wants the desk (the default; new activity brings a thread back here)
    CLOSED = "closed"  # done; a new inbound text or call reopens it
    SNOOZED = "snoozed"  # out of the way until ``snoozed_until``, then open again


def effective(
    state: ThreadState | str, snoozed_until: datetime | None, now: datetime
) -> ThreadState:
    """The state the desk is shown at ``now``: a snooze whose time has come is open
    (no timer has to fire for that; every read applies it)."""
    state = ThreadState(state)
    if state is ThreadState.SNOOZED and (snoozed_until is None or snoozed_until <= now):
        return ThreadState.OPEN
    return state
