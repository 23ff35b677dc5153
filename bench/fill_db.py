"""Fill a Frontdesk database with a large office's history, for the scale benchmarks.

    .venv/bin/python -m bench.fill_db --data-dir /tmp/big --contacts 50000 --messages 1000000
    .venv/bin/python -m bench.fill_db --database-url postgresql+psycopg://HOST/EMPTY_DB

Writes through the real schema (Alembic-migrated; the FTS5 triggers index every body)
with bulk inserts, deterministic for a given --seed, in two locations (half the
threads and calls each). About three minutes for the full size.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from services import location_store, settings_store
from services.storage import migrate
from services.storage.database import Database, default_sqlite_url
from services.storage.models import (
    FIRST_LOCATION,
    AuditEntry,
    Call,
    Contact,
    Conversation,
    Job,
    Message,
    Tag,
    contact_tags,
)

FIRST = [
    "Maria",
    "James",
    "Ana",
    "Luis",
    "Dana",
    "Chen",
    "Priya",
    "Omar",
    "Sofia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Mateo",
    "Zoe",
    "Ivan",
    "Grace",
    "Hiro",
    "Fatima",
    "Leo",
    "Nina",
    "Raj",
    "Sara",
    "Tom",
    "Yara",
    "Ben",
    "Lena",
    "Kofi",
    "Mia",
    "Aiden",
]
LAST = [
    "Lopez",
    "Smith",
    "Garcia",
    "Nguyen",
    "Patel",
    "Kim",
    "Brown",
    "Jones",
    "Rossi",
    "Müller",
    "Cohen",
    "Haddad",
    "Silva",
    "Okafor",
    "Tanaka",
    "Novak",
    "Walsh",
    "Dubois",
    "Jensen",
    "Moreau",
]
INBOUND = (
    "Hi, I called about a leaking pipe under the kitchen sink",
    "Can someone come out tomorrow morning?",
    "Water heater is making a banging noise",
    "Thanks! See you at 3",
    "Is Saturday possible?",
    "The toilet keeps running, how much for a repair?",
    "Yes please call me back",
    "Do you do drain cleaning?",
)
STAFF = ("Dana", "Luis", "Priya", "Omar")
LINES = ("+15005550001", "+15005550002")
OUTBOUND = (
    "Hi, this is Smith & Sons Plumbing. Sorry we missed your call! How can we help?",
    "We can be there between 8 and 10 tomorrow. Does that work?",
    "Our technician is on the way.",
    "Thanks for choosing us! Here is your invoice.",
)


def fill(url: str, contacts: int, messages: int, seed: int) -> None:
    rng = random.Random(seed)
    db = Database(url)
    migrate.upgrade(db.engine)
    now = datetime.now(UTC)
    start = time.perf_counter()
    # Two locations, as an office with a second line has: the first answers LINES[0],
    # "North" LINES[1]; a contact's thread is at the location of the line it called.
    with Session(db.engine) as s:
        settings_store.apply_changes(s, {"business.phone_number": LINES[0]}, actor="fill", now=now)
        north = location_store.add(s, "North", LINES[1], actor="fill", now=now).id
        s.commit()
    location_of = (FIRST_LOCATION, north)
    with db.engine.begin() as conn:
        # The migrations already create the built-in tags (0005); add any that are missing.
        wanted = ("missed call", "pending callback", "booked")
        have = {name for (name,) in conn.execute(select(Tag.name))}
        if set(wanted) - have:
            conn.execute(insert(Tag), [{"name": n} for n in wanted if n not in have])
        tag_ids = [conn.execute(select(Tag.id).where(Tag.name == n)).scalar_one() for n in wanted]
        rows = []
        for i in range(1, contacts + 1):
            named = rng.random() < 0.7
            rows.append(
                {
                    "id": i,
                    "phone": f"+1{rng.choice((415, 510, 650, 212, 312))}{2000000 + i:07d}",
                    "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}" if named else None,
                    "notes": "",
                    "opted_out": rng.random() < 0.02,
                    "created_at": now - timedelta(days=400),
                    "updated_at": now,
                }
            )
        conn.execute(insert(Contact), rows)
        conn.execute(
            insert(contact_tags),
            [
                {
                    "contact_id": i,
                    "tag_id": rng.choice((tag_ids[0], tag_ids[0], tag_ids[1], tag_ids[2])),
                }
                for i in range(1, contacts + 1)
                if rng.random() < 0.5
            ],
        )
        per_contact = [1] * contacts
        for _ in range(messages - contacts):
            per_contact[rng.randrange(contacts)] += 1
        # Contact i's latest activity: spread over the last year, newest first in the list.
        last = {
            i: now - timedelta(minutes=rng.randrange(0, 525600)) for i in range(1, contacts + 1)
        }
        conn.execute(
            insert(Conversation),
            [
                {
                    "id": i,
                    "contact_id": i,
                    "location_id": location_of[i % 2],
                    "last_message_at": last[i],
                    "last_preview": "",
                    "unread_count": 1 if rng.random() < 0.03 else 0,
                }
                for i in range(1, contacts + 1)
            ],
        )
        message_id = 0
        batch: list[dict[str, object]] = []
        previews: list[dict[str, object]] = []
        for contact in range(1, contacts + 1):
            count = per_contact[contact - 1]
            at = last[contact] - timedelta(minutes=count * 30)
            body = ""
            for k in range(count):
                message_id += 1
                inbound = k % 2 == 1
                body = rng.choice(INBOUND if inbound else OUTBOUND)
                at += timedelta(minutes=30)
                kind = "inbound" if inbound else ("textback" if k == 0 else "manual")
                priced = rng.random() < 0.97  # Twilio settles prices after the fact
                batch.append(
                    {
                        "id": message_id,
                        "conversation_id": contact,
                        "direction": "in" if inbound else "out",
                        "body": body,
                        "status": "received" if inbound else "delivered",
                        "kind": kind,
                        "created_at": at,
                        "sent_at": None if inbound else at,
                        "sid": f"SM{message_id:032x}",
                        "author": rng.choice(STAFF) if kind == "manual" else None,
                        "price_micros": (7900 if len(body) <= 160 else 15800) if priced else None,
                        "price_unit": "USD" if priced else None,
                    }
                )
            previews.append({"i": contact, "p": body[:200]})
            if len(batch) >= 20000:
                conn.execute(insert(Message), batch)
                batch.clear()
        if batch:
            conn.execute(insert(Message), batch)
        conn.execute(text("UPDATE conversations SET last_preview = :p WHERE id = :i"), previews)
        calls: list[dict[str, Any]] = [
            {
                "sid": f"CA{i:032x}",
                "from_raw": f"+1415{2000000 + i:07d}",
                "phone": None,
                "to_number": LINES[i % 2],
                "location_id": location_of[i % 2],
                "contact_id": i,
                "started_at": last[i] - timedelta(hours=1),
                "status": "completed",
                "outcome": "missed",
                "mode": "ring",
                "after_hours": rng.random() < 0.3,
                "source": "live",
                "price_micros": 8500 if rng.random() < 0.9 else None,
                "price_unit": "USD",
            }
            for i in range(1, contacts + 1, 3)
        ]
        conn.execute(insert(Call), calls)
        # Callbacks: an answered call with every sixth missed caller, within the hour.
        callbacks = [
            {
                **c,
                "sid": f"CB{n:032x}",
                "outcome": "answered",
                "started_at": c["started_at"] + timedelta(minutes=40),
                "price_micros": 17000,
            }
            for n, c in enumerate(calls)
            if n % 6 == 0
        ]
        conn.execute(insert(Call), callbacks)
        # Bookings (one contact in ten, some right after a missed call) and who did what.
        booked = [i for i in range(1, contacts + 1) if rng.random() < 0.1]
        table = cast(Table, Contact.__table__)
        conn.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(booked_at=bindparam("b_at"), booked_value_cents=bindparam("b_v")),
            [
                {
                    "b_id": i,
                    "b_at": last[i] - timedelta(minutes=20),
                    "b_v": rng.randrange(80, 2000) * 100,
                }
                for i in booked
            ],
        )
        audit = [
            {
                "at": last[i] - timedelta(minutes=20),
                "actor": rng.choice(STAFF),
                "action": "contact.booked",
                "subject": f"+1415{2000000 + i:07d}",
            }
            for i in booked
        ] + [
            {
                "at": c["started_at"] + timedelta(minutes=45),
                "actor": rng.choice(STAFF),
                "action": "contact.callback_done",
                "subject": c["from_raw"],
            }
            for c in callbacks
        ]
        conn.execute(insert(AuditEntry), audit)
        # Each call's text-back, sent (call ids follow insertion order on a fresh database).
        conn.execute(
            insert(Job),
            [
                {
                    "kind": "textback",
                    "state": "sent",
                    "due_at": c["started_at"],
                    "contact_id": c["contact_id"],
                    "call_id": n,
                    "template_key": "templates.missed_call",
                    "attempts": 1,
                    "created_at": c["started_at"],
                    "finished_at": c["started_at"],
                }
                for n, c in enumerate(calls, start=1)
            ],
        )
    db.close()
    print(
        f"filled {contacts} contacts, {messages} messages, {len(calls)} missed calls, "
        f"{len(callbacks)} callbacks, {len(booked)} bookings "
        f"in {time.perf_counter() - start:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="a new SQLite workspace here")
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--database-url", help="fill this (empty) database instead, e.g. a PostgreSQL URL"
    )
    args = parser.parse_args()
    if args.database_url:
        fill(args.database_url, args.contacts, args.messages, args.seed)
        return
    if not args.data_dir:
        parser.error("give --data-dir or --database-url")
    folder = Path(args.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "frontdesk.db").exists():
        raise SystemExit(f"{folder / 'frontdesk.db'} exists; use an empty --data-dir")
    fill(default_sqlite_url(folder), args.contacts, args.messages, args.seed)


if __name__ == "__main__":
    main()
