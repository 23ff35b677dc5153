"""The loop of DESIGN.md: webhooks in, decisions recorded, texts out.

:class:`Engine` implements the receiver's :class:`~services.receiver.WebhookHandlers`
and runs the scheduler's jobs. Every webhook does its bookkeeping in one unit of work
before answering (so nothing Twilio told us is lost if the process dies right after),
and leaves slow work, sending, to the scheduler or to tracked background tasks.
Coroutines run on the event loop; storage work runs on the database's worker thread.
Idempotent by Twilio's keys: a retried CallSid or MessageSid changes nothing twice.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services import errors, phones, policy, records, settings_store, templates, twiml
from services.api import ReplyRefused
from services.clock import Clock, as_utc
from services.events import (
    CallChanged,
    ContactChanged,
    ConversationChanged,
    Event,
    EventBus,
    SettingsChanged,
)
from services.ports import (
    Carrier,
    CarrierError,
    NotTextableError,
    OptedOutError,
    RemoteMessage,
    SentMessage,
)
from services.receiver import PATHS, BadWebhook
from services.scheduler import Scheduler
from services.settings import Settings
from services.storage.database import Database, UnitOfWork
from services.storage.models import Call, Contact, Conversation, Job, Message
from services.tasks import TaskSet

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_ATTEMPTS = 5
SETTINGS_TTL = 2.0  # seconds
FINAL_DIAL_OK = "completed"
FINAL_CALL_STATUSES = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message row waiting to go out, and everything needed to send it."""

    message_id: int
    job_id: int | None
    contact_id: int
    conversation_id: int
    to: str
    from_: str
    body: str
    # Set when an earlier attempt may have reached the carrier: look before sending.
    reconcile_since: datetime | None = None


