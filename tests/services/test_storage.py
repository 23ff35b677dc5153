"""Storage: migrations build exactly the models' schema; a unit of work keeps nothing
unless committed; SQLite runs in WAL mode with a busy timeout."""

from __future__ import annotations

import asyncio
import functools
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text

from services.storage import migrate
from services.storage.database import SQLITE_CHECKPOINT_EVERY, Database, UnitOfWork
from services.storage.models import Base, Contact

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Database:
    database = Database(database_url)
    migrate.upgrade(database.engine)
    yield database  # type: ignore[misc]
    database.close()


def test_migrations_build_the_models_schema(db: Database) -> None:
    with db.engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    # The search indexes (FTS5 tables, the tsvector GIN index) are dialect-specific and
    # live in migration 0002 only, on purpose.
    diffs = [d for d in diffs if "messages_fts" not in str(d) and "body_fts" not in str(d)]
    assert diffs == []


def test_head_names_the_newest_migration(db: Database) -> None:
    """``migrate.HEAD`` is what lets a launch skip Alembic: it must be the scripts' head,
    and a database it upgraded must be recognised as current without Alembic."""
    assert migrate.script_heads() == {migrate.HEAD}
    assert migrate.current_revisions(db.engine) == {migrate.HEAD}
    assert migrate.is_current(db.engine)


def test_an_older_database_is_upgraded_and_not_mistaken_for_current(database_url: str) -> None:
    database = Database(database_url)
    try:
        assert migrate.current_revisions(database.engine) == set()
        assert not migrate.is_current(database.engine)
        migrate.upgrade(database.engine, "0013")
        assert not migrate.is_current(database.engine)
        migrate.upgrade(database.engine)
        assert migrate.current_revisions(database.engine) == {migrate.HEAD}
    finally:
        database.close()


def test_migrations_go_down_and_up_again(db: Database) -> None:
    config = migrate.alembic_config(db.url)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    migrate.upgrade(db.engine)
    assert db.run_sync(lambda uow: uow.session.scalar(select(func.count(Contact.id)))) == 0


def test_upgrading_a_working_office_keeps_every_link_and_decision(database_url: str) -> None:
    """An office on revision 0003 with a texted call, a skipped one and a message: the
    send-lifecycle migration keeps each call's job and message linked (on SQLite a table
    rebuild with foreign keys on would have nulled every call_id) and gives the skipped
    decision its job."""
    database = Database(database_url)
    try:
        migrate.upgrade(database.engine, "0003")
        at = "2026-11-20 10:00:00"
        with database.engine.begin() as c:
            c.execute(
                text(
                    "INSERT INTO contacts (id, phone, notes, opted_out, created_at, updated_at)"
                    " VALUES (1, '+14155550123', '', false, :at, :at)"
                ),
                {"at": at},
            )
            c.execute(
                text(
                    "INSERT INTO conversations (id, contact_id, last_preview, unread_count)"
                    " VALUES (1, 1, '', 0)"
                )
            )
            for call_id, state in ((1, "sent"), (2, "skipped")):
                c.execute(
                    text(
                        "INSERT INTO calls (id, sid, from_raw, phone, to_number, contact_id,"
                        " started_at, status, outcome, mode, after_hours, textback_state,"
                        " textback_reason, source) VALUES (:id, :sid, '+14155550123',"
                        " '+14155550123', '+15005550001', 1, :at, 'completed', 'missed',"
                        " 'ring', false, :state, :reason, 'live')"
                    ),
                    {
                        "id": call_id,
                        "sid": f"CA{call_id:032x}",
                        "at": at,
                        "state": state,
                        "reason": "repeat_caller" if state == "skipped" else None,
                    },
                )
            c.execute(
                text(
                    "INSERT INTO messages (id, sid, conversation_id, direction, body, status,"
                    " kind, call_id, created_at) VALUES (1, 'SM1', 1, 'out', 'Hi', 'delivered',"
                    " 'textback', 1, :at)"
                ),
                {"at": at},
            )
            c.execute(
                text(
                    "INSERT INTO jobs (kind, state, due_at, contact_id, call_id, message_id,"
                    " template_key, attempts, created_at) VALUES ('textback', 'done', :at, 1,"
                    " 1, 1, 'templates.missed_call', 1, :at)"
                ),
                {"at": at},
            )
        migrate.upgrade(database.engine)
        with database.engine.connect() as c:
            jobs = c.execute(
                text("SELECT call_id, state, message_id, reason FROM jobs ORDER BY call_id")
            ).all()
            message_call = c.execute(text("SELECT call_id FROM messages")).scalar()
        assert [tuple(j) for j in jobs] == [
            (1, "sent", 1, None),
            (2, "skipped", None, "repeat_caller"),
        ]
        assert message_call == 1
    finally:
        database.close()


def _add(uow: UnitOfWork, *, commit: bool) -> None:
    uow.session.add(
        Contact(phone="+14155550123", notes="", opted_out=False, created_at=NOW, updated_at=NOW)
    )
    if commit:
        uow.commit()


def _add_number(uow: UnitOfWork, *, i: int) -> None:
    phone = f"+1415{5550000 + i}"
    uow.session.add(Contact(phone=phone, notes="", opted_out=False, created_at=NOW, updated_at=NOW))
    uow.commit()


def _count(uow: UnitOfWork) -> int:
    return int(uow.session.scalar(select(func.count(Contact.id))) or 0)


def test_unit_of_work_rolls_back_unless_committed(db: Database) -> None:
    db.run_sync(lambda uow: _add(uow, commit=False))
    assert db.run_sync(_count) == 0
    with pytest.raises(RuntimeError):

        def fail(uow: UnitOfWork) -> None:
            _add(uow, commit=False)
            uow.session.flush()
            raise RuntimeError("boom")

        db.run_sync(fail)
    assert db.run_sync(_count) == 0
    asyncio.run(db.run(lambda uow: _add(uow, commit=True)))
    assert db.run_sync(_count) == 1


def test_after_commit_callbacks_run_only_after_a_commit(db: Database) -> None:
    seen: list[str] = []

    def no_commit(uow: UnitOfWork) -> None:
        uow.after_commit(lambda: seen.append("uncommitted"))

    def commit(uow: UnitOfWork) -> None:
        uow.after_commit(lambda: seen.append("committed"))
        _add(uow, commit=True)

    async def main() -> None:
        await db.run(no_commit)
        await db.run(commit)

    asyncio.run(main())
    assert seen == ["committed"]


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'frontdesk.db'}")
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.close()


def test_sqlite_wal_is_checkpointed_as_ordinary_work_not_inside_a_commit(tmp_path: Path) -> None:
    """No commit pays for a checkpoint (autocheckpoint off), yet the WAL stays bounded:
    the Database checkpoints it itself every SQLITE_CHECKPOINT_EVERY commits."""
    path = tmp_path / "frontdesk.db"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db.engine)
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 0
        page = int(connection.execute(text("PRAGMA page_size")).scalar() or 0)
    commits = 10 * SQLITE_CHECKPOINT_EVERY

    async def main() -> None:
        for i in range(commits):  # each commit appends at least one page to the WAL
            await db.run(functools.partial(_add_number, i=i))
        await db.run(_count)  # the last queued checkpoint has run

    try:
        asyncio.run(main())
        wal = path.with_name(path.name + "-wal").stat().st_size
        assert wal < commits / 2 * page, f"WAL of {wal} bytes after {commits} commits"
    finally:
        db.close()
