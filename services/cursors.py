"""Keyset cursors: where the previous page of a list ended, by its last row's sort key and id.

``Inbox.conversations``, ``Inbox.contacts`` and ``Inbox.missed_calls`` take ``after=`` one
of these (``None`` for the first page) and return the rows that sort strictly after it.
Unlike an offset, a cursor does not shift when rows are inserted above it or move to the
top while someone scrolls: the next page neither repeats a row nor skips one that stayed
where it was, and reading it costs the same at row 50,000 as at row 0 (an index seek, not
a walk over every row before it). Each cursor is built from the snapshot of the last row
(:meth:`of`), so the UI needs no knowledge of the query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.snapshots import CallItem, ContactDetail, ConversationRow


@dataclass(frozen=True)
class ConversationsAfter:
    """After this thread in the list's order: newest ``last_at`` first, then higher id."""

    last_at: datetime
    conversation_id: int

    @classmethod
    def of(cls, row: ConversationRow) -> ConversationsAfter:
        if row.last_at is None:
            raise ValueError("a thread without activity is not listed, so it ends no page")
        return cls(row.last_at, row.conversation_id)


@dataclass(frozen=True)
class ContactsAfter:
    """After this contact in the list's order: named ones by name, then the unnamed, each
    by phone (unique) and id."""

    name: str | None
    phone: str
    contact_id: int

    @classmethod
    def of(cls, contact: ContactDetail) -> ContactsAfter:
        return cls(contact.name, contact.phone, contact.id)


@dataclass(frozen=True)
class CallsAfter:
    """After this call in the list's order: newest ``at`` first, then higher id."""

    at: datetime
    call_id: int

    @classmethod
    def of(cls, call: CallItem) -> CallsAfter:
        return cls(call.at, call.id)
