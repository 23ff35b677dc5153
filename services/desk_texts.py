"""The desk's texts: a reply typed in the Inbox (with a photo or not), a failed text sent
again, a reply scheduled for later and its cancelling, and Settings' test text.

:class:`DeskTexts` is a part of :class:`services.outbox.Outbox` (its base class): these
are the entry points the desk calls; the outbox owns the job, the send and its outcome
(:meth:`Outbox._queue` writes the row and job, :meth:`Outbox._deliver` sends). Every
refusal is a :class:`~services.api.ReplyRefused` raised before anything is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from services import errors, opt_outs, records, sends
from services.api import ReplyRefused
from services.attachments import PhotoRefused, PhotoStore
from services.clock import Clock, as_utc
from services.events import ConversationChanged, Event
from services.locations import Location, Locations
from services.outgoing import Outgoing, SendOutcome, kept_media
from services.scheduler import Scheduler
from services.sends import JobKind, SendState
from services.storage.database import Database, UnitOfWork
from services.storage.models import Contact, Conversation, Job, Message

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: Twilio's longest message body.
MAX_BODY = 1600


class DeskTexts:
    """The desk's entry points of the outbox (see the module docstring)."""

    if TYPE_CHECKING:  # provided by services.outbox.Outbox
        _db: Database
        _clock: Clock
        _scheduler: Scheduler
        _public_url: Callable[[], str | None]
        _sends_here: Callable[[], bool]
        _locations: Callable[[Session], Locations]
        photos: PhotoStore | None

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
        ) -> Outgoing | int: ...

        def send_later(self, outgoing: Outgoing) -> None: ...

        async def _deliver(self, out: Outgoing) -> None: ...

        def _publish_after(self, uow: UnitOfWork, *events: Event) -> None: ...

        def _publish_job(self, uow: UnitOfWork, job: Job, contact: Contact | None) -> None: ...

    async def send_reply(
        self,
        contact_id: int,
        body: str,
        *,
        author: str | None,
        photo: Path | None = None,
        location_id: int | None = None,
    ) -> int:
        """Queue a reply typed by the desk and start sending it; returns the message id.

        It goes in the contact's thread at ``location_id`` (None: the first location)
        and leaves from that location's number.

        Returns once the message row and its job are committed (the thread shows it as
        "sending"); the send itself runs in the background and its outcome arrives as
        events. With ``photo`` it is an MMS: the file is checked (JPEG/PNG/GIF, at most
        5 MB) and copied into the data dir first, and the body may be empty. Raises
        :class:`ReplyRefused` (nothing stored) when the body is empty or too long, the
        photo cannot be texted, the contact opted out, or no business number is set.
        """
        self._check_body(body, media=photo is not None)
        media: list[dict[str, str]] | None = None
        if photo is not None:
            media = await self._keep_photo(photo)
        try:
            queued = await self._db.run(
                lambda uow: self._queue(
                    uow,
                    contact_id,
                    body,
                    kind=JobKind.REPLY,
                    author=author,
                    media=media,
                    location_id=location_id,
                ),
                urgent=True,
            )
        except BaseException:
            if media is not None and self.photos is not None:
                self.photos.discard(media[0]["file"])  # nothing was stored that uses it
            raise
        if isinstance(queued, Outgoing):
            self.send_later(queued)
            return queued.message_id
        return queued

    async def _keep_photo(self, photo: Path) -> list[dict[str, str]]:
        """The message row's ``media`` for a photo copied into the data dir."""
        if self.photos is None or not self._sends_here():
            raise ReplyRefused(
                "Photos can be sent only from the PC that holds the business number "
                "(Twilio fetches them from that PC)."
            )
        if not self._public_url():
            raise ReplyRefused(
                "Photos cannot be sent until this PC's public link (the tunnel) is up: "
                "Twilio fetches the photo from it. Try again in a moment."
            )
        try:
            kept = await asyncio.to_thread(self.photos.keep, photo)
        except PhotoRefused as exc:
            raise ReplyRefused(str(exc)) from exc
        return [{"url": kept.path.as_uri(), "content_type": kept.content_type, "file": kept.name}]

    async def retry(self, message_id: int, author: str | None) -> int:
        """Send a failed outbound text again, as a new reply with the same body, in the
        same thread (from its location's number); returns the new message id (the
        failed one stays in the thread as it was).

        Raises :class:`ReplyRefused` (nothing stored) when the message is not a failed
        outbound text, the contact opted out, or no business number is set.
        """
        queued = await self._db.run(
            lambda uow: self._queue_retry(uow, message_id, author), urgent=True
        )
        if isinstance(queued, Outgoing):
            self.send_later(queued)
            return queued.message_id
        return queued

    def _queue_retry(self, uow: UnitOfWork, message_id: int, author: str | None) -> Outgoing | int:
        s = uow.session
        message = s.get(Message, message_id)
        if message is None or message.direction != "out":
            raise ReplyRefused("That text no longer exists.")
        if message.status not in sends.FAILED_DELIVERY:
            raise ReplyRefused("Only a text that failed can be sent again.")
        conversation = s.get(Conversation, message.conversation_id)
        assert conversation is not None  # messages cascade with their conversation
        media = [dict(d) for d in message.media or []] or None
        for name in kept_media(message):
            path = self.photos.path_of(name) if self.photos is not None else None
            if path is None or not path.is_file() or not self._sends_here():
                raise ReplyRefused(
                    "The photo of that text is not on this PC; attach it again to send it."
                )
        return self._queue(
            uow,
            conversation.contact_id,
            message.body,
            kind=JobKind.REPLY,
            author=author,
            media=media,
            location_id=conversation.location_id,
        )

    async def schedule_reply(
        self,
        contact_id: int,
        body: str,
        due_at: datetime,
        *,
        author: str | None,
        location_id: int | None = None,
    ) -> int:
        """Queue a reply typed now to be sent at ``due_at`` in the thread at
        ``location_id`` (None: the first location's); returns the job's id.

        The message row is written when it is sent; until then the thread shows it as
        scheduled (cancel it with :meth:`cancel_scheduled`). Raises :class:`ReplyRefused`
        (nothing stored) for an empty or too long body, a time not in the future, a
        contact who opted out, or no business number.
        """
        self._check_body(body)

        def work(uow: UnitOfWork) -> int:
            s = uow.session
            now = self._clock.now()
            if as_utc(due_at) <= now:
                raise ReplyRefused("Pick a time in the future to schedule the text.")
            location = self._locations(s).get(location_id)
            contact = self._textable_contact(uow, contact_id, location)
            conversation = records.conversation_for(s, contact, location.id)
            job = sends.new_job(
                JobKind.REPLY,
                now=now,
                due_at=as_utc(due_at),
                contact_id=contact.id,
                location_id=location.id,
            )
            job.body = body
            job.author = author
            s.add(job)
            s.flush()
            records.audit(
                s, now, "reply.scheduled", actor=author or "system", subject=contact.phone
            )
            self._publish_after(uow, ConversationChanged(conversation.id, contact.id))
            uow.after_commit(self._scheduler.wake)
            uow.commit()
            return job.id

        return await self._db.run(work, urgent=True)

    async def cancel_scheduled(self, job_id: int, *, actor: str) -> bool:
        """Cancel a scheduled reply that has not started sending; False when it already
        has (or was cancelled)."""

        def work(uow: UnitOfWork) -> bool:
            s = uow.session
            job = s.get(Job, job_id)
            if (
                job is None
                or job.kind != JobKind.REPLY
                or job.body is None
                or job.state not in sends.CANCELLABLE
            ):
                return False
            sends.cancel(job, self._clock.now(), f"cancelled by {actor}")
            contact = s.get(Contact, job.contact_id) if job.contact_id is not None else None
            self._publish_job(uow, job, contact)
            uow.commit()
            return True

        return await self._db.run(work, urgent=True)

    @staticmethod
    def _check_body(body: str, *, media: bool = False) -> None:
        """A photo may go without words; a text may not."""
        if not body.strip() and not media:
            raise ReplyRefused("Type a message first.")
        if len(body) > MAX_BODY:
            raise ReplyRefused(
                f"That text is {len(body):,} characters; Twilio takes at most {MAX_BODY:,}."
            )
        if "\x00" in body:  # PostgreSQL refuses it, and no phone shows it
            raise ReplyRefused("That text contains a NUL character; remove it and try again.")

    def _textable_contact(self, uow: UnitOfWork, contact_id: int, location: Location) -> Contact:
        """The contact, when ``location`` can text them (they have not opted out, the
        location has its number); else :class:`ReplyRefused`."""
        contact = uow.session.get(Contact, contact_id)
        if contact is None:
            raise ReplyRefused("That contact no longer exists.")
        if contact.opted_out:
            raise ReplyRefused(
                f"{contact.phone} opted out (texted STOP). They must text START before you "
                "can message them again."
            )
        if not location.phone_number:
            raise ReplyRefused("Set the business's Twilio number in Settings first.")
        if opt_outs.blocked_here(uow.session, contact, location.id):
            raise ReplyRefused(errors.blocked_number(location.name, location.phone_number))
        return contact

    async def send_test(self, to: str, body: str, *, location_id: int | None = None) -> SendOutcome:
        """Settings' test text to ``to`` (E.164) from the number of ``location_id`` (None:
        the first location): a job, sent now; its first outcome.

        On a desk client the number holder sends it: the outcome is then ``PENDING``.
        """

        def queue(uow: UnitOfWork) -> Outgoing | int:
            contact = records.contact_for(uow.session, to, self._clock.now())
            return self._queue(
                uow, contact.id, body, kind=JobKind.TEST, author=None, location_id=location_id
            )

        queued = await self._db.run(queue)
        if not isinstance(queued, Outgoing):
            return SendOutcome(SendState.PENDING, None, "handed to the PC holding the number")
        await self._deliver(queued)
        outgoing = queued

        def outcome(uow: UnitOfWork) -> SendOutcome:
            job = uow.session.get(Job, outgoing.job_id)
            message = uow.session.get(Message, outgoing.message_id)
            assert job is not None and message is not None
            return SendOutcome(SendState(job.state), message.sid, job.reason)

        return await self._db.run(outcome)
