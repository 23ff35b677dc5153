"""A throwaway PostgreSQL server of a test's own, with password (SCRAM) authentication.

The suite's shared server (scripts/run-tests) trusts every connection and must not be
restarted under other tests; a test that needs real passwords or a server restart
starts its own with :func:`throwaway_postgres` (initdb + pg_ctl from
/usr/lib/postgresql/*/bin, as the ``postgres`` user when running as root, like
scripts/run-tests). Skips the test when no PostgreSQL is installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

SUPERUSER_PASSWORD = "s3cret-Super"


def _bin_dir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name)
    found = [c for c in candidates if (c / "pg_ctl").exists()]
    return found[-1] if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    bin: Path
    data: Path
    port: int
    log: Path
    as_user: list[str]

    def url(
        self, user: str = "postgres", password: str = SUPERUSER_PASSWORD, db: str = "postgres"
    ) -> str:
        return f"postgresql+psycopg://{user}:{password}@127.0.0.1:{self.port}/{db}"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), *args],
            check=True,
            cwd="/",
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        self._ctl(
            "-l",
            str(self.log),
            "-w",
            "-s",
            "-o",
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.data.parent} -c fsync=off",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "-s", "stop")

    def restart(self) -> None:
        # -l again: without it the new server logs to pg_ctl's stdout (our pipe), and the
        # pipe would never close.
        self._ctl("-l", str(self.log), "-m", "fast", "-w", "-s", "restart")


@contextmanager
def throwaway_postgres() -> Iterator[Cluster]:
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("no PostgreSQL installed here")
    root = Path(tempfile.mkdtemp(prefix="fd-pg2-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    pwfile = root / "pw"
    pwfile.write_text(SUPERUSER_PASSWORD)
    if as_user:
        shutil.chown(pwfile, "postgres")
    cluster = Cluster(bin_dir, root / "data", free_port(), root / "server.log", as_user)
    try:
        subprocess.run(
            [
                *as_user,
                str(bin_dir / "initdb"),
                "-D",
                str(cluster.data),
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            check=True,
            cwd="/",
            capture_output=True,
            timeout=120,
        )
        cluster.start()
        yield cluster
    finally:
        if (cluster.data / "postmaster.pid").exists():
            with suppress(subprocess.SubprocessError):
                cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
