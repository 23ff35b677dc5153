"""The send lifecycle: the one place that moves an outbound text from decided to done.

Every outbound text (text-back, follow-up, desk reply, HELP/START answer, test text) is a
:class:`~services.storage.models.Job` row, and its state is a :class:`SendState`
(:mod:`services.send_state` holds the enums, free of storage, for the UI). Only
the functions here change a job's state, or the pre-carrier status of the message row it
sends (``sending``, ``retrying``, ``failed``); Twilio's delivery statuses are moved
forward by :func:`advance_delivery`. Everything else reads.

::

    PENDING ──claim──▶ CLAIMED ──sent──▶ SENT
       │ ▲               │ │ │
       │ └─refused(429)──┘ │ └─outcome unknown──▶ UNCERTAIN ──(due) claim──▶ CLAIMED
       ├──hold──▶ HELD ────┘ (claimed when quiet hours end)
       └──cancel / skip──▶ CANCELLED / SKIPPED         CLAIMED ──▶ FAILED / SKIPPED / HELD

``maybe_sent_since`` on the job is the rule that makes a send exactly-once: it is set
(and committed) before each create request, and cleared only when the carrier provably
did not create anything. While it is set, the next run looks the message up in the
carrier's log before sending again (:class:`services.outbox.Outbox`).

These functions touch only the rows handed to them: no queries, no commits, no I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.send_state import (
    CANCELLABLE,
    CLAIMABLE,
    DELIVERY_RANK,
    FAILED_DELIVERY,
    OPEN,
    TEXTED_OR_ON_ITS_WAY,
    JobKind,
    JobView,
    SendState,
    Shown,
    shown,
)
from services.storage.models import Job, Message

__all__ = [
    "CANCELLABLE",
    "CLAIMABLE",
    "DELIVERY_RANK",
    "FAILED_DELIVERY",
    "OPEN",
    "TEXTED_OR_ON_ITS_WAY",
    "JobKind",
    "JobView",
    "SendState",
    "Shown",
    "shown",
]


_ALLOWED: dict[SendState, frozenset[SendState]] = {
    SendState.PENDING: frozenset(
        {SendState.CLAIMED, SendState.HELD, SendState.CANCELLED, SendState.SKIPPED}
    ),
    SendState.HELD: frozenset(
        {SendState.CLAIMED, SendState.PENDING, SendState.CANCELLED, SendState.SKIPPED}
    ),
    SendState.CLAIMED: frozenset(
        {
            SendState.SENT,
            SendState.UNCERTAIN,
            SendState.PENDING,  # refused, nothing created: retry after a backoff
            SendState.HELD,
            SendState.FAILED,
            SendState.CANCELLED,
            SendState.SKIPPED,
        }
    ),
    SendState.UNCERTAIN: frozenset({SendState.CLAIMED}),
    SendState.SENT: frozenset(),
    SendState.FAILED: frozenset(),
    SendState.CANCELLED: frozenset(),
    SendState.SKIPPED: frozenset(),
}


class IllegalTransition(RuntimeError):
    """A bug: code asked for a move the lifecycle does not have."""


def _move(job: Job, to: SendState) -> None:
    current = SendState(job.state)
    if to not in _ALLOWED[current]:
        raise IllegalTransition(f"job {job.id} ({job.kind}): {current} -> {to}")
    job.state = to


# ---- creation -----------------------------------------------------------------------------
def new_job(
    kind: JobKind,
    *,
    now: datetime,
    due_at: datetime,
    contact_id: int | None,
    call_id: int | None = None,
    template_key: str = "",
    held: bool = False,
    location_id: int | None = None,
) -> Job:
    """A job waiting for ``due_at`` (HELD when quiet hours put it there); it leaves from
    ``location_id``'s number (None: the first location's)."""
    return Job(
        kind=kind.value,
        state=(SendState.HELD if held else SendState.PENDING).value,
        due_at=due_at,
        contact_id=contact_id,
        call_id=call_id,
        template_key=template_key,
        location_id=location_id,
        attempts=0,
        created_at=now,
    )


def follow_up_job(
    *,
    now: datetime,
    after_seconds: int,
    contact_id: int | None,
    call_id: int | None,
    location_id: int | None,
) -> Job:
    """The one follow-up of a text-back sent ``now``, due ``after_seconds`` later; it
    leaves from the text-back's location (``location_id``, None: the first)."""
    return new_job(
        JobKind.FOLLOW_UP,
        now=now,
        due_at=now + timedelta(seconds=after_seconds),
        contact_id=contact_id,
        call_id=call_id,
        template_key="templates.follow_up",
        location_id=location_id,
    )


def claimed_job(
    kind: JobKind,
    *,
    now: datetime,
    contact_id: int,
    call_id: int | None = None,
    template_key: str = "",
    location_id: int | None = None,
) -> Job:
    """A job claimed at birth by the process creating it (sent straight after commit)."""
    return Job(
        kind=kind.value,
        state=SendState.CLAIMED.value,
        due_at=now,
        claimed_at=now,
        contact_id=contact_id,
        call_id=call_id,
        template_key=template_key,
        location_id=location_id,
        attempts=1,
        created_at=now,
    )


