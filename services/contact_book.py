"""Starting a conversation with any number, and a contact's whole history.

Two units of work the inbox offers (:meth:`services.inbox.Inbox.start_conversation`,
:meth:`services.inbox.Inbox.contact_history`), kept here so the inbox class stays a
thin set of entry points. Pure storage work over a session; the caller commits and
publishes the events returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services import phones, records
from services.api import NotFound, StartRefused
from services.clock import as_utc
from services.events import ContactChanged, Event
from services.snapshots import ContactHistory, HistoryEntry
from services.storage.models import FIRST_LOCATION, Call, Contact, Conversation, Message
from services.webhook_fields import clean_text

NAME_MAX = 200  # characters, the column's length
PHONE_TYPED_MAX = 64  # characters of a typed number looked at (E.164 is at most 16)
HISTORY_LIMIT = 2000  # newest calls and texts shown on the Contacts page

#: The audit action of a conversation started by the desk (an activity line in the thread).
STARTED = "conversation.started"

#: Why a start is refused, in words (shown under the number field).
OPTED_OUT = (
    "{who} opted out of texts (they texted STOP), so Frontdesk will not text them. "
    "They can text START to your number to opt back in."
)


@dataclass(frozen=True, slots=True)
class Started:
    """The contact a conversation was started with, and whether it is new."""

    contact_id: int
    created: bool


def parse_number(raw: str, default_region: str) -> str:
    """The E.164 form of a number typed by the desk (national numbers read in
    ``default_region``, international ones with ``+`` or ``00``); raises
    :class:`StartRefused` saying what is wrong."""
    text = clean_text(raw, PHONE_TYPED_MAX)
    if not text:
        raise StartRefused("Type the phone number to text.")
    if len(raw.strip()) > PHONE_TYPED_MAX:
        raise StartRefused("That is too long for a phone number.")
    if text.startswith("00"):
        text = "+" + text[2:]  # the international prefix most of the world dials
    check = phones.classify(text, default_region)
    if check.textable and check.e164 is not None:
        return check.e164
    if check.reason in (phones.SHORT_CODE, phones.ANONYMOUS, phones.CLIENT, phones.SIP):
        raise StartRefused(phones.describe_reason(check.reason))
    raise StartRefused(
        f"“{text}” is not a phone number Frontdesk can text. Type it as dialled in "
        f"{default_region}, or with the country code (+44 20 7946 0958)."
    )


def clean_name(name: str) -> str | None:
    """A name as typed: control characters (NUL among them) dropped, spaces collapsed,
    at most :data:`NAME_MAX` characters; None when nothing is left."""
    return " ".join(clean_text(name, NAME_MAX * 2).split())[:NAME_MAX].strip() or None


def start_conversation(
    s: Session,
    e164: str,
    name: str | None,
    *,
    actor: str,
    now: datetime,
    location_id: int | None = None,
) -> tuple[Started, list[Event]]:
    """Find or create the contact for ``e164`` and give it a thread at ``location_id``
    (None: the first location); names an unnamed contact ``name`` (a known name is
    kept: the desk renames from the contact panel).

    Raises :class:`StartRefused` for a contact who opted out. Writes one audit line
    (:data:`STARTED`). Safe against two PCs starting the same number at once: the
    contact row is inserted with ON CONFLICT DO NOTHING, so both find the one row.
    """
    contact = s.scalar(select(Contact).where(Contact.phone == e164))
    created = False
    if contact is None:
        dialect = s.get_bind().dialect.name
        insert: Any = sqlite_insert if dialect == "sqlite" else pg_insert
        result: Any = s.execute(
            insert(Contact)
            .values(
                phone=e164, name=name, notes="", opted_out=False, created_at=now, updated_at=now
            )
            .on_conflict_do_nothing(index_elements=["phone"])
        )
        created = bool(result.rowcount)
        contact = s.scalar(select(Contact).where(Contact.phone == e164))
        assert contact is not None  # inserted above, or by the transaction that won
    if contact.opted_out:
        who = contact.name or phones.format_for_display(contact.phone)
        raise StartRefused(OPTED_OUT.format(who=who))
    events: list[Event] = []
    if name and not contact.name:
        contact.name = name
        contact.updated_at = now
        events.append(ContactChanged(contact.id))
    elif created:
        events.append(ContactChanged(contact.id))
    conversation = records.conversation_for(s, contact, location_id)
    where = {} if conversation.location_id == FIRST_LOCATION else {"location": location_id}
    records.audit(s, now, STARTED, actor=actor, subject=contact.phone, new_contact=created, **where)
    s.flush()
    return Started(contact.id, created), events


def history(s: Session, contact_id: int, *, limit: int = HISTORY_LIMIT) -> ContactHistory:
    """Every call and text of the contact, oldest first (the newest ``limit`` of each),
    with the counts over all of them, the last contact and the booked value."""
    contact = s.get(Contact, contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id} not found")
    calls = list(
        s.scalars(
            select(Call)
            .where(Call.contact_id == contact_id)
            .order_by(Call.started_at.desc(), Call.id.desc())
            .limit(limit)
        ).all()
    )
    messages = list(
        s.scalars(
            select(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.contact_id == contact_id)
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(limit)
        ).all()
    )
    entries = [_call_entry(c) for c in calls] + [_message_entry(m) for m in messages]
    entries.sort(key=lambda e: (e.at, e.kind, e.id))
    counts = _counts(s, contact_id)
    last = max((e.at for e in entries), default=None)
    return ContactHistory(
        contact_id=contact.id,
        title=contact.name or phones.format_for_display(contact.phone),
        display_phone=phones.format_for_display(contact.phone),
        entries=tuple(entries),
        calls=counts["calls"],
        missed_calls=counts["missed"],
        texts_in=counts["in"],
        texts_out=counts["out"],
        last_contact_at=last,
        booked_value_cents=contact.booked_value_cents,
        booked_at=as_utc(contact.booked_at) if contact.booked_at else None,
        opted_out=contact.opted_out,
    )


def _counts(s: Session, contact_id: int) -> dict[str, int]:
    calls = s.execute(
        select(Call.outcome, func.count())
        .where(Call.contact_id == contact_id)
        .group_by(Call.outcome)
    ).all()
    texts = s.execute(
        select(Message.direction, func.count())
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.contact_id == contact_id)
        .group_by(Message.direction)
    ).all()
    by_outcome = {str(outcome): int(n) for outcome, n in calls}
    by_direction = {str(direction): int(n) for direction, n in texts}
    return {
        "calls": sum(by_outcome.values()),
        "missed": by_outcome.get("missed", 0),
        "in": by_direction.get("in", 0),
        "out": by_direction.get("out", 0),
    }


def _call_entry(call: Call) -> HistoryEntry:
    if call.outcome == "missed":
        what = "Missed call" + (" (after hours)" if call.after_hours else "")
    elif call.outcome == "answered":
        what = "Answered call"
    else:
        what = "Call"
    return HistoryEntry(
        id=call.id, at=as_utc(call.started_at), kind="call", direction="in", summary=what
    )


def _message_entry(m: Message) -> HistoryEntry:
    text = " ".join(m.body.split())
    if not text and m.media:
        text = "📷 Photo" if len(m.media) == 1 else f"📷 {len(m.media)} attachments"
    return HistoryEntry(
        id=m.id,
        at=as_utc(m.created_at),
        kind="text",
        direction=m.direction,
        summary=text[:300],
        status=m.status,
    )
