"""Read-only row snapshots handed to the UI (plain frozen dataclasses, no ORM objects)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.send_state import Shown


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
    conversation_id: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Counts:
    unread: int  # conversations with unread messages
    pending_callback: int
    missed_today: int
    missed_waiting: int = 0  # missed calls nobody has attended to yet (thread not opened)
