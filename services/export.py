"""`frontdesk export`: contacts, calls, conversations and messages (DESIGN.md's shape).

JSON is DESIGN.md's document; CSV is one row per record with a ``record`` column
(``contact``, ``call`` or ``message``) so a spreadsheet or script can filter it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services import policy, sends
from services.clock import as_utc
from services.storage.models import (
    FIRST_LOCATION,
    Call,
    Contact,
    Conversation,
    Job,
    Location,
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
    "location",
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


#: Rows between two calls of a ``tick`` (progress and the chance to cancel).
TICK_ROWS = 2000
Tick = Callable[[int], None]
T = TypeVar("T")


def count_rows(session: Session) -> int:
    """How many records an export holds: contacts, calls and messages."""
    return sum(
        int(session.scalar(select(func.count()).select_from(model)) or 0)
        for model in (Contact, Call, Message)
    )


def _ticking(rows: Iterable[T], tick: Tick | None) -> Iterator[T]:
    """``rows``, calling ``tick(n)`` after every :data:`TICK_ROWS` of them and at the
    end (``tick`` may raise to stop the export)."""
    n = 0
    for row in rows:
        yield row
        n += 1
        if tick is not None and n % TICK_ROWS == 0:
            tick(TICK_ROWS)
    if tick is not None and n % TICK_ROWS:
        tick(n % TICK_ROWS)


def collect(session: Session, tick: Tick | None = None) -> dict[str, Any]:
    """The export document. ``tick(n)`` is told of each ``n`` contacts, calls and
    messages read (their sum is :func:`count_rows`); it may raise to stop."""
    contacts = list(_ticking(session.scalars(select(Contact).order_by(Contact.id)), tick))
    by_id = {c.id: c for c in contacts}
    calls = list(_ticking(session.scalars(select(Call).order_by(Call.started_at, Call.id)), tick))
    conversations = session.scalars(select(Conversation).order_by(Conversation.id)).all()
    textbacks: dict[int, Job] = {}
    for job in session.scalars(
        select(Job).where(Job.kind == sends.JobKind.TEXTBACK).order_by(Job.id.desc())
    ):
        if job.call_id is not None:
            textbacks[job.call_id] = job  # the first job of each call wins
    # Every location, removed ones too: their threads keep the name they had.
    places: dict[int, str] = {
        row.id: row.name for row in session.execute(select(Location.id, Location.name))
    }
    first = places.get(FIRST_LOCATION, "Main")
    lines = {row.phone: row.line_type for row in session.scalars(select(NumberLookup))}
    voicemails: dict[int, Voicemail] = {}
    for vm in session.scalars(
        select(Voicemail).where(Voicemail.status != "absent").order_by(Voicemail.id)
    ):
        if vm.call_id is not None:
            voicemails[vm.call_id] = vm
    messages: dict[int, list[Message]] = {}
    # yield_per: rows arrive (and are counted) as they are fetched, not all up front.
    ordered = session.scalars(
        select(Message)
        .order_by(Message.created_at, Message.id)
        .execution_options(yield_per=TICK_ROWS)
    )
    for m in _ticking(ordered, tick):
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
                "location": places.get(call.location_id or FIRST_LOCATION, first),
            }
            for call in calls
        ],
        "conversations": [
            {
                "phone": by_id[conv.contact_id].phone,
                "location": places.get(conv.location_id, first),
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
    return "".join(csv_pieces(data))


def json_pieces(data: dict[str, Any], tick: Tick | None = None) -> Iterator[str]:
    """:func:`to_json`'s text in pieces, one record at a time (the same bytes: each
    record is dumped on its own and indented to its depth); ``tick(1)`` after each
    contact, call and message."""
    yield "{"
    for n, (key, records) in enumerate(data.items()):
        yield ("," if n else "") + "\n  " + json.dumps(key) + ": "
        if not isinstance(records, list) or not records:
            yield json.dumps(records, ensure_ascii=False)
            continue
        yield "["
        for i, record in enumerate(records):
            text = json.dumps(record, ensure_ascii=False, indent=2).replace("\n", "\n    ")
            yield ("," if i else "") + "\n    " + text
            if tick is not None:
                tick(len(record.get("messages", ())) if key == "conversations" else 1)
        yield "\n  ]"
    yield "\n}\n" if data else "}\n"


def csv_pieces(data: dict[str, Any], tick: Tick | None = None) -> Iterator[str]:
    """:func:`to_csv`'s text a row at a time; ``tick(1)`` after each row."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")

    def row(values: dict[str, Any] | None) -> str:
        out.seek(0)
        out.truncate()
        if values is None:
            writer.writeheader()
        else:
            writer.writerow(values)
            if tick is not None:
                tick(1)
        return out.getvalue()

    yield row(None)
    names = {c["phone"]: c for c in data["contacts"]}
    for c in data["contacts"]:
        yield row({**c, "record": "contact", "tags": ";".join(c["tags"])})
    for call in data["calls"]:
        yield row({**call, "record": "call", "phone": call["from"], "at": call["started_at"]})
    for conv in data["conversations"]:
        contact = names.get(conv["phone"], {})
        for m in conv["messages"]:
            yield row(
                {
                    **m,
                    "record": "message",
                    "phone": conv["phone"],
                    "name": contact.get("name"),
                    "location": conv["location"],
                }
            )
