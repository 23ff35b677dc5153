"""What the front desk reads and does: threads, contacts, missed calls, staff actions.

The UI talks to the engine only through this class (and :class:`~services.engine.Engine`
for sending). Every method is a coroutine whose storage work runs on the database's
worker thread; results are frozen snapshots (:mod:`services.snapshots`). Changes are
announced on the :class:`~services.events.EventBus` after they commit.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Integer, and_, column, func, literal, literal_column, or_, select, tuple_
from sqlalchemy import text as sa_text
from sqlalchemy.orm import Session

from services import (
    contact_book,
    opt_outs,
    phones,
    policy,
    records,
    sends,
    settings_store,
    threads,
)
from services.api import NotFound
from services.callbacks import WORDS as CALLBACK_WORDS
from services.callbacks import CallbackState
from services.clock import Clock, as_utc
from services.cursors import CallsAfter, ContactsAfter, ConversationsAfter
from services.events import (
    CallChanged,
    ContactChanged,
    ConversationChanged,
    Event,
    EventBus,
    SettingsChanged,
)
from services.settings import Settings
from services.snapshots import (
    ActivityItem,
    CallbackItem,
    CallItem,
    ContactDetail,
    ContactHistory,
    ConversationRow,
    Counts,
    FilterCounts,
    MessageItem,
    NoteItem,
    ScheduledItem,
    ThreadItem,
    VoicemailView,
)
from services.storage.database import Database, UnitOfWork
from services.storage.models import (
    FIRST_LOCATION,
    AuditEntry,
    Call,
    Callback,
    Contact,
    Conversation,
    Job,
    LocationSetting,
    Message,
    NumberLookup,
    Setting,
    Tag,
    ThreadNote,
    Voicemail,
    contact_tags,
)
from services.storage.models import Location as LocationModel
from services.this_pc import ThisPc
from services.thread_state import ThreadState
from services.webhook_fields import clean_text

T = TypeVar("T")

NOTE_MAX = 5000  # characters in one internal note


#: Audit actions shown as activity lines in the thread.
ACTIVITY_ACTIONS = (
    "contact.assigned",
    "contact.tagged",
    "contact.untagged",
    "contact.booked",
    "contact.callback_done",
    "conversation.closed",
    "conversation.reopened",
    "conversation.snoozed",
    contact_book.STARTED,
)

FILTERS = (
    "all",
    "open",
    "unread",
    "pending_callback",
    "assigned_to_me",
    "unassigned",
    "snoozed",
    "closed",
    "opted_out",
)
MAX_SEARCH = 200  # characters of a search kept (a LIKE pattern past ~50,000 fails on SQLite)
MAX_SEARCH_WORDS = 12  # words of a search matched against message text


def clean_search(text: str) -> str:
    """A search as typed, made safe for both databases: control characters (NUL among
    them, which PostgreSQL refuses) removed, whitespace collapsed, at most
    :data:`MAX_SEARCH` characters."""
    return " ".join(clean_text(text, MAX_SEARCH * 4).split())[:MAX_SEARCH].strip()


def _ascii_digits(text: str) -> str:
    # str.isdigit() also accepts "²" and "١٢", which no stored phone number holds.
    return "".join(ch for ch in text if ch.isascii() and ch.isdigit())


class Inbox:
    """Queries and staff actions over the shared database."""

    def __init__(
        self, db: Database, bus: EventBus, clock: Clock, *, this_pc: ThisPc | None = None
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        # Per-PC settings (team.me) live on this PC, never in the shared table.
        self._this_pc = this_pc

    # ---- helpers ---------------------------------------------------------------------
    async def _read(self, fn: Callable[[Session], T]) -> T:
        return await self._db.run(lambda uow: fn(uow.session))

    async def _write(self, fn: Callable[[UnitOfWork], tuple[T, Sequence[Event]]]) -> T:
        def work(uow: UnitOfWork) -> T:
            result, events = fn(uow)
            for event in events:
                uow.after_commit(functools.partial(self._bus.publish, event))
            uow.commit()
            return result

        return await self._db.run(work)

    # ---- settings --------------------------------------------------------------------
    async def settings(self) -> Settings:
        shared = await self._read(settings_store.load)
        return self._this_pc.overlay(shared) if self._this_pc is not None else shared

    async def update_settings(self, changes: Mapping[str, Any], *, actor: str) -> dict[str, Any]:
        """Validate and store ``changes`` all together; raises SettingsError, storing nothing.

        Per-PC keys (``team.me``) go to this PC's file, only once the shared ones committed.
        """
        mine: dict[str, Any] = {}
        shared = dict(changes)
        if self._this_pc is not None:
            mine, shared = self._this_pc.split(changes)

        def work(uow: UnitOfWork) -> tuple[dict[str, Any], list[Event]]:
            done = settings_store.apply_changes(
                uow.session, shared, actor=actor, now=self._clock.now()
            )
            return done, [SettingsChanged(tuple(sorted(done)))]

        done = await self._write(work) if shared or not mine else {}
        if mine and self._this_pc is not None:
            this_pc = self._this_pc
            await asyncio.to_thread(this_pc.apply, mine)
            self._bus.publish(SettingsChanged(tuple(sorted(mine))))
        return {**done, **mine}

    # ---- conversations ---------------------------------------------------------------
    async def conversations(
        self,
        *,
        filter: str = "all",
        search: str = "",
        me: str | None = None,
        tag: str | None = None,
        after: ConversationsAfter | None = None,
        limit: int = 200,
        location_id: int | None = None,
    ) -> list[ConversationRow]:
        """Up to ``limit`` threads newest first (by ``last_at``, then id), filtered (one of
        :data:`FILTERS`, to one ``tag`` and to one location's threads when given) and
        searched across names, numbers and message text; from the first, or the ones
        strictly after the cursor ``after`` (keyset paging through the
        ``(last_message_at, id)`` index: no repeats or skips when threads arrive or move
        up meanwhile, and the same cost on every page). A contact who called or texted
        two locations has two threads, each labelled with its location."""
        if filter not in FILTERS:
            raise ValueError(f"unknown filter {filter!r}")
        wanted = clean_search(search)
        now = self._clock.now()

        def query(s: Session) -> list[ConversationRow]:
            stmt = (
                select(Conversation, Contact)
                .join(Contact, Contact.id == Conversation.contact_id)
                .where(Conversation.last_message_at.is_not(None))
            )
            stmt = _apply_filter(stmt, filter, me, now)
            if tag:
                stmt = stmt.where(Contact.tags.any(Tag.name == tag))
            if location_id is not None:
                stmt = stmt.where(Conversation.location_id == location_id)
            if wanted:
                stmt = stmt.where(_search_clause(s, wanted))
            if after is not None:
                stmt = stmt.where(
                    _before(
                        (Conversation.last_message_at, Conversation.id),
                        (after.last_at, after.conversation_id),
                    )
                )
            stmt = stmt.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(
                limit
            )
            rows = s.execute(stmt).all()
            latest = _latest_calls(s, [contact.id for _conv, contact in rows])
            labels = _location_labels(s)
            return [self._row(s, conv, contact, latest, labels) for conv, contact in rows]

        return await self._read(query)

    def _row(
        self,
        s: Session,
        conv: Conversation,
        contact: Contact,
        latest: dict[tuple[int, int], tuple[bool, datetime]] | None = None,
        labels: dict[int, tuple[str, str]] | None = None,
    ) -> ConversationRow:
        if latest is None:
            latest = _latest_calls(s, [contact.id])
        if labels is None:
            labels = _location_labels(s)
        location_id = conv.location_id or FIRST_LOCATION
        location_name, location_number = labels.get(location_id, ("", ""))
        last_call = latest.get((contact.id, location_id))
        last_at = as_utc(conv.last_message_at) if conv.last_message_at else None
        preview = conv.last_preview
        return ConversationRow(
            conversation_id=conv.id,
            contact_id=contact.id,
            phone=contact.phone,
            display_phone=phones.format_for_display(contact.phone),
            name=contact.name,
            preview=preview,
            last_at=last_at,
            unread=conv.unread_count,
            tags=tuple(sorted(t.name for t in contact.tags)),
            opted_out=contact.opted_out,
            assigned_to=contact.assigned_to,
            after_hours=bool(last_call[0]) if last_call is not None else False,
            state=threads.current(conv, self._clock.now()),
            snoozed_until=as_utc(conv.snoozed_until) if conv.snoozed_until else None,
            last_inbound_at=as_utc(conv.last_inbound_at) if conv.last_inbound_at else None,
            location_id=location_id,
            location_name=location_name,
            location_number=location_number,
        )

    async def conversation(
        self, contact_id: int, *, location_id: int | None = None
    ) -> ConversationRow:
        """The contact's thread at ``location_id`` (None: the first location), created
        empty when they have none there yet."""

        def query(s: Session) -> ConversationRow:
            contact = s.get(Contact, contact_id)
            if contact is None:
                raise NotFound(f"contact {contact_id} not found")
            return self._row(s, records.conversation_for(s, contact, location_id), contact)

        return await self._read(query)

    async def counts(self, *, me: str | None = None, location_id: int | None = None) -> Counts:
        """The badges' figures, over every location or one (``location_id``)."""

        def query(s: Session) -> Counts:
            unread_q = (
                select(func.count()).select_from(Conversation).where(Conversation.unread_count > 0)
            )
            pending_q = (
                select(func.count())
                .select_from(contact_tags)
                .join(Tag, Tag.id == contact_tags.c.tag_id)
                .where(Tag.name == records.PENDING_CALLBACK)
            )
            waiting_q = (
                select(func.count())
                .select_from(Call)
                .where(
                    Call.outcome == "missed",
                    Call.attended_at.is_(None),
                    Call.contact_id.is_not(None),
                )
            )
            since = self._clock.now() - timedelta(hours=24)
            missed_q = (
                select(func.count())
                .select_from(Call)
                .where(Call.outcome == "missed", Call.started_at >= since)
            )
            if location_id is not None:
                unread_q = unread_q.where(Conversation.location_id == location_id)
                pending_q = pending_q.where(
                    contact_tags.c.contact_id.in_(
                        select(Conversation.contact_id).where(
                            Conversation.location_id == location_id
                        )
                    )
                )
                waiting_q = waiting_q.where(records.at_location(Call.location_id, location_id))
                missed_q = missed_q.where(records.at_location(Call.location_id, location_id))
            unread = s.scalar(unread_q)
            pending = s.scalar(pending_q)
            waiting = s.scalar(waiting_q)
            missed = s.scalar(missed_q)
            return Counts(int(unread or 0), int(pending or 0), int(missed or 0), int(waiting or 0))

        return await self._read(query)

    async def filter_counts(
        self, *, me: str | None = None, location_id: int | None = None
    ) -> FilterCounts:
        """How many threads each filter of :data:`FILTERS` shows, and each tag (over
        every location's threads, or ``location_id``'s)."""
        now = self._clock.now()

        def query(s: Session) -> FilterCounts:
            shown: list[Any] = [Conversation.last_message_at.is_not(None)]
            if location_id is not None:
                shown.append(Conversation.location_id == location_id)
            base = (
                select(func.count())
                .select_from(Conversation)
                .join(Contact, Contact.id == Conversation.contact_id)
                .where(*shown)
            )
            counts = {
                name: int(s.scalar(_apply_filter(base, name, me, now)) or 0) for name in FILTERS
            }
            tag_rows = s.execute(
                select(Tag.name, func.count())
                .select_from(Tag)
                .join(contact_tags, contact_tags.c.tag_id == Tag.id)
                .join(Conversation, Conversation.contact_id == contact_tags.c.contact_id)
                .where(*shown)
                .group_by(Tag.name)
                .order_by(Tag.name)
            ).all()
            return FilterCounts(counts, {name: int(n) for name, n in tag_rows})

        return await self._read(query)

    # ---- the thread's workflow (transitions in services.threads) --------------------
    async def _thread_change(
        self,
        contact_id: int,
        change: Callable[[Session, Conversation, Contact], bool],
        location_id: int | None,
    ) -> ConversationRow:
        def work(uow: UnitOfWork) -> tuple[ConversationRow, list[Event]]:
            s = uow.session
            contact = s.get(Contact, contact_id)
            if contact is None:
                raise NotFound(f"contact {contact_id} not found")
            conversation = records.conversation_for(s, contact, location_id)
            changed = change(s, conversation, contact)
            s.flush()
            events: list[Event] = (
                [ConversationChanged(conversation.id, contact.id)] if changed else []
            )
            return self._row(s, conversation, contact), events

        return await self._write(work)

    async def close(
        self, contact_id: int, *, actor: str, location_id: int | None = None
    ) -> ConversationRow:
        """Close the thread at ``location_id`` (None: the first location's; a new inbound
        text or call there reopens it)."""
        now = self._clock.now()
        return await self._thread_change(
            contact_id, lambda s, conv, c: threads.close(s, conv, c, now, actor), location_id
        )

    async def reopen(
        self, contact_id: int, *, actor: str, location_id: int | None = None
    ) -> ConversationRow:
        now = self._clock.now()
        return await self._thread_change(
            contact_id, lambda s, conv, c: threads.reopen(s, conv, c, now, actor), location_id
        )

    async def snooze(
        self, contact_id: int, until: datetime, *, actor: str, location_id: int | None = None
    ) -> ConversationRow:
        """Snooze the thread until ``until``; raises
        :class:`~services.threads.ThreadStateError` for a time not in the future."""
        now = self._clock.now()
        return await self._thread_change(
            contact_id,
            lambda s, conv, c: threads.snooze(s, conv, c, now, until, actor),
            location_id,
        )

    async def mark_unread(
        self, contact_id: int, *, location_id: int | None = None
    ) -> ConversationRow:
        """Bold again, counted in the Inbox badge, as if it had not been read."""

        def change(_s: Session, conv: Conversation, _c: Contact) -> bool:
            if conv.unread_count > 0:
                return False
            conv.unread_count = 1
            return True

        return await self._thread_change(contact_id, change, location_id)

    # ---- notes and activity in the thread ---------------------------------------------
    async def add_note(
        self, contact_id: int, body: str, *, actor: str, location_id: int | None = None
    ) -> NoteItem:
        """An internal note about the contact (never sent), written in the thread at
        ``location_id`` and shown in every thread of theirs (notes are the contact's).
        Refuses an empty note, or one past :data:`NOTE_MAX` characters, with
        :class:`ValueError`."""
        text = body.replace("\x00", "").strip()
        if not text:
            raise ValueError("Write the note first.")
        if len(text) > NOTE_MAX:
            raise ValueError(f"A note can be up to {NOTE_MAX:,} characters.")
        author = (actor or "desk")[:100]

        def work(uow: UnitOfWork) -> tuple[NoteItem, list[Event]]:
            s = uow.session
            contact = s.get(Contact, contact_id)
            if contact is None:
                raise NotFound(f"contact {contact_id} not found")
            note = ThreadNote(
                contact_id=contact_id, author=author, body=text, created_at=self._clock.now()
            )
            s.add(note)
            s.flush()
            records.conversation_for(s, contact, location_id)
            item = NoteItem(note.id, as_utc(note.created_at), note.author, note.body)
            return item, [
                ConversationChanged(cid, contact_id)
                for cid in records.conversation_ids(s, contact_id)
            ]

        return await self._write(work)

    async def thread(
        self, contact_id: int, *, limit: int = 500, location_id: int | None = None
    ) -> list[ThreadItem]:
        """The newest ``limit`` messages of the contact's thread at ``location_id`` (None:
        the first location) and, among them, the calls made to that location, their
        scheduled replies from it, and the contact's own internal notes, activity lines
        and callbacks (the same in every thread of theirs), oldest first."""
        where = location_id or FIRST_LOCATION

        def query(s: Session) -> list[ThreadItem]:
            contact = s.get(Contact, contact_id)
            if contact is None:
                raise NotFound(f"contact {contact_id} not found")
            conv = s.scalar(
                select(Conversation).where(
                    Conversation.contact_id == contact_id, Conversation.location_id == where
                )
            )
            messages: list[Message] = []
            if conv is not None:
                messages = list(
                    s.scalars(
                        select(Message)
                        .where(Message.conversation_id == conv.id)
                        .order_by(Message.created_at.desc(), Message.id.desc())
                        .limit(limit)
                    ).all()
                )
            items: list[ThreadItem] = [_message_item(m) for m in messages]
            oldest = as_utc(messages[-1].created_at) if len(messages) == limit else None
            calls = s.scalars(
                select(Call)
                .where(Call.contact_id == contact_id, records.at_location(Call.location_id, where))
                .order_by(Call.started_at)
            ).all()
            items += [
                _call_item(s, c, contact)
                for c in calls
                if oldest is None or as_utc(c.started_at) >= oldest
            ]
            notes = s.scalars(
                select(ThreadNote)
                .where(ThreadNote.contact_id == contact_id)
                .order_by(ThreadNote.id)
            ).all()
            items += [
                NoteItem(n.id, as_utc(n.created_at), n.author, n.body)
                for n in notes
                if oldest is None or as_utc(n.created_at) >= oldest
            ]
            entries = s.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.subject == contact.phone,
                    AuditEntry.action.in_(ACTIVITY_ACTIONS),
                )
                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .limit(limit)
            ).all()
            items += [
                _activity_item(e)
                for e in entries
                if (oldest is None or as_utc(e.at) >= oldest) and _in_thread(e, where)
            ]
            # Scheduled replies not sent yet (a sent one is a message row like any other).
            waiting = s.scalars(
                select(Job)
                .where(
                    Job.contact_id == contact_id,
                    records.at_location(Job.location_id, where),
                    Job.kind == sends.JobKind.REPLY,
                    Job.body.is_not(None),
                    Job.message_id.is_(None),
                    Job.state != sends.SendState.CANCELLED,
                )
                .order_by(Job.due_at, Job.id)
            ).all()
            items += [_scheduled_item(job) for job in waiting]
            callbacks = s.scalars(
                select(Callback)
                .where(Callback.contact_id == contact_id)
                .order_by(Callback.started_at)
            ).all()
            items += [
                _callback_item(c)
                for c in callbacks
                if oldest is None or as_utc(c.started_at) >= oldest
            ]
            order = {
                CallItem: 0,
                CallbackItem: 0,
                MessageItem: 1,
                NoteItem: 2,
                ActivityItem: 3,
                ScheduledItem: 4,
            }
            items.sort(key=lambda item: (item.at, order[type(item)], item.id))
            return items

        return await self._read(query)

    async def mark_read(self, contact_id: int, *, location_id: int | None = None) -> None:
        """The thread at ``location_id`` (None: the first) was read: no longer unread,
        and the missed calls to that location attended."""
        where = location_id or FIRST_LOCATION

        def work(uow: UnitOfWork) -> tuple[None, list[Event]]:
            conv = uow.session.scalar(
                select(Conversation).where(
                    Conversation.contact_id == contact_id, Conversation.location_id == where
                )
            )
            attended = _attend_calls(uow.session, contact_id, self._clock.now(), where)
            if conv is None or conv.unread_count == 0:
                return None, [CallChanged(call_id) for call_id in attended]
            conv.unread_count = 0
            return None, [
                ConversationChanged(conv.id, contact_id),
                *(CallChanged(call_id) for call_id in attended),
            ]

        await self._write(work)

    # ---- contacts ------------------------------------------------------------------
    async def contact(self, contact_id: int) -> ContactDetail:
        def query(s: Session) -> ContactDetail:
            contact = s.get(Contact, contact_id)
            if contact is None:
                raise NotFound(f"contact {contact_id} not found")
            detail = _contact_detail(contact, *_threads_of(s, contact_id))
            blocked = tuple(sorted(opt_outs.blocked_locations(s, contact)))
            return dataclasses.replace(detail, blocked_at=blocked)

        return await self._read(query)

    async def contacts(
        self, *, search: str = "", after: ContactsAfter | None = None, limit: int = 200
    ) -> list[ContactDetail]:
        """Up to ``limit`` contacts matching ``search`` (name, notes, a tag, digits of the
        number): named ones by name, then the unnamed, each by phone; from the first, or
        the ones strictly after the cursor ``after`` (keyset paging)."""
        wanted = clean_search(search)

        def query(s: Session) -> list[ContactDetail]:
            stmt = select(Contact)
            if wanted:
                like = f"%{_escape_like(wanted)}%"
                digits = _ascii_digits(wanted)
                clauses = [
                    Contact.name.ilike(like, escape="\\"),
                    Contact.notes.ilike(like, escape="\\"),
                    Contact.tags.any(Tag.name.ilike(like, escape="\\")),
                ]
                if digits:
                    clauses.append(Contact.phone.like(f"%{digits}%"))
                stmt = stmt.where(or_(*clauses))
            if after is not None:
                rest = _after((Contact.phone, Contact.id), (after.phone, after.contact_id))
                if after.name is None:
                    stmt = stmt.where(Contact.name.is_(None), rest)
                else:
                    stmt = stmt.where(
                        or_(
                            Contact.name.is_(None),
                            _after(
                                (Contact.name, Contact.phone, Contact.id),
                                (after.name, after.phone, after.contact_id),
                            ),
                        )
                    )
            stmt = stmt.order_by(Contact.name.is_(None), Contact.name, Contact.phone, Contact.id)
            contacts = s.scalars(stmt.limit(limit)).all()
            return [_contact_detail(c, None) for c in contacts]

        return await self._read(query)

    async def start_conversation(
        self, phone: str, name: str = "", *, actor: str, location_id: int | None = None
    ) -> ContactDetail:
        """The thread with ``phone`` (typed by the desk, national or international) at
        ``location_id`` (None: the first location), creating the contact (named
        ``name``) when the number is new; the detail's ``conversation_id`` is that
        thread's.

        Raises :class:`~services.api.StartRefused` (a ValueError, nothing
        stored) for a number that cannot be texted or a contact who opted out.
        """
        settings = await self.settings()
        e164 = contact_book.parse_number(phone, settings["business.default_region"])
        clean = contact_book.clean_name(name)
        now = self._clock.now()
        who = (actor or "desk")[:100]

        def work(uow: UnitOfWork) -> tuple[ContactDetail, list[Event]]:
            s = uow.session
            started, events = contact_book.start_conversation(
                s, e164, clean, actor=who, now=now, location_id=location_id
            )
            contact = s.get(Contact, started.contact_id)
            assert contact is not None
            thread = records.known_conversation_id(s, contact.id, location_id)
            return _contact_detail(contact, thread, _threads_of(s, contact.id)[1]), events

        return await self._write(work)

    async def contact_history(self, contact_id: int) -> ContactHistory:
        """Every call and text of the contact in order, with counts, the last contact
        and the booked value (:func:`services.contact_book.history`)."""
        return await self._read(lambda s: contact_book.history(s, contact_id))

    async def _edit_contact(
        self,
        contact_id: int,
        action: str,
        actor: str,
        change: Callable[[Session, Contact], bool],
        **detail: Any,
    ) -> ContactDetail:
        def work(uow: UnitOfWork) -> tuple[ContactDetail, list[Event]]:
            s = uow.session
            contact = s.get(Contact, contact_id)
            if contact is None:
                raise NotFound(f"contact {contact_id} not found")
            now = self._clock.now()
            events: list[Event] = []
            if change(s, contact):
                contact.updated_at = now
                records.audit(s, now, action, actor=actor, subject=contact.phone, **detail)
                events.append(ContactChanged(contact.id))
                # The contact's name, tags and assignee show on each of their threads.
                events += [
                    ConversationChanged(cid, contact.id)
                    for cid in records.conversation_ids(s, contact.id)
                ]
            s.flush()
            return _contact_detail(contact, *_threads_of(s, contact.id)), events

        return await self._write(work)

    async def rename(self, contact_id: int, name: str, *, actor: str) -> ContactDetail:
        clean = " ".join(name.split())[:200] or None

        def change(_s: Session, c: Contact) -> bool:
            if c.name == clean:
                return False
            c.name = clean
            return True

        return await self._edit_contact(contact_id, "contact.renamed", actor, change)

    async def set_notes(self, contact_id: int, notes: str, *, actor: str) -> ContactDetail:
        def change(_s: Session, c: Contact) -> bool:
            if c.notes == notes:
                return False
            c.notes = notes
            return True

        return await self._edit_contact(contact_id, "contact.notes", actor, change)

    async def add_tag(self, contact_id: int, tag: str, *, actor: str) -> ContactDetail:
        name = " ".join(tag.split())[:60]
        if not name:
            raise ValueError("A tag needs a name.")
        # The automation's own tags are always written as the automation writes them.
        name = next((t for t in records.SYSTEM_TAGS if t == name.lower()), name)
        return await self._edit_contact(
            contact_id, "contact.tagged", actor, lambda s, c: records.add_tag(s, c, name), tag=name
        )

    async def remove_tag(self, contact_id: int, tag: str, *, actor: str) -> ContactDetail:
        """Remove a tag staff added. The automation's tags ("missed call", "booked",
        "pending callback") leave through their own actions ("Callback done", "Booked"),
        so they are refused here with :class:`ValueError`."""
        if tag in records.SYSTEM_TAGS:
            raise ValueError(f"The “{tag}” tag is set by Frontdesk and cannot be removed by hand.")
        return await self._edit_contact(
            contact_id, "contact.untagged", actor, lambda _s, c: records.remove_tag(c, tag), tag=tag
        )

    async def assign(self, contact_id: int, member: str | None, *, actor: str) -> ContactDetail:
        def change(_s: Session, c: Contact) -> bool:
            if c.assigned_to == member:
                return False
            c.assigned_to = member
            return True

        return await self._edit_contact(contact_id, "contact.assigned", actor, change, to=member)

    async def mark_booked(
        self, contact_id: int, value_cents: int | None, *, actor: str
    ) -> ContactDetail:
        """Tag the contact booked (with the job's value), which also settles the callback."""
        if value_cents is not None and value_cents < 0:
            raise ValueError("The job value cannot be negative.")

        def change(s: Session, c: Contact) -> bool:
            records.add_tag(s, c, records.BOOKED)
            records.remove_tag(c, records.PENDING_CALLBACK)
            c.booked_value_cents = value_cents
            c.booked_at = self._clock.now()
            return True

        return await self._edit_contact(
            contact_id, "contact.booked", actor, change, value_cents=value_cents
        )

    async def callback_done(self, contact_id: int, *, actor: str) -> ContactDetail:
        def change(s: Session, c: Contact) -> bool:
            attended = _attend_calls(s, c.id, self._clock.now())
            return records.remove_tag(c, records.PENDING_CALLBACK) or bool(attended)

        return await self._edit_contact(contact_id, "contact.callback_done", actor, change)

    # ---- calls -----------------------------------------------------------------------
    async def missed_calls(
        self,
        *,
        after: CallsAfter | None = None,
        limit: int = 200,
        location_id: int | None = None,
    ) -> list[CallItem]:
        """Up to ``limit`` missed calls newest first (then by id), to every location or
        to ``location_id``'s number; from the first, or the ones strictly after the
        cursor ``after`` (keyset paging)."""

        def query(s: Session) -> list[CallItem]:
            stmt = select(Call).where(Call.outcome == "missed")
            if location_id is not None:
                stmt = stmt.where(records.at_location(Call.location_id, location_id))
            if after is not None:
                stmt = stmt.where(_before((Call.started_at, Call.id), (after.at, after.call_id)))
            calls = s.scalars(
                stmt.order_by(Call.started_at.desc(), Call.id.desc()).limit(limit)
            ).all()
            contacts = {
                c.id: c
                for c in s.scalars(
                    select(Contact).where(
                        Contact.id.in_({c.contact_id for c in calls if c.contact_id})
                    )
                ).all()
            }
            return [_call_item(s, c, contacts.get(c.contact_id or -1)) for c in calls]

        return await self._read(query)

    async def call(self, call_id: int) -> CallItem:
        def query(s: Session) -> CallItem:
            call = s.get(Call, call_id)
            if call is None:
                raise NotFound(f"call {call_id} not found")
            contact = s.get(Contact, call.contact_id) if call.contact_id else None
            return _call_item(s, call, contact)

        return await self._read(query)


