"""Engines, sessions and the unit of work; all database work runs off the event loop.

``Database.run(fn)`` executes ``fn(uow)`` on a worker thread and commits only when
``fn`` calls ``uow.commit()``: anything else (an exception included) rolls back. The
event loop, which in the app is the GUI thread, never waits on SQLite or PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from services.storage.workers import PriorityWorkers

log = logging.getLogger(__name__)

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 5000


def default_sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'frontdesk.db'}"


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; SQLite gets WAL mode, a busy timeout and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


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

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        workers = 1 if is_sqlite(self.engine) else 4
        self._workers = PriorityWorkers(workers, "frontdesk-db")

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

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

        result = await asyncio.wrap_future(self._workers.submit(work, urgent=urgent), loop=loop)
        for callback in callbacks:
            callback()
        return result

    def close(self) -> None:
        """Stop the workers (waiting for running work) and dispose of the engine."""
        self._workers.shutdown()
        self.engine.dispose()
