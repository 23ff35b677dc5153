"""`frontdesk export`: contacts, calls, conversations and messages (DESIGN.md's shape).

JSON is DESIGN.md's document; CSV is one row per record with a ``record`` column
(``contact``, ``call`` or ``message``) so a spreadsheet or script can filter it.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services import policy, sends
from services.clock import as_utc
from services.storage.models import (
    Call,
    Contact,
    Conversation,
    Job,
    Message,
    NumberLookup,
    Voicemail,
)

CSV_COLUMNS = (
    "record",
    "phone",
    "name",
    "tags",
    "opted_out",
    "sid",
    "from",
    "to",
    "direction",
    "body",
    "status",
    "kind",
    "at",
    "outcome",
    "after_hours",
)


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def _textback(job: Job | None) -> dict[str, str | None]:
    """DESIGN.md's ``{"state", "reason"}``: the state as the desk reads it."""
    if job is None:
        return {"state": sends.Shown.NONE.value, "reason": None}
    shown = sends.shown(job.state, attempts=job.attempts)
    reason = policy.describe_skip(job.reason) if job.reason else None
    return {"state": shown.value, "reason": reason}


def _voicemail(vm: Voicemail | None) -> dict[str, Any] | None:
    """DESIGN.md's ``{"recording_sid", "duration_seconds", "transcript"}`` or None."""
    if vm is None:
        return None
    return {
        "recording_sid": vm.recording_sid,
        "duration_seconds": vm.duration_seconds,
        "transcript": vm.transcript,
    }


def collect(session: Session) -> dict[str, Any]:
    contacts = session.scalars(select(Contact).order_by(Contact.id)).all()
    by_id = {c.id: c for c in contacts}
    calls = session.scalars(select(Call).order_by(Call.started_at, Call.id)).all()
    conversations = session.scalars(select(Conversation).order_by(Conversation.id)).all()
    textbacks: dict[int, Job] = {}
    for job in session.scalars(
        select(Job).where(Job.kind == sends.JobKind.TEXTBACK).order_by(Job.id.desc())
    ):
        if job.call_id is not None:
            textbacks[job.call_id] = job  # the first job of each call wins
    lines = {row.phone: row.line_type for row in session.scalars(select(NumberLookup))}
    voicemails: dict[int, Voicemail] = {}
    for vm in session.scalars(
        select(Voicemail).where(Voicemail.status != "absent").order_by(Voicemail.id)
    ):
        if vm.call_id is not None:
            voicemails[vm.call_id] = vm
    messages: dict[int, list[Message]] = {}
    for m in session.scalars(select(Message).order_by(Message.created_at, Message.id)):
        messages.setdefault(m.conversation_id, []).append(m)
    return {
        "contacts": [
            {
                "phone": c.phone,
                "name": c.name,
                "tags": sorted(t.name for t in c.tags),
                "opted_out": c.opted_out,
                "notes": c.notes,
                "assigned_to": c.assigned_to,
                "booked_value_cents": c.booked_value_cents,
            }
            for c in contacts
        ],
        "calls": [
            {
                "sid": call.sid,
                "from": call.phone or call.from_raw,
                "to": call.to_number,
                "started_at": _iso(call.started_at),
                "outcome": call.outcome,
                "after_hours": call.after_hours,
                "line_type": lines.get(call.phone or ""),
                "voicemail": _voicemail(voicemails.get(call.id)),
                "textback": _textback(textbacks.get(call.id)),
            }
            for call in calls
        ],
        "conversations": [
            {
                "phone": by_id[conv.contact_id].phone,
                "messages": [
                    {
                        "sid": m.sid,
                        "direction": m.direction,
                        "body": m.body,
                        "status": m.status,
                        "kind": "manual" if m.kind == "inbound" else m.kind,
                        "at": _iso(m.created_at),
                        "media": [d.get("url") for d in (m.media or [])],
                        "error": m.error_message,
                    }
                    for m in messages.get(conv.id, [])
                ],
            }
            for conv in conversations
        ],
    }


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def to_csv(data: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    names = {c["phone"]: c for c in data["contacts"]}
    for c in data["contacts"]:
        writer.writerow({**c, "record": "contact", "tags": ";".join(c["tags"])})
    for call in data["calls"]:
        writer.writerow({**call, "record": "call", "phone": call["from"], "at": call["started_at"]})
    for conv in data["conversations"]:
        contact = names.get(conv["phone"], {})
        for m in conv["messages"]:
            writer.writerow(
                {**m, "record": "message", "phone": conv["phone"], "name": contact.get("name")}
            )
    return out.getvalue()