# ---- query pieces ----------------------------------------------------------------------
def _keyset(columns: Sequence[Any], values: Sequence[Any]) -> tuple[Any, Any]:
    # A row-value comparison (SQLite 3.15+ and PostgreSQL), which both planners turn into
    # one range scan of a matching composite index; each value bound with its column's
    # type, so a datetime is written as that column stores it.
    bound = [literal(v, type_=c.type) for c, v in zip(columns, values, strict=True)]
    return tuple_(*columns), tuple_(*bound)


def _before(columns: Sequence[Any], values: Sequence[Any]) -> Any:
    """Rows that sort after ``values`` in a descending order over ``columns``."""
    left, right = _keyset(columns, values)
    return left < right


def _after(columns: Sequence[Any], values: Sequence[Any]) -> Any:
    """Rows that sort after ``values`` in an ascending order over ``columns``."""
    left, right = _keyset(columns, values)
    return left > right


def _latest_calls(
    s: Session, contact_ids: list[int]
) -> dict[tuple[int, int], tuple[bool, datetime]]:
    """Each contact's newest call to each location as (after_hours, started_at), keyed
    by (contact id, location id), in one query for a page."""
    latest: dict[tuple[int, int], tuple[bool, datetime]] = {}
    if not contact_ids:
        return latest
    rows = s.execute(
        select(
            Call.contact_id,
            func.coalesce(Call.location_id, FIRST_LOCATION),
            Call.after_hours,
            Call.started_at,
        )
        .where(Call.contact_id.in_(contact_ids))
        .order_by(Call.started_at)
    ).all()
    for contact_id, location_id, after_hours, started_at in rows:
        if contact_id is not None:
            latest[(contact_id, location_id)] = (bool(after_hours), started_at)
    return latest


