"""Refused webhook requests, counted: constant storage whatever a stranger sends.

Anyone who finds the public URL can send requests; each refused one must not cost a
row. :class:`RefusalLog` counts refusals in memory per (path, reason) (both drawn from
small fixed sets: the receiver records an unknown path as ``(other)``, and the reason is
cut to its kind) and keeps the last :data:`KEEP_LAST` records. :meth:`RefusalLog.flush`
writes what was counted since the last flush in one transaction: an upsert of the
counters in ``webhook_refusals`` and the newest records into ``webhook_events``, pruned
back to :data:`KEEP_LAST` rows. Flushes never overlap and a flood is written in batches
(one transaction per flush), so neither the database nor memory grows with the number of
requests.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from typing import Any, Final

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services.clock import as_utc
from services.health import RefusalCount
from services.receiver import WebhookRecord
from services.storage.database import Database, UnitOfWork
from services.storage.models import WebhookEvent, WebhookRefusal

__all__ = ["KEEP_LAST", "RefusalCount", "RefusalLog", "reason_kind"]

log = logging.getLogger(__name__)

KEEP_LAST: Final = 50
_MAX_KIND: Final = 80
_MAX_REASON: Final = 300
_MAX_URL: Final = 500
_MAX_PATH: Final = 40


def reason_kind(record: WebhookRecord) -> str:
    """The bounded key a refusal is counted under: the reason up to its first colon
    ("invalid signature", "body too large", ...), never what the request carried."""
    reason = record.reason or f"status {record.status}"
    return reason.split(":", 1)[0].strip()[:_MAX_KIND] or f"status {record.status}"


class RefusalLog:
    """Counts refused requests in memory and flushes them to the database in batches."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # (path, kind) -> [status, count, first_at, last_at] not yet written.
        self._pending: dict[tuple[str, str], list[Any]] = {}
        self._recent: collections.deque[WebhookRecord] = collections.deque(maxlen=KEEP_LAST)
        self._unwritten: collections.deque[WebhookRecord] = collections.deque(maxlen=KEEP_LAST)
        self._lock = asyncio.Lock()

    def note(self, record: WebhookRecord) -> None:
        """Count one refused request (status 4xx/5xx); cheap, no I/O."""
        key = (record.path[:_MAX_PATH], reason_kind(record))
        entry = self._pending.get(key)
        if entry is None:
            self._pending[key] = [record.status, 1, record.at, record.at]
        else:
            entry[0] = record.status
            entry[1] += 1
            entry[3] = record.at
        self._recent.append(record)
        self._unwritten.append(record)

    @property
    def dirty(self) -> bool:
        return bool(self._pending)

    def recent(self) -> list[WebhookRecord]:
        """The last refused requests seen by this process, oldest first."""
        return list(self._recent)

    async def flush(self) -> bool:
        """Write what was counted since the last flush (one transaction); the next flush
        waits for this one. On failure (False) the counts are kept for the next try."""
        async with self._lock:
            if not self._pending:
                return True
            pending, self._pending = self._pending, {}
            # The rows stay listed as unwritten until their write has committed: a
            # reader in between (another worker) would otherwise see them nowhere.
            rows = list(self._unwritten)
            try:
                await self._db.run(lambda uow: _write(uow, pending, rows))
            except Exception:
                log.exception("could not store the refused-webhook counts; kept for later")
                for key, (status, count, first, last) in pending.items():
                    entry = self._pending.setdefault(key, [status, 0, first, last])
                    entry[1] += count
                    entry[2] = min(entry[2], first)
                return False
            for row in rows:
                with contextlib.suppress(ValueError):
                    self._unwritten.remove(row)
            return True

    async def counts(self) -> list[RefusalCount]:
        """Every (path, reason) counted so far, stored and not yet stored, most first."""

        def query(uow: UnitOfWork) -> list[RefusalCount]:
            return [
                RefusalCount(r.path, r.reason, r.status, int(r.count), as_utc(r.last_at))
                for r in uow.session.scalars(select(WebhookRefusal)).all()
            ]

        merged: dict[tuple[str, str], RefusalCount] = {
            (c.path, c.reason): c for c in await self._db.run(query)
        }
        for (path, kind), (status, count, _first, last) in self._pending.items():
            old = merged.get((path, kind))
            total = count + (old.count if old is not None else 0)
            merged[(path, kind)] = RefusalCount(path, kind, status, total, as_utc(last))
        return sorted(merged.values(), key=lambda c: (-c.count, c.path, c.reason))

    async def last(self) -> list[WebhookRecord]:
        """The last :data:`KEEP_LAST` refused requests (stored, plus this process's own
        not yet stored), newest first."""

        def query(uow: UnitOfWork) -> list[WebhookRecord]:
            events = uow.session.scalars(
                select(WebhookEvent)
                .order_by(WebhookEvent.at.desc(), WebhookEvent.id.desc())
                .limit(KEEP_LAST)
            ).all()
            return [
                WebhookRecord(
                    at=as_utc(e.at),
                    path=e.path,
                    status=e.status,
                    reason=e.reason,
                    checked_url=e.checked_url,
                    sid=e.sid,
                )
                for e in events
            ]

        stored = await self._db.run(query)
        seen = {(r.at, r.path, r.status, r.reason) for r in stored}
        fresh = [
            r for r in self._unwritten if (as_utc(r.at), r.path, r.status, r.reason) not in seen
        ]
        rows = sorted([*stored, *fresh], key=lambda r: as_utc(r.at), reverse=True)
        return rows[:KEEP_LAST]


def _write(
    uow: UnitOfWork, pending: dict[tuple[str, str], list[Any]], rows: list[WebhookRecord]
) -> None:
    s = uow.session
    insert: Any = sqlite_insert if s.get_bind().dialect.name == "sqlite" else pg_insert
    for (path, kind), (status, count, first, last) in pending.items():
        stmt = insert(WebhookRefusal).values(
            path=path, reason=kind, status=status, count=count, first_at=first, last_at=last
        )
        s.execute(
            stmt.on_conflict_do_update(
                index_elements=["path", "reason"],
                set_={
                    "count": WebhookRefusal.count + stmt.excluded.count,
                    "status": stmt.excluded.status,
                    "last_at": stmt.excluded.last_at,
                },
            )
        )
    for record in rows:
        s.add(
            WebhookEvent(
                at=record.at,
                path=record.path[:_MAX_PATH],
                status=record.status,
                reason=(record.reason or "")[:_MAX_REASON] or None,
                checked_url=(record.checked_url or "")[:_MAX_URL] or None,
                sid=record.sid,
            )
        )
    s.flush()
    keep = select(WebhookEvent.id).order_by(WebhookEvent.id.desc()).limit(KEEP_LAST)
    s.execute(delete(WebhookEvent).where(WebhookEvent.id.not_in(keep.scalar_subquery())))
    uow.commit()
