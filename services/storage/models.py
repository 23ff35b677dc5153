"""The relational schema, SQLAlchemy 2 style (typed ``Mapped[...]`` columns).

Rows are storage only: services hand snapshots (plain dataclasses in
:mod:`services.snapshots`) to the UI, never these objects. Every datetime is stored
as UTC. Schema changes go through Alembic (services/storage/migrations).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON,
    }


contact_tags = Table(
    "contact_tags",
    Base.metadata,
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
)


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Text: a sender that is not a phone number (an alphanumeric sender) is kept as sent.
    phone: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str | None] = mapped_column(String(200), index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[datetime | None]
    opted_in_at: Mapped[datetime | None]  # their last START (services.opt_outs)
    assigned_to: Mapped[str | None] = mapped_column(String(100))
    booked_value_cents: Mapped[int | None] = mapped_column(Integer)
    booked_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    tags: Mapped[list[Tag]] = relationship(secondary=contact_tags, lazy="selectin")


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)


class Call(Base):
    """One inbound call, keyed by the parent CallSid however many callbacks arrive."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_contact_started", "contact_id", "started_at"),
        Index("ix_calls_outcome_started", "outcome", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    # What Twilio sent (cleaned and capped at the receiver's edge: services/webhook_fields).
    from_raw: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    to_number: Mapped[str] = mapped_column(Text, default="")
    # The location whose number was called (None: the first, for rows written before).
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(Text, default="ringing")
    dial_status: Mapped[str | None] = mapped_column(Text)
    ring_seconds: Mapped[int | None]
    # pending (still ringing) | answered | missed
    outcome: Mapped[str] = mapped_column(String(12), default="pending")
    mode: Mapped[str] = mapped_column(String(10), default="ring")  # ring | forward
    after_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(10), default="live")  # live | catchup | demo
    # When the desk first gave this missed call its attention (opened the thread, marked
    # the callback done); None while it still waits: the "Missed calls" badge counts those.
    attended_at: Mapped[datetime | None]
    # What Twilio charged (its ``price``, as a positive cost in millionths of
    # ``price_unit``); None until Twilio has settled it (services/prices.py).
    price_micros: Mapped[int | None] = mapped_column(BigInteger)
    price_unit: Mapped[str | None] = mapped_column(String(3))
    price_checked_at: Mapped[datetime | None]


class Location(Base):
    """One of the office's Twilio numbers. The first (id :data:`FIRST_LOCATION`, created
    with the schema) is the office itself: its values are the office's settings keys.
    Another holds only what it sets differently (:class:`LocationSetting`);
    services/locations.py resolves the rest from the office's."""

    __tablename__ = "locations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime]
    # A removed location keeps its threads (history) but its number is no longer wired.
    removed_at: Mapped[datetime | None]


FIRST_LOCATION = 1


class LocationSetting(Base):
    __tablename__ = "location_settings"

    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(Text)  # JSON text
    updated_at: Mapped[datetime]