def _location_labels(s: Session) -> dict[int, tuple[str, str]]:
    """Every location's (name, number), removed ones too (their threads keep a label):
    a handful of rows, read once a page."""
    numbers = {
        location_id: json.loads(value)
        for location_id, value in s.execute(
            select(LocationSetting.location_id, LocationSetting.value).where(
                LocationSetting.key == "business.phone_number"
            )
        )
    }
    office = s.scalar(select(Setting.value).where(Setting.key == "business.phone_number"))
    if office is not None:
        numbers[FIRST_LOCATION] = json.loads(office)
    names: dict[int, str] = {
        location_id: name
        for location_id, name in s.execute(select(LocationModel.id, LocationModel.name))
    }
    labels = {
        location_id: (name, str(numbers.get(location_id) or ""))
        for location_id, name in names.items()
    }
    labels.setdefault(FIRST_LOCATION, ("Main", str(numbers.get(FIRST_LOCATION) or "")))
    return labels


def _threads_of(s: Session, contact_id: int) -> tuple[int | None, tuple[int, ...]]:
    """The contact's thread the desk opens by default (the first location's, else their
    oldest) and the locations they have a thread at."""
    rows = s.execute(
        select(Conversation.id, Conversation.location_id)
        .where(Conversation.contact_id == contact_id)
        .order_by(Conversation.location_id != FIRST_LOCATION, Conversation.id)
    ).all()
    default = rows[0][0] if rows else None
    return default, tuple(sorted(location_id for _id, location_id in rows))


