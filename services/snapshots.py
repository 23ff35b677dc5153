"""Read-only row snapshots handed to the UI (plain frozen dataclasses, no ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.send_state import Shown
from services.thread_state import ThreadState


@dataclass(frozen=True, slots=True)
class ConversationRow:
    conversation_id: int
    contact_id: int
    phone: str
    display_phone: str
    name: str | None
    preview: str
    last_at: datetime | None
    unread: int
    tags: tuple[str, ...]
    opted_out: bool
    assigned_to: str | None
    after_hours: bool  # the newest call from this contact came outside business hours
    state: ThreadState = ThreadState.OPEN  # as of the read (a passed snooze reads open)
    snoozed_until: datetime | None = None
    last_inbound_at: datetime | None = None  # their newest text (notifications compare it)
    # The location whose number they called or texted (a contact has a thread at each);
    # a removed location keeps its name (services.location_store.remove).
    location_id: int = 1
    location_name: str = ""
    location_number: str = ""

    @property
    def title(self) -> str:
        return self.name or self.display_phone


@dataclass(frozen=True, slots=True)
class MessageItem:
    id: int
    at: datetime
    direction: str  # in | out
    body: str
    status: str
    kind: str  # textback | follow_up | manual | auto | inbound
    error: str | None
    media: tuple[tuple[str, str], ...]  # (url, content type)
    author: str | None
    segments: int | None

    @property
    def automatic(self) -> bool:
        return self.kind in ("textback", "follow_up", "auto")


@dataclass(frozen=True, slots=True)
class VoicemailView:
    """A voicemail left on a missed call: play it with ``Engine.voicemail_file(id)``."""

    id: int
    recording_sid: str
    duration_seconds: int | None
    transcript: str | None
    playable: bool  # Twilio finished it and retention has not deleted it
    removed: bool  # deleted by the retention setting


@dataclass(frozen=True, slots=True)
class CallbackItem:
    """A call from the business number back to the contact, shown in their thread."""

    id: int
    at: datetime
    contact_id: int
    display_phone: str
    state: str  # services.callbacks.CallbackState
    words: str  # the state in words
    duration_seconds: int | None
    actor: str | None
    source: str  # desk | log


@dataclass(frozen=True, slots=True)
class CallItem:
    """A call event shown inline in the thread and in the Missed calls list."""

    id: int
    sid: str
    at: datetime
    from_raw: str
    phone: str | None
    display_phone: str
    contact_id: int | None
    name: str | None
    outcome: str  # pending | answered | missed
    after_hours: bool
    ring_seconds: int | None
    textback_state: Shown  # derived from the text-back job (services.sends)
    textback_reason: str | None  # in words
    textback_due_at: datetime | None
    textback_status: str | None  # delivery status of the text-back message, once sent
    replied: bool
    followup_state: Shown | None  # None: no follow-up was ever planned
    followup_due_at: datetime | None
    source: str
    voicemail: VoicemailView | None = None  # "left a message"
    line_type: str | None = None  # from Twilio Lookup, when looked up
    location_id: int = 1  # the location whose number was called


@dataclass(frozen=True, slots=True)
class ContactDetail:
    id: int
    phone: str
    display_phone: str
    name: str | None
    notes: str
    tags: tuple[str, ...]
    opted_out: bool
    assigned_to: str | None
    booked_value_cents: int | None
    conversation_id: int | None  # the first location's thread, else their oldest
    created_at: datetime
    location_ids: tuple[int, ...] = ()  # the locations they have a thread at, by id
    # Locations whose number Twilio still refuses to text them from (services.opt_outs).
    blocked_at: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Counts:
    unread: int  # conversations with unread messages
    pending_callback: int
    missed_today: int
    missed_waiting: int = 0  # missed calls nobody has attended to yet (thread not opened)


@dataclass(frozen=True, slots=True)
class FilterCounts:
    """How many threads each inbox filter holds (its key in ``services.inbox.FILTERS``),
    and each tag's count (tag name → threads carrying it)."""

    filters: dict[str, int]
    tags: dict[str, int]


@dataclass(frozen=True, slots=True)
class ActivityItem:
    """A line in the thread: who did what when (assigned, tagged, closed, booked, ...)."""

    id: int
    at: datetime
    actor: str
    text: str  # "Assigned to Luis", "Closed the conversation", "Snoozed the conversation"
    until: datetime | None = None  # a snooze's end


@dataclass(frozen=True, slots=True)
class NoteItem:
    """An internal note in the thread: the desk's own words, never sent."""

    id: int
    at: datetime
    author: str
    body: str


@dataclass(frozen=True, slots=True)
class ScheduledItem:
    """A reply the desk scheduled for later, before it is sent (it has no message row
    yet): shown at the end of the thread with its time and a Cancel action."""

    id: int  # the job's id (cancel with it)
    at: datetime  # when it is due to send
    body: str
    author: str | None
    shown: Shown  # SCHEDULED, RETRYING, SENDING; FAILED / SKIPPED: never sent (``reason``)
    reason: str | None

    @property
    def cancellable(self) -> bool:
        return self.shown in (Shown.SCHEDULED, Shown.RETRYING, Shown.HELD)


#: One entry of a thread, oldest first: texts, calls, internal notes, activity lines,
#: scheduled replies.
ThreadItem = MessageItem | CallItem | CallbackItem | NoteItem | ActivityItem | ScheduledItem


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One call or text in a contact's history."""

    id: int
    at: datetime
    kind: str  # call | text
    direction: str  # in | out (a call is in)
    summary: str  # "Missed call", or the text's words
    status: str | None = None  # a text's delivery status


@dataclass(frozen=True, slots=True)
class ContactHistory:
    """The Contacts page's view of one contact: every call and text in order, and the
    figures over all of them."""

    contact_id: int
    title: str
    display_phone: str
    entries: tuple[HistoryEntry, ...]  # oldest first
    calls: int
    missed_calls: int
    texts_in: int
    texts_out: int
    last_contact_at: datetime | None
    booked_value_cents: int | None
    booked_at: datetime | None
    opted_out: bool
