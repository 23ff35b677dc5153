"""The interfaces the UI is handed: protocols over the engine and inbox, and their errors.

ui/ imports this module (never the implementations, which pull in SQLAlchemy); the
composition root passes in :class:`services.inbox.Inbox` and
:class:`services.engine.Engine`, which satisfy these protocols. Every method is a
coroutine to be awaited on the event loop; none blocks it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from services.analytics_types import AnalyticsReport, Period
from services.cursors import CallsAfter, ContactsAfter, ConversationsAfter
from services.desk_status import TextbackNotice
from services.events import Event
from services.health import (
    AccountCheckResult,
    ConnectionDetails,
    ConnectionEntry,
    DatabaseCheck,
    HealthSnapshot,
    MessagingProblem,
    OfficeBusiness,
    OfficeDatabaseDetails,
)
from services.locations import Location, Locations
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
)
from services.thread_state import ThreadStateError

__all__ = ["ThreadStateError"]  # the UI catches it from here


class ReplyRefused(ValueError):
    """A reply that cannot be sent (opted out, empty, no business number); nothing stored."""


class StartRefused(ValueError):
    """A conversation that cannot be started: not a number Frontdesk can text, or the
    contact opted out. The message says why in words; nothing was stored."""


class NotFound(LookupError):
    """The contact, call or conversation asked for does not exist (any more)."""


class EventSource(Protocol):
    def subscribe(self, subscriber: Callable[[Event], None]) -> Callable[[], None]: ...


class InboxApi(Protocol):
    async def settings(self) -> Settings: ...

    async def update_settings(
        self, changes: Mapping[str, Any], *, actor: str
    ) -> dict[str, Any]: ...

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
        """Threads newest first; ``location_id`` keeps one location's (None: all)."""
        ...

    # Thread-level methods take the thread's ``location_id`` (a contact has a thread at
    # each location they called or texted); None means the first location's thread.
    async def conversation(
        self, contact_id: int, *, location_id: int | None = None
    ) -> ConversationRow: ...

    async def counts(self, *, me: str | None = None, location_id: int | None = None) -> Counts: ...

    async def filter_counts(
        self, *, me: str | None = None, location_id: int | None = None
    ) -> FilterCounts: ...

    async def thread(
        self, contact_id: int, *, limit: int = 500, location_id: int | None = None
    ) -> list[MessageItem | CallItem | CallbackItem | NoteItem | ActivityItem | ScheduledItem]: ...

    async def mark_read(self, contact_id: int, *, location_id: int | None = None) -> None: ...

    async def mark_unread(
        self, contact_id: int, *, location_id: int | None = None
    ) -> ConversationRow: ...

    async def close(
        self, contact_id: int, *, actor: str, location_id: int | None = None
    ) -> ConversationRow: ...

    async def reopen(
        self, contact_id: int, *, actor: str, location_id: int | None = None
    ) -> ConversationRow: ...

    async def snooze(
        self, contact_id: int, until: datetime, *, actor: str, location_id: int | None = None
    ) -> ConversationRow: ...

    async def add_note(
        self, contact_id: int, body: str, *, actor: str, location_id: int | None = None
    ) -> NoteItem:
        """A note about the contact: every thread of theirs shows it."""
        ...

    async def contact(self, contact_id: int) -> ContactDetail: ...

    async def contacts(
        self, *, search: str = "", after: ContactsAfter | None = None, limit: int = 200
    ) -> list[ContactDetail]: ...

    async def start_conversation(
        self, phone: str, name: str = "", *, actor: str, location_id: int | None = None
    ) -> ContactDetail:
        """Find or create the contact for a typed number and give it a thread at
        ``location_id`` (None: the first location); raises
        :class:`StartRefused` (a ValueError, its message in words) when it cannot be texted."""
        ...

    async def contact_history(self, contact_id: int) -> ContactHistory: ...

    async def rename(self, contact_id: int, name: str, *, actor: str) -> ContactDetail: ...

    async def set_notes(self, contact_id: int, notes: str, *, actor: str) -> ContactDetail: ...

    async def add_tag(self, contact_id: int, tag: str, *, actor: str) -> ContactDetail: ...

    async def remove_tag(self, contact_id: int, tag: str, *, actor: str) -> ContactDetail: ...

    async def assign(self, contact_id: int, member: str | None, *, actor: str) -> ContactDetail: ...

    async def mark_booked(
        self, contact_id: int, value_cents: int | None, *, actor: str
    ) -> ContactDetail: ...

    async def callback_done(self, contact_id: int, *, actor: str) -> ContactDetail: ...

    async def missed_calls(
        self, *, after: CallsAfter | None = None, limit: int = 200, location_id: int | None = None
    ) -> list[CallItem]: ...

    async def call(self, call_id: int) -> CallItem: ...