def decided_not_to_send(
    kind: JobKind,
    *,
    now: datetime,
    contact_id: int | None,
    call_id: int | None,
    reason: str,
    location_id: int | None = None,
) -> Job:
    """The record of a text policy refused (anonymous caller, opted out, repeat window)."""
    return Job(
        kind=kind.value,
        state=SendState.SKIPPED.value,
        due_at=now,
        contact_id=contact_id,
        call_id=call_id,
        template_key="",
        location_id=location_id,
        attempts=0,
        reason=reason,
        created_at=now,
        finished_at=now,
    )


# ---- the scheduler's moves ------------------------------------------------------------------
def claim(job: Job, now: datetime) -> None:
    _move(job, SendState.CLAIMED)
    job.claimed_at = now
    job.attempts += 1


def reschedule(job: Job, due_at: datetime, *, held: bool) -> None:
    """Move a waiting job's due time (the delay counts from hang-up; quiet hours)."""
    target = SendState.HELD if held else SendState.PENDING
    if SendState(job.state) != target:
        _move(job, target)
    job.due_at = due_at


def hold(job: Job, until: datetime) -> None:
    """Quiet hours at send time: wait until they end, then the scheduler claims it again."""
    _move(job, SendState.HELD)
    job.due_at = until


def interrupted(job: Job, now: datetime, settle_until: datetime) -> None:
    """Recovery of a job whose process died while it was CLAIMED.

    If a create may have left (``maybe_sent_since``), the job becomes UNCERTAIN and is
    looked up once ``settle_until`` has passed; otherwise it is simply due again now.
    """
    if job.maybe_sent_since is not None:
        _move(job, SendState.UNCERTAIN)
        job.due_at = max(now, settle_until)
        job.reason = "interrupted while sending; checking Twilio's log before sending again"
    else:
        _move(job, SendState.PENDING)
        job.due_at = now
        job.reason = "interrupted before sending"


# ---- one send attempt ---------------------------------------------------------------------
def about_to_send(job: Job, message: Message, now: datetime, *, from_number: str) -> None:
    """Committed before the create request (From ``from_number``): from here on the text
    may exist at Twilio, and a look-up searches for it under that number."""
    if SendState(job.state) != SendState.CLAIMED:
        raise IllegalTransition(f"job {job.id} sends while {job.state}")
    job.message_id = message.id
    job.maybe_sent_since = now
    job.sent_from = from_number
    message.status = "sending"
    if message.error_code is not None or message.error_message is not None:
        message.error_code = None  # a retry: the last attempt's refusal no longer holds
        message.error_message = None


def sent(job: Job | None, message: Message, *, sid: str, status: str, now: datetime) -> None:
    """The carrier has the text as ``sid`` (its answer, or found in its log)."""
    if job is not None:
        _move(job, SendState.SENT)
        job.finished_at = now
        job.reason = None
    message.sid = sid
    message.status = "queued"
    message.error_code = None
    message.error_message = None
    message.sent_at = now
    advance_delivery(message, status)


def uncertain(job: Job, message: Message, *, due_at: datetime, reason: str) -> None:
    """The create's outcome is unknown: look it up at ``due_at`` before any resend."""
    _move(job, SendState.UNCERTAIN)
    job.due_at = due_at
    job.reason = reason
    message.status = "sending"


def refused_for_now(job: Job, message: Message | None, *, due_at: datetime, reason: str) -> None:
    """The carrier provably created nothing (429, connection refused): try at ``due_at``."""
    _move(job, SendState.PENDING)
    job.due_at = due_at
    job.reason = reason
    job.maybe_sent_since = None
    if message is not None:
        message.status = "retrying"
        message.error_message = f"will retry: {reason}"


def failed(
    job: Job,
    message: Message | None,
    *,
    now: datetime,
    reason: str,
    code: int | None = None,
    final_for_contact: bool = False,
) -> None:
    """Refused for good. ``final_for_contact`` (opted out, not textable) records SKIPPED."""
    _move(job, SendState.SKIPPED if final_for_contact else SendState.FAILED)
    job.finished_at = now
    job.reason = reason
    job.maybe_sent_since = None
    if message is not None:
        message.status = "failed"
        message.error_code = code
        message.error_message = reason


def skip(job: Job, now: datetime, reason: str) -> None:
    _move(job, SendState.SKIPPED)
    job.finished_at = now
    job.reason = reason


def cancel(job: Job, now: datetime, reason: str) -> None:
    _move(job, SendState.CANCELLED)
    job.finished_at = now
    job.reason = reason


# ---- delivery status (Twilio's vocabulary) ----------------------------------------------------
def advance_delivery(message: Message, status: str) -> bool:
    """Move an outbound message's status forward only. An unknown status is ignored."""
    if status not in DELIVERY_RANK:
        return False
    if DELIVERY_RANK[status] < DELIVERY_RANK.get(message.status, 0):
        return False
    if status == message.status:
        return False
    message.status = status
    return True
