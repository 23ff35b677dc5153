"""Fill a Frontdesk database with a large office's history, for the scale benchmarks.

    .venv/bin/python -m bench.fill_db --data-dir /tmp/big --contacts 50000 --messages 1000000

Writes through the real schema (Alembic-migrated; the FTS5 triggers index every body)
with bulk inserts, deterministic for a given --seed. About a minute for the full size.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from services.storage import migrate
from services.storage.database import Database, default_sqlite_url
from services.storage.models import Call, Contact, Conversation, Job, Message, Tag, contact_tags

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
    with db.engine.begin() as conn:
        conn.execute(
            insert(Tag),
            [
                {"id": 1, "name": "missed call"},
                {"id": 2, "name": "pending callback"},
                {"id": 3, "name": "booked"},
            ],
        )
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
                {"contact_id": i, "tag_id": rng.choice((1, 1, 2, 3))}
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
                batch.append(
                    {
                        "id": message_id,
                        "conversation_id": contact,
                        "direction": "in" if inbound else "out",
                        "body": body,
                        "status": "received" if inbound else "delivered",
                        "kind": "inbound" if inbound else ("textback" if k == 0 else "manual"),
                        "created_at": at,
                        "sid": f"SM{message_id:032x}",
                    }
                )
            previews.append({"i": contact, "p": body[:200]})
            if len(batch) >= 20000:
                conn.execute(insert(Message), batch)
                batch.clear()
        if batch:
            conn.execute(insert(Message), batch)
        conn.execute(text("UPDATE conversations SET last_preview = :p WHERE id = :i"), previews)
        calls = [
            {
                "sid": f"CA{i:032x}",
                "from_raw": f"+1415{2000000 + i:07d}",
                "phone": None,
                "to_number": "+15005550001",
                "contact_id": i,
                "started_at": last[i] - timedelta(hours=1),
                "status": "completed",
                "outcome": "missed",
                "mode": "ring",
                "after_hours": rng.random() < 0.3,
                "source": "live",
            }
            for i in range(1, contacts + 1, 3)
        ]
        conn.execute(insert(Call), calls)
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
        f"filled {contacts} contacts, {messages} messages, {len(calls)} calls "
        f"in {time.perf_counter() - start:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    folder = Path(args.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "frontdesk.db").exists():
        raise SystemExit(f"{folder / 'frontdesk.db'} exists; use an empty --data-dir")
    fill(default_sqlite_url(folder), args.contacts, args.messages, args.seed)


if __name__ == "__main__":
    main()
