"""From the engine's change events to durable integration events and deliveries.

The engine and the inbox publish plain change events (:mod:`services.events`); on the
number holder the :class:`Recorder` reads what changed and records, in one unit of work,
each integration event (keyed by what happened, so a change seen twice is recorded once)
and one delivery row per endpoint that wants it. Nothing here runs on the engine's path:
a burst of changes is collected and written in one transaction after it.

A holder that starts (or takes over) sweeps the last day, so changes made while no PC
held the number are recorded too; an endpoint gets only events that happened after it
was added.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.clock import Clock, as_utc
from services.events import CallChanged, ContactChanged, ConversationChanged, Event, EventBus
from services.integrations import catalog
from services.integrations.catalog import EventType
from services.storage.database import Database, UnitOfWork
from services.storage.models import (
    AuditEntry,
    Call,
    Contact,
    Conversation,
    IntegrationDelivery,
    IntegrationEndpoint,
    IntegrationEvent,
    Message,
    Voicemail,
)
from services.tasks import TaskSet

log = logging.getLogger(__name__)

SWEEP_WINDOW = timedelta(hours=24)
RECENT_MESSAGES = 20  # per changed thread: a status callback is for one of the latest
AUDIT_WINDOW = timedelta(hours=1)

# What HubSpot is sent; every event goes to every webhook endpoint.
HUBSPOT_TYPES = frozenset(
    {
        EventType.CALL_MISSED,
        EventType.TEXT_SENT,
        EventType.REPLY_RECEIVED,
        EventType.CONTACT_BOOKED,
        EventType.CONTACT_UPDATED,
    }
)
AUDIT_ACTIONS = (*catalog.CONTACT_ACTIONS, catalog.BOOKED_ACTION, catalog.CLOSED_ACTION)


def wants(endpoint: IntegrationEndpoint, kind: str) -> bool:
    return endpoint.kind == "webhook" or kind in HUBSPOT_TYPES


def record(
    s: Session,
    endpoints: Iterable[IntegrationEndpoint],
    key: str,
    payload: dict[str, Any],
    occurred_at: datetime,
    now: datetime,
) -> int:
    """Record one event and its deliveries (once, however often called); the number of
    deliveries added."""
    kind = str(payload["type"])
    targets = [
        e for e in endpoints if wants(e, kind) and as_utc(e.created_at) <= as_utc(occurred_at)
    ]
    if not targets:
        return 0
    event = s.scalar(select(IntegrationEvent).where(IntegrationEvent.key == key))
    if event is None:
        event = IntegrationEvent(
            key=key, type=kind, occurred_at=occurred_at, payload=payload, created_at=now
        )
        s.add(event)
        s.flush()
    have = set(
        s.scalars(
            select(IntegrationDelivery.endpoint_id).where(IntegrationDelivery.event_id == event.id)
        )
    )
    added = 0
    for endpoint in targets:
        if endpoint.id in have:
            continue
        s.add(
            IntegrationDelivery(
                endpoint_id=endpoint.id,
                event_id=event.id,
                state="pending",
                attempts=0,
                due_at=now,
                created_at=now,
            )
        )
        added += 1
    return added


class Recorder:
    """Collects change events; writes integration events and deliveries on the holder."""

    def __init__(
        self, db: Database, bus: EventBus, clock: Clock, *, on_recorded: Callable[[], None]
    ) -> None:
        self._db = db
        self._clock = clock
        self._on_recorded = on_recorded
        self._calls: set[int] = set()
        self._conversations: set[int] = set()
        self._contacts: set[int] = set()
        self._tasks = TaskSet("integrations-recorder")
        self._lock = asyncio.Lock()
        self._running = False
        self._scheduled = False
        bus.subscribe(self._on_event)

    async def start(self) -> None:
        """Start recording (the holder), after sweeping the last day."""
        self._running = True
        await self.sweep()

    async def stop(self) -> None:
        self._running = False
        await self._tasks.close()

    async def idle(self) -> None:
        await self._tasks.drain()

    def _on_event(self, event: Event) -> None:
        if not self._running:
            return
        if isinstance(event, CallChanged):
            self._calls.add(event.call_id)
        elif isinstance(event, ConversationChanged):
            self._conversations.add(event.conversation_id)
            self._contacts.add(event.contact_id)
        elif isinstance(event, ContactChanged):
            self._contacts.add(event.contact_id)
        else:
            return
        if not self._scheduled:
            self._scheduled = True
            self._tasks.spawn(self._flush(), name="integrations-record")

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the rest of this burst arrive first
        async with self._lock:
            # Taken only once the previous flush is done: what changed while it ran is
            # written by this one flush, not by one unit of work per change.
            self._scheduled = False
            calls, self._calls = self._calls, set()
            conversations, self._conversations = self._conversations, set()
            contacts, self._contacts = self._contacts, set()
            added = await self._db.run(
                lambda uow: self._record(uow, calls, conversations, contacts, None)
            )
        if added:
            self._on_recorded()

    async def sweep(self) -> int:
        """Record what the last day holds (idempotent); the number of deliveries added."""
        async with self._lock:
            since = self._clock.now() - SWEEP_WINDOW
            added = await self._db.run(lambda uow: self._record(uow, set(), set(), set(), since))
        if added:
            self._on_recorded()
        return added

    def _record(
        self,
        uow: UnitOfWork,
        calls: set[int],
        conversations: set[int],
        contacts: set[int],
        since: datetime | None,
    ) -> int:
        s = uow.session
        endpoints = list(
            s.scalars(select(IntegrationEndpoint).where(IntegrationEndpoint.enabled.is_(True)))
        )
        if not endpoints:
            return 0
        now = self._clock.now()
        oldest = min(as_utc(e.created_at) for e in endpoints)
        added = 0

        call_rows: list[Call] = []
        if since is not None:
            call_rows = list(
                s.scalars(select(Call).where(Call.outcome == "missed", Call.started_at >= since))
            )
        elif calls:
            call_rows = list(s.scalars(select(Call).where(Call.id.in_(calls))))
        for call in call_rows:
            if call.outcome != "missed":
                continue
            contact = s.get(Contact, call.contact_id) if call.contact_id else None
            key, payload = catalog.call_missed(call, contact, now)
            added += record(s, endpoints, key, payload, call.ended_at or call.started_at, now)

        added += self._record_voicemails(s, endpoints, calls, since, now)

        if since is not None:
            conversations = set(
                s.scalars(select(Conversation.id).where(Conversation.last_message_at >= since))
            )
        for conversation_id in sorted(conversations):
            conversation = s.get(Conversation, conversation_id)
            if conversation is None:
                continue
            contact = s.get(Contact, conversation.contact_id)
            if contact is None:
                continue
            stmt = select(Message).where(Message.conversation_id == conversation_id)
            stmt = stmt.where(Message.created_at >= (since or oldest))
            for message in s.scalars(stmt.order_by(Message.id.desc()).limit(RECENT_MESSAGES)):
                for key, payload in catalog.message_events(message, contact, now):
                    added += record(s, endpoints, key, payload, message.created_at, now)

        audit = select(AuditEntry).where(AuditEntry.action.in_(AUDIT_ACTIONS))
        if since is not None:
            audit = audit.where(AuditEntry.at >= since)
        elif contacts:
            phones = list(s.scalars(select(Contact.phone).where(Contact.id.in_(contacts))))
            audit = audit.where(
                AuditEntry.at >= max(now - AUDIT_WINDOW, oldest), AuditEntry.subject.in_(phones)
            )
        else:
            audit = audit.where(AuditEntry.id < 0)
        for entry in s.scalars(audit.order_by(AuditEntry.id)):
            # Fresh from the database: on PostgreSQL this audit row may be newer than the
            # contact this session loaded above (read committed), and the identity map
            # would otherwise hand back that older state.
            contact = s.scalar(
                select(Contact)
                .where(Contact.phone == entry.subject)
                .execution_options(populate_existing=True)
            )
            if contact is None:
                continue
            made = catalog.contact_event(
                entry.id, entry.action, contact, entry.actor, entry.at, entry.detail
            )
            if made is not None:
                added += record(s, endpoints, made[0], made[1], entry.at, now)
        uow.commit()
        return added

    def _record_voicemails(
        self,
        s: Session,
        endpoints: list[IntegrationEndpoint],
        calls: set[int],
        since: datetime | None,
        now: datetime,
    ) -> int:
        """voicemail.received / voicemail.transcribed of the changed calls' voicemails
        (or, sweeping, of every voicemail left since ``since``)."""
        if since is not None:
            stmt = select(Voicemail).where(Voicemail.created_at >= since)
        elif calls:
            stmt = select(Voicemail).where(Voicemail.call_id.in_(calls))
        else:
            return 0
        added = 0
        for vm in s.scalars(stmt.order_by(Voicemail.id)):
            call = s.get(Call, vm.call_id) if vm.call_id is not None else None
            contact = s.get(Contact, vm.contact_id) if vm.contact_id is not None else None
            for key, payload in catalog.voicemail_events(vm, call, contact, now):
                kind = payload["type"]
                # Received when stored; transcribed counts from the voicemail itself.
                at = vm.fetched_at if kind == EventType.VOICEMAIL_RECEIVED else None
                added += record(s, endpoints, key, payload, at or vm.created_at, now)
        return added
