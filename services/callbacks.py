"""Calling a caller back through Twilio, and the lifecycle of such a call.

"Call back" places a call from the business number to the desk's phone
(``callbacks.desk_phone``, else the first phone of ``forwarding.numbers``); when the
desk answers, TwiML dials the caller with the business number as caller ID, so the
caller sees the number they called. Starting it cancels the caller's waiting auto-texts
(:func:`services.sends.cancel`), clears "pending callback" and attends their missed
calls. Its outcome and duration come back on the callback-status and callback-dial
webhooks. An outbound call from the business number made elsewhere (a softphone, the
Twilio console) is found in Twilio's Calls log at catch-up and counts the same.

This module owns the callback's state; nothing else writes ``callbacks.state``::

    ringing_desk -> connecting -> connected | not_reached
    ringing_desk -> desk_missed            (the desk's phone was not answered)
    (catch-up)   -> connected | not_reached
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from services import phones, records, sends, twiml
from services.clock import Clock, as_utc
from services.events import CallChanged, ContactChanged, ConversationChanged, Event, EventBus
from services.locations import Locations
from services.ports import Carrier, CarrierError, RemoteCall
from services.receiver import PATHS
from services.sends import JobKind
from services.settings import Settings
from services.storage.database import Database, UnitOfWork
from services.storage.models import Call, Callback, Contact, Job
from services.webhook_fields import CallStatusUpdate, DialResult

log = logging.getLogger(__name__)


class CallbackState(StrEnum):
    RINGING_DESK = "ringing_desk"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    NOT_REACHED = "not_reached"
    DESK_MISSED = "desk_missed"


FINAL = frozenset({CallbackState.CONNECTED, CallbackState.NOT_REACHED, CallbackState.DESK_MISSED})
_ALLOWED: dict[CallbackState, frozenset[CallbackState]] = {
    CallbackState.RINGING_DESK: frozenset(
        {CallbackState.CONNECTING, CallbackState.DESK_MISSED, CallbackState.CONNECTED}
        | {CallbackState.NOT_REACHED}
    ),
    CallbackState.CONNECTING: frozenset({CallbackState.CONNECTED, CallbackState.NOT_REACHED}),
    CallbackState.CONNECTED: frozenset(),
    CallbackState.NOT_REACHED: frozenset(),
    CallbackState.DESK_MISSED: frozenset(),
}
WORDS = {
    CallbackState.RINGING_DESK: "calling your desk phone…",
    CallbackState.CONNECTING: "connecting…",
    CallbackState.CONNECTED: "talked",
    CallbackState.NOT_REACHED: "no answer",
    CallbackState.DESK_MISSED: "desk phone not answered",
}
_UNANSWERED = frozenset({"busy", "no-answer", "failed", "canceled"})


class CallbackRefused(ValueError):
    """The callback cannot be placed (no desk phone, no business number, Twilio refused);
    the message says what to do. Nothing was changed."""


def move(row: Callback, to: CallbackState) -> bool:
    """Move ``row`` to ``to`` when allowed (a late or repeated webhook is ignored)."""
    current = CallbackState(row.state)
    if to is current or to not in _ALLOWED[current]:
        return False
    row.state = to.value
    return True


def desk_phone(cfg: Settings) -> str | None:
    numbers: list[str] = cfg["forwarding.numbers"]
    return cfg["callbacks.desk_phone"] or (numbers[0] if numbers else None)


def settle_contact(uow: UnitOfWork, contact: Contact, now: datetime, why: str) -> list[Event]:
    """What a callback does for the contact: cancel their waiting auto-texts, clear
    "pending callback", attend their missed calls. Returns the events to publish."""
    s = uow.session
    events: list[Event] = [ContactChanged(contact.id)]
    jobs = s.scalars(
        select(Job).where(
            Job.contact_id == contact.id,
            Job.kind.in_([JobKind.TEXTBACK.value, JobKind.FOLLOW_UP.value]),
            Job.state.in_([state.value for state in sends.CANCELLABLE]),
        )
    ).all()
    for job in jobs:
        sends.cancel(job, now, why)
        if job.call_id is not None:
            events.append(CallChanged(job.call_id))
    records.remove_tag(contact, records.PENDING_CALLBACK)
    for call in s.scalars(
        select(Call).where(
            Call.contact_id == contact.id, Call.outcome == "missed", Call.attended_at.is_(None)
        )
    ):
        call.attended_at = now
        events.append(CallChanged(call.id))
    # A callback is the contact's (every thread shows it), whichever number placed it.
    events += [
        ConversationChanged(cid, contact.id) for cid in records.conversation_ids(s, contact.id)
    ]
    contact.updated_at = now
    return events


class Callbacks:
    """Places callbacks and follows them through Twilio's webhooks."""

    def __init__(
        self,
        db: Database,
        carrier: Carrier,
        bus: EventBus,
        clock: Clock,
        *,
        public_url: Callable[[], str | None],
        locations: Callable[[Session], Locations],
    ) -> None:
        self._db = db
        self._carrier = carrier
        self._bus = bus
        self._clock = clock
        self._public_url = public_url
        self._locations = locations

    def _publish_after(self, uow: UnitOfWork, events: list[Event]) -> None:
        for event in events:
            uow.after_commit(functools.partial(self._bus.publish, event))

    async def call_back(
        self, contact_id: int, *, actor: str, location_id: int | None = None
    ) -> int:
        """Ring the desk's phone, then the contact; returns the callback's id.

        The location ``location_id`` (None: the first) places it: its number is the
        caller ID the contact sees, its desk phone rings. Raises
        :class:`CallbackRefused` (nothing changed) when it cannot be placed."""

        def read(s: Session) -> tuple[str, str, str, str]:
            cfg = self._locations(s).get(location_id).settings
            contact = s.get(Contact, contact_id)
            if contact is None:
                raise CallbackRefused("That contact no longer exists.")
            if not cfg["business.phone_number"]:
                raise CallbackRefused("Set the business's Twilio number in Settings first.")
            desk = desk_phone(cfg)
            if desk is None:
                raise CallbackRefused(
                    "Set the phone that rings for Call back (Settings, Phones to ring)."
                )
            if phones.normalize(contact.phone) is None:
                raise CallbackRefused(f"{contact.phone} is not a phone number Twilio can call.")
            label = contact.name or phones.format_for_display(contact.phone)
            return cfg["business.phone_number"], desk, contact.phone, label

        business, desk, caller, label = await self._db.run(lambda uow: read(uow.session))
        base = (self._public_url() or "").rstrip("/")
        document = twiml.connect_callback(
            caller,
            caller_id=business,
            action=(base + PATHS["callback_dial"]) if base else PATHS["callback_dial"],
            announce=f"Calling {label} back.",
        )
        try:
            sid = await self._carrier.create_call(
                to=desk,
                from_=business,
                twiml=document,
                status_callback=(base + PATHS["callback_status"]) if base else None,
            )
        except CarrierError as exc:
            raise CallbackRefused(f"Twilio did not place the call: {exc}") from exc

        def record(uow: UnitOfWork) -> int:
            s = uow.session
            now = self._clock.now()
            contact = s.get(Contact, contact_id)
            if contact is None:
                raise CallbackRefused("That contact no longer exists.")
            row = Callback(
                sid=sid,
                contact_id=contact.id,
                phone=caller,
                started_at=now,
                state=CallbackState.RINGING_DESK.value,
                actor=actor[:100],
                source="desk",
            )
            s.add(row)
            events = settle_contact(uow, contact, now, f"{actor} called back")
            records.audit(s, now, "contact.called_back", actor=actor, subject=caller, sid=sid)
            s.flush()
            self._publish_after(uow, events)
            uow.commit()
            return row.id

        return await self._db.run(record, urgent=True)

    async def status(self, update: CallStatusUpdate) -> None:
        """The callback's own (desk leg) status: answered, or not answered at all."""

        def work(uow: UnitOfWork) -> None:
            row = uow.session.scalar(select(Callback).where(Callback.sid == update.call_sid))
            if row is None:
                return
            now = self._clock.now()
            changed = False
            if update.status == "in-progress":
                changed = move(row, CallbackState.CONNECTING)
            elif update.status in _UNANSWERED:
                changed = move(row, CallbackState.DESK_MISSED)
            ended = update.status in _UNANSWERED or update.status == "completed"
            if ended and row.ended_at is None:
                row.ended_at = now
                changed = True
            if changed:
                self._publish_after(uow, [ContactChanged(row.contact_id), *self._conv(uow, row)])
                uow.commit()

        await self._db.run(work)

    async def dial_result(self, result: DialResult) -> str:
        """The caller's leg ended: talked (with its duration) or not reached."""

        def work(uow: UnitOfWork) -> None:
            row = uow.session.scalar(select(Callback).where(Callback.sid == result.call_sid))
            if row is None:
                return
            talked = result.dial_status == "completed" and result.bridged is not False
            move(row, CallbackState.CONNECTING)
            if move(row, CallbackState.CONNECTED if talked else CallbackState.NOT_REACHED):
                row.duration_seconds = result.dial_seconds if talked else None
                row.ended_at = row.ended_at or self._clock.now()
                self._publish_after(uow, [ContactChanged(row.contact_id), *self._conv(uow, row)])
                uow.commit()

        await self._db.run(work)
        return twiml.hangup()

    @staticmethod
    def _conv(uow: UnitOfWork, row: Callback) -> list[Event]:
        return [
            ConversationChanged(cid, row.contact_id)
            for cid in records.conversation_ids(uow.session, row.contact_id)
        ]

    async def found_in_log(self, call: RemoteCall) -> bool:
        """An outbound call from the business number found at catch-up: a callback when it
        went to a known contact (and is not one of ours). True when recorded."""
        if call.parent_call_sid or not call.direction.startswith("outbound"):
            return False
        if call.status not in _UNANSWERED | {"completed"} or call.start_time is None:
            return False
        started = as_utc(call.start_time)

        def work(uow: UnitOfWork) -> bool:
            s = uow.session
            if s.scalar(select(Callback.id).where(Callback.sid == call.sid)) is not None:
                return False
            contact = s.scalar(select(Contact).where(Contact.phone == call.to))
            if contact is None:
                return False
            talked = call.status == "completed" and (call.duration_seconds or 0) > 0
            row = Callback(
                sid=call.sid,
                contact_id=contact.id,
                phone=contact.phone,
                started_at=started,
                ended_at=as_utc(call.end_time) if call.end_time else None,
                state=(CallbackState.CONNECTED if talked else CallbackState.NOT_REACHED).value,
                duration_seconds=call.duration_seconds if talked else None,
                actor=None,
                source="log",
            )
            s.add(row)
            events: list[Event] = []
            last_missed = s.scalar(
                select(Call.started_at)
                .where(Call.contact_id == contact.id, Call.outcome == "missed")
                .order_by(Call.started_at.desc())
                .limit(1)
            )
            if last_missed is not None and as_utc(last_missed) <= started:
                events = settle_contact(uow, contact, self._clock.now(), "called back")
            records.audit(s, self._clock.now(), "contact.called_back", subject=contact.phone)
            s.flush()
            self._publish_after(uow, events or [ContactChanged(contact.id)])
            uow.commit()
            return True

        return await self._db.run(work)
