"""Small storage helpers shared by the engine and the inbox: find-or-create and tags.

Each takes the unit of work's session and leaves committing to the caller.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services.storage.models import (
    FIRST_LOCATION,
    AuditEntry,
    Contact,
    Conversation,
    Message,
    Tag,
)

MISSED_CALL = "missed call"
PENDING_CALLBACK = "pending callback"
BOOKED = "booked"


def lock_sid(session: Session, sid: str) -> None:
    """Serialise this transaction with any other touching Twilio's ``sid`` until commit.

    Recording a send's SID and a delivery callback for it can run at once on PostgreSQL
    (several workers, several PCs): each looks for the other's row, and without this both
    could miss it. SQLite has one writer, which serialises them already.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(sid))))


def contact_for(session: Session, phone: str, now: datetime) -> Contact:
    contact = session.scalar(select(Contact).where(Contact.phone == phone))
    if contact is None:
        contact = Contact(
            phone=phone,
            notes="",
            opted_out=False,
            created_at=now,
            updated_at=now,
            tags=[],  # known empty: no query to load them
        )
        session.add(contact)
        session.flush()
    return contact


def conversation_for(
    session: Session, contact: Contact, location_id: int | None = FIRST_LOCATION
) -> Conversation:
    """The contact's thread at ``location_id`` (None: the first location), created if
    needed; remembered for the rest of the unit of work (a webhook asks for it several
    times on the path to a text), keyed by contact and location."""
    where = location_id or FIRST_LOCATION
    known: dict[tuple[int, int], Conversation] = session.info.setdefault("conversations", {})
    conversation = known.get((contact.id, where))
    if conversation is not None:
        return conversation
    conversation = session.scalar(
        select(Conversation).where(
            Conversation.contact_id == contact.id, Conversation.location_id == where
        )
    )
    if conversation is None:
        conversation = Conversation(
            contact_id=contact.id, location_id=where, last_preview="", unread_count=0
        )
        session.add(conversation)
        session.flush()
    known[(contact.id, where)] = conversation
    return conversation


def known_conversation_id(
    session: Session, contact_id: int, location_id: int | None = FIRST_LOCATION
) -> int | None:
    """The contact's thread id at ``location_id`` (None: the first), if it has one (no
    thread is created)."""
    where = location_id or FIRST_LOCATION
    known: dict[tuple[int, int], Conversation] = session.info.setdefault("conversations", {})
    if (contact_id, where) in known:
        return known[(contact_id, where)].id
    return session.scalar(
        select(Conversation.id).where(
            Conversation.contact_id == contact_id, Conversation.location_id == where
        )
    )


def at_location(column: Any, location_id: int | None) -> Any:
    """A clause: a call's or job's nullable ``location_id`` column is ``location_id``
    (a row written before locations, NULL, belongs to the first)."""
    return func.coalesce(column, FIRST_LOCATION) == (location_id or FIRST_LOCATION)


def conversation_ids(session: Session, contact_id: int) -> list[int]:
    """Every thread of the contact (one per location it called or texted), oldest first."""
    return list(
        session.scalars(
            select(Conversation.id)
            .where(Conversation.contact_id == contact_id)
            .order_by(Conversation.id)
        )
    )


SYSTEM_TAGS = (MISSED_CALL, PENDING_CALLBACK, BOOKED)


def tag(session: Session, name: str) -> Tag:
    """The tag called ``name``, matched without regard to case (a tag keeps the case it
    was first written in: "VIP", and "vip" later means the same tag), created if need be.

    Created with INSERT ... ON CONFLICT DO NOTHING: two webhooks that tag their first
    contacts at once on a shared PostgreSQL both find the one row, neither fails on the
    unique name (a select-then-insert lets both insert and one of them get a 500).
    """
    found = session.scalar(select(Tag).where(Tag.name == name))
    if found is None:
        found = session.scalar(
            select(Tag).where(func.lower(Tag.name) == name.lower()).order_by(Tag.id).limit(1)
        )
    if found is not None:
        return found
    dialect = session.get_bind().dialect.name
    insert: Any = sqlite_insert if dialect == "sqlite" else pg_insert
    session.execute(insert(Tag).values(name=name).on_conflict_do_nothing(index_elements=["name"]))
    found = session.scalar(select(Tag).where(Tag.name == name))
    assert found is not None  # inserted above, or by the transaction that won the race
    return found


def add_tag(session: Session, contact: Contact, name: str) -> bool:
    if any(t.name.lower() == name.lower() for t in contact.tags):
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
    note_message(conversation, message)
    session.flush()
    return message


def note_message(conversation: Conversation, message: Message) -> None:
    """What a new message changes on its thread: preview, last activity, unread count."""
    if conversation.last_message_at is None or message.created_at >= _aware(
        conversation.last_message_at, message.created_at
    ):
        conversation.last_message_at = message.created_at
        conversation.last_preview = _preview(message)
    if message.direction == "in":
        conversation.unread_count += 1
        conversation.last_inbound_at = message.created_at


MISSED_CALL_PREVIEW = "Missed call"


def note_call(conversation: Conversation, at: datetime) -> None:
    """A missed call is activity that wants the desk: it brings the thread to the top of
    the inbox and makes it unread (bold, counted in the Inbox badge) until it is opened."""
    conversation.unread_count = (conversation.unread_count or 0) + 1
    if conversation.last_message_at is None or at >= _aware(conversation.last_message_at, at):
        conversation.last_message_at = at
        conversation.last_preview = MISSED_CALL_PREVIEW


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