def _required(form: Mapping[str, str], *names: str) -> list[str]:
    missing = [n for n in names if not form.get(n, "").strip()]
    if missing:
        raise BadWebhook(f"missing field(s): {', '.join(missing)}")
    return [form[n].strip() for n in names]


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
    ) -> None:
        self._db = db
        self._carrier = carrier
        self._bus = bus
        self._clock = clock
        self._scheduler = scheduler
        self._public_url = public_url
        self.retry_base_seconds = retry_base_seconds
        self._background = TaskSet("engine")
        # Delivery callbacks can beat our own record of the send (we learn the SID from
        # the API's answer); they wait here until the SID is stored.
        self._early_status: dict[str, tuple[str, int | None]] = {}
        self._settings_cache: tuple[float, Settings] | None = None
        bus.subscribe(self._on_event)

    # ---- life cycle -------------------------------------------------------------
    async def start(self) -> None:
        """Reconcile sends cut short by a crash, then start running due jobs."""
        await self.recover()
        await self._scheduler.start(self.run_job)

    async def stop(self) -> None:
        await self._scheduler.stop()
        await self._background.close()

    async def idle(self) -> None:
        """Wait for background work and running jobs to finish (tests, benchmark)."""
        await self._background.drain()
        await self._scheduler.idle()

    # ---- helpers -----------------------------------------------------------------
    def _publish_after(self, uow: UnitOfWork, *events: Event) -> None:
        for event in events:
            uow.after_commit(functools.partial(self._bus.publish, event))

    def _send_later(self, outgoing: Outgoing) -> None:
        self._background.spawn(self._deliver(outgoing), name=f"send-{outgoing.message_id}")

    def _settings(self, s: Session) -> Settings:
        """Settings, cached for a moment: every webhook needs them, few change them.

        Changes made through this process invalidate the cache at once (SettingsChanged);
        a `frontdesk settings set` from another process is seen within SETTINGS_TTL.
        """
        cached = self._settings_cache
        now = time.monotonic()
        if cached is not None and now - cached[0] < SETTINGS_TTL:
            return cached[1]
        fresh = settings_store.load(s)
        self._settings_cache = (now, fresh)
        return fresh

    def _on_event(self, event: Event) -> None:
        if isinstance(event, SettingsChanged):
            self._settings_cache = None

    def _status_callback(self) -> str | None:
        base = self._public_url()
        return base.rstrip("/") + PATHS["sms_status"] if base else None

    # ---- voice ---------------------------------------------------------------------
    async def voice(self, form: Mapping[str, str]) -> str:
        """A call arrived: ring the office (or greet, in forward mode) at once, and record
        the call straight after answering (Twilio waits on this answer; the caller hears
        ringing only once it has it)."""
        call_sid, from_raw = _required(form, "CallSid", "From")
        cfg = self._settings_cache[1] if self._settings_cache else None
        if cfg is None:
            cfg = await self._db.run(lambda uow: self._settings(uow.session))
        numbers: list[str] = cfg["forwarding.numbers"]
        self._background.spawn(self._record_voice(dict(form), call_sid, from_raw), name="call")
        if numbers:
            return twiml.dial(
                numbers, timeout=cfg["forwarding.ring_seconds"], action=PATHS["dial_result"]
            )
        return twiml.voicemail(cfg["voicemail.greeting"], record=cfg["voicemail.record"])

    async def _record_voice(self, form: Mapping[str, str], call_sid: str, from_raw: str) -> None:
        def work(uow: UnitOfWork) -> None:
            s = uow.session
            cfg = self._settings(s)
            now = self._clock.now()
            numbers: list[str] = cfg["forwarding.numbers"]
            call, created = self._call_for(uow, call_sid, from_raw, form.get("To", ""), now, cfg)
            if not created:
                return  # a retry, or the Dial result got here first
            call.mode = "ring" if numbers else "forward"
            records.audit(s, now, "call.received", subject=call_sid, mode=call.mode)
            if not numbers:
                # Forward mode: the office's own line already rang out; this call is missed.
                self._mark_missed(uow, call, cfg, now, reason_status="forwarded")
            uow.commit()

        await self._run_keyed(work)

    async def _run_keyed(self, work: Callable[[UnitOfWork], T]) -> T:
        """Run webhook bookkeeping; once more if a concurrent request inserted the same
        Twilio key (CallSid, MessageSid, phone) first: the second run then finds it."""
        try:
            return await self._db.run(work)
        except IntegrityError:
            return await self._db.run(work)

    async def dial_result(self, form: Mapping[str, str]) -> str:
        """The Dial ended: answered, or missed (not bridged / not completed)."""
        call_sid, dial_status = _required(form, "CallSid", "DialCallStatus")
        bridged = form.get("DialBridged", "").lower()
        answered = dial_status == FINAL_DIAL_OK and bridged != "false"

        def work(uow: UnitOfWork) -> str:
            s = uow.session
            cfg = self._settings(s)
            now = self._clock.now()
            call, _created = self._call_for(
                uow, call_sid, form.get("From", ""), form.get("To", ""), now, cfg
            )
            call.dial_status = dial_status
            if form.get("DialCallDuration", "").isdigit():
                call.ring_seconds = int(form["DialCallDuration"])
            if call.outcome == "pending":
                if answered:
                    call.outcome = "answered"
                    self._publish_after(uow, CallChanged(call.id))
                else:
                    self._mark_missed(uow, call, cfg, now, reason_status=dial_status)
            uow.commit()
            if answered:
                return twiml.hangup()
            return twiml.voicemail(cfg["voicemail.greeting"], record=cfg["voicemail.record"])

        answer = await self._run_keyed(work)
        self._scheduler.wake()
        return answer

    async def call_status(self, form: Mapping[str, str]) -> None:
        """Parent-call status: a final status with no Dial result means the caller hung up."""
        call_sid, status = _required(form, "CallSid", "CallStatus")
        if form.get("ParentCallSid"):
            return  # a child leg of our Dial; the Dial result speaks for it

        def work(uow: UnitOfWork) -> None:
            s = uow.session
            cfg = self._settings(s)
            now = self._clock.now()
            call, _created = self._call_for(
                uow, call_sid, form.get("From", ""), form.get("To", ""), now, cfg
            )
            call.status = status
            if status in FINAL_CALL_STATUSES:
                first_end = call.ended_at is None
                call.ended_at = call.ended_at or now
                if form.get("CallDuration", "").isdigit() and call.ring_seconds is None:
                    call.ring_seconds = int(form["CallDuration"])
                if call.outcome == "pending":
                    self._mark_missed(uow, call, cfg, now, reason_status=f"hung up ({status})")
                elif call.outcome == "missed" and first_end:
                    self._time_from_hang_up(s, call, cfg, now)
            self._publish_after(uow, CallChanged(call.id))
            uow.commit()

        await self._run_keyed(work)
        self._scheduler.wake()

    def _time_from_hang_up(self, s: Session, call: Call, cfg: Settings, now: datetime) -> None:
        """The delay counts from when the caller hung up (after the voicemail greeting),
        so the text never lands while they are still on the line."""
        job = s.scalar(
            select(Job).where(
                Job.call_id == call.id, Job.kind == "textback", Job.state == "pending"
            )
        )
        if job is None or call.textback_state != "scheduled":
            return
        due, held = policy.hold_for_quiet_hours(
            cfg, now + timedelta(seconds=cfg["textback.delay_seconds"])
        )
        if due > as_utc(job.due_at):
            job.due_at = due
            if held is not None:
                call.textback_state = "held"

    async def catch_up_call(
        self,
        *,
        sid: str,
        from_raw: str,
        to: str,
        started_at: datetime,
        ended_at: datetime | None,
        missed: bool,
    ) -> bool:
        """A call found in Twilio's log that happened while we were not listening.

        Recorded once per parent CallSid (False when we already had it); a missed one gets
        the catch-up policy: the catch-up template, never older than
        ``catchup.max_age_hours``, and the usual opt-out and repeat rules.
        """

        def work(uow: UnitOfWork) -> bool:
            s = uow.session
            cfg = self._settings(s)
            now = self._clock.now()
            call, created = self._call_for(uow, sid, from_raw, to, started_at, cfg)
            if not created:
                return False
            call.source = "catchup"
            call.status = "completed"
            call.ended_at = ended_at
            if missed:
                self._mark_missed(uow, call, cfg, now, reason_status="missed while offline")
            else:
                call.outcome = "answered"
            uow.commit()
            return True

        created = await self._run_keyed(work)
        self._scheduler.wake()
        return created

    def _call_for(
        self, uow: UnitOfWork, sid: str, from_raw: str, to: str, now: datetime, cfg: Settings
    ) -> tuple[Call, bool]:
        call = uow.session.scalar(select(Call).where(Call.sid == sid))
        if call is not None:
            return call, False
        check = phones.classify(from_raw, cfg["business.default_region"])
        call = Call(
            sid=sid,
            from_raw=from_raw or "unknown",
            phone=check.e164,
            to_number=to,
            started_at=now,
            status="ringing",
            outcome="pending",
            after_hours=policy.after_hours(cfg, now),
            textback_state="none",
            source="live",
        )
        uow.session.add(call)
        uow.session.flush()
        self._publish_after(uow, CallChanged(call.id))
        return call, True

    def _mark_missed(
        self, uow: UnitOfWork, call: Call, cfg: Settings, now: datetime, *, reason_status: str
    ) -> None:
        """Record the call as missed (once) and decide its text-back."""
        s = uow.session
        call.outcome = "missed"
        check = phones.classify(call.from_raw, cfg["business.default_region"])
        contact = None
        if check.e164 is not None:
            contact = records.contact_for(s, check.e164, now)
            call.contact_id = contact.id
            records.add_tag(s, contact, records.MISSED_CALL)
            conversation = records.conversation_for(s, contact)
            records.note_call(conversation, as_utc(call.started_at))
            self._publish_after(
                uow, ContactChanged(contact.id), ConversationChanged(conversation.id, contact.id)
            )
        last = self._last_textback(s, call) if check.e164 else None
        decision = policy.decide_textback(
            cfg,
            policy.Facts(
                phone=check,
                opted_out=bool(contact and contact.opted_out),
                last_textback_at=last,
                call_at=as_utc(call.started_at),
                now=now,
                catch_up=call.source == "catchup",
            ),
        )
        call.after_hours = decision.after_hours
        if not decision.send or contact is None or decision.due_at is None:
            call.textback_state = "skipped"
            call.textback_reason = decision.reason
        else:
            call.textback_state = "held" if decision.held_until else "scheduled"
            call.textback_reason = None
            due_now = decision.due_at <= now
            job = Job(
                kind="textback",
                # Due now (no delay): claimed here and sent straight after this commit,
                # sparing the scheduler a round trip; a crash in between is recovered
                # like any claimed job.
                state="sending" if due_now else "pending",
                due_at=decision.due_at,
                claimed_at=now if due_now else None,
                contact_id=contact.id,
                call_id=call.id,
                template_key=decision.template_key or "templates.missed_call",
                attempts=1 if due_now else 0,
                created_at=now,
            )
            s.add(job)
            s.flush()
            outgoing = self._begin_send(uow, job, cfg, now) if due_now else None
            if outgoing is not None:
                uow.after_commit(functools.partial(self._send_later, outgoing))
            else:
                uow.after_commit(self._scheduler.wake)
        records.audit(
            s,
            now,
            "call.missed",
            subject=call.sid,
            dial=reason_status,
            textback=call.textback_state,
            reason=call.textback_reason,
        )
        self._publish_after(uow, CallChanged(call.id))

    def _last_textback(self, s: Session, call: Call) -> datetime | None:
        """When this caller was last texted back (or has a text-back on the way)."""
        value = s.scalar(
            select(Call.started_at)
            .where(
                Call.phone == call.phone,
                Call.id != call.id,
                Call.textback_state.in_(("scheduled", "held", "sent")),
            )
            .order_by(Call.started_at.desc())
            .limit(1)
        )
        return as_utc(value) if value is not None else None

    # ---- messaging -------------------------------------------------------------------
    async def inbound_message(self, form: Mapping[str, str]) -> str:
        """A text arrived: thread it, mark it unread, cancel follow-ups, honour keywords."""
        await self._inbound(form, received_at=None)
        return twiml.empty()

    async def catch_up_message(self, form: Mapping[str, str], *, received_at: datetime) -> bool:
        """An inbound text found in Twilio's log that arrived while we were not listening.

        Same handling as a live one (threading, keywords, cancelling follow-ups) except
        that HELP is not answered late. Returns False when we already had it.
        """
        return await self._inbound(form, received_at=received_at)

    async def _inbound(self, form: Mapping[str, str], *, received_at: datetime | None) -> bool:
        message_sid, from_raw = _required(form, "MessageSid", "From")
        body = form.get("Body", "")
        media = self._media(form)

        def work(uow: UnitOfWork) -> tuple[int | None, str | None]:
            s = uow.session
            if s.scalar(select(Message.id).where(Message.sid == message_sid)) is not None:
                return None, None  # a retry of a message we already have
            cfg = self._settings(s)
            now = received_at or self._clock.now()
            check = phones.classify(from_raw, cfg["business.default_region"])
            contact = records.contact_for(s, check.e164 or from_raw, now)
            conversation = records.conversation_for(s, contact)
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
            word = policy.keyword(body)
            if word == "stop":
                contact.opted_out = True
                contact.opted_out_at = now
                self._cancel_jobs(uow, contact.id, "the contact opted out (STOP)", now)
                records.audit(s, now, "contact.opted_out", subject=contact.phone, via="STOP")
            elif word == "start":
                contact.opted_out = False
                contact.opted_out_at = None
                records.audit(s, now, "contact.opted_in", subject=contact.phone, via="START")
            else:
                self._cancel_jobs(uow, contact.id, "they replied", now)
                if word is None:
                    records.add_tag(s, contact, records.PENDING_CALLBACK)
            contact.updated_at = now
            self._publish_after(
                uow, ConversationChanged(conversation.id, contact.id), ContactChanged(contact.id)
            )
            uow.commit()
            if word == "help" and not contact.opted_out and received_at is None:
                return contact.id, self._render(cfg, "templates.help", contact)
            return contact.id, None

        contact_id, help_text = await self._run_keyed(work)
        if contact_id is not None and help_text:
            self._background.spawn(self._send_auto(contact_id, help_text), name="help-reply")
        if contact_id is not None:
            self._scheduler.wake()
        return contact_id is not None

    @staticmethod
    def _media(form: Mapping[str, str]) -> list[dict[str, str]]:
        count = form.get("NumMedia", "0")
        n = int(count) if count.isdigit() else 0
        return [
            {"url": form[f"MediaUrl{i}"], "content_type": form.get(f"MediaContentType{i}", "")}
            for i in range(min(n, 10))
            if form.get(f"MediaUrl{i}")
        ]

    def _cancel_jobs(self, uow: UnitOfWork, contact_id: int, reason: str, now: datetime) -> None:
        s = uow.session
        jobs = s.scalars(
            select(Job).where(Job.contact_id == contact_id, Job.state == "pending")
        ).all()
        for job in jobs:
            job.state = "cancelled"
            job.reason = reason
            job.finished_at = now
            if job.kind == "textback" and job.call_id is not None:
                call = s.get(Call, job.call_id)
                if call is not None:
                    call.textback_state = "cancelled"
                    call.textback_reason = reason
                    self._publish_after(uow, CallChanged(call.id))

    async def message_status(self, form: Mapping[str, str]) -> None:
        """Delivery status for a text we sent; moves the status forward only."""
        sid, status = _required(form, "MessageSid", "MessageStatus")
        code_text = form.get("ErrorCode", "")
        code = int(code_text) if code_text.isdigit() else None

        def work(uow: UnitOfWork) -> bool:
            s = uow.session
            message = s.scalar(select(Message).where(Message.sid == sid))
            if message is None:
                return False
            self._apply_status(uow, message, status, code)
            uow.commit()
            return True

        if not await self._db.run(work):
            self._early_status[sid] = (status, code)

    def _apply_status(
        self, uow: UnitOfWork, message: Message, status: str, code: int | None
    ) -> None:
        s = uow.session
        if not records.advance_status(message, status) and code is None:
            return
        conversation = s.get(Conversation, message.conversation_id)
        assert conversation is not None
        if code is not None:
            message.error_code = code
            message.error_message = errors.describe(code)
            if code == 21610:
                contact = s.get(Contact, conversation.contact_id)
                if contact is not None and not contact.opted_out:
                    contact.opted_out = True
                    contact.opted_out_at = self._clock.now()
                    self._publish_after(uow, ContactChanged(contact.id))
        self._publish_after(uow, ConversationChanged(conversation.id, conversation.contact_id))

    # ---- sending ---------------------------------------------------------------------
    def _render(self, cfg: Settings, key: str, contact: Contact) -> str:
        first = contact.name.split()[0] if contact.name and contact.name.strip() else None
        business_phone = cfg["business.phone_number"]
        return templates.render(
            cfg[key],
            templates.TemplateContext(
                first_name=first,
                business_name=cfg["business.name"] or None,
                business_phone=phones.format_for_display(business_phone)
                if business_phone
                else None,
                booking_link=cfg["business.booking_link"] or None,
            ),
        )

    async def run_job(self, job_id: int) -> None:
        """Run one claimed job: re-check, render, send, record. Never raises."""
        try:
            outgoing = await self._db.run(lambda uow: self._prepare_job(uow, job_id))
            if outgoing is not None:
                await self._deliver(outgoing)
        except Exception:
            log.exception("scheduled job %s failed unexpectedly", job_id)
            await self._db.run(lambda uow: self._fail_job(uow, job_id, "internal error"))

    def _fail_job(self, uow: UnitOfWork, job_id: int, reason: str) -> None:
        job = uow.session.get(Job, job_id)
        if job is not None and job.state == "sending":
            job.state = "failed"
            job.reason = reason
            job.finished_at = self._clock.now()
            uow.commit()

    def _prepare_job(self, uow: UnitOfWork, job_id: int) -> Outgoing | None:
        job = uow.session.get(Job, job_id)
        if job is None or job.state != "sending":
            return None
        outgoing = self._begin_send(uow, job, self._settings(uow.session), self._clock.now())
        uow.commit()
        return outgoing

    def _begin_send(
        self, uow: UnitOfWork, job: Job, cfg: Settings, now: datetime
    ) -> Outgoing | None:
        """Re-check a claimed job and write the message row it will send (not committed).

        Returns None when the job ends here (skipped, cancelled, held for quiet hours).
        """
        s = uow.session
        contact = s.get(Contact, job.contact_id)
        call = s.get(Call, job.call_id) if job.call_id else None
        assert contact is not None

        def finish(state: str, reason: str) -> None:
            job.state = state
            job.reason = reason
            job.finished_at = now
            if call is not None and job.kind == "textback":
                call.textback_state = "skipped" if state == "skipped" else state
                call.textback_reason = reason
                self._publish_after(uow, CallChanged(call.id))

        earlier = s.get(Message, job.message_id) if job.message_id is not None else None
        if earlier is not None and earlier.sid:
            finish("done", "already sent")
            return None
        if contact.opted_out:
            finish("skipped", policy.OPTED_OUT)
            return None
        if not cfg["textback.enabled"]:
            finish("skipped", policy.DISABLED)
            return None
        if not cfg["business.phone_number"]:
            finish("failed", "business.phone_number is not set")
            return None
        if job.kind == "follow_up" and self._replied_since(s, contact.id, job.created_at):
            finish("cancelled", "they replied")
            return None
        held_to, held = policy.hold_for_quiet_hours(cfg, now)
        if held is not None:
            job.state = "pending"
            job.due_at = held_to
            if call is not None and job.kind == "textback":
                call.textback_state = "held"
                self._publish_after(uow, CallChanged(call.id))
            uow.after_commit(self._scheduler.wake)
            return None
        conversation = records.conversation_for(s, contact)
        if earlier is not None:
            # An earlier attempt (before a crash, or one that failed on the network) may
            # have reached the carrier: same row, same text, and look before sending.
            earlier.status = "sending"
            self._publish_after(uow, ConversationChanged(conversation.id, contact.id))
            return Outgoing(
                earlier.id,
                job.id,
                contact.id,
                conversation.id,
                contact.phone,
                cfg["business.phone_number"],
                earlier.body,
                reconcile_since=as_utc(earlier.created_at),
            )
        body = self._render(cfg, job.template_key, contact)
        message = records.add_message(
            s,
            conversation,
            Message(
                direction="out",
                body=body,
                status="sending",
                kind="textback" if job.kind == "textback" else "follow_up",
                segments=templates.segments(body).segments,
                call_id=job.call_id,
                created_at=now,
            ),
        )
        job.message_id = message.id
        self._publish_after(uow, ConversationChanged(conversation.id, contact.id))
        return Outgoing(
            message.id,
            job.id,
            contact.id,
            conversation.id,
            contact.phone,
            cfg["business.phone_number"],
            body,
        )

    @staticmethod
    def _replied_since(s: Session, contact_id: int, since: datetime) -> bool:
        return (
            s.scalar(
                select(Message.id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(
                    Conversation.contact_id == contact_id,
                    Message.direction == "in",
                    Message.created_at >= since,
                )
                .limit(1)
            )
            is not None
        )

    async def _deliver(self, out: Outgoing) -> None:
        try:
            found = await self._already_sent(out) if out.reconcile_since else None
            if found is not None:
                sent = SentMessage(found.sid, found.status, found.to, found.from_, found.body)
                log.info(
                    "message %s had already left as %s; not sending again",
                    out.message_id,
                    found.sid,
                )
            else:
                sent = await self._carrier.send_sms(
                    to=out.to,
                    from_=out.from_,
                    body=out.body,
                    status_callback=self._status_callback(),
                )
        except CarrierError as exc:
            failure = exc
        except OSError as exc:  # network down: same as a retryable carrier error
            failure = CarrierError(f"network error: {exc}", retryable=True)
        else:
            await self._db.run(lambda uow: self._record_sent(uow, out, sent))
            self._scheduler.wake()
            return
        await self._db.run(
            lambda uow: self._record_failure(
                uow, out, failure, opt_out=isinstance(failure, OptedOutError)
            )
        )
        self._scheduler.wake()

    def _record_sent(self, uow: UnitOfWork, out: Outgoing, sent: SentMessage) -> None:
        s = uow.session
        now = self._clock.now()
        message = s.get(Message, out.message_id)
        assert message is not None
        message.sid = sent.sid
        message.status = "queued"
        records.advance_status(message, sent.status)
        message.sent_at = now
        if sent.num_segments:
            message.segments = sent.num_segments
        early = self._early_status.pop(sent.sid, None)
        if early is not None:
            self._apply_status(uow, message, *early)
        if out.job_id is not None:
            job = s.get(Job, out.job_id)
            assert job is not None
            job.state = "done"
            job.finished_at = now
            self._after_job_sent(uow, job, now)
        self._publish_after(uow, ConversationChanged(out.conversation_id, out.contact_id))
        uow.commit()

    def _after_job_sent(self, uow: UnitOfWork, job: Job, now: datetime) -> None:
        s = uow.session
        if job.kind != "textback":
            return
        if job.call_id is not None:
            call = s.get(Call, job.call_id)
            if call is not None:
                call.textback_state = "sent"
                call.textback_reason = None
                self._publish_after(uow, CallChanged(call.id))
        delay = self._settings(s)["followup.delay_seconds"]
        if delay > 0:
            s.add(
                Job(
                    kind="follow_up",
                    state="pending",
                    due_at=now + timedelta(seconds=delay),
                    contact_id=job.contact_id,
                    call_id=job.call_id,
                    template_key="templates.follow_up",
                    attempts=0,
                    created_at=now,
                )
            )

    def _record_failure(
        self, uow: UnitOfWork, out: Outgoing, exc: CarrierError, *, opt_out: bool = False
    ) -> None:
        s = uow.session
        now = self._clock.now()
        message = s.get(Message, out.message_id)
        assert message is not None
        job = s.get(Job, out.job_id) if out.job_id is not None else None
        contact = s.get(Contact, out.contact_id)
        assert contact is not None
        if opt_out and not contact.opted_out:
            contact.opted_out = True
            contact.opted_out_at = now
            self._publish_after(uow, ContactChanged(contact.id))
        if exc.retryable and job is not None and job.attempts < MAX_ATTEMPTS:
            # Nothing left: the message row waits and the job runs again after a backoff.
            message.status = "retrying"
            message.error_message = f"will retry: {exc}"
            job.state = "pending"
            job.due_at = now + timedelta(
                seconds=min(300.0, self.retry_base_seconds * 2 ** (job.attempts - 1))
            )
            job.reason = str(exc)
        else:
            message.status = "failed"
            message.error_code = exc.code
            message.error_message = errors.describe(exc.code, str(exc))
            if job is not None:
                final = isinstance(exc, OptedOutError | NotTextableError)
                job.state = "skipped" if final else "failed"
                job.reason = message.error_message
                job.finished_at = now
                if job.call_id is not None and job.kind == "textback":
                    call = s.get(Call, job.call_id)
                    if call is not None:
                        call.textback_state = "skipped" if job.state == "skipped" else "failed"
                        call.textback_reason = message.error_message
                        self._publish_after(uow, CallChanged(call.id))
        self._publish_after(uow, ConversationChanged(out.conversation_id, out.contact_id))
        uow.commit()

    async def _send_auto(self, contact_id: int, body: str) -> None:
        outgoing = await self._db.run(
            lambda uow: self._prepare_manual(uow, contact_id, body, author=None, kind="auto")
        )
        await self._deliver(outgoing)

    async def send_reply(self, contact_id: int, body: str, *, author: str | None) -> int:
        """Send a reply typed by the desk; returns the new message's id.

        Raises :class:`ReplyRefused` (nothing stored) when the body is empty, the contact
        opted out, or no business number is set. A carrier failure is recorded on the
        message (status ``failed`` with the reason in words), not raised.
        """
        if not body.strip():
            raise ReplyRefused("Type a message first.")
        outgoing = await self._db.run(
            lambda uow: self._prepare_manual(uow, contact_id, body, author=author, kind="manual")
        )
        await self._deliver(outgoing)
        return outgoing.message_id

    def _prepare_manual(
        self, uow: UnitOfWork, contact_id: int, body: str, *, author: str | None, kind: str
    ) -> Outgoing:
        s = uow.session
        cfg = self._settings(s)
        contact = s.get(Contact, contact_id)
        if contact is None:
            raise ReplyRefused("That contact no longer exists.")
        if contact.opted_out:
            raise ReplyRefused(
                f"{contact.phone} opted out (texted STOP). They must text START before you "
                "can message them again."
            )
        if not cfg["business.phone_number"]:
            raise ReplyRefused("Set the business's Twilio number in Settings first.")
        now = self._clock.now()
        conversation = records.conversation_for(s, contact)
        message = records.add_message(
            s,
            conversation,
            Message(
                direction="out",
                body=body,
                status="sending",
                kind=kind,
                author=author,
                segments=templates.segments(body).segments,
                created_at=now,
            ),
        )
        if kind == "manual":
            conversation.unread_count = 0
        self._publish_after(uow, ConversationChanged(conversation.id, contact.id))
        uow.commit()
        return Outgoing(
            message.id,
            None,
            contact.id,
            conversation.id,
            contact.phone,
            cfg["business.phone_number"],
            body,
        )

    # ---- crash recovery -------------------------------------------------------------
    async def recover(self) -> None:
        """Put jobs a dead process left in ``sending`` back in the queue, due now.

        Their message row (if it was written) stays: :meth:`run_job` then looks for it in
        the carrier's log before sending, so a text that did leave is recorded, not sent
        twice. Call once at start-up, before the scheduler runs: one process sends for a
        database.
        """

        def work(uow: UnitOfWork) -> int:
            now = self._clock.now()
            result = uow.session.execute(
                update(Job)
                .where(Job.state == "sending")
                .values(state="pending", due_at=now, reason="interrupted; reconciling")
            )
            count = int(getattr(result, "rowcount", 0) or 0)
            if count:
                records.audit(uow.session, now, "jobs.recovered", count=count)
            uow.commit()
            return count

        count = await self._db.run(work)
        if count:
            log.warning("recovered %d send(s) interrupted by a crash; reconciling", count)

    async def _already_sent(self, out: Outgoing) -> RemoteMessage | None:
        """The carrier's record of ``out`` if an earlier attempt reached it.

        Raises :class:`CarrierError` when the log cannot be read (then we must not send
        blind: the caller retries later).
        """
        assert out.reconcile_since is not None
        recent = await self._carrier.list_messages(
            to=out.to, from_=out.from_, date_sent_after=out.reconcile_since - timedelta(minutes=5)
        )
        return next((m for m in recent if m.body == out.body), None)

    # ---- staff actions on calls ------------------------------------------------------
    async def cancel_textback(self, call_id: int, *, actor: str) -> bool:
        """Cancel a missed call's pending auto-text (staff already called back)."""

        def work(uow: UnitOfWork) -> bool:
            s = uow.session
            now = self._clock.now()
            result = s.execute(
                update(Job)
                .where(Job.call_id == call_id, Job.kind == "textback", Job.state == "pending")
                .values(state="cancelled", reason=f"cancelled by {actor}", finished_at=now)
            )
            changed = bool(getattr(result, "rowcount", 0))
            if changed:
                call = s.get(Call, call_id)
                if call is not None:
                    call.textback_state = "cancelled"
                    call.textback_reason = f"cancelled by {actor}"
                records.audit(s, now, "textback.cancelled", actor=actor, subject=str(call_id))
                self._publish_after(uow, CallChanged(call_id))
                uow.commit()
            return changed

        return await self._db.run(work)
