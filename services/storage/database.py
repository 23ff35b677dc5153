"""Engines, sessions and the unit of work; all database work runs off the event loop.

``Database.run(fn)`` executes ``fn(uow)`` on a worker thread and commits only when
``fn`` calls ``uow.commit()``: anything else (an exception included) rolls back. The
event loop, which in the app is the GUI thread, never waits on SQLite or PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from services.private_files import private_file, tighten
from services.storage.workers import PriorityWorkers

log = logging.getLogger(__name__)

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 5000
# SQLite checkpoints its WAL into the database file every 1000 pages, inside whichever
# commit crosses the mark: a copy and two fsyncs, 10-200 ms on a busy disk, landing on
# whatever unit of work is unlucky, urgent ones included (under a burst, every text-back
# queued behind it waits). The Database turns that off and checkpoints itself, as
# ordinary (not urgent) work, after this many commits.
SQLITE_CHECKPOINT_EVERY = 200


DATABASE_FILE = "frontdesk.db"


def default_sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / DATABASE_FILE}"


def make_engine(url: str, *, read_only: bool = False, own_checkpoints: bool = False) -> Engine:
    """Create an engine for ``url``; SQLite gets WAL mode, a busy timeout and foreign keys,
    and its files (database, WAL, shared memory) are private to the user (0600).

    ``read_only`` (SQLite) opens the file without writing anything next to it, for the
    read-only commands on a workspace that is not writable (:func:`sqlite_read_only_url`).
    ``own_checkpoints`` (SQLite): no automatic WAL checkpoints; the caller runs them.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if read_only:
            url = sqlite_read_only_url(Path(parsed.database or ""))
        else:
            _private_sqlite_files(parsed.database)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            if not read_only:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                if own_checkpoints:
                    cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def sqlite_writable(url: str) -> bool:
    """False when ``url`` is a SQLite file whose folder or file cannot be written (a
    read-only mount, a folder without write permission); True otherwise."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return True
    path = Path(parsed.database)
    if path.exists() and not os.access(path, os.W_OK):
        return False
    return os.access(path.parent, os.W_OK)


def sqlite_read_only_url(path: Path) -> str:
    """A URL that reads the SQLite database at ``path`` without writing a byte.

    ``mode=ro`` reads the WAL too, but needs the ``-shm`` file to exist already (SQLite
    cannot create it in a read-only folder); with no ``-wal`` file there is nothing
    outside the main file, and ``immutable=1`` reads it as it stands.
    """
    uri = path.resolve().as_uri()
    wal = path.with_name(path.name + "-wal")
    shm = path.with_name(path.name + "-shm")
    if wal.exists() and wal.stat().st_size > 0 and shm.exists():
        return f"sqlite:///{uri}?mode=ro&uri=true"
    return f"sqlite:///{uri}?mode=ro&immutable=1&uri=true"


def _private_sqlite_files(database: str | None) -> None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.exists() and path.parent.is_dir():
        try:
            private_file(path)  # SQLite gives -wal and -shm the database file's mode
        except OSError:
            return  # a read-only folder: SQLite says so, clearly, when it is opened
    for suffix in ("", "-wal", "-shm", "-journal"):
        tighten(path.with_name(path.name + suffix))


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class UnitOfWork:
    """One transaction. Nothing is kept unless :meth:`commit` is called."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._after_commit: list[Callable[[], None]] = []
        self.committed = False

    def commit(self) -> None:
        self.session.commit()
        self.committed = True

    def rollback(self) -> None:
        self.session.rollback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the event-loop thread once this unit of work has committed."""
        self._after_commit.append(callback)


class Database:
    """Owns the engine and a worker pool; the only door to storage for the services.

    SQLite gets one worker (one writer at a time is what SQLite does anyway, and it keeps
    ``database is locked`` out of the picture); PostgreSQL gets a few.
    """

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only
        sqlite = make_url(url).get_backend_name() == "sqlite"
        self._checkpoints = sqlite and not read_only
        self.engine = make_engine(url, read_only=read_only, own_checkpoints=self._checkpoints)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._commits = 0  # since the last checkpoint (SQLite: one worker counts them)
        workers = 1 if sqlite else 4
        self._workers = PriorityWorkers(workers, "frontdesk-db")
        # One worker: units of work are written in the order they were queued.
        self.one_writer = workers == 1

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def give_way_to(self, loop_idle: threading.Event | None) -> None:
        """Start work that is not urgent when the event loop is idle (``loop_idle`` set;
        see :mod:`services.loop_idle`), within a few milliseconds."""
        self._workers.give_way_to(loop_idle)

    def run_sync(self, fn: Callable[[UnitOfWork], T]) -> T:
        """Run ``fn`` in a unit of work on the calling thread (CLI and worker use only)."""
        with self._sessions() as session:
            uow = UnitOfWork(session)
            try:
                result = fn(uow)
            finally:
                if session.in_transaction():
                    session.rollback()
        if uow.committed:
            for callback in uow._after_commit:
                callback()
        return result

    async def run(self, fn: Callable[[UnitOfWork], T], *, urgent: bool = False) -> T:
        """Run ``fn`` on a worker thread; after-commit callbacks run back on the loop.

        ``urgent`` work (what stands between a caller and their text) runs before any
        other queued work.
        """
        loop = asyncio.get_running_loop()
        callbacks: list[Callable[[], None]] = []

        def work() -> T:
            with self._sessions() as session:
                uow = UnitOfWork(session)
                try:
                    return fn(uow)
                finally:
                    if session.in_transaction():
                        session.rollback()
                    if uow.committed:
                        callbacks.extend(uow._after_commit)
                        self._committed()

        result = await asyncio.wrap_future(self._workers.submit(work, urgent=urgent), loop=loop)
        for callback in callbacks:
            callback()
        return result

    def _committed(self) -> None:
        """Count a commit (on the worker); every SQLITE_CHECKPOINT_EVERY, queue a
        checkpoint behind any urgent work."""
        if not self._checkpoints:
            return
        self._commits += 1
        if self._commits >= SQLITE_CHECKPOINT_EVERY:
            self._commits = 0
            with contextlib.suppress(RuntimeError):  # closing: SQLite checkpoints on close
                self._workers.submit(self.checkpoint)

    def checkpoint(self) -> None:
        """Copy the WAL into the database file (PASSIVE: never waits for readers)."""
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception as exc:  # the next one catches up; SQLite never loses a frame
            log.warning("WAL checkpoint failed: %s", exc)

    def close(self) -> None:
        """Stop the workers (waiting for running work) and dispose of the engine."""
        self._workers.shutdown()
        self.engine.dispose()
