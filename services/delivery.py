"""Delivery status: Twilio's status callbacks applied to the messages we sent.

Statuses move forward only (callbacks arrive out of order); an error code is kept in
words; 21610 opts the recipient out. A callback can beat our own record of the send's
SID (the create's answer, or a send still being reconciled): it is kept in the
``early_statuses`` table, bounded by age and count, and applied when the SID is
recorded (:meth:`DeliveryStatus.adopt_early`). Both sides serialise on the SID
(:func:`services.records.lock_sid`) so neither misses the other.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete, func, select

from services import errors, opt_outs, sends
from services.clock import Clock
from services.events import CallChanged, ContactChanged, ConversationChanged, Event
from services.storage.database import UnitOfWork
from services.storage.models import Contact, Conversation, EarlyStatus, Job, Message

#: A status callback for an unknown SID is kept this long (it may beat our record).
EARLY_STATUS_TTL = timedelta(hours=1)
EARLY_STATUS_CAP = 10_000


class DeliveryStatus:
    """Applies delivery callbacks; ``publish`` is the event bus's publish."""

    def __init__(self, clock: Clock, publish: Callable[[Event], None]) -> None:
        self._clock = clock
        self._publish = publish

    def _publish_after(self, uow: UnitOfWork, *events: Event) -> None:
        for event in events:
            uow.after_commit(functools.partial(self._publish, event))

    def apply(self, uow: UnitOfWork, message: Message, status: str, code: int | None) -> None:
        """Move ``message`` to ``status`` (forward only) and keep ``code`` (not committed)."""
        s = uow.session
        if not sends.advance_delivery(message, status) and code is None:
            return
        conversation = s.get(Conversation, message.conversation_id)
        assert conversation is not None
        if code is not None:
            message.error_code = code
            message.error_message = errors.describe(code)
            if code == 21610:
                contact = s.get(Contact, conversation.contact_id)
                if contact is not None:
                    opt_outs.refused(contact, self._clock.now())
                    self._publish_after(uow, ContactChanged(contact.id))
                    if not contact.opted_out:  # only this number: the words name it
                        sent_from = s.scalar(
                            select(Job.sent_from).where(Job.message_id == message.id)
                        )
                        message.error_message = opt_outs.refusal_words(
                            contact, sent_from, message.error_message
                        )
        self._publish_after(uow, ConversationChanged(conversation.id, conversation.contact_id))
        if message.call_id is not None:
            self._publish_after(uow, CallChanged(message.call_id))

    def keep_early(self, uow: UnitOfWork, sid: str, status: str, code: int | None) -> None:
        """A callback for a SID not recorded yet: kept (bounded) until it is. Commits."""
        s = uow.session
        now = self._clock.now()
        s.execute(delete(EarlyStatus).where(EarlyStatus.received_at < now - EARLY_STATUS_TTL))
        row = s.get(EarlyStatus, sid)
        if row is None:
            count = s.scalar(select(func.count()).select_from(EarlyStatus)) or 0
            if count >= EARLY_STATUS_CAP:
                oldest = (
                    select(EarlyStatus.sid)
                    .order_by(EarlyStatus.received_at)
                    .limit(count - EARLY_STATUS_CAP + 1)
                )
                s.execute(delete(EarlyStatus).where(EarlyStatus.sid.in_(oldest.scalar_subquery())))
            s.add(EarlyStatus(sid=sid, status=status, error_code=code, received_at=now))
        elif sends.DELIVERY_RANK.get(status, -1) >= sends.DELIVERY_RANK.get(row.status, -1):
            row.status = status
            row.error_code = code if code is not None else row.error_code
        uow.commit()

    def adopt_early(self, uow: UnitOfWork, message: Message) -> None:
        """``message`` just got its SID: apply (and drop) a callback that came first."""
        assert message.sid is not None
        early = uow.session.get(EarlyStatus, message.sid)
        if early is not None:
            self.apply(uow, message, early.status, early.error_code)
            uow.session.delete(early)
