"""Everything that goes out: scheduled text-backs and follow-ups, the desk's replies,
automatic answers, their delivery status, and reconciliation after a crash.

A send is two units of work around one carrier call: the message row is written
(status ``sending``) before the carrier is asked, and the answer (SID, or the failure in
words) is recorded after. A row left without a SID by a crash or a network failure is
looked up in the carrier's log before it is sent again, so a text is never sent twice.
Coroutines run on the event loop; storage work on the database's worker thread.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services import errors, phones, policy, records, templates
from services.api import ReplyRefused
from services.clock import Clock, as_utc
from services.events import CallChanged, ContactChanged, ConversationChanged, Event, EventBus
from services.ports import (
    Carrier,
    CarrierError,
    NotTextableError,
    OptedOutError,
    RemoteMessage,
    SentMessage,
)
from services.receiver import PATHS
from services.scheduler import Scheduler
from services.settings import Settings
from services.storage.database import Database, UnitOfWork
from services.storage.models import Call, Contact, Conversation, Job, Message
from services.tasks import TaskSet

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


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


class Outbox:
    """Sends through the carrier and records what happened; owned by the Engine."""

    def __init__(
        self,
        db: Database,
        carrier: Carrier,
        bus: EventBus,
        clock: Clock,
        scheduler: Scheduler,
        *,
        public_url: Callable[[], str | None],
        settings: Callable[[Session], Settings],
        retry_base_seconds: float = 5.0,
    ) -> None:
        self._db = db
        self._carrier = carrier
        self._bus = bus
        self._clock = clock
        self._scheduler = scheduler
        self._public_url = public_url
        self._settings = settings
        self.retry_base_seconds = retry_base_seconds
        self._background = TaskSet("outbox")
        # Delivery callbacks can beat our own record of the send (we learn the SID from
        # the API's answer); they wait here until the SID is stored.
        self._early_status: dict[str, tuple[str, int | None]] = {}

    async def idle(self) -> None:
        await self._background.drain()

    async def close(self) -> None:
        await self._background.close()

    def _publish_after(self, uow: UnitOfWork, *events: Event) -> None:
        for event in events:
            uow.after_commit(functools.partial(self._bus.publish, event))

    def _status_callback(self) -> str | None:
        base = self._public_url()
        return base.rstrip("/") + PATHS["sms_status"] if base else None

    def send_later(self, outgoing: Outgoing) -> None:
        """Send ``outgoing`` in a tracked task (after the unit of work that wrote it)."""
        self._background.spawn(self._deliver(outgoing), name=f"send-{outgoing.message_id}")

    def remember_early_status(self, sid: str, status: str, code: int | None) -> None:
        """A delivery callback for a SID we have not recorded yet: applied once we do."""
        self._early_status[sid] = (status, code)

    def apply_status(
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

    def render(self, cfg: Settings, key: str, contact: Contact) -> str:
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
        outgoing = self.begin_send(uow, job, self._settings(uow.session), self._clock.now())
        uow.commit()
        return outgoing

    def begin_send(
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
        body = self.render(cfg, job.template_key, contact)
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
            self.apply_status(uow, message, *early)
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

    async def send_auto(self, contact_id: int, body: str) -> None:
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
