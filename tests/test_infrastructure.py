"""The test plumbing itself: both database backends are really there."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text


def test_database_url_gives_a_working_database(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("select 1")).scalar_one() == 1
    finally:
        engine.dispose()


def test_data_dir_is_fresh_and_empty(data_dir: Path) -> None:
    assert data_dir.is_dir()
    assert list(data_dir.iterdir()) == []