def _open_clause(now: datetime) -> Any:
    return or_(
        Conversation.state == ThreadState.OPEN,
        and_(Conversation.state == ThreadState.SNOOZED, Conversation.snoozed_until <= now),
    )


def _apply_filter(stmt: Any, name: str, me: str | None, now: datetime) -> Any:
    if name == "open":
        return stmt.where(_open_clause(now))
    if name == "closed":
        return stmt.where(Conversation.state == ThreadState.CLOSED)
    if name == "snoozed":
        return stmt.where(
            Conversation.state == ThreadState.SNOOZED, Conversation.snoozed_until > now
        )
    if name == "unassigned":
        return stmt.where(or_(Contact.assigned_to.is_(None), Contact.assigned_to == ""))
    if name == "unread":
        return stmt.where(Conversation.unread_count > 0)
    if name == "pending_callback":
        return stmt.where(Contact.tags.any(Tag.name == records.PENDING_CALLBACK))
    if name == "assigned_to_me":
        return stmt.where(Contact.assigned_to == (me or ""))
    if name == "opted_out":
        return stmt.where(Contact.opted_out.is_(True))
    return stmt


def _attend_calls(
    s: Session, contact_id: int, now: datetime, location_id: int | None = None
) -> list[int]:
    """Mark the contact's missed calls still waiting for the desk as attended (those to
    ``location_id`` when given); their ids."""
    where = [Call.contact_id == contact_id, Call.outcome == "missed", Call.attended_at.is_(None)]
    if location_id is not None:
        where.append(records.at_location(Call.location_id, location_id))
    calls = s.scalars(select(Call).where(*where)).all()
    for call in calls:
        call.attended_at = now
    return [call.id for call in calls]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search_clause(s: Session, text: str) -> Any:
    """Names (substring), numbers (3+ digits) and message text (word prefixes, through
    FTS5 on SQLite and a tsvector GIN index on PostgreSQL, so a million messages stay
    fast)."""
    like = f"%{_escape_like(text)}%"
    digits = _ascii_digits(text)
    clauses = [Contact.name.ilike(like, escape="\\")]
    matching = _messages_matching(s, text)
    if matching is not None:
        clauses.append(
            Conversation.id.in_(select(Message.conversation_id).where(Message.id.in_(matching)))
        )
    if len(digits) >= 3:
        clauses.append(Contact.phone.like(f"%{digits}%"))
    # Voicemail transcripts: few per contact, a plain LIKE is enough.
    clauses.append(
        Contact.id.in_(
            select(Voicemail.contact_id).where(Voicemail.transcript.ilike(like, escape="\\"))
        )
    )
    return or_(*clauses)


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"\w+", text, flags=re.UNICODE) if w][:MAX_SEARCH_WORDS]


