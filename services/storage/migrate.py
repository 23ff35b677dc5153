"""Bring a database to the newest schema with Alembic (programmatic; no alembic.ini needed).

Alembic is imported only when there is something to do: a database already at
:data:`HEAD` (every launch but the first after an update) is recognised by one query,
and the launch does not pay ~100 ms for importing Alembic and reading every migration
script.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# The newest revision in migrations/versions; a test checks it against the scripts, so a
# new migration without this line changed fails the suite.
HEAD = "0023"


def current_revisions(engine: Engine) -> set[str]:
    """The revisions ``engine``'s database is at (empty for a new database); reads only."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return set()
        rows = connection.execute(text("SELECT version_num FROM alembic_version"))
        return {row[0] for row in rows}


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every pending migration to ``engine``'s database, in one transaction.

    On SQLite, foreign keys are off while migrating: a migration that rebuilds a table
    (how SQLite drops or retypes a column) drops the old one, and with foreign keys on
    that drop would fire every ON DELETE action pointing at it (SET NULL on each job's
    and message's call, CASCADE on a contact's thread). The keys are checked after.
    """
    if revision == "head" and current_revisions(engine) == {HEAD}:
        return
    from alembic import command

    config = alembic_config(str(engine.url))
    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        return
    with engine.connect() as connection:
        # Only outside a transaction does SQLite take this pragma.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left broken references: {broken[:5]}")
        finally:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def is_current(engine: Engine) -> bool:
    """True when ``engine``'s database is at the newest revision (reads only)."""
    return current_revisions(engine) == {HEAD}


def script_heads() -> set[str]:
    """The head revisions the migration scripts define (imports Alembic; for tests)."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())
