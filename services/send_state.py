"""The send lifecycle's vocabulary: states, kinds, and what the desk is shown.

Pure values, free of storage, so ui/ can read them; the transitions live in
:mod:`services.sends`, the only code that writes a job's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class SendState(StrEnum):
    """Where a job is in its lifecycle (stored in ``jobs.state``)."""

    PENDING = "pending"  # waiting for its due time
    HELD = "held"  # waiting for quiet hours to end (due_at is their end)
    CLAIMED = "claimed"  # one process is running it now
    UNCERTAIN = "uncertain"  # a create may have reached the carrier: look before resending
    SENT = "sent"  # the carrier took it (the message row has its SID)
    FAILED = "failed"  # the carrier refused it for good, or it ran out of attempts
    CANCELLED = "cancelled"  # no longer wanted (they replied, staff cancelled)
    SKIPPED = "skipped"  # policy said no (opted out, not textable, text-back off)


class JobKind(StrEnum):
    TEXTBACK = "textback"
    FOLLOW_UP = "follow_up"
    REPLY = "reply"  # typed by the desk
    AUTO = "auto"  # HELP / START answers
    TEST = "test"  # Settings' test text

    @property
    def automatic(self) -> bool:
        """Auto-texts obey text-back being off and quiet hours; the desk's words do not."""
        return self in (JobKind.TEXTBACK, JobKind.FOLLOW_UP)

    @property
    def message_kind(self) -> str:
        """``messages.kind`` of the text this job sends (the export's vocabulary)."""
        return {JobKind.REPLY: "manual", JobKind.TEST: "auto"}.get(self, self.value)


#: The scheduler claims jobs in these states once they are due.
CLAIMABLE = frozenset({SendState.PENDING, SendState.HELD, SendState.UNCERTAIN})
#: Not finished: a reply or staff may still cancel PENDING and HELD ones.
OPEN = frozenset({SendState.PENDING, SendState.HELD, SendState.CLAIMED, SendState.UNCERTAIN})
CANCELLABLE = frozenset({SendState.PENDING, SendState.HELD})
#: A caller counts as texted (repeat window) once a text-back is on its way or sent.
TEXTED_OR_ON_ITS_WAY = frozenset(OPEN | {SendState.SENT})

# ---- delivery status (Twilio's vocabulary) ---------------------------------------------
#: How far along an outbound message is; callbacks arrive out of order, so only forward.
DELIVERY_RANK = {
    "retrying": 0,
    "sending": 1,
    "accepted": 2,
    "scheduled": 2,
    "queued": 2,
    "sent": 3,
    "delivered": 5,
    "undelivered": 5,
    "failed": 5,
    "read": 6,
}
FAILED_DELIVERY = frozenset({"failed", "undelivered"})


# ---- what the desk sees -------------------------------------------------------------------
class Shown(StrEnum):
    """A job's state as the desk reads it (derived; never stored)."""

    NONE = "none"
    SCHEDULED = "scheduled"
    HELD = "held"
    SENDING = "sending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class JobView:
    shown: Shown
    due_at: datetime | None  # when it will send (scheduled, held, retrying)
    reason: str | None


def shown(state: SendState | str | None, *, attempts: int = 0) -> Shown:
    if state is None:
        return Shown.NONE
    state = SendState(state)
    if state is SendState.PENDING:
        return Shown.RETRYING if attempts > 0 else Shown.SCHEDULED
    if state in (SendState.CLAIMED, SendState.UNCERTAIN):
        return Shown.SENDING
    return Shown(state.value)