def _messages_matching(s: Session, text: str) -> Any:
    """A subquery of message ids whose body has every word of ``text`` as a word prefix."""
    words = _words(text)
    if not words:
        return None
    dialect = s.get_bind().dialect.name
    if dialect == "sqlite":
        query = " ".join('"' + w.replace('"', '""') + '"*' for w in words)
        return (
            sa_text("SELECT rowid FROM messages_fts WHERE messages_fts MATCH :fts")
            .bindparams(fts=query)
            .columns(column("rowid", Integer))
        )
    if dialect == "postgresql":
        query = " & ".join(f"{w}:*" for w in words)
        # The configuration is written inline so the expression matches the GIN index's.
        simple: Any = literal_column("'simple'::regconfig")
        vector = func.to_tsvector(simple, Message.body)
        return select(Message.id).where(vector.op("@@")(func.to_tsquery(simple, query)))
    like = f"%{_escape_like(text)}%"
    return select(Message.id).where(Message.body.ilike(like, escape="\\"))


def _in_thread(entry: AuditEntry, location_id: int) -> bool:
    """An activity line belongs in the thread at ``location_id``: a contact's (tagged,
    assigned, booked) in each of theirs, a thread's own (closed, reopened, snoozed) only
    in that one (services.threads notes its location when not the first)."""
    if not entry.action.startswith("conversation."):
        return True
    return bool((entry.detail or {}).get("location", FIRST_LOCATION) == location_id)


