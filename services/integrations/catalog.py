"""The integration events and their payloads.

Every payload is a Standard Webhooks message: ``{"type", "timestamp", "data"}``; its
``webhook-id`` is the event's key, made from what happened, so the same fact seen twice
(a retried Twilio callback, two PCs) is one event. resources/webhooks.schema.json is the
JSON Schema of every payload; tests check the builders against it.
"""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime
from typing import Any

from services.clock import as_utc
from services.storage.models import Call, Contact, Message, Voicemail


class EventType(enum.StrEnum):
    CALL_MISSED = "call.missed"
    TEXT_SENT = "text.sent"
    TEXT_DELIVERED = "text.delivered"
    TEXT_FAILED = "text.failed"
    REPLY_RECEIVED = "reply.received"
    VOICEMAIL_RECEIVED = "voicemail.received"
    VOICEMAIL_TRANSCRIBED = "voicemail.transcribed"
    CONTACT_UPDATED = "contact.updated"
    CONTACT_BOOKED = "contact.booked"
    CONVERSATION_CLOSED = "conversation.closed"
    TEST = "webhook.test"


# Outbound message statuses that mean Twilio took the text (text.sent) and the final ones.
SENT_STATUSES = frozenset({"queued", "sent", "delivered", "read", "undelivered"})
DELIVERED_STATUSES = frozenset({"delivered", "read"})
FAILED_STATUSES = frozenset({"failed", "undelivered"})

# Audit actions of the inbox that become contact events.
CONTACT_ACTIONS = {
    "contact.renamed": "name",
    "contact.tagged": "tags",
    "contact.untagged": "tags",
    "contact.assigned": "assigned_to",
}
BOOKED_ACTION = "contact.booked"
CLOSED_ACTION = "contact.callback_done"


def iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat().replace("+00:00", "Z") if value is not None else None


def envelope(kind: EventType, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind.value, "timestamp": iso(at), "data": data}


def contact_data(contact: Contact | None, phone: str | None = None) -> dict[str, Any]:
    if contact is None:
        return {"phone": phone, "name": None, "tags": [], "opted_out": False}
    return {
        "phone": contact.phone,
        "name": contact.name,
        "tags": sorted(t.name for t in contact.tags),
        "opted_out": contact.opted_out,
        "assigned_to": contact.assigned_to,
    }


def call_missed(call: Call, contact: Contact | None, now: datetime) -> tuple[str, dict[str, Any]]:
    data = {
        "call": {
            "sid": call.sid,
            "from": call.phone or call.from_raw,
            "to": call.to_number,
            "started_at": iso(call.started_at),
            "ended_at": iso(call.ended_at),
            "after_hours": call.after_hours,
            "mode": call.mode,
        },
        "contact": contact_data(contact, call.phone),
    }
    return f"evt_call{call.id}_missed", envelope(EventType.CALL_MISSED, now, data)


def message_events(
    message: Message, contact: Contact, now: datetime
) -> list[tuple[str, dict[str, Any]]]:
    """What ``message`` in its current state has to tell: the keys make it once each."""
    text = {
        "sid": message.sid,
        "direction": message.direction,
        "body": message.body,
        "status": message.status,
        "kind": message.kind,
        "created_at": iso(message.created_at),
        "media": [d.get("url") for d in (message.media or []) if d.get("url")],
    }
    base = {"message": text, "contact": contact_data(contact)}
    out: list[tuple[str, dict[str, Any]]] = []
    key = f"evt_msg{message.id}"
    if message.direction == "in":
        out.append((f"{key}_received", envelope(EventType.REPLY_RECEIVED, now, base)))
        return out
    if message.status in SENT_STATUSES:
        out.append((f"{key}_sent", envelope(EventType.TEXT_SENT, now, base)))
    if message.status in DELIVERED_STATUSES:
        out.append((f"{key}_delivered", envelope(EventType.TEXT_DELIVERED, now, base)))
    if message.status in FAILED_STATUSES:
        failed = {
            **base,
            "error": {"code": message.error_code, "message": message.error_message},
        }
        out.append((f"{key}_failed", envelope(EventType.TEXT_FAILED, now, failed)))
    return out


def contact_event(
    audit_id: int,
    action: str,
    contact: Contact,
    actor: str,
    at: datetime,
    detail: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]] | None:
    """The event an inbox action on ``contact`` (an audit row) makes, if any. A booking's
    value is the one the audit row recorded (the contact may have changed since)."""
    key = f"evt_audit{audit_id}"
    data: dict[str, Any]
    if action == BOOKED_ACTION:
        data = {
            "contact": contact_data(contact),
            "booked_at": iso(at),
            "value_cents": (detail or {}).get("value_cents", contact.booked_value_cents),
            "by": actor,
        }
        return key, envelope(EventType.CONTACT_BOOKED, at, data)
    if action == CLOSED_ACTION:
        data = {"contact": contact_data(contact), "closed_at": iso(at), "by": actor}
        return key, envelope(EventType.CONVERSATION_CLOSED, at, data)
    field = CONTACT_ACTIONS.get(action)
    if field is None:
        return None
    data = {"contact": contact_data(contact), "changed": [field], "by": actor}
    return key, envelope(EventType.CONTACT_UPDATED, at, data)


def _voicemail_data(call: Call | None, contact: Contact | None, vm: Voicemail) -> dict[str, Any]:
    phone = call.phone if call is not None else (contact.phone if contact else None)
    return {
        "call": {
            "sid": call.sid if call is not None else None,
            "from": (call.phone or call.from_raw) if call is not None else phone,
            "to": call.to_number if call is not None else None,
            "started_at": iso(call.started_at) if call is not None else None,
        },
        "voicemail": {
            "recording_sid": vm.recording_sid,
            "duration_seconds": vm.duration_seconds,
            "transcript": vm.transcript,
        },
        "contact": contact_data(contact, phone),
    }


def voicemail_events(
    vm: Voicemail, call: Call | None, contact: Contact | None, now: datetime
) -> list[tuple[str, dict[str, Any]]]:
    """What a voicemail in its current state has to tell, keyed by its RecordingSid so
    each is made once:

    - ``voicemail.received`` once the recording is stored (fetched into the number
      holder's data dir): call, contact, duration, and the transcript when Twilio's had
      already arrived (else null);
    - ``voicemail.transcribed`` once Twilio's transcript is kept, always (also when
      ``voicemail.received`` already carried it), with the same shape: a receiver that
      wants transcripts listens for this one and never has to wait or poll.
    """
    out: list[tuple[str, dict[str, Any]]] = []
    key = f"evt_vm_{vm.recording_sid}"
    if vm.fetched_at is not None:
        data = _voicemail_data(call, contact, vm)
        out.append((key, envelope(EventType.VOICEMAIL_RECEIVED, now, data)))
    if vm.transcript:
        data = _voicemail_data(call, contact, vm)
        out.append((f"{key}_transcript", envelope(EventType.VOICEMAIL_TRANSCRIBED, now, data)))
    return out


def test_event(endpoint_uid: str, now: datetime) -> tuple[str, dict[str, Any]]:
    stamp = hashlib.sha256(f"{endpoint_uid}{now.isoformat()}".encode()).hexdigest()[:16]
    data = {"message": "A test event from Frontdesk: this endpoint is set up right."}
    return f"evt_test_{stamp}", envelope(EventType.TEST, now, data)
