"""Joining an office database: every error case against a real PostgreSQL (a throwaway
server with password authentication), the URL stored per PC, the password in the
keyring, FRONTDESK_DATABASE_URL still first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from desktop.config import resolve
from services import office_db
from services.holder import libpq_url
from services.office_db import OfficeDatabaseError, check_database, normalise_url, on_network_share
from services.this_pc import ThisPc
from tests.pg_cluster import Cluster, free_port, throwaway_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with throwaway_postgres() as c:
        with psycopg.connect(libpq_url(c.url()), autocommit=True) as admin:
            admin.execute("CREATE ROLE dana LOGIN PASSWORD 'right-one'")
            admin.execute("CREATE DATABASE office OWNER dana")
            admin.execute("CREATE ROLE guest LOGIN PASSWORD 'guest-pw'")
            admin.execute("CREATE DATABASE shared_by_postgres")  # owned by postgres
        yield c


def test_a_good_database_passes(cluster: Cluster) -> None:
    url = f"postgresql://dana@127.0.0.1:{cluster.port}/office"
    check = check_database(url, "right-one")
    assert check.ok, check.problem
    assert check.server_version.split(".")[0].isdigit()
    # The password may also be in the URL, and postgres:// is accepted.
    assert check_database(f"postgres://dana:right-one@127.0.0.1:{cluster.port}/office").ok


def test_wrong_password(cluster: Cluster) -> None:
    check = check_database(f"postgresql://dana@127.0.0.1:{cluster.port}/office", "wrong")
    assert not check.ok
    assert check.problem == f"Wrong user name or password for dana at 127.0.0.1:{cluster.port}."
    check = check_database(f"postgresql://dana@127.0.0.1:{cluster.port}/office", "")
    assert "wants a password for dana" in check.problem


def test_missing_database(cluster: Cluster) -> None:
    check = check_database(f"postgresql://dana@127.0.0.1:{cluster.port}/nope", "right-one")
    assert not check.ok
    assert check.problem.startswith("There is no database called nope at 127.0.0.1:")
    assert "createdb -O dana nope" in check.problem


def test_refused_connection() -> None:
    port = free_port()  # nothing listens there
    check = check_database(f"postgresql://dana@127.0.0.1:{port}/office", "x")
    assert not check.ok
    assert check.problem.startswith(f"Nothing answers at 127.0.0.1:{port}: is PostgreSQL running")


def test_a_server_older_than_supported(cluster: Cluster) -> None:
    # The real server's version against a minimum above it (no PostgreSQL 12 to run here).
    url = f"postgresql://dana@127.0.0.1:{cluster.port}/office"
    version = check_database(url, "right-one").server_version
    check = check_database(url, "right-one", minimum=990000)
    assert not check.ok
    assert check.problem == (
        f"The server at 127.0.0.1:{cluster.port} runs PostgreSQL {version}; Frontdesk needs "
        "PostgreSQL 99 or newer. Upgrade it, or install a current PostgreSQL for the office."
    )
    assert check_database(url, "right-one", minimum=130000).ok


def test_a_role_that_may_not_create_tables(cluster: Cluster) -> None:
    check = check_database(
        f"postgresql://guest@127.0.0.1:{cluster.port}/shared_by_postgres", "guest-pw"
    )
    assert not check.ok
    assert "guest may not create tables in shared_by_postgres" in check.problem
    assert "ALTER DATABASE shared_by_postgres OWNER TO guest;" in check.problem


def test_what_is_not_a_postgresql_address() -> None:
    for text, words in [
        ("", "Type the office database's address"),
        ("mysql://a@b/c", "mysql:// is not supported"),
        ("postgresql:///frontdesk", "Say which computer"),
        ("postgresql://a@server", "Say which database"),
        ("sqlite:////home/me/fd.db", "SQLite is one PC's database"),
        ("/home/me/frontdesk.db", "SQLite is one PC's database"),
        ("postgresql://a@b/c\x00", "not a database address"),
    ]:
        with pytest.raises(OfficeDatabaseError, match=words):
            normalise_url(text)
        assert words in check_database(text).problem
    assert normalise_url(" postgres://a:b@host:5433/db ") == "postgresql+psycopg://a:b@host:5433/db"


def test_sqlite_on_a_network_share() -> None:
    mounts = (
        "/dev/sda1 / ext4 rw 0 0\n"
        "//nas/office /mnt/office cifs rw 0 0\n"
        "nas:/export /srv/nfs nfs4 rw 0 0\n"
        "tmpfs /mnt/office/local tmpfs rw 0 0\n"
    )
    assert on_network_share("/mnt/office/frontdesk.db", mounts=mounts)
    assert on_network_share("/srv/nfs/a/b.db", mounts=mounts)
    assert not on_network_share("/home/me/frontdesk.db", mounts=mounts)
    assert not on_network_share("/mnt/office/local/fd.db", mounts=mounts)  # nearest mount wins
    assert on_network_share(r"\\NAS\office\frontdesk.db", mounts="")
    assert on_network_share("//nas/office/frontdesk.db", mounts="")
    with pytest.raises(OfficeDatabaseError, match="is on a network share"):
        normalise_url(r"sqlite:///\\NAS\office\frontdesk.db")


def test_the_url_is_this_pcs_and_the_password_never_on_disk(tmp_path: Path) -> None:
    pc = ThisPc(tmp_path)
    with pytest.raises(ValueError, match="keyring"):
        pc.set_database_url("postgresql+psycopg://dana:pw@server/office")
    pc.set_database_url("postgresql+psycopg://dana@server/office")
    stored = json.loads((tmp_path / "this-pc.json").read_text())
    assert stored["database_url"] == "postgresql+psycopg://dana@server/office"
    assert (tmp_path / "this-pc.json").stat().st_mode & 0o077 == 0

    config = resolve(data_dir=str(tmp_path), environ={}, database_password=lambda: "pw")
    assert config.database_url == "postgresql+psycopg://dana:pw@server/office"
    # The environment still overrides.
    env = {"FRONTDESK_DATABASE_URL": "postgresql+psycopg://x@elsewhere/db"}
    config = resolve(data_dir=str(tmp_path), environ=env, database_password=lambda: "pw")
    assert config.database_url == "postgresql+psycopg://x@elsewhere/db"
    pc.set_database_url(None)
    config = resolve(data_dir=str(tmp_path), environ={}, database_password=lambda: "pw")
    assert config.database_url.startswith("sqlite")
    assert office_db.split_password("postgresql+psycopg://a:b@h/d") == (
        "postgresql+psycopg://a@h/d",
        "b",
    )
    assert "b" not in office_db.shown("postgresql+psycopg://a:b@h/d").split("@")[0].split(":")[-1]