def _activity_item(entry: AuditEntry) -> ActivityItem:
    detail = entry.detail or {}
    until: datetime | None = None
    match entry.action:
        case "contact.assigned":
            text = f"Assigned to {detail['to']}" if detail.get("to") else "Unassigned"
        case "contact.tagged":
            text = f"Tagged “{detail.get('tag', '')}”"
        case "contact.untagged":
            text = f"Removed the tag “{detail.get('tag', '')}”"
        case "contact.booked":
            cents = detail.get("value_cents")
            text = f"Marked booked (${cents / 100:,.2f})" if cents else "Marked booked"
        case "contact.callback_done":
            text = "Callback done"
        case "conversation.closed":
            text = "Closed the conversation"
        case "conversation.reopened":
            text = "Reopened the conversation"
        case contact_book.STARTED:
            text = "Started the conversation"
        case "conversation.snoozed":
            text = "Snoozed the conversation"
            if detail.get("until"):
                until = as_utc(datetime.fromisoformat(detail["until"]))
        case _:
            text = entry.action
    return ActivityItem(entry.id, as_utc(entry.at), entry.actor, text, until)


def _message_item(m: Message) -> MessageItem:
    return MessageItem(
        id=m.id,
        at=as_utc(m.created_at),
        direction=m.direction,
        body=m.body,
        status=m.status,
        kind=m.kind,
        # A send ended before Twilio was asked keeps its skip code ("opted_out"): in words.
        error=policy.describe_skip(m.error_message) if m.error_message else None,
        media=tuple((d.get("url", ""), d.get("content_type", "")) for d in (m.media or [])),
        author=m.author,
        segments=m.segments,
    )