class MessagingApi(Protocol):
    async def send_reply(
        self,
        contact_id: int,
        body: str,
        *,
        author: str | None,
        photo: Path | None = None,
        location_id: int | None = None,
    ) -> int:
        """A reply sent now in the thread at ``location_id`` (None: the first location),
        from that location's number; with ``photo`` an MMS (JPEG/PNG/GIF up to 5 MB, the
        body may be empty). Returns the message id; raises :class:`ReplyRefused`
        (nothing stored) with what to do."""
        ...

    async def cancel_textback(self, call_id: int, *, actor: str) -> bool: ...

    async def retry_text(self, message_id: int, *, author: str | None) -> int:
        """A failed outbound text sent again as a new reply, in its thread (from that
        location's number); returns the new message id. Raises :class:`ReplyRefused`
        when it is not a failed text or they opted out."""
        ...

    async def schedule_reply(
        self,
        contact_id: int,
        body: str,
        due_at: datetime,
        *,
        author: str | None,
        location_id: int | None = None,
    ) -> int:
        """A reply sent at ``due_at`` (UTC-aware, future) in the thread at
        ``location_id``; returns the job id. Raises :class:`ReplyRefused` (nothing
        stored) like :meth:`send_reply`."""
        ...

    async def cancel_scheduled(self, job_id: int, *, actor: str) -> bool: ...

    async def call_back(
        self, contact_id: int, *, actor: str, location_id: int | None = None
    ) -> int:
        """Ring the desk's phone of the location ``location_id`` (None: the first), then
        the contact (that location's number as caller ID); raises ``CallbackRefused`` (a
        ValueError) with what to do."""
        ...

    async def delete_contact(self, contact_id: int, *, actor: str) -> bool:
        """Delete the contact with their texts, calls, voicemail recordings (the files
        too), notes, tags and callbacks; cannot be undone. False when already gone."""
        ...

    async def voicemail_file(self, voicemail_id: int) -> str:
        """The voicemail's audio file on this PC (fetched when missing); raises
        LookupError when it is gone, ``CarrierError`` when Twilio cannot be reached."""
        ...


class OfficeDatabaseApi(Protocol):
    """ "This office shares a database" (implemented in desktop/office_database.py).

    The URL is this PC's (its data dir); the password goes to the keyring.
    """

    async def details(self) -> OfficeDatabaseDetails: ...

    async def test(self, url: str, password: str) -> DatabaseCheck:
        """Try the database now; the check says what is wrong in words."""
        ...

    async def join(self, url: str, password: str) -> DatabaseCheck:
        """Test, then (only when it passes) store it for this PC's next start."""
        ...

    async def leave(self) -> OfficeDatabaseDetails:
        """Use this PC's own database again from the next start."""
        ...

    async def office_business(self) -> OfficeBusiness | None:
        """The business the joined office database is set up for (None: no database
        joined, or nobody has answered the business questions there yet)."""
        ...


class PresenceApi(Protocol):
    """Who is replying where, for the other PCs (:class:`services.presence.Presence`).

    Cheap and non-blocking: call :meth:`typing` on every edit of the composer.
    """

    def typing(self, contact_id: int, who: str) -> None: ...

    def stopped(self, contact_id: int, who: str) -> None: ...


class AnalyticsApi(Protocol):
    """The analytics pane's figures (:class:`services.analytics.Analytics`)."""

    async def analytics(
        self, period: Period, *, location: str | None = None
    ) -> AnalyticsReport: ...


class ConnectionRefused(ValueError):
    """Credentials or connection settings that cannot be saved or used; the message says
    why in words (a missing keyring includes the environment-variable hint)."""


class HealthApi(Protocol):
    """The webhook-health page (implemented in desktop/health.py)."""

    async def health(self) -> HealthSnapshot: ...

    async def messaging_problem(self) -> MessagingProblem | None:
        """Every text failing for a reason the owner must fix (the banner), or None."""
        ...

    async def send_test_text(self, to: str) -> str:
        """Text ``to`` from the business number; returns the message SID ("" when the PC
        holding the number sends it: this one is a desk client).

        Raises :class:`ConnectionRefused` for a bad number or when Twilio refuses.
        """
        ...

    async def request_takeover(self) -> None:
        """A desk client asks the PC holding the number to hand it over (the holder lets
        go within seconds; the change arrives as an ``OfficeChanged`` event)."""
        ...


class DeskStatusApi(Protocol):
    """What the in-window banner says is true (implemented in desktop/health.py)."""

    async def textback_notice(self) -> TextbackNotice | None:
        """Why missed calls are not texted back right now, or None when they are."""
        ...


class ConnectionApi(Protocol):
    """The "Twilio account & connection" box (implemented in desktop/connection.py).

    Every keyring access happens off the GUI thread.
    """

    async def details(self) -> ConnectionDetails: ...

    async def save(self, entry: ConnectionEntry) -> ConnectionDetails:
        """Store the secrets in the keyring and the public URL in Settings.

        Raises :class:`ConnectionRefused` (bad SID, no keyring: with the env-var hint).
        """
        ...

    async def test_connection(self, entry: ConnectionEntry) -> AccountCheckResult:
        """Check what was typed (empty secret fields: the stored ones) against Twilio."""
        ...

    async def disconnect(self) -> None:
        """Give the number back its previous webhooks; raises :class:`ConnectionRefused`."""
        ...

    async def connect(self) -> None:
        """Wire the number here again after :meth:`disconnect`."""
        ...


class LocationsApi(Protocol):
    """The office's numbers (implemented in services/location_admin.py).

    Every change is published as a ``SettingsChanged`` whose keys include "locations".
    """

    async def locations(self) -> Locations: ...

    async def add(self, name: str, number: str, *, actor: str) -> Location:
        """Add a location once the Twilio account says ``number`` can be used (on it,
        SMS and voice capable); raises ``LocationRefused`` (a ValueError) with the
        problems in words, saving nothing."""
        ...

    async def rename(self, location_id: int, name: str, *, actor: str) -> None: ...

    async def remove(self, location_id: int, *, actor: str) -> None: ...

    async def update(
        self, location_id: int, changes: Mapping[str, Any], *, actor: str
    ) -> dict[str, Any]:
        """Set values for one location (the first: the office's settings); raises
        ``SettingsError`` or ``LocationError`` (ValueErrors), saving nothing."""
        ...

    async def reset(self, location_id: int, keys: Iterable[str], *, actor: str) -> list[str]:
        """Let a location take ``keys`` from the office again."""
        ...
