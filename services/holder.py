"""Who holds the business number: one process per database, chosen by PostgreSQL.

The number holder runs the receiver, tunnel, wiring, scheduler, catch-up and recovery;
every other process sharing the database is a desk client. On PostgreSQL the holder is
whoever owns a *session-level advisory lock*, taken on a dedicated connection that lives
as long as the process: when the process dies (kill -9, power cut) or its connection is
lost, PostgreSQL ends the session and frees the lock, and the next PC that tries takes
it. No home-made consensus: PostgreSQL's lock manager is the only judge.

The dedicated connection is also this PC's *presence*: its ``application_name`` is
``frontdesk-pc:<PC name>``, so ``pg_stat_activity`` says which PCs are running (the last
to leave sets the offline fallback) and ``pg_locks`` says which one holds the number.

On SQLite (one PC's database) :class:`SoloLock` always holds.

Every method of :class:`AdvisoryLock` runs its SQL on one worker thread of its own
(psycopg connections are not shared between threads): the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import psycopg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

# The advisory lock's two int4 keys: a namespace ("FD" + 1) and the lock within it.
LOCK_NAMESPACE = 0x46440001
LOCK_NUMBER = 1
PRESENCE_PREFIX = "frontdesk-pc:"
# PostgreSQL truncates application_name to NAMEDATALEN - 1 = 63 bytes.
MAX_APPLICATION_NAME = 63


def libpq_url(sqlalchemy_url: str) -> str:
    """The libpq URL psycopg takes for a SQLAlchemy ``postgresql+psycopg://`` URL.

    The result holds the password: never log it.
    """
    return (
        make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def presence_name(pc_name: str) -> str:
    """``application_name`` for a PC: the prefix plus its name, cut to PostgreSQL's limit."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in pc_name) or "PC"
    raw = (PRESENCE_PREFIX + clean).encode("utf-8")[:MAX_APPLICATION_NAME]
    return raw.decode("utf-8", errors="ignore")


class HolderLock(Protocol):
    """The narrow contract the office supervisor needs from "who holds the number"."""

    @property
    def shared(self) -> bool:
        """True when other processes may share the database (PostgreSQL)."""
        ...

    async def try_acquire(self) -> bool:
        """Take the number if nobody holds it; True when this process now holds it."""
        ...

    async def still_held(self) -> bool:
        """False once the lock was lost (connection gone): stop acting as the holder."""
        ...

    async def release(self) -> None: ...

    async def holder_name(self) -> str | None:
        """The PC name of the process holding the number, None when nobody does."""
        ...

    async def others_present(self) -> int:
        """How many other Frontdesk processes are connected to this database."""
        ...

    async def close(self) -> None: ...


class SoloLock:
    """SQLite: the one process is always the holder."""

    shared = False

    def __init__(self, pc_name: str) -> None:
        self._pc_name = pc_name
        self._held = False

    async def try_acquire(self) -> bool:
        self._held = True
        return True

    async def still_held(self) -> bool:
        return self._held

    async def release(self) -> None:
        self._held = False

    async def holder_name(self) -> str | None:
        return self._pc_name if self._held else None

    async def others_present(self) -> int:
        return 0

    async def close(self) -> None:
        self._held = False


class AdvisoryLock:
    """PostgreSQL: a session-level advisory lock on a connection of its own.

    ``connect_timeout`` and TCP keepalives bound how long a dead network takes to be
    noticed (the server frees the lock when it notices; this side stops holding when a
    query on the connection fails).
    """

    shared = True

    def __init__(self, database_url: str, pc_name: str, *, connect_timeout: int = 5) -> None:
        self._url = libpq_url(database_url)
        self.pc_name = pc_name
        self._application_name = presence_name(pc_name)
        self._connect_timeout = connect_timeout
        self._conn: psycopg.Connection[Any] | None = None
        self._held = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="frontdesk-holder")

    async def _call(self, fn: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    # ---- on the worker thread ------------------------------------------------------------
    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self._url,
                autocommit=True,
                application_name=self._application_name,
                connect_timeout=self._connect_timeout,
                keepalives=1,
                keepalives_idle=5,
                keepalives_interval=2,
                keepalives_count=2,
            )
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._held = False
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def _scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        try:
            row = self._connection().execute(sql, params).fetchone()
        except psycopg.Error:
            # The session is gone (or unusable): so is any lock it held.
            self._drop()
            raise
        return row[0] if row is not None else None

    def _try_acquire(self) -> bool:
        if self._held:
            return self._still_held()
        try:
            got = self._scalar("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_NAMESPACE, LOCK_NUMBER))
        except psycopg.Error as exc:
            log.warning("cannot reach the office database to claim the number: %s", exc)
            return False
        self._held = bool(got)
        return self._held

    def _still_held(self) -> bool:
        if not self._held:
            return False
        try:
            count = self._scalar(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND classid = %s AND objid = %s AND objsubid = 2",
                (LOCK_NAMESPACE, LOCK_NUMBER),
            )
        except psycopg.Error as exc:
            log.error("lost the office database connection while holding the number: %s", exc)
            return False
        self._held = bool(count)
        return self._held

    def _release(self) -> None:
        if not self._held:
            return
        # A failure means the session is gone, and the lock with it.
        with contextlib.suppress(psycopg.Error):
            self._scalar("SELECT pg_advisory_unlock(%s, %s)", (LOCK_NAMESPACE, LOCK_NUMBER))
        self._held = False

    def _holder_name(self) -> str | None:
        name = self._scalar(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s"
            " AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database"
            " WHERE datname = current_database()) LIMIT 1",
            (LOCK_NAMESPACE, LOCK_NUMBER),
        )
        if not isinstance(name, str):
            return None
        return name.removeprefix(PRESENCE_PREFIX) or None

    def _others_present(self) -> int:
        count = self._scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND application_name LIKE %s",
            (PRESENCE_PREFIX + "%",),
        )
        return int(count or 0)

    # ---- the async contract -----------------------------------------------------------
    async def connect(self) -> None:
        """Open the presence connection now (raises psycopg.Error when unreachable)."""
        await self._call(self._connection)

    async def try_acquire(self) -> bool:
        return bool(await self._call(self._try_acquire))

    async def still_held(self) -> bool:
        return bool(await self._call(self._still_held))

    async def release(self) -> None:
        await self._call(self._release)

    async def holder_name(self) -> str | None:
        try:
            name = await self._call(self._holder_name)
        except psycopg.Error:
            return None
        return name if isinstance(name, str) else None

    async def others_present(self) -> int:
        try:
            return int(await self._call(self._others_present))
        except psycopg.Error:
            return 0

    async def close(self) -> None:
        """Release (if held) and close the connection; stops the worker thread."""
        await self._call(self._release)
        await self._call(self._drop)
        self._executor.shutdown(wait=True)