def _scheduled_item(job: Job) -> ScheduledItem:
    shown = sends.shown(job.state, attempts=job.attempts)
    reason = job.reason
    if reason and shown is sends.Shown.SKIPPED:
        reason = policy.describe_skip(reason)
    return ScheduledItem(
        job.id, as_utc(job.due_at), job.body or "", job.author, shown, reason or None
    )


def _job_view(job: Job | None) -> sends.JobView:
    if job is None:
        return sends.JobView(sends.Shown.NONE, None, None)
    shown = sends.shown(job.state, attempts=job.attempts)
    waiting = shown in (sends.Shown.SCHEDULED, sends.Shown.HELD, sends.Shown.RETRYING)
    reason = job.reason
    if reason and shown is sends.Shown.SKIPPED:
        reason = policy.describe_skip(reason)
    return sends.JobView(shown, as_utc(job.due_at) if waiting else None, reason)


def _call_item(s: Session, call: Call, contact: Contact | None) -> CallItem:
    jobs = s.scalars(select(Job).where(Job.call_id == call.id).order_by(Job.id)).all()
    textback = _job_view(next((j for j in jobs if j.kind == sends.JobKind.TEXTBACK), None))
    textback_job = next((j for j in jobs if j.kind == sends.JobKind.TEXTBACK), None)
    follow = _job_view(next((j for j in jobs if j.kind == sends.JobKind.FOLLOW_UP), None))
    status = None
    if textback_job is not None and textback_job.message_id is not None:
        message = s.get(Message, textback_job.message_id)
        status = message.status if message is not None else None
    replied = False
    if contact is not None:
        replied = (
            s.scalar(
                select(Message.id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(
                    # A reply to the number they called (another location's is not).
                    Conversation.contact_id == contact.id,
                    Conversation.location_id == (call.location_id or FIRST_LOCATION),
                    Message.direction == "in",
                    Message.created_at >= call.started_at,
                )
                .limit(1)
            )
            is not None
        )
    return CallItem(
        id=call.id,
        sid=call.sid,
        at=as_utc(call.started_at),
        from_raw=call.from_raw,
        phone=call.phone,
        display_phone=phones.format_for_display(call.phone) if call.phone else call.from_raw,
        contact_id=call.contact_id,
        name=contact.name if contact is not None else None,
        outcome=call.outcome,
        after_hours=call.after_hours,
        ring_seconds=call.ring_seconds,
        textback_state=textback.shown,
        textback_reason=textback.reason,
        textback_due_at=textback.due_at,
        textback_status=status,
        replied=replied,
        followup_state=follow.shown if follow.shown is not sends.Shown.NONE else None,
        followup_due_at=follow.due_at,
        source=call.source,
        voicemail=_voicemail_view(s, call),
        line_type=_line_type(s, call.phone),
        location_id=call.location_id or FIRST_LOCATION,
    )


def _line_type(s: Session, phone: str | None) -> str | None:
    if not phone:
        return None
    row = s.get(NumberLookup, phone)
    return row.line_type if row is not None else None


def _callback_item(c: Callback) -> CallbackItem:
    state = CallbackState(c.state)
    return CallbackItem(
        id=c.id,
        at=as_utc(c.started_at),
        contact_id=c.contact_id,
        display_phone=phones.format_for_display(c.phone),
        state=state.value,
        words=CALLBACK_WORDS[state],
        duration_seconds=c.duration_seconds,
        actor=c.actor,
        source=c.source,
    )


def _voicemail_view(s: Session, call: Call) -> VoicemailView | None:
    row = s.scalar(
        select(Voicemail)
        .where(Voicemail.call_id == call.id, Voicemail.status != "absent")
        .order_by(Voicemail.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    return VoicemailView(
        id=row.id,
        recording_sid=row.recording_sid,
        duration_seconds=row.duration_seconds,
        transcript=row.transcript,
        playable=row.status == "completed" and row.removed_at is None,
        removed=row.removed_at is not None,
    )


def _contact_detail(
    c: Contact, conversation_id: int | None, location_ids: tuple[int, ...] = ()
) -> ContactDetail:
    return ContactDetail(
        id=c.id,
        phone=c.phone,
        display_phone=phones.format_for_display(c.phone),
        name=c.name,
        notes=c.notes,
        tags=tuple(sorted(t.name for t in c.tags)),
        opted_out=c.opted_out,
        assigned_to=c.assigned_to,
        booked_value_cents=c.booked_value_cents,
        conversation_id=conversation_id,
        created_at=as_utc(c.created_at),
        location_ids=location_ids,
    )
