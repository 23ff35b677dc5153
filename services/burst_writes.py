"""The burst's writes in a few Core statements: a ringing call's record, a missed call's
text-back, the call's later status and the send's outcome.

Under a burst of missed calls every webhook's bookkeeping waits its turn on SQLite's
single writer, and two of those writes stand between a caller and what they get: the
ringing call's record (queued before the voice answer) and the Dial result's decision,
which must be committed before the text can leave. Through the ORM the decision (the
call, the contact and its tag, the thread, the claimed job and the message it sends, the
audit line) costs ~6.5 ms of Python and the record ~2 ms; 20 of each queue one behind
the other. Two more writes follow every missed call, not urgent but sharing the GIL
with the event loop while webhooks wait for their answers: the call's final status
(~2 ms through the ORM) and the send's outcome (~4 ms). Here the same rows are written
with prebuilt Core statements, for a fraction of that; the INSERTs and UPDATEs run as
driver SQL compiled once (:mod:`services.storage.prepared`), which spares each of them
the ~50-90 µs of Python that executing a Core statement costs. Only the writing differs: the
decisions are the general path's own (:func:`policy.decide_textback`,
:mod:`services.sends` for the job's state, :func:`records.note_call` and
:func:`records.note_message` for the thread, the outbox's renderer).

Each function returns None, having written nothing, whenever the call is anything but
the common case (forward mode; no voice record yet, an anonymous or opted-out caller, a
closed or snoozed thread, a delay, quiet hours, a Lookup still to do, a repeat caller; a
status that decides the call or moves its text-back; a send whose delivery status came
first): the engine then takes the general way (``Engine._call_for``,
``Engine._mark_missed``, ``Outbox._record_sent``). tests/services/test_burst_writes.py
runs the same calls both ways and compares every row they write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from services import lookups, phones, policy, records, sends, templates
from services.clock import as_utc
from services.locations import FIRST, Locations
from services.sends import JobKind
from services.settings import Settings
from services.storage import prepared
from services.storage.models import (
    AuditEntry,
    Call,
    Contact,
    Conversation,
    EarlyStatus,
    Job,
    Message,
    Tag,
    contact_tags,
)
from services.thread_state import ThreadState

# Built once, with their values bound at execution: a statement built per call costs more
# Python than SQLite takes to run it. Executed on the session's connection, beside the ORM.
_calls = cast(Table, Call.__table__)
_contacts = cast(Table, Contact.__table__)
_conversations = cast(Table, Conversation.__table__)
_CALL = select(
    _calls.c.id,
    _calls.c.from_raw,
    _calls.c.outcome,
    _calls.c.started_at,
    _calls.c.source,
    _calls.c.location_id,
).where(_calls.c.sid == bindparam("sid"))
_CALL_ID = select(_calls.c.id).where(_calls.c.sid == bindparam("sid"))
_CONTACT = select(
    _contacts.c.id, _contacts.c.opted_out, _contacts.c.opted_in_at, _contacts.c.name
).where(_contacts.c.phone == bindparam("phone"))
_THREAD = select(
    _conversations.c.id,
    _conversations.c.state,
    _conversations.c.unread_count,
    _conversations.c.last_message_at,
    _conversations.c.last_preview,
).where(
    _conversations.c.contact_id == bindparam("contact_id"),
    _conversations.c.location_id == bindparam("location_id"),
)
_TAG_NAMES = (
    select(Tag.__table__.c.name)
    .join(contact_tags, contact_tags.c.tag_id == Tag.__table__.c.id)
    .where(contact_tags.c.contact_id == bindparam("contact_id"))
)
_TAG_ID = select(Tag.__table__.c.id).where(Tag.__table__.c.name == bindparam("name"))
_LAST_TEXTBACK = (
    select(_calls.c.started_at)
    .join(Job.__table__, Job.__table__.c.call_id == _calls.c.id)
    .where(
        _calls.c.phone == bindparam("phone"),
        _calls.c.id != bindparam("call_id"),
        func.coalesce(_calls.c.location_id, FIRST) == bindparam("location_id"),
        Job.__table__.c.kind == JobKind.TEXTBACK.value,
        Job.__table__.c.state.in_([state.value for state in sends.TEXTED_OR_ON_ITS_WAY]),
    )
    .order_by(_calls.c.started_at.desc())
    .limit(1)
)
_UPDATE_CALL = update(_calls).where(_calls.c.id == bindparam("call_id"))
_jobs = cast(Table, Job.__table__)
_messages = cast(Table, Message.__table__)
_CALL_NOW = select(_calls.c.id, _calls.c.outcome, _calls.c.ended_at, _calls.c.ring_seconds).where(
    _calls.c.sid == bindparam("sid")
)
_WAITING_TEXTBACK = select(_jobs.c.id).where(
    _jobs.c.call_id == bindparam("call_id"),
    _jobs.c.kind == JobKind.TEXTBACK.value,
    _jobs.c.state == sends.SendState.PENDING.value,
)
_SENDING = (
    select(
        _jobs.c.state,
        _jobs.c.kind,
        _jobs.c.contact_id,
        _jobs.c.call_id,
        _jobs.c.location_id,
        _messages.c.id.label("message_id"),
        _messages.c.status,
        _conversations.c.id.label("conversation_id"),
    )
    .select_from(_jobs)
    .join(_messages, _messages.c.id == _jobs.c.message_id)
    # The contact's thread at the job's location (a job from before locations: the first).
    .outerjoin(
        _conversations,
        (_conversations.c.contact_id == _jobs.c.contact_id)
        & (_conversations.c.location_id == func.coalesce(_jobs.c.location_id, FIRST)),
    )
    .where(_jobs.c.id == bindparam("job_id"))
)
_EARLY = select(EarlyStatus.__table__.c.sid).where(EarlyStatus.__table__.c.sid == bindparam("sid"))
_UPDATE_JOB = update(_jobs).where(_jobs.c.id == bindparam("job_id"))
_UPDATE_MESSAGE = update(_messages).where(_messages.c.id == bindparam("message_id"))
_UPDATE_THREAD = update(_conversations).where(_conversations.c.id == bindparam("thread_id"))
_TAG_CONTACT = contact_tags.insert()


@dataclass(frozen=True, slots=True)
class TextedNow:
    """What :func:`text_now` wrote: the ids the engine announces, and the text to send."""

    call_id: int
    contact_id: int
    conversation_id: int
    job_id: int
    message_id: int
    phone: str
    body: str
    location_id: int
    from_: str  # the location's number the text leaves from


def last_textback(s: Session, phone: str, call_id: int, location_id: int) -> datetime | None:
    """When ``phone`` was last texted back (or has a text-back on the way) by location
    ``location_id`` for another call than ``call_id``: each location keeps its own repeat
    window (a caller who rang North and then Main hears from both; a call recorded
    before locations counts as the first's)."""
    params = {"phone": phone, "call_id": call_id, "location_id": location_id}
    value = s.connection().scalar(_LAST_TEXTBACK, params)
    return as_utc(value) if value is not None else None


def record_ringing_call(
    s: Session,
    *,
    call_sid: str,
    from_raw: str,
    to: str,
    cfg: Settings,
    location_id: int,
    arrived: datetime,
) -> int | None:
    """Record a new call to location ``location_id`` (whose settings are ``cfg``) that
    rings its phones (ring mode), with its audit line; its id. None, with nothing
    written, when the call is already recorded or the location is in forward mode (the
    general path then takes it)."""
    if not cfg["forwarding.numbers"]:
        return None
    db = s.connection()
    if db.scalar(_CALL_ID, {"sid": call_sid}) is not None:
        return None  # a retry, or the Dial result got here first
    call_id = _insert(
        db,
        Call,
        {
            "sid": call_sid,
            "from_raw": from_raw or "unknown",
            "phone": phones.classify(from_raw, cfg["business.default_region"]).e164,
            "to_number": to,
            "location_id": location_id,
            "started_at": arrived,
            "status": "ringing",
            "outcome": "pending",
            "mode": "ring",
            "after_hours": policy.after_hours(cfg, arrived),
            "source": "live",
        },
    )
    _audit(db, arrived, "call.received", call_sid, {"mode": "ring"})
    return call_id


def _audit(db: Connection, at: datetime, action: str, subject: str, detail: Any) -> None:
    """What :func:`records.audit` adds, as one INSERT."""
    values = {"at": at, "actor": "system", "action": action, "subject": subject}
    _insert(db, AuditEntry, {**values, "detail": detail})


_INSERTS = {
    model: cast(Table, model.__table__).insert()
    for model in (AuditEntry, Call, Contact, Conversation, Job, Message)
}


def _insert(connection: Connection, model: Any, values: dict[str, Any]) -> int:
    """INSERT one row of ``model``'s table; its new id."""
    return prepared.insert_id(connection, _INSERTS[model], values)


def _set_columns(row: Any) -> dict[str, Any]:
    """The column values set on a transient ORM object (the rest keep their defaults)."""
    columns = type(row).__table__.columns
    return {key: value for key, value in vars(row).items() if key in columns}


def text_now(
    s: Session,
    *,
    call_sid: str,
    dial_status: str,
    ring_seconds: int | None,
    locations: Locations,
    now: datetime,
    render: Callable[[Settings, str, str | None], str],
) -> TextedNow | None:
    """Record the missed call ``call_sid`` and its text-back, claimed and about to be sent
    (not committed); None, with nothing written, when the call is not the common case.

    The call's location (from its record) gives the settings, the thread and the number
    the text leaves from. ``render(cfg, template_key, contact_name)`` writes the body.
    """
    # ---- read everything first: a case this path does not take writes nothing --------
    db = s.connection()
    call = db.execute(_CALL, {"sid": call_sid}).one_or_none()
    if call is None or call.outcome != "pending" or call.source != "live":
        return None
    location = locations.get(call.location_id)
    cfg = location.settings
    region = cfg["business.default_region"]
    check = phones.classify(call.from_raw, region)
    phone = check.e164
    if phone is None or not check.textable or not cfg["business.phone_number"]:
        return None
    contact = db.execute(_CONTACT, {"phone": phone}).one_or_none()
    conversation = None
    tagged = False
    if contact is not None:
        if contact.opted_out or contact.opted_in_at is not None:
            return None  # opted out, or maybe blocked at this number (services.opt_outs)
        conversation = db.execute(
            _THREAD, {"contact_id": contact.id, "location_id": location.id}
        ).one_or_none()
        if conversation is not None and (conversation.state or ThreadState.OPEN) != (
            ThreadState.OPEN
        ):
            return None  # the general path reopens it (services.threads)
        names = db.scalars(_TAG_NAMES, {"contact_id": contact.id})
        tagged = any(name.lower() == records.MISSED_CALL.lower() for name in names)
    started = as_utc(call.started_at)
    decision = policy.decide_textback(
        cfg,
        policy.Facts(
            phone=check,
            opted_out=False,
            last_textback_at=last_textback(s, phone, call.id, location.id),
            call_at=started,
            now=now,
        ),
    )
    if not decision.send or decision.due_at is None or decision.due_at > now:
        return None  # not sent, or not yet: the general path records why, or schedules it
    if cfg["lookup.enabled"]:
        line = lookups.cached(s, phone)
        if line is None:
            return None  # a Lookup first (the general path waits for it)
        if line.line_type and not phones.classify(phone, region, line_type=line.line_type).textable:
            return None
    if policy.hold_for_quiet_hours(cfg, now, phone)[1] is not None:
        return None

    # ---- write ---------------------------------------------------------------------
    if contact is None:
        contact_id = _insert(
            db,
            Contact,
            {"phone": phone, "notes": "", "opted_out": False, "created_at": now, "updated_at": now},
        )
        name = None
    else:
        contact_id, name = contact.id, contact.name
    if not tagged:
        tag_id = db.scalar(_TAG_ID, {"name": records.MISSED_CALL})
        if tag_id is None:
            tag_id = records.tag(s, records.MISSED_CALL).id
        prepared.write(db, _TAG_CONTACT, {"contact_id": contact_id, "tag_id": tag_id})

    thread = Conversation(  # transient: the thread's new values, computed as everywhere
        contact_id=contact_id,
        location_id=location.id,
        last_preview=conversation.last_preview if conversation else "",
        unread_count=conversation.unread_count if conversation else 0,
        last_message_at=conversation.last_message_at if conversation else None,
    )
    records.note_call(thread, started)
    template_key = decision.template_key or "templates.missed_call"
    body = render(cfg, template_key, name)
    message = Message(
        direction="out",
        body=body,
        status="sending",
        kind=JobKind.TEXTBACK.message_kind,
        author=None,
        segments=templates.segments(body).segments,
        call_id=call.id,
        created_at=now,
    )
    records.note_message(thread, message)
    changed = {
        "last_message_at": thread.last_message_at,
        "last_preview": thread.last_preview,
        "unread_count": thread.unread_count,
    }
    if conversation is None:
        conversation_id = _insert(
            db,
            Conversation,
            {"contact_id": contact_id, "location_id": location.id, **changed},
        )
    else:
        conversation_id = conversation.id
        prepared.write(db, _UPDATE_THREAD, {"thread_id": conversation_id, **changed})
    message.conversation_id = conversation_id
    message.id = _insert(db, Message, _set_columns(message))

    job = sends.claimed_job(
        JobKind.TEXTBACK,
        now=now,
        contact_id=contact_id,
        call_id=call.id,
        template_key=template_key,
        location_id=location.id,
    )
    sends.about_to_send(job, message, now, from_number=cfg["business.phone_number"])
    job_id = _insert(db, Job, _set_columns(job))

    values: dict[str, Any] = {
        "dial_status": dial_status,
        "outcome": "missed",
        "contact_id": contact_id,
        "after_hours": decision.after_hours,
    }
    if ring_seconds is not None:
        values["ring_seconds"] = ring_seconds
    prepared.write(db, _UPDATE_CALL, {"call_id": call.id, **values})
    detail = {"dial": dial_status, "textback": job.state, "reason": decision.reason}
    _audit(db, now, "call.missed", call_sid, detail)
    return TextedNow(
        call.id,
        contact_id,
        conversation_id,
        job_id,
        message.id,
        phone,
        body,
        location.id,
        cfg["business.phone_number"],
    )


def call_status(
    s: Session,
    *,
    call_sid: str,
    status: str,
    final: bool,
    duration_seconds: int | None,
    now: datetime,
) -> int | None:
    """Record a known call's status from Twilio's status callback (not committed); the
    call's id. None, with nothing written, unless the status changes nothing but the
    call's own columns: an unknown call, a final status for a call still undecided (it
    is missed: the general path decides its text-back), or a text-back still waiting
    whose delay then counts from the hang-up."""
    db = s.connection()
    call = db.execute(_CALL_NOW, {"sid": call_sid}).one_or_none()
    if call is None:
        return None
    values: dict[str, Any] = {"status": status}
    if final:
        if call.outcome == "pending":
            return None
        if call.ended_at is None:
            values["ended_at"] = now
            if (
                call.outcome == "missed"
                and db.scalar(_WAITING_TEXTBACK, {"call_id": call.id}) is not None
            ):
                return None
        if duration_seconds is not None and call.ring_seconds is None:
            values["ring_seconds"] = duration_seconds
    prepared.write(db, _UPDATE_CALL, {"call_id": call.id, **values})
    return int(call.id)


@dataclass(frozen=True, slots=True)
class RecordedSent:
    """What :func:`record_sent` wrote: the ids the outbox announces."""

    call_id: int | None
    contact_id: int | None
    conversation_id: int | None
    follow_up: bool


def record_sent(
    s: Session,
    *,
    job_id: int,
    sid: str,
    status: str,
    num_segments: int | None,
    now: datetime,
    locations: Locations,
) -> RecordedSent | None:
    """Record that the carrier has job ``job_id``'s text as ``sid`` (not committed), and
    add a text-back's follow-up, from the same location, when that location's
    ``followup.delay_seconds`` > 0. None, with nothing
    written, unless the job is claimed with its message row, or when a delivery status
    for ``sid`` came first (the general path applies it)."""
    db = s.connection()
    row = db.execute(_SENDING, {"job_id": job_id}).one_or_none()
    if row is None or row.state != sends.SendState.CLAIMED.value:
        return None
    records.lock_sid(s, sid)  # a delivery callback for it may be landing now
    if db.scalar(_EARLY, {"sid": sid}) is not None:
        return None
    # Transient rows, moved by the send lifecycle's own function, then written.
    job = Job(id=job_id, kind=row.kind, state=row.state)
    message = Message(id=row.message_id, status=row.status)
    sends.sent(job, message, sid=sid, status=status, now=now)
    prepared.write(
        db,
        _UPDATE_JOB,
        {"job_id": job_id, "state": job.state, "finished_at": job.finished_at, "reason": None},
    )
    changed: dict[str, Any] = {
        "sid": message.sid,
        "status": message.status,
        "error_code": None,
        "error_message": None,
        "sent_at": message.sent_at,
    }
    if num_segments:
        changed["segments"] = num_segments
    prepared.write(db, _UPDATE_MESSAGE, {"message_id": message.id, **changed})
    delay = 0
    if JobKind(row.kind) is JobKind.TEXTBACK:
        delay = locations.get(row.location_id).settings["followup.delay_seconds"]
    follow_up = delay > 0
    if follow_up:
        next_job = sends.follow_up_job(
            now=now,
            after_seconds=delay,
            contact_id=row.contact_id,
            call_id=row.call_id,
            location_id=row.location_id,
        )
        _insert(db, Job, _set_columns(next_job))
    conversation_id = row.conversation_id if row.contact_id is not None else None
    return RecordedSent(row.call_id, row.contact_id, conversation_id, follow_up)