class Conversation(Base):
    """A contact's thread at one location (the number they called or texted)."""

    __tablename__ = "conversations"
    __table_args__ = (
        # The list's order and its keyset cursor (Inbox.conversations): one range scan a page.
        Index("ix_conversations_last_message_at_id", "last_message_at", "id"),
        UniqueConstraint(
            "contact_id", "location_id", name="uq_conversations_contact_id_location_id"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(
        ForeignKey("locations.id"), default=FIRST_LOCATION, server_default=text("1")
    )
    last_message_at: Mapped[datetime | None] = mapped_column(index=True)
    last_preview: Mapped[str] = mapped_column(String(200), default="")
    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    last_inbound_at: Mapped[datetime | None]
    # open | closed | snoozed (services.thread_state.ThreadState); services.threads owns it.
    state: Mapped[str] = mapped_column(String(10), default="open", index=True)
    snoozed_until: Mapped[datetime | None]
    state_at: Mapped[datetime | None]
    state_by: Mapped[str | None] = mapped_column(String(100))


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation_created", "conversation_id", "created_at"),
        Index("ix_messages_created_at", "created_at"),
        # Analytics: the period's texts by kind (covering their thread), and a thread's
        # next text of a kind (time to first human reply).
        Index("ix_messages_kind_created", "kind", "created_at", "conversation_id"),
        Index("ix_messages_conversation_kind_created", "conversation_id", "kind", "created_at"),
        Index("ix_messages_call_id", "call_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    body: Mapped[str] = mapped_column(Text, default="")
    # inbound: received; outbound: sending | retrying | queued | sent | delivered | failed ...
    status: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(12))  # textback | follow_up | manual | auto | inbound
    error_code: Mapped[int | None]
    error_message: Mapped[str | None] = mapped_column(String(300))
    media: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    segments: Mapped[int | None]
    author: Mapped[str | None] = mapped_column(String(100))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # What Twilio charged, as on calls (services/prices.py).
    price_micros: Mapped[int | None] = mapped_column(BigInteger)
    price_unit: Mapped[str | None] = mapped_column(String(3))
    price_checked_at: Mapped[datetime | None]


class Job(Base):
    """One outbound text, from decision to done: a row, so a restart (even after kill -9)
    runs it, and exactly once. Its lifecycle belongs to :mod:`services.sends`."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # services.sends.JobKind
    state: Mapped[str] = mapped_column(String(12), default="pending")  # sends.SendState
    due_at: Mapped[datetime]
    # None only for a text-back policy refused to an anonymous or invalid caller.
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    template_key: Mapped[str] = mapped_column(String(60))
    # The location whose number the text leaves from (None: the first).
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None]
    # Set before each create request; while set, look in the carrier's log before resending.
    maybe_sent_since: Mapped[datetime | None]
    # The number that create went From: the look-up searches under it, even if the
    # location's number has changed since (None: rows from before it was kept).
    sent_from: Mapped[str | None] = mapped_column(String(32))
    finished_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    # A reply scheduled for later: what the desk typed and who, until its message row
    # is written at send time (None for every other job: their text is rendered then).
    body: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(100))


class EarlyStatus(Base):
    """A delivery callback for a SID not recorded yet (it can beat the create's answer,
    or arrive for a send still being reconciled); applied when the SID is recorded.
    Pruned by age and count, so callbacks for SIDs never ours cost bounded storage."""

    __tablename__ = "early_statuses"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    error_code: Mapped[int | None]
    received_at: Mapped[datetime] = mapped_column(index=True)


class Setting(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(Text)  # JSON text
    updated_at: Mapped[datetime]


class ThreadNote(Base):
    """An internal note the desk left in a thread: never sent to the contact."""

    __tablename__ = "thread_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class AuditEntry(Base):
    __tablename__ = "audit"
    __table_args__ = (
        Index("ix_audit_subject_at", "subject", "at"),
        Index("ix_audit_action_at", "action", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60))
    subject: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[dict[str, Any] | None]


class WebhookEvent(Base):
    """The last few refused webhook requests (the health page reads these); pruned to a
    fixed number by :mod:`services.refusals`, so a flood costs constant storage."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    path: Mapped[str] = mapped_column(String(100))
    status: Mapped[int]
    reason: Mapped[str | None] = mapped_column(String(300))
    checked_url: Mapped[str | None] = mapped_column(String(500))
    sid: Mapped[str | None] = mapped_column(String(64))


class WebhookRefusal(Base):
    """Refused webhook requests counted per path (a served path or "(other)") and reason."""

    __tablename__ = "webhook_refusals"

    path: Mapped[str] = mapped_column(String(40), primary_key=True)
    reason: Mapped[str] = mapped_column(String(80), primary_key=True)
    status: Mapped[int]
    count: Mapped[int] = mapped_column(BigInteger)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]


class SyncState(Base):
    """Small key/value state that is not a user setting (catch-up cursors, wiring backups)."""

    __tablename__ = "sync_state"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class IntegrationEndpoint(Base):
    """Where integration events go: an outbound webhook URL, or the office's HubSpot.

    The signing secret (webhooks) and the private-app token (HubSpot) are in the keyring
    of each PC, under a name made from ``uid``; never here. Lifecycle and deliveries
    belong to :mod:`services.integrations`.
    """

    __tablename__ = "integration_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # webhook | hubspot
    url: Mapped[str] = mapped_column(String(500))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    # Start of the current run of failed attempts (None after a success): 24 h of it
    # disables the endpoint with a notice.
    failing_since: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(300))


class IntegrationEvent(Base):
    """One thing that happened, as the integrations tell it (Standard Webhooks payload).

    ``key`` is made from what happened (``call.missed`` of call 12 is always the same
    key), so seeing the same change twice records it once: it is also the webhook-id.
    """

    __tablename__ = "integration_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(index=True)


class IntegrationDelivery(Base):
    """One event to one endpoint: retried with backoff until delivered or given up.

    Transitions belong to :mod:`services.integrations.delivery_state`."""

    __tablename__ = "integration_deliveries"
    __table_args__ = (
        Index("ix_integration_deliveries_state_due", "state", "due_at"),
        Index("uq_integration_deliveries_endpoint_event", "endpoint_id", "event_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("integration_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[int] = mapped_column(ForeignKey("integration_events.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime]
    first_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    response_code: Mapped[int | None]
    result: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]


class Voicemail(Base):
    """A voicemail a caller left after a missed call, keyed by Twilio's RecordingSid.

    The recording lives in the data dir (``file_name``, relative to the voicemail folder)
    once fetched; ``transcript`` once Twilio sends one. Deleted with the contact (its file
    too: :mod:`services.voicemail`)."""

    __tablename__ = "voicemails"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_sid: Mapped[str] = mapped_column(String(64), unique=True)
    call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    # in-progress | completed | absent | failed | other (Twilio's RecordingStatus)
    status: Mapped[str] = mapped_column(String(20), default="in-progress")
    duration_seconds: Mapped[int | None]
    file_name: Mapped[str | None] = mapped_column(String(100))
    file_bytes: Mapped[int | None]
    fetch_error: Mapped[str | None] = mapped_column(String(300))
    transcript: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
    fetched_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]  # the file was deleted (retention)


class NumberLookup(Base):
    """What Twilio Lookup said about a number (line type, caller name), once per number."""

    __tablename__ = "number_lookups"

    phone: Mapped[str] = mapped_column(String(32), primary_key=True)
    line_type: Mapped[str | None] = mapped_column(String(30))
    carrier_name: Mapped[str | None] = mapped_column(String(200))
    caller_name: Mapped[str | None] = mapped_column(String(200))
    caller_type: Mapped[str | None] = mapped_column(String(20))
    looked_up_at: Mapped[datetime]


class Callback(Base):
    """A call from the business number to a caller: the desk's "Call back" (rings the
    desk's phone, then the caller) or one found in Twilio's Calls log at catch-up."""

    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    phone: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]
    # services.callbacks.CallbackState
    state: Mapped[str] = mapped_column(String(20), default="ringing_desk")
    duration_seconds: Mapped[int | None]
    actor: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(10), default="desk")  # desk | log
