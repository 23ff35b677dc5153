"""Root fixtures shared by every test package.

`database_url` runs a test once on SQLite and once on a real PostgreSQL server (the
one `scripts/run-tests` starts and names in FRONTDESK_TEST_DATABASE_URL), each time
on a fresh, empty database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["QT_API"] = "pyside6"

TEST_DATABASE_URL_ENV = "FRONTDESK_TEST_DATABASE_URL"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def _fresh_postgres_database() -> Iterator[str]:
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    base = os.environ.get(TEST_DATABASE_URL_ENV, "")
    if not base:
        reason = (
            f"{TEST_DATABASE_URL_ENV} is not set: no PostgreSQL server to test against "
            "(`bash scripts/run-tests` starts one)"
        )
        if _in_ci():
            pytest.fail(f"{reason}; CI must run the PostgreSQL tests", pytrace=False)
        pytest.skip(reason)

    url = make_url(base)

    def admin() -> psycopg.Connection[tuple[object, ...]]:
        # The server's own `postgres` database: CREATE/DROP DATABASE need autocommit.
        return psycopg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username or "postgres",
            password=url.password,
            dbname="postgres",
            autocommit=True,
        )

    name = f"fd_{uuid.uuid4().hex}"
    with admin() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of a fresh, empty database: SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/frontdesk.db"
    else:
        yield from _fresh_postgres_database()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A fresh, empty directory to use as Frontdesk's --data-dir."""
    path = tmp_path / "data"
    path.mkdir()
    return path
