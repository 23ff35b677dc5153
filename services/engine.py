"""The loop of DESIGN.md: webhooks in, decisions recorded, texts out.

:class:`Engine` implements the receiver's :class:`~services.receiver.WebhookHandlers`;
what goes out (scheduled jobs, replies, crash reconciliation) is its
:class:`~services.outbox.Outbox`. Every webhook does its bookkeeping in one unit of work
before answering (so nothing Twilio told us is lost if the process dies right after),
and leaves slow work, sending, to the scheduler or to tracked background tasks.
Coroutines run on the event loop; storage work runs on the database's worker thread.
Idempotent by Twilio's keys: a retried CallSid or MessageSid changes nothing twice.

Every call and text belongs to a location (:mod:`services.locations`): the one whose
number it was made to (``To``; a number no location has: the first). A call records it
when first seen and its later webhooks read it from there; that location's values decide
(phones to ring, greeting, hours and time zone, templates, quiet hours), its thread with
the contact holds the call and the texts, and its number is the one texts leave from.
A reply cancels only that location's waiting texts; STOP stops every location's (an
opt-out is the contact's).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services import (
    burst_writes,
    location_store,
    lookups,
    opt_outs,
    phones,
    policy,
    prices,
    records,
    sends,
    threads,
    twiml,
)
from services.attachments import PhotoStore
from services.callbacks import Callbacks
from services.clock import Clock, as_utc
from services.events import (
    CallChanged,
    ContactChanged,
    ConversationChanged,
    Event,
    EventBus,
    SettingsChanged,
)
from services.locations import Location, Locations
from services.lookups import Lookups
from services.outbox import Outbox, render_text
from services.outgoing import Outgoing
from services.ports import (
    Carrier,
)
from services.receiver import PATHS
from services.scheduler import Scheduler
from services.sends import JobKind, SendState
from services.settings import Settings
from services.storage.database import Database, UnitOfWork
from services.storage.models import Call, Job, Message, Voicemail
from services.tasks import TaskSet
from services.voicemail import Voicemails
from services.webhook_fields import (
    OTHER,
    CallStatusUpdate,
    DialResult,
    InboundMessage,
    MessageStatusUpdate,
    RecordingDone,
    RecordingStatus,
    TranscriptionDone,
    VoiceCall,
    parse_inbound_message,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

SETTINGS_TTL = 2.0  # seconds
# How long the voice answer waits for the call's record. Twilio would wait 15 s, but the
# caller hears nothing until the answer. With one writer (SQLite) it does not wait at
# all: the record is queued as urgent work before the answer goes out, and urgent work
# runs first come, first served, so it lands ahead of the call's Dial result anyway;
# under a burst, waiting even 10 ms was most of the answer's time. With several workers
# (PostgreSQL) queue order is not write order: the answer waits this long, then goes
# out while the write carries on. Either way the write is retried until it lands.
VOICE_RECORD_BUDGET = 0.01
# A call's record that failed to save is tried again after each of these delays (s).
VOICE_RECORD_RETRIES = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
UNSAVED_KEPT = 100
FINAL_DIAL_OK = "completed"
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


class Engine:
    """Webhook handlers, scheduled sends and manual replies over one database."""

    def __init__(
        self,
        db: Database,
        carrier: Carrier,
        bus: EventBus,
        clock: Clock,
        scheduler: Scheduler,
        *,
        public_url: Callable[[], str | None],
        retry_base_seconds: float = 5.0,
        sends_here: Callable[[], bool] = lambda: True,
        voicemail_dir: Path | None = None,
        photos: PhotoStore | None = None,
    ) -> None:
        self._db = db
        self._public_url = public_url
        self._carrier = carrier
        self._bus = bus
        self._clock = clock
        self._scheduler = scheduler
        self._background = TaskSet("engine")
        self._locations_cache: tuple[float, Locations] | None = None
        self._retention: asyncio.Task[None] | None = None  # daily, while holding the number
        # None: not at all with one writer, else VOICE_RECORD_BUDGET (tests set it).
        self.voice_record_budget: float | None = None
        self.voice_record_retries: tuple[float, ...] = VOICE_RECORD_RETRIES
        self._unsaved_calls: collections.deque[str] = collections.deque(maxlen=UNSAVED_KEPT)
        self._unsaved_texts: collections.deque[str] = collections.deque(maxlen=UNSAVED_KEPT)
        bus.subscribe(self._on_event)
        self.lookups = Lookups(db, carrier, bus, clock)
        self.voicemails = Voicemails(
            db,
            carrier,
            bus,
            clock,
            voicemail_dir or Path("voicemail"),
            settings=self._settings,
        )
        self.callbacks = Callbacks(
            db, carrier, bus, clock, public_url=public_url, locations=self._locations
        )
        self.outbox = Outbox(
            db,
            carrier,
            bus,
            clock,
            scheduler,
            public_url=public_url,
            locations=self._locations,
            retry_base_seconds=retry_base_seconds,
            sends_here=sends_here,
            lookups=self.lookups,
            photos=photos,
        )

    @property
    def writes_in_core(self) -> bool:
        """A ringing call's record, the common missed call's text-back, a known call's
        status and a send's outcome are written in Core (services/burst_writes); False
        writes them all through the ORM (the tests compare the two)."""
        return self.outbox.sent_in_core

    @writes_in_core.setter
    def writes_in_core(self, on: bool) -> None:
        self.outbox.sent_in_core = on

    # ---- life cycle -------------------------------------------------------------
    async def start(self) -> None:
        """Reconcile sends cut short by a crash, then start running due jobs."""
        await self.outbox.recover()
        await self._scheduler.start(self.outbox.run_job)
        self._background.spawn(self._voicemail_upkeep(), name="voicemail-upkeep")
        # Not in _background: idle() drains that, and this one never ends by itself.
        self._retention = asyncio.get_running_loop().create_task(
            self.voicemails.prune_daily(), name="voicemail-retention"
        )

    async def _voicemail_upkeep(self) -> None:
        """On taking the number: apply retention (then daily: ``_retention``), fetch
        recordings a restart left behind."""
        try:
            await self.voicemails.prune()
            await self.voicemails.fetch_missing()
        except Exception:
            log.exception("voicemail upkeep failed")

    async def stop(self) -> None:
        retention, self._retention = self._retention, None
        if retention is not None:
            retention.cancel()
            await asyncio.gather(retention, return_exceptions=True)
        await self._scheduler.stop()
        await self._background.close()
        await self.outbox.close()

    async def idle(self) -> None:
        """Wait for background work and running jobs to finish (tests, benchmark)."""
        await self._background.drain()
        await self.outbox.idle()
        await self._scheduler.idle()

    @property
    def retry_base_seconds(self) -> float:
        """Backoff before a send that failed retryably runs again (doubles each try)."""
        return self.outbox.retry_base_seconds

    @retry_base_seconds.setter
    def retry_base_seconds(self, seconds: float) -> None:
        self.outbox.retry_base_seconds = seconds

    async def send_reply(
        self,
        contact_id: int,
        body: str,
        *,
        author: str | None,
        photo: Path | None = None,
        location_id: int | None = None,
    ) -> int:
        """A reply typed by the desk in the contact's thread at ``location_id`` (None: the
        first location), with a photo or not (see :meth:`Outbox.send_reply`)."""
        return await self.outbox.send_reply(
            contact_id, body, author=author, photo=photo, location_id=location_id
        )

    async def retry_text(self, message_id: int, *, author: str | None) -> int:
        """Send a failed text again as a new reply, from its thread's location (see
        :meth:`Outbox.retry`)."""
        return await self.outbox.retry(message_id, author)

    async def schedule_reply(
        self,
        contact_id: int,
        body: str,
        due_at: datetime,
        *,
        author: str | None,
        location_id: int | None = None,
    ) -> int:
        """A reply to send at ``due_at`` in the thread at ``location_id`` (see
        :meth:`Outbox.schedule_reply`)."""
        return await self.outbox.schedule_reply(
            contact_id, body, due_at, author=author, location_id=location_id
        )

    async def cancel_scheduled(self, job_id: int, *, actor: str) -> bool:
        """Cancel a scheduled reply not yet sending (see :meth:`Outbox.cancel_scheduled`)."""
        return await self.outbox.cancel_scheduled(job_id, actor=actor)

    # ---- helpers -----------------------------------------------------------------
    def _publish_after(self, uow: UnitOfWork, *events: Event) -> None:
        for event in events:
            uow.after_commit(functools.partial(self._bus.publish, event))

    def _locations(self, s: Session) -> Locations:
        """The locations with their settings, cached for a moment: every webhook needs
        them, few change them.

        Changes made through this process invalidate the cache at once (SettingsChanged,
        a location's too); a `frontdesk settings set` from another process is seen within
        SETTINGS_TTL.
        """
        cached = self._locations_cache
        now = time.monotonic()
        if cached is not None and now - cached[0] < SETTINGS_TTL:
            return cached[1]
        fresh = location_store.load(s)
        self._locations_cache = (now, fresh)
        return fresh

    def _settings(self, s: Session) -> Settings:
        """The office's settings (the first location's values, and every office-wide key)."""
        return self._locations(s).office

    def _on_event(self, event: Event) -> None:
        if isinstance(event, SettingsChanged):
            self._locations_cache = None

    # ---- voice ---------------------------------------------------------------------
    async def voice(self, call: VoiceCall) -> str:
        """A call arrived: record it, then ring the office (or greet, in forward mode).

        The record is queued (urgent) before the answer goes out, so it is written ahead
        of anything Twilio sends after the answer. Twilio waits on this answer (the
        caller hears ringing only once it has it), so the answer waits for the write at
        most :attr:`voice_record_budget` seconds (by default not at all on a database
        with one writer, where the queue's order is the writes' order; see
        VOICE_RECORD_BUDGET): a write still under way, or failed, carries on in the
        background, retried until it lands (:meth:`_record_voice`).
        """
        if call.recording is not None:
            # A <Record> without an action (TwiML from before this version) comes back
            # here: keep the voicemail and hang up, never greet and record again.
            return await self.recorded(call.recording)
        locations = self._locations_cache[1] if self._locations_cache else None
        if locations is None:
            locations = await self._db.run(lambda uow: self._locations(uow.session))
        # The number called decides whose phones ring and whose greeting plays.
        cfg = locations.for_number(call.to).settings
        numbers: list[str] = cfg["forwarding.numbers"]
        write = self._background.spawn(
            self._record_voice(call, self._clock.now(), urgent=True),
            name=f"call {call.call_sid}",
        )
        budget = self.voice_record_budget
        if budget is None:
            budget = 0.0 if self._db.one_writer else VOICE_RECORD_BUDGET
        if budget > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(write), budget)
        else:
            # One turn of the loop: the write's first step queues it (it runs up to the
            # database's queue without a pause), ahead of this call's Dial result.
            await asyncio.sleep(0)
        if numbers:
            return twiml.dial(
                numbers, timeout=cfg["forwarding.ring_seconds"], action=PATHS["dial_result"]
            )
        return self._voicemail_twiml(cfg)

    def _voicemail_twiml(self, cfg: Settings) -> str:
        record = None
        if cfg["voicemail.record"]:
            base = (self._public_url() or "").rstrip("/")
            record = twiml.RecordUrls(
                action=base + PATHS["recorded"],
                status_callback=base + PATHS["recording_status"],
                transcribe_callback=base + PATHS["transcription"],
            )
        return twiml.voicemail(cfg["voicemail.greeting"], record=record)

    @property
    def unsaved_calls(self) -> list[str]:
        """CallSids of calls whose record is still being retried or never landed (newest
        last): the health page shows them, so a lost call is never silent."""
        return list(self._unsaved_calls)

    async def _record_voice(self, call: VoiceCall, arrived: datetime, *, urgent: bool) -> None:
        """Write the call's record, retrying with backoff until it lands; after
        :attr:`voice_record_retries` it stays listed in :attr:`unsaved_calls` (and the
        log says so), since the call itself was answered."""

        def work(uow: UnitOfWork) -> None:
            s = uow.session
            locations = self._locations(s)
            location = locations.for_number(call.to)
            cfg = location.settings
            if self.writes_in_core:
                call_id = burst_writes.record_ringing_call(
                    s,
                    call_sid=call.call_sid,
                    from_raw=call.from_,
                    to=call.to,
                    cfg=cfg,
                    location_id=location.id,
                    arrived=arrived,
                )
                if call_id is not None:
                    self._publish_after(uow, CallChanged(call_id))
                    uow.commit()
                    return
            numbers: list[str] = cfg["forwarding.numbers"]
            row, created = self._call_for(
                uow, call.call_sid, call.from_, call.to, arrived, locations
            )
            if not created:
                return  # a retry, or the Dial result got here first
            row.mode = "ring" if numbers else "forward"
            records.audit(s, arrived, "call.received", subject=call.call_sid, mode=row.mode)
            if not numbers:
                # Forward mode: the office's own line already rang out; this call is missed.
                self._mark_missed(uow, row, location, self._clock.now(), reason_status="forwarded")
            uow.commit()

        delays = self.voice_record_retries
        for attempt in range(len(delays) + 1):
            try:
                await self._run_keyed(work, urgent=urgent)
            except Exception as exc:
                if attempt == 0:
                    self._unsaved_calls.append(call.call_sid)
                if attempt == len(delays):
                    log.error(
                        "call %s from %s was answered but could not be saved: %s",
                        call.call_sid,
                        call.from_,
                        exc,
                    )
                    return
                log.warning(
                    "saving call %s failed (%s); retrying in %.1f s",
                    call.call_sid,
                    type(exc).__name__,
                    delays[attempt],
                )
                await asyncio.sleep(delays[attempt])
            else:
                if attempt:
                    with contextlib.suppress(ValueError):
                        self._unsaved_calls.remove(call.call_sid)
                    self._scheduler.wake()
                    log.info("call %s saved after %d retries", call.call_sid, attempt)
                return

    async def _run_keyed(self, work: Callable[[UnitOfWork], T], *, urgent: bool = False) -> T:
        """Run webhook bookkeeping; once more if a concurrent request inserted the same
        Twilio key (CallSid, MessageSid, phone) first: the second run then finds it.
        ``urgent``: this work decides a text-back (it goes before other queued work)."""
        try:
            return await self._db.run(work, urgent=urgent)
        except IntegrityError:
            return await self._db.run(work, urgent=urgent)

    async def dial_result(self, result: DialResult) -> str:
        """The Dial ended: answered, or missed (not bridged / not completed)."""
        if result.recording is not None:
            # A <Record> whose action was missing or pointed here: never a 400.
            return await self.recorded(result.recording)
        call_sid, dial_status = result.call_sid, result.dial_status
        answered = dial_status == FINAL_DIAL_OK and result.bridged is not False

        def work(uow: UnitOfWork) -> str:
            # The text-back's own unit of work, urgent under a burst: its queries (the
            # caller's contact, thread and last text-back) never read what this unit has
            # changed but not yet written, so nothing is flushed before them; the rows
            # that need an id are flushed where they are created.
            with uow.session.no_autoflush:
                return decide(uow)

        def decide(uow: UnitOfWork) -> str:
            s = uow.session
            locations = self._locations(s)
            now = self._clock.now()
            if not answered and self.writes_in_core:
                done = burst_writes.text_now(
                    s,
                    call_sid=call_sid,
                    dial_status=dial_status,
                    ring_seconds=result.dial_seconds,
                    locations=locations,
                    now=now,
                    render=render_text,
                )
                if done is not None:
                    self._texted_now(uow, done)
                    uow.commit()
                    return self._voicemail_twiml(locations.get(done.location_id).settings)
            call, _created = self._call_for(uow, call_sid, result.from_, result.to, now, locations)
            location = locations.get(call.location_id)
            cfg = location.settings
            call.dial_status = dial_status
            if result.dial_seconds is not None:
                call.ring_seconds = result.dial_seconds
            if call.outcome == "pending":
                if answered:
                    call.outcome = "answered"
                    self._publish_after(uow, CallChanged(call.id))
                else:
                    self._mark_missed(uow, call, location, now, reason_status=dial_status)
            uow.commit()
            if answered:
                return twiml.hangup()
            return self._voicemail_twiml(cfg)

        return await self._run_keyed(work, urgent=True)

    def _texted_now(self, uow: UnitOfWork, done: burst_writes.TextedNow) -> None:
        """After :func:`burst_writes.text_now` wrote the call's text-back: send it once
        committed, and say what changed."""
        outgoing = Outgoing(
            done.job_id,
            done.message_id,
            done.contact_id,
            done.conversation_id,
            done.call_id,
            done.phone,
            done.from_,
            done.body,
        )
        uow.after_commit(functools.partial(self.outbox.send_later, outgoing))
        self._publish_after(
            uow,
            CallChanged(done.call_id),
            ContactChanged(done.contact_id),
            ConversationChanged(done.conversation_id, done.contact_id),
        )

    async def call_status(self, update: CallStatusUpdate) -> None:
        """Parent-call status: a final status with no Dial result means the caller hung up."""
        call_sid, status = update.call_sid, update.status
        if update.child_leg:
            return  # a child leg of our Dial; the Dial result speaks for it
        # The call ended when Twilio said so, not when the worker gets to this (work that
        # is not urgent waits while webhooks are answered): the text-back's delay counts
        # from here.
        now = self._clock.now()

        def work(uow: UnitOfWork) -> None:
            s = uow.session
            if self.writes_in_core and update.price is None:
                call_id = burst_writes.call_status(
                    s,
                    call_sid=call_sid,
                    status=status,
                    final=status in FINAL_CALL_STATUSES,
                    duration_seconds=update.duration_seconds,
                    now=now,
                )
                if call_id is not None:
                    self._publish_after(uow, CallChanged(call_id))
                    uow.commit()
                    return
            locations = self._locations(s)
            call, _created = self._call_for(uow, call_sid, update.from_, update.to, now, locations)
            location = locations.get(call.location_id)
            cfg = location.settings
            call.status = status
            prices.apply(call, update.price)  # rarely there: see services/prices.py
            if status in FINAL_CALL_STATUSES:
                first_end = call.ended_at is None
                call.ended_at = call.ended_at or now
                if update.duration_seconds is not None and call.ring_seconds is None:
                    call.ring_seconds = update.duration_seconds
                if call.outcome == "pending":
                    self._mark_missed(uow, call, location, now, reason_status=f"hung up ({status})")
                elif call.outcome == "missed" and first_end:
                    self._time_from_hang_up(s, call, cfg, now)
            self._publish_after(uow, CallChanged(call.id))
            uow.commit()

        # A text-back decided here wakes the scheduler itself (after commit).
        await self._run_keyed(work)

    def _time_from_hang_up(self, s: Session, call: Call, cfg: Settings, now: datetime) -> None:
        """The delay counts from when the caller hung up (after the voicemail greeting),
        so the text never lands while they are still on the line."""
        job = s.scalar(
            select(Job).where(
                Job.call_id == call.id,
                Job.kind == JobKind.TEXTBACK,
                Job.state == SendState.PENDING,
            )
        )
        if job is None:
            return
        due, held = policy.hold_for_quiet_hours(
            cfg, now + timedelta(seconds=cfg["textback.delay_seconds"]), call.phone
        )
        if due > as_utc(job.due_at):
            sends.reschedule(job, due, held=held is not None)

    async def catch_up_call(
        self,
        *,
        sid: str,
        from_raw: str,
        to: str,
        started_at: datetime,
        ended_at: datetime | None,
        missed: bool,
        texted_after: bool = False,
    ) -> bool:
        """A call found in Twilio's log that happened while we were not listening.

        Recorded once per parent CallSid (False when we already had it); a missed one gets
        the catch-up policy: the catch-up template, never older than
        ``catchup.max_age_hours``, none when the caller texted the number after the call
        (``texted_after``: the desk answers their text), and the usual opt-out and repeat
        rules.
        """

        def work(uow: UnitOfWork) -> bool:
            now = self._clock.now()
            locations = self._locations(uow.session)
            call, created = self._call_for(uow, sid, from_raw, to, started_at, locations)
            if not created:
                return False
            location = locations.get(call.location_id)
            call.source = "catchup"
            call.status = "completed"
            call.ended_at = ended_at
            if missed:
                self._mark_missed(
                    uow,
                    call,
                    location,
                    now,
                    reason_status="missed while offline",
                    texted_after=texted_after,
                )
            else:
                call.outcome = "answered"
            uow.commit()
            return True

        created = await self._run_keyed(work)
        self._scheduler.wake()
        return created

    def _call_for(
        self,
        uow: UnitOfWork,
        sid: str,
        from_raw: str,
        to: str,
        now: datetime,
        locations: Locations,
    ) -> tuple[Call, bool]:
        """The call ``sid``, recorded when new at the location whose number ``to`` is
        (the first, for a number no location has): every later webhook of the call
        reads its location from this record."""
        call = uow.session.scalar(select(Call).where(Call.sid == sid))
        if call is not None:
            return call, False
        location = locations.for_number(to)
        cfg = location.settings
        check = phones.classify(from_raw, cfg["business.default_region"])
        call = Call(
            sid=sid,
            from_raw=from_raw or "unknown",
            phone=check.e164,
            to_number=to,
            location_id=location.id,
            started_at=now,
            status="ringing",
            outcome="pending",
            after_hours=policy.after_hours(cfg, now),
            source="live",
        )
        uow.session.add(call)
        uow.session.flush()
        self._publish_after(uow, CallChanged(call.id))
        return call, True

    def _mark_missed(
        self,
        uow: UnitOfWork,
        call: Call,
        location: Location,
        now: datetime,
        *,
        reason_status: str,
        texted_after: bool = False,
    ) -> None:
        """Record the call as missed (once) and decide its text-back: ``location`` (the
        call's) gives the policy, the thread and the number the text leaves from."""
        s = uow.session
        cfg = location.settings
        call.outcome = "missed"
        check = phones.classify(call.from_raw, cfg["business.default_region"])
        contact = None
        if check.e164 is not None:
            contact = records.contact_for(s, check.e164, now)
            call.contact_id = contact.id
            records.add_tag(s, contact, records.MISSED_CALL)
            conversation = records.conversation_for(s, contact, location.id)
            records.note_call(conversation, as_utc(call.started_at))
            threads.on_inbound(s, conversation, contact, now)
            self._publish_after(
                uow, ContactChanged(contact.id), ConversationChanged(conversation.id, contact.id)
            )
        last = (
            burst_writes.last_textback(s, check.e164, call.id, location.id) if check.e164 else None
        )
        decision = policy.decide_textback(
            cfg,
            policy.Facts(
                phone=check,
                opted_out=bool(contact and contact.opted_out),
                blocked_here=bool(contact and opt_outs.blocked_here(s, contact, location.id)),
                last_textback_at=last,
                call_at=as_utc(call.started_at),
                now=now,
                catch_up=call.source == "catchup",
                texted_after=texted_after,
            ),
        )
        call.after_hours = decision.after_hours
        outgoing = None
        if not decision.send or contact is None or decision.due_at is None:
            job = sends.decided_not_to_send(
                JobKind.TEXTBACK,
                now=now,
                contact_id=contact.id if contact is not None else None,
                call_id=call.id,
                reason=decision.reason or policy.DISABLED,
                location_id=location.id,
            )
            s.add(job)
        elif decision.due_at <= now and not lookups.needed(s, cfg, contact.phone):
            # Due now (no delay): claimed here and sent straight after this commit, sparing
            # the scheduler a round trip; a crash in between is recovered like any claim.
            job = sends.claimed_job(
                JobKind.TEXTBACK,
                now=now,
                contact_id=contact.id,
                call_id=call.id,
                template_key=decision.template_key or "templates.missed_call",
                location_id=location.id,
            )
            s.add(job)  # inserted with the message prepare() writes (one flush, not two)
            outgoing = self.outbox.prepare(uow, job, location, now)
        else:
            job = sends.new_job(
                JobKind.TEXTBACK,
                now=now,
                due_at=decision.due_at,
                contact_id=contact.id,
                call_id=call.id,
                template_key=decision.template_key or "templates.missed_call",
                held=decision.held_until is not None,
                location_id=location.id,
            )
            s.add(job)
        if outgoing is not None:
            uow.after_commit(functools.partial(self.outbox.send_later, outgoing))
        else:
            uow.after_commit(self._scheduler.wake)
        records.audit(
            s,
            now,
            "call.missed",
            subject=call.sid,
            dial=reason_status,
            textback=job.state,
            reason=job.reason or decision.reason,
        )
        self._publish_after(uow, CallChanged(call.id))

    # ---- voicemail -------------------------------------------------------------------
    def _voicemail_for(self, uow: UnitOfWork, recording_sid: str, call_sid: str) -> Voicemail:
        """The voicemail row of ``recording_sid``, created (linked to its call) when new."""
        s = uow.session
        row = s.scalar(select(Voicemail).where(Voicemail.recording_sid == recording_sid))
        if row is not None:
            return row
        call = s.scalar(select(Call).where(Call.sid == call_sid))
        row = Voicemail(
            recording_sid=recording_sid,
            call_id=call.id if call is not None else None,
            contact_id=call.contact_id if call is not None else None,
            status="in-progress",
            created_at=self._clock.now(),
        )
        s.add(row)
        s.flush()
        if call is not None:
            self._publish_after(uow, CallChanged(call.id))
            self._use_voicemail_template(uow, call)
        return row

    def _use_voicemail_template(self, uow: UnitOfWork, call: Call) -> None:
        """The caller left a message: their waiting text-back thanks them for it (when
        the owner wrote a ``templates.voicemail``)."""
        s = uow.session
        cfg = self._locations(s).get(call.location_id).settings
        if not cfg["templates.voicemail"].strip():
            return
        job = s.scalar(
            select(Job).where(
                Job.call_id == call.id,
                Job.kind == JobKind.TEXTBACK,
                Job.state.in_([SendState.PENDING.value, SendState.HELD.value]),
                Job.message_id.is_(None),
            )
        )
        if job is not None and job.template_key != "templates.catch_up":
            job.template_key = "templates.voicemail"

    async def recorded(self, done: RecordingDone) -> str:
        """The ``<Record>`` action: the caller finished their message. Answered with a
        hang-up (this is the Record's own action, so Twilio never asks for the greeting
        again)."""
        recording_sid = done.recording_sid
        if recording_sid is not None:

            def work(uow: UnitOfWork) -> None:
                row = self._voicemail_for(uow, recording_sid, done.call_sid)
                if done.duration_seconds is not None:
                    row.duration_seconds = done.duration_seconds
                uow.commit()

            await self._run_keyed(work)
        return twiml.hangup()

    async def recording_status(self, update: RecordingStatus) -> None:
        """Twilio's recording status: once completed, fetch the audio (in the background)."""

        def work(uow: UnitOfWork) -> bool:
            row = self._voicemail_for(uow, update.recording_sid, update.call_sid)
            row.status = update.status
            if update.duration_seconds is not None:
                row.duration_seconds = update.duration_seconds
            if row.call_id is not None:
                self._publish_after(uow, CallChanged(row.call_id))
            fetch = update.status == "completed" and row.file_name is None
            uow.commit()
            return fetch

        if await self._run_keyed(work):
            self._background.spawn(
                self.voicemails.fetch(update.recording_sid), name=f"fetch {update.recording_sid}"
            )

    async def transcription(self, done: TranscriptionDone) -> None:
        """Twilio's transcript of a voicemail (kept when Twilio completed one)."""
        if done.status != "completed" or not done.text:
            return

        def work(uow: UnitOfWork) -> None:
            row = self._voicemail_for(uow, done.recording_sid, done.call_sid)
            row.transcript = done.text
            if row.call_id is not None:
                self._publish_after(uow, CallChanged(row.call_id))
            call = uow.session.get(Call, row.call_id) if row.call_id is not None else None
            if row.contact_id is not None:
                conversation_id = records.known_conversation_id(
                    uow.session, row.contact_id, call.location_id if call is not None else None
                )
                if conversation_id is not None:
                    self._publish_after(uow, ConversationChanged(conversation_id, row.contact_id))
            uow.commit()

        await self._run_keyed(work)

    # ---- callbacks --------------------------------------------------------------------
    async def callback_dial(self, result: DialResult) -> str:
        return await self.callbacks.dial_result(result)

    async def callback_status(self, update: CallStatusUpdate) -> None:
        await self.callbacks.status(update)

    async def call_back(
        self, contact_id: int, *, actor: str, location_id: int | None = None
    ) -> int:
        """Staff pressed "Call back" in the thread at ``location_id`` (None: the first
        location): the call comes from that location's number (see
        :meth:`services.callbacks.Callbacks.call_back`)."""
        return await self.callbacks.call_back(contact_id, actor=actor, location_id=location_id)

    async def delete_contact(self, contact_id: int, *, actor: str) -> bool:
        """Staff deleted a contact (see :meth:`Voicemails.forget_contact`)."""
        return await self.voicemails.forget_contact(contact_id, actor=actor)

    async def voicemail_file(self, voicemail_id: int) -> str:
        """The voicemail's audio on this PC (see :meth:`Voicemails.local_file`)."""
        return str(await self.voicemails.local_file(voicemail_id))

    # ---- messaging -------------------------------------------------------------------
    async def inbound_message(self, message: InboundMessage) -> str:
        """A text arrived: thread it, mark it unread, cancel follow-ups, honour keywords.

        A text whose write fails (a full disk, the database gone) is not answered with
        an error: Twilio does not send an inbound text again. It is kept in memory and
        written in the background until it lands, listed in :attr:`unsaved_texts`
        meanwhile (and if this process ends first, the next start's catch-up fetches it
        from Twilio's message log).
        """
        arrived = self._clock.now()
        try:
            await self._inbound(message, received_at=arrived, answer_help=True)
        except Exception as exc:
            self._unsaved_texts.append(message.message_sid)
            log.warning(
                "saving text %s from %s failed (%s); retrying in the background",
                message.message_sid,
                message.from_,
                type(exc).__name__,
            )
            self._background.spawn(
                self._retry_text(message, arrived), name=f"text {message.message_sid}"
            )
        return twiml.empty()

    @property
    def unsaved_texts(self) -> list[str]:
        """MessageSids of inbound texts whose write is still being retried or never
        landed (newest last): the health page shows them."""
        return list(self._unsaved_texts)

    async def _retry_text(self, message: InboundMessage, arrived: datetime) -> None:
        """Write a text whose first write failed, on a call record's retry schedule."""
        delays = self.voice_record_retries
        for attempt, delay in enumerate(delays, start=1):
            await asyncio.sleep(delay)
            try:
                await self._inbound(message, received_at=arrived, answer_help=True)
            except Exception as exc:
                if attempt == len(delays):
                    log.error(
                        "text %s from %s could not be saved: %s (it stays in Twilio's "
                        "message log; the next start fetches it)",
                        message.message_sid,
                        message.from_,
                        exc,
                    )
                    return
                continue
            with contextlib.suppress(ValueError):
                self._unsaved_texts.remove(message.message_sid)
            log.info("text %s saved after %d retries", message.message_sid, attempt)
            return

    async def catch_up_message(self, form: Mapping[str, str], *, received_at: datetime) -> bool:
        """An inbound text found in Twilio's log that arrived while we were not listening.

        Same handling as a live one (threading, keywords, cancelling follow-ups) except
        that HELP is not answered late. Returns False when we already had it. ``form`` is
        parsed like the webhook's (:class:`~services.webhook_fields.BadWebhook` when it
        cannot be used).
        """
        return await self._inbound(
            parse_inbound_message(form), received_at=received_at, answer_help=False
        )

    async def _inbound(
        self, message: InboundMessage, *, received_at: datetime, answer_help: bool
    ) -> bool:
        message_sid, from_raw, body = message.message_sid, message.from_, message.body
        media = [{"url": url, "content_type": kind} for url, kind in message.media]

        def work(uow: UnitOfWork) -> tuple[int | None, str | None, int]:
            s = uow.session
            if s.scalar(select(Message.id).where(Message.sid == message_sid)) is not None:
                return None, None, 0  # a retry of a message we already have
            # The number texted decides the thread, and the HELP answer's words and number.
            location = self._locations(s).for_number(message.to)
            cfg = location.settings
            now = received_at
            check = phones.classify(from_raw, cfg["business.default_region"])
            contact = records.contact_for(s, check.e164 or from_raw, now)
            conversation = records.conversation_for(s, contact, location.id)
            records.add_message(
                s,
                conversation,
                Message(
                    sid=message_sid,
                    direction="in",
                    body=body,
                    status="received",
                    kind="inbound",
                    media=media or None,
                    created_at=now,
                ),
            )
            threads.on_inbound(s, conversation, contact, now)
            word = policy.keyword(body)
            if word == "stop":
                opt_outs.stopped(contact, now)
                self._cancel_jobs(uow, contact.id, "the contact opted out (STOP)", now)
                records.audit(s, now, "contact.opted_out", subject=contact.phone, via="STOP")
            elif word == "start":
                opt_outs.started(contact, now)
                records.audit(s, now, "contact.opted_in", subject=contact.phone, via="START")
            else:
                # A reply answers the location it was sent to: North's follow-up stops,
                # Main's waiting text-back still goes.
                self._cancel_jobs(uow, contact.id, "they replied", now, location_id=location.id)
                if word is None:
                    records.add_tag(s, contact, records.PENDING_CALLBACK)
            contact.updated_at = now
            self._publish_after(
                uow, ConversationChanged(conversation.id, contact.id), ContactChanged(contact.id)
            )
            uow.commit()
            if word == "help" and not contact.opted_out and answer_help:
                help_text = self.outbox.render(cfg, "templates.help", contact)
                return contact.id, help_text, location.id
            return contact.id, None, location.id

        contact_id, help_text, location_id = await self._run_keyed(work)
        if contact_id is not None and help_text:
            self._background.spawn(
                self.outbox.send_auto(contact_id, help_text, location_id=location_id),
                name="help-reply",
            )
        if contact_id is not None:
            self._scheduler.wake()
        return contact_id is not None

    def _cancel_jobs(
        self,
        uow: UnitOfWork,
        contact_id: int,
        reason: str,
        now: datetime,
        *,
        location_id: int | None = None,
    ) -> None:
        """Cancel the contact's waiting texts: all of them (STOP), or those leaving from
        ``location_id``'s number (a reply to that number)."""
        s = uow.session
        where = [
            Job.contact_id == contact_id,
            Job.state.in_([state.value for state in sends.CANCELLABLE]),
        ]
        if location_id is not None:
            where.append(records.at_location(Job.location_id, location_id))
        jobs = s.scalars(select(Job).where(*where)).all()
        for job in jobs:
            sends.cancel(job, now, reason)
            if job.call_id is not None:
                self._publish_after(uow, CallChanged(job.call_id))

    async def message_status(self, update: MessageStatusUpdate) -> None:
        """Delivery status for a text we sent; moves the status forward only (a status
        Twilio added after this was written is not one we can order: ignored)."""
        sid, status, code = update.message_sid, update.status, update.error_code
        if status == OTHER and code is None:
            return

        def work(uow: UnitOfWork) -> None:
            s = uow.session
            records.lock_sid(s, sid)  # the send's own record of this SID may be landing now
            message = s.scalar(select(Message).where(Message.sid == sid))
            if message is None:
                if status != OTHER:  # an unknown status is no step forward: not kept
                    self.outbox.delivery.keep_early(uow, sid, status, code)
                return
            prices.apply(message, update.price)  # rarely there: see services/prices.py
            # OTHER is no step forward: only its error code is applied.
            self.outbox.delivery.apply(
                uow, message, message.status if status == OTHER else status, code
            )
            uow.commit()

        await self._run_keyed(work)

    # ---- staff actions on calls ------------------------------------------------------
    async def cancel_textback(self, call_id: int, *, actor: str) -> bool:
        """Cancel a missed call's waiting auto-text (staff already called back)."""

        def work(uow: UnitOfWork) -> bool:
            s = uow.session
            now = self._clock.now()
            jobs = s.scalars(
                select(Job).where(
                    Job.call_id == call_id,
                    Job.kind == JobKind.TEXTBACK,
                    Job.state.in_([state.value for state in sends.CANCELLABLE]),
                )
            ).all()
            for job in jobs:
                sends.cancel(job, now, f"cancelled by {actor}")
            if not jobs:
                return False
            records.audit(s, now, "textback.cancelled", actor=actor, subject=str(call_id))
            self._publish_after(uow, CallChanged(call_id))
            uow.commit()
            return True

        return await self._db.run(work)
