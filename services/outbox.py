"""Everything that goes out, exactly once: text-backs, follow-ups, the desk's replies,
HELP/START answers and test texts, their delivery status, and reconciliation.

Every outbound text is a job row (:mod:`services.sends` owns its lifecycle). One run of
a claimed job is:

1. if a create may already have reached the carrier (``maybe_sent_since``), look the
   message up in the carrier's log (To, From, its DateCreated window and the body; never
   DateSent, which a queued message does not have yet) and adopt its SID if found;
2. re-check it (opted out, text-back off, they replied, quiet hours) and write the
   message row, with ``maybe_sent_since`` set, in one committed unit of work;
3. one create request; its answer, a refusal (nothing created: retry after a backoff, or
   fail), or an unknown outcome (the job becomes *uncertain*, looked up after
   ``settle_seconds``, and resent only when the log provably does not have it).

The desk's entry points (replies, photos, retries, scheduled replies, the test text) are
in :mod:`services.desk_texts`, the base class of :class:`Outbox`.

A crash anywhere leaves a ``claimed`` job; :meth:`Outbox.recover` turns it into
``uncertain`` or ``pending`` and the same rules apply. Coroutines run on the event loop;
storage work on the database's worker thread.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services import (
    burst_writes,
    errors,
    lookups,
    opt_outs,
    phones,
    policy,
    records,
    sends,
    templates,
)
from services.api import ReplyRefused
from services.attachments import PhotoStore
from services.clock import Clock, as_utc
from services.delivery import DeliveryStatus
from services.desk_texts import DeskTexts
from services.events import CallChanged, ContactChanged, ConversationChanged, Event, EventBus
from services.locations import Location, Locations
from services.lookups import Lookups
from services.outgoing import Outgoing, kept_media
from services.ports import (
    Carrier,
    CarrierError,
    NotTextableError,
    OptedOutError,
    UncertainSendError,
)
from services.receiver import PATHS
from services.reconcile import Lookup, find_sent
from services.scheduler import Scheduler
from services.sends import JobKind, SendState
from services.settings import Settings
from services.storage.database import Database, UnitOfWork
from services.storage.models import Contact, Conversation, Job, Message
from services.tasks import TaskSet

log = logging.getLogger(__name__)

#: Refusals that created nothing (429, no connection) are retried this many runs in all.
MAX_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class NeedsLookup:
    """A claimed text-back to a number Twilio Lookup has not seen yet."""

    job_id: int
    phone: str


def render_text(cfg: Settings, key: str, name: str | None) -> str:
    """The template at settings ``key`` for a contact called ``name`` (may be None)."""
    first = name.split()[0] if name and name.strip() else None
    business_phone = cfg["business.phone_number"]
    return templates.render(
        cfg[key],
        templates.TemplateContext(
            first_name=first,
            business_name=cfg["business.name"] or None,
            business_phone=phones.format_for_display(business_phone) if business_phone else None,
            booking_link=cfg["business.booking_link"] or None,
        ),
    )


class Outbox(DeskTexts):
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
        locations: Callable[[Session], Locations],
        retry_base_seconds: float = 5.0,
        settle_seconds: float = 30.0,
        sends_here: Callable[[], bool] = lambda: True,
        lookups: Lookups | None = None,
        photos: PhotoStore | None = None,
    ) -> None:
        self._db = db
        # Where photos the desk texts are kept and signed (None: photos cannot be sent).
        self.photos = photos
        self._lookups = lookups
        self._carrier = carrier
        self._bus = bus
        self._clock = clock
        self._scheduler = scheduler
        self._public_url = public_url
        # Each text leaves from its job's location's number, with that location's values.
        self._locations = locations
        self.retry_base_seconds = retry_base_seconds
        #: How long after an unknown outcome the carrier's log is trusted to have the text.
        self.settle_seconds = settle_seconds
        # Only the number holder sends; a desk client's texts are jobs the holder runs.
        self._sends_here = sends_here
        self._background = TaskSet("outbox")
        self.delivery = DeliveryStatus(clock, bus.publish)
        # A send's outcome in Core when it is the common case (services/burst_writes);
        # False: always through the ORM (the tests compare the two).
        self.sent_in_core = True

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

    def render(self, cfg: Settings, key: str, contact: Contact) -> str:
        return render_text(cfg, key, contact.name)

    # ---- running jobs ---------------------------------------------------------------
    def send_later(self, outgoing: Outgoing) -> None:
        """Send ``outgoing`` in a tracked task (after the unit of work that wrote it)."""
        self._background.spawn(self._deliver(outgoing), name=f"send-{outgoing.job_id}")

    async def run_job(self, job_id: int) -> None:
        """Run one claimed job: look up, re-check, send, record. Never raises."""
        try:
            step = await self._db.run(lambda uow: self._start(uow, job_id), urgent=True)
            if isinstance(step, NeedsLookup) and self._lookups is not None:
                # A new number: one bounded Lookup first (a failure texts without it).
                await self._lookups.ensure(step.phone)
                step = await self._db.run(
                    lambda uow: self._start(uow, job_id, looked_up=True), urgent=True
                )
            if isinstance(step, NeedsLookup):
                step = None
            if isinstance(step, Lookup):
                step = await self._reconcile(step)
            if step is not None:
                await self._deliver(step)
        except Exception:
            log.exception("job %s failed unexpectedly; it will be looked up, not resent", job_id)
            await self._db.run(lambda uow: self._unexpected(uow, job_id))
            self._scheduler.wake()

    def _start(
        self, uow: UnitOfWork, job_id: int, *, looked_up: bool = False
    ) -> Outgoing | Lookup | NeedsLookup | None:
        job = uow.session.get(Job, job_id)
        if job is None or job.state != SendState.CLAIMED:
            return None
        message = uow.session.get(Message, job.message_id) if job.message_id else None
        if (
            not looked_up
            and message is None
            and self._lookups is not None
            and job.kind == JobKind.TEXTBACK
            and job.contact_id is not None
        ):
            contact = uow.session.get(Contact, job.contact_id)
            cfg = self._locations(uow.session).office
            if contact is not None and lookups.needed(uow.session, cfg, contact.phone):
                return NeedsLookup(job.id, contact.phone)
        location = self._locations(uow.session).get(job.location_id)
        if job.maybe_sent_since is not None and message is not None:
            contact = uow.session.get(Contact, job.contact_id)
            # Look for it under the number the create went From (the location's may
            # have changed since).
            return Lookup(
                job.id,
                message.id,
                contact.phone if contact is not None else "",
                job.sent_from or location.phone_number,
                message.body,
                as_utc(job.maybe_sent_since),
                media=bool(kept_media(message)),
            )
        outgoing = self.prepare(uow, job, location, self._clock.now())
        uow.commit()
        return outgoing

    async def _reconcile(self, lookup: Lookup) -> Outgoing | None:
        """Adopt the text if the carrier has it; else (provably absent) prepare a resend."""
        try:
            found = await find_sent(self._carrier, lookup, self._known_sids)
        except CarrierError as exc:
            log.warning(
                "job %s: cannot read Twilio's log (%s); looking again later", lookup.job_id, exc
            )
            why = f"cannot check Twilio's log: {exc}"
            await self._db.run(
                lambda uow: self._still_uncertain(uow, job_id=lookup.job_id, reason=why)
            )
            self._scheduler.wake()
            return None
        if found is not None:
            log.info("job %s had already left as %s; not sending again", lookup.job_id, found.sid)
            await self._db.run(
                lambda uow: self._record_sent(
                    uow, job_id=lookup.job_id, sid=found.sid, status=found.status, num_segments=None
                )
            )
            self._scheduler.wake()
            return None

        def resend(uow: UnitOfWork) -> Outgoing | None:
            job = uow.session.get(Job, lookup.job_id)
            if job is None or job.state != SendState.CLAIMED:
                return None
            location = self._locations(uow.session).get(job.location_id)
            outgoing = self.prepare(uow, job, location, self._clock.now())
            uow.commit()
            return outgoing

        return await self._db.run(resend, urgent=True)

    async def _known_sids(self, sids: list[str]) -> set[str]:
        def known(uow: UnitOfWork) -> set[str]:
            return set(uow.session.scalars(select(Message.sid).where(Message.sid.in_(sids))))

        return await self._db.run(known)

    def prepare(
        self, uow: UnitOfWork, job: Job, location: Location, now: datetime
    ) -> Outgoing | None:
        """Re-check a claimed job and write the message row it will send (not committed),
        in the contact's thread at ``location`` (the job's), to leave from its number
        with its values (templates, quiet hours).

        Returns None when the job ends here (skipped, cancelled, held for quiet hours).
        """
        s = uow.session
        cfg = location.settings
        kind = JobKind(job.kind)
        contact = s.get(Contact, job.contact_id) if job.contact_id is not None else None
        message = s.get(Message, job.message_id) if job.message_id is not None else None

        def end(how: Callable[[], None]) -> None:
            how()
            self._publish_job(uow, job, contact)

        if contact is None:
            end(lambda: sends.failed(job, message, now=now, reason="the contact was deleted"))
            return None
        if contact.opted_out:
            end(
                lambda: sends.failed(
                    job, message, now=now, reason=policy.OPTED_OUT, final_for_contact=True
                )
            )
            return None
        if not cfg["business.phone_number"]:
            reason = "Set the business's Twilio number in Settings."
            end(lambda: sends.failed(job, message, now=now, reason=reason))
            return None
        if opt_outs.blocked_here(s, contact, location.id):
            end(
                lambda: sends.failed(
                    job, message, now=now, reason=policy.BLOCKED_HERE, final_for_contact=True
                )
            )
            return None
        if kind.automatic:
            if not cfg["textback.enabled"]:
                end(lambda: sends.skip(job, now, policy.DISABLED))
                return None
            if kind is JobKind.FOLLOW_UP and self._replied_since(
                s, contact.id, location.id, self._texted_at(s, job)
            ):
                end(lambda: sends.cancel(job, now, "they replied"))
                return None
            line = lookups.cached(s, contact.phone) if cfg["lookup.enabled"] else None
            if line is not None and line.line_type:
                check = phones.classify(
                    contact.phone, cfg["business.default_region"], line_type=line.line_type
                )
                if not check.textable:
                    reason = check.reason or phones.NOT_MOBILE
                    end(lambda: sends.skip(job, now, reason))
                    return None
            held_to, held = policy.hold_for_quiet_hours(cfg, now, contact.phone)
            if held is not None:
                end(lambda: sends.hold(job, held_to))
                uow.after_commit(self._scheduler.wake)
                return None
        conversation = records.conversation_for(s, contact, location.id)
        if message is None:
            # A scheduled reply carries the desk's words; every other job renders now.
            body = job.body if job.body is not None else self.render(cfg, job.template_key, contact)
            message = records.add_message(
                s,
                conversation,
                Message(
                    direction="out",
                    body=body,
                    status="sending",
                    kind=kind.message_kind,
                    author=job.author,
                    segments=templates.segments(body).segments,
                    call_id=job.call_id,
                    created_at=now,
                ),
            )
        sends.about_to_send(job, message, now, from_number=cfg["business.phone_number"])
        self._publish_job(uow, job, contact)
        return Outgoing(
            job.id,
            message.id,
            contact.id,
            conversation.id,
            job.call_id,
            contact.phone,
            cfg["business.phone_number"],
            message.body,
            kept_media(message),
        )

    def _publish_job(self, uow: UnitOfWork, job: Job, contact: Contact | None) -> None:
        events: list[Event] = []
        if job.call_id is not None:
            events.append(CallChanged(job.call_id))
        if contact is not None:
            conversation_id = records.known_conversation_id(
                uow.session, contact.id, job.location_id
            )
            if conversation_id is not None:
                events.append(ConversationChanged(conversation_id, contact.id))
        self._publish_after(uow, *events)

    @staticmethod
    def _texted_at(s: Session, follow_up: Job) -> datetime:
        """When the text this follow-up follows was written (just before its create): a
        reply from then on answers it, even one that arrived before the follow-up job
        itself was recorded (the create's answer and the reply can cross)."""
        if follow_up.call_id is not None:
            written = s.scalar(
                select(Message.created_at)
                .join(Job, Job.message_id == Message.id)
                .where(Job.call_id == follow_up.call_id, Job.kind == JobKind.TEXTBACK)
                .limit(1)
            )
            if written is not None:
                return written
        return follow_up.created_at

    @staticmethod
    def _replied_since(s: Session, contact_id: int, location_id: int, since: datetime) -> bool:
        """They texted the location ``location_id`` since ``since`` (a reply to another
        location's number answers that one, not this)."""
        return (
            s.scalar(
                select(Message.id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(
                    Conversation.contact_id == contact_id,
                    Conversation.location_id == location_id,
                    Message.direction == "in",
                    Message.created_at >= since,
                )
                .limit(1)
            )
            is not None
        )

    async def _deliver(self, out: Outgoing) -> None:
        """One create request, and its outcome recorded. Never raises."""
        record: functools.partial[None]
        wake = True  # any outcome but "sent" put the job back in the queue
        try:
            sent = await self._carrier.send_sms(
                to=out.to,
                from_=out.from_,
                body=out.body,
                status_callback=self._status_callback(),
                media_urls=self._media_links(out),
            )
        except UncertainSendError as exc:
            log.warning("job %s: %s; will check Twilio's log before sending again", out.job_id, exc)
            why = str(exc)
            record = functools.partial(self._still_uncertain, job_id=out.job_id, reason=why)
        except CarrierError as exc:
            record = functools.partial(self._record_refusal, out=out, exc=exc)
        except Exception as exc:  # an unexpected error: the text may have left; look first
            log.exception("job %s: send failed unexpectedly", out.job_id)
            reason = f"unexpected error while sending: {type(exc).__name__}"
            record = functools.partial(self._still_uncertain, job_id=out.job_id, reason=reason)
        else:
            wake = False  # a sent text's follow-up wakes the scheduler itself (after commit)
            record = functools.partial(
                self._record_sent,
                job_id=out.job_id,
                sid=sent.sid,
                status=sent.status,
                num_segments=sent.num_segments,
            )
        await self._record(out.job_id, record, wake=wake)

    def _media_links(self, out: Outgoing) -> list[str]:
        """Fresh signed links to ``out``'s photos under the public URL (one per attempt,
        so a retry never sends a link that has expired). Raises a retryable
        :class:`CarrierError` (nothing was created) when no link can be made."""
        if not out.media:
            return []
        base = self._public_url()
        if self.photos is None or not base:
            raise CarrierError(
                "Twilio fetches the photo from this PC's public link, which is not up yet",
                retryable=True,
            )
        links = [self.photos.link(base, name) for name in out.media]
        if any(link is None for link in links):
            raise CarrierError("no Twilio auth token to sign the photo's link", retryable=True)
        return [link for link in links if link is not None]

    async def _record(
        self, job_id: int, record: Callable[[UnitOfWork], None], *, wake: bool
    ) -> None:
        """Store a send's outcome, retrying while the database refuses (a restart, a
        lock): what Twilio answered must not be lost to a passing database error. If it
        never lands, the job stays claimed with ``maybe_sent_since`` set, and recovery
        looks the text up before anything is sent again."""
        for attempt, pause in enumerate((0.5, 1.0, 2.0, 4.0, 8.0, None)):
            try:
                await self._db.run(record)
                break
            except Exception as exc:
                if pause is None:
                    log.error("job %s: could not record the send's outcome: %s", job_id, exc)
                    return
                log.warning(
                    "job %s: recording the outcome failed (%s); try %d again in %.1f s",
                    job_id,
                    type(exc).__name__,
                    attempt + 2,
                    pause,
                )
                await asyncio.sleep(pause)  # the database's pace, not the clock's
        if wake:
            self._scheduler.wake()

    def _record_sent(
        self, uow: UnitOfWork, *, job_id: int, sid: str, status: str, num_segments: int | None
    ) -> None:
        s = uow.session
        now = self._clock.now()
        if self.sent_in_core:
            done = burst_writes.record_sent(
                s,
                job_id=job_id,
                sid=sid,
                status=status,
                num_segments=num_segments,
                now=now,
                locations=self._locations(s),
            )
            if done is not None:
                events: list[Event] = []
                if done.call_id is not None:
                    events.append(CallChanged(done.call_id))
                if done.contact_id is not None and done.conversation_id is not None:
                    events.append(ConversationChanged(done.conversation_id, done.contact_id))
                self._publish_after(uow, *events)
                if done.follow_up:
                    uow.after_commit(self._scheduler.wake)
                uow.commit()
                return
        job = s.get(Job, job_id)
        assert job is not None and job.message_id is not None
        message = s.get(Message, job.message_id)
        assert message is not None
        sends.sent(job, message, sid=sid, status=status, now=now)
        if num_segments:
            message.segments = num_segments
        records.lock_sid(s, sid)  # a delivery callback for it may be landing now
        self.delivery.adopt_early(uow, message)
        if JobKind(job.kind) is JobKind.TEXTBACK:
            delay = self._locations(s).get(job.location_id).settings["followup.delay_seconds"]
            if delay > 0:
                s.add(
                    sends.follow_up_job(
                        now=now,
                        after_seconds=delay,
                        contact_id=job.contact_id,
                        call_id=job.call_id,
                        location_id=job.location_id,
                    )
                )
                uow.after_commit(self._scheduler.wake)
        contact = s.get(Contact, job.contact_id) if job.contact_id is not None else None
        self._publish_job(uow, job, contact)
        uow.commit()

    def _still_uncertain(self, uow: UnitOfWork, *, job_id: int, reason: str) -> None:
        s = uow.session
        job = s.get(Job, job_id)
        if job is None or job.state != SendState.CLAIMED or job.message_id is None:
            return
        message = s.get(Message, job.message_id)
        assert message is not None
        # Look again after the settle period, backing off while the log stays unreadable.
        wait = min(600.0, self.settle_seconds * 2 ** max(0, job.attempts - 1))
        sends.uncertain(
            job, message, due_at=self._clock.now() + timedelta(seconds=wait), reason=reason
        )
        contact = s.get(Contact, job.contact_id) if job.contact_id is not None else None
        self._publish_job(uow, job, contact)
        uow.commit()

    def _unexpected(self, uow: UnitOfWork, job_id: int) -> None:
        job = uow.session.get(Job, job_id)
        if job is None or job.state != SendState.CLAIMED:
            return
        if job.maybe_sent_since is not None and job.message_id is not None:
            self._still_uncertain(uow, job_id=job_id, reason="internal error while sending")
            return
        sends.failed(job, None, now=self._clock.now(), reason="internal error")
        uow.commit()

    def _record_refusal(self, uow: UnitOfWork, *, out: Outgoing, exc: CarrierError) -> None:
        s = uow.session
        now = self._clock.now()
        job = s.get(Job, out.job_id)
        message = s.get(Message, out.message_id)
        contact = s.get(Contact, out.contact_id)
        assert job is not None and message is not None and contact is not None
        reason = errors.describe(exc.code, str(exc))
        if isinstance(exc, OptedOutError):
            opt_outs.refused(contact, now)
            # Opted out, or this number blocked (services.opt_outs): the panel shows it.
            self._publish_after(uow, ContactChanged(contact.id))
            reason = opt_outs.refusal_words(contact, out.from_, reason)
        if exc.retryable and job.attempts < MAX_ATTEMPTS:
            backoff = min(300.0, self.retry_base_seconds * 2 ** (job.attempts - 1))
            sends.refused_for_now(
                job, message, due_at=now + timedelta(seconds=backoff), reason=str(exc)
            )
        else:
            sends.failed(
                job,
                message,
                now=now,
                reason=reason,
                code=exc.code,
                final_for_contact=isinstance(exc, OptedOutError | NotTextableError),
            )
        self._publish_job(uow, job, contact)
        uow.commit()

    # ---- texts the engine starts (the desk's are in services.desk_texts) ----------------
    async def send_auto(
        self, contact_id: int, body: str, *, location_id: int | None = None
    ) -> None:
        """An automatic answer (HELP, START): a job like any other, sent now, from the
        number of the location they texted (``location_id``; None: the first)."""
        try:
            queued = await self._db.run(
                lambda uow: self._queue(
                    uow, contact_id, body, kind=JobKind.AUTO, author=None, location_id=location_id
                )
            )
        except ReplyRefused as exc:
            log.info("automatic answer to contact %s not sent: %s", contact_id, exc)
            return
        if isinstance(queued, Outgoing):
            await self._deliver(queued)

    def _queue(
        self,
        uow: UnitOfWork,
        contact_id: int,
        body: str,
        *,
        kind: JobKind,
        author: str | None,
        media: list[dict[str, str]] | None = None,
        location_id: int | None = None,
    ) -> Outgoing | int:
        """Write the message row and its job; the Outgoing to send now when this process
        holds the number, else the message id (the job waits, due now, for the holder).
        ``media`` is the row's kept photos (an MMS). It goes in the contact's thread at
        ``location_id`` and leaves from its number (None, or a location since removed:
        the first's, whose thread then holds it, where their answer will land)."""
        s = uow.session
        location = self._locations(s).get(location_id)
        contact = self._textable_contact(uow, contact_id, location)
        now = self._clock.now()
        conversation = records.conversation_for(s, contact, location.id)
        message = records.add_message(
            s,
            conversation,
            Message(
                direction="out",
                body=body,
                status="sending",
                kind=kind.message_kind,
                author=author,
                segments=templates.segments(body).segments,
                media=media,
                created_at=now,
            ),
        )
        if kind is JobKind.REPLY:
            conversation.unread_count = 0
        if not self._sends_here():
            job = sends.new_job(
                kind, now=now, due_at=now, contact_id=contact.id, location_id=location.id
            )
            job.message_id = message.id
            s.add(job)
            self._publish_after(uow, ConversationChanged(conversation.id, contact.id))
            uow.after_commit(self._scheduler.wake)  # on a desk client: tells the holder
            uow.commit()
            return message.id
        job = sends.claimed_job(kind, now=now, contact_id=contact.id, location_id=location.id)
        job.message_id = message.id
        s.add(job)
        s.flush()
        outgoing = self.prepare(uow, job, location, now)
        assert outgoing is not None  # the desk's texts are never held or skipped here
        uow.commit()
        return outgoing

    # ---- crash recovery -------------------------------------------------------------
    async def recover(self) -> None:
        """Jobs a dead process left ``claimed``: uncertain if a create may have left
        (looked up in the carrier's log after the settle period), else due again now.

        Call once, before the scheduler runs, from the one process that sends for the
        database.
        """

        def work(uow: UnitOfWork) -> int:
            now = self._clock.now()
            jobs = uow.session.scalars(select(Job).where(Job.state == SendState.CLAIMED)).all()
            settle = timedelta(seconds=self.settle_seconds)
            for job in jobs:
                since = job.maybe_sent_since
                sends.interrupted(job, now, as_utc(since) + settle if since else now)
            if jobs:
                records.audit(uow.session, now, "jobs.recovered", count=len(jobs))
            uow.commit()
            return len(jobs)

        count = await self._db.run(work)
        if count:
            log.warning("recovered %d send(s) interrupted by a crash; reconciling", count)
