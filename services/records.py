"""Small storage helpers shared by the engine and the inbox: find-or-create and tags.

Each takes the unit of work's session and leaves committing to the caller.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services.storage.models import AuditEntry, Contact, Conversation, Message, Tag

MISSED_CALL = "missed call"
PENDING_CALLBACK = "pending callback"
BOOKED = "booked"

STATUS_RANK = {
    "pending": 0,
    "retrying": 0,
    "sending": 1,
    "accepted": 2,
    "scheduled": 2,
    "queued": 2,
    "sent": 3,
    "delivered": 5,
    "undelivered": 5,
    "failed": 5,
    "read": 6,
}


def contact_for(session: Session, phone: str, now: datetime) -> Contact:
    contact = session.scalar(select(Contact).where(Contact.phone == phone))
    if contact is None:
        contact = Contact(phone=phone, notes="", opted_out=False, created_at=now, updated_at=now)
        session.add(contact)
        session.flush()
    return contact


def conversation_for(session: Session, contact: Contact) -> Conversation:
    conversation = session.scalar(select(Conversation).where(Conversation.contact_id == contact.id))
    if conversation is None:
        conversation = Conversation(contact_id=contact.id, last_preview="", unread_count=0)
        session.add(conversation)
        session.flush()
    return conversation


def tag(session: Session, name: str) -> Tag:
    """The tag called ``name``, created if need be.

    Created with INSERT ... ON CONFLICT DO NOTHING: two webhooks that tag their first
    contacts at once on a shared PostgreSQL both find the one row, neither fails on the
    unique name (a select-then-insert lets both insert and one of them get a 500).
    """
    found = session.scalar(select(Tag).where(Tag.name == name))
    if found is not None:
        return found
    dialect = session.get_bind().dialect.name
    insert: Any = sqlite_insert if dialect == "sqlite" else pg_insert
    session.execute(insert(Tag).values(name=name).on_conflict_do_nothing(index_elements=["name"]))
    found = session.scalar(select(Tag).where(Tag.name == name))
    assert found is not None  # inserted above, or by the transaction that won the race
    return found


def add_tag(session: Session, contact: Contact, name: str) -> bool:
    if any(t.name == name for t in contact.tags):
        return False
    contact.tags.append(tag(session, name))
    return True


def remove_tag(contact: Contact, name: str) -> bool:
    before = len(contact.tags)
    contact.tags[:] = [t for t in contact.tags if t.name != name]
    return len(contact.tags) != before


def add_message(session: Session, conversation: Conversation, message: Message) -> Message:
    """Append ``message`` to the thread and refresh the thread's preview and counters."""
    message.conversation_id = conversation.id
    session.add(message)
    if conversation.last_message_at is None or message.created_at >= _aware(
        conversation.last_message_at, message.created_at
    ):
        conversation.last_message_at = message.created_at
        conversation.last_preview = _preview(message)
    if message.direction == "in":
        conversation.unread_count += 1
        conversation.last_inbound_at = message.created_at
    session.flush()
    return message


def note_call(conversation: Conversation, at: datetime) -> None:
    """A missed call is activity too: it brings the thread to the top of the inbox."""
    if conversation.last_message_at is None or at >= _aware(conversation.last_message_at, at):
        conversation.last_message_at = at
        conversation.last_preview = "Missed call"


def _aware(value: datetime, like: datetime) -> datetime:
    if value.tzinfo is None and like.tzinfo is not None:
        return value.replace(tzinfo=like.tzinfo)
    return value


def _preview(message: Message) -> str:
    text = " ".join(message.body.split())
    if not text and message.media:
        text = "📷 Photo" if len(message.media) == 1 else f"📷 {len(message.media)} attachments"
    prefix = "You: " if message.direction == "out" else ""
    return (prefix + text)[:200]


def advance_status(message: Message, status: str) -> bool:
    """Move an outbound message's status forward only (callbacks arrive out of order)."""
    if STATUS_RANK.get(status, 0) < STATUS_RANK.get(message.status, 0):
        return False
    if status == message.status:
        return False
    message.status = status
    return True


def audit(
    session: Session,
    now: datetime,
    action: str,
    *,
    actor: str = "system",
    subject: str | None = None,
    **detail: Any,
) -> None:
    session.add(AuditEntry(at=now, actor=actor, action=action, subject=subject, detail=detail))
