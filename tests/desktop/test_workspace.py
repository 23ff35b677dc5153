"""The workspace on disk: private to the user, readable when read-only, clear when not
writable. Real `frontdesk` subprocesses on real files (and a real read-only mount)."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop import logs
from tests.serve_process import frontdesk

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "FRONTDESK_"))}
    env["FRONTDESK_DATA_DIR"] = str(data_dir)
    return env


def test_a_new_workspace_is_private_to_the_user(tmp_path: Path) -> None:
    data = tmp_path / "new" / "Frontdesk"
    frontdesk("settings", "set", "business.name", "Acme", env=_env(data))
    assert _mode(data) == 0o700
    db = data / "frontdesk.db"
    assert _mode(db) == 0o600
    for suffix in ("-wal", "-shm"):
        extra = db.with_name(db.name + suffix)
        if extra.exists():
            assert _mode(extra) == 0o600


def test_an_old_workspace_left_readable_by_others_is_tightened(tmp_path: Path) -> None:
    data = tmp_path / "old"
    frontdesk("settings", "set", "business.name", "Acme", env=_env(data))
    data.chmod(0o755)
    (data / "frontdesk.db").chmod(0o644)
    frontdesk("settings", "show", env=_env(data))
    assert _mode(data) == 0o700
    assert _mode(data / "frontdesk.db") == 0o600


def test_a_folder_the_user_points_at_is_not_changed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    frontdesk("settings", "show", env=_env(home))
    assert _mode(home) == 0o755  # not ours to change...
    assert _mode(home / "frontdesk.db") == 0o600  # ...but our database is private


def test_the_log_files_are_private(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    try:
        logs.configure(folder, list, verbose=False)
        logging.getLogger("frontdesk.test").warning("a customer's number +14155550123")
    finally:
        logs.reset()
    assert _mode(folder) == 0o700
    assert _mode(folder / "frontdesk.log") == 0o600


# ---- read-only --------------------------------------------------------------------------------
@contextlib.contextmanager
def read_only_view(source: Path, where: Path) -> Iterator[Path]:
    """``source`` seen through a real read-only mount (as root, whom permission bits do
    not stop), or made read-only with chmod (as a user)."""
    if os.geteuid() != 0:
        modes = {p: _mode(p) for p in [source, *source.rglob("*")]}
        for path in modes:
            path.chmod(modes[path] & ~0o222)
        try:
            yield source
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
        return
    where.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(source), str(where)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {mounted.stderr.decode().strip()}")
    try:
        remount = ["mount", "-o", "remount,bind,ro", str(where)]
        if subprocess.run(remount, capture_output=True).returncode != 0:
            pytest.skip("cannot make a read-only mount here")
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def test_a_read_only_workspace_reads_and_refuses_writes_in_one_clear_line(
    tmp_path: Path,
) -> None:
    data = tmp_path / "ws"
    env = _env(data)
    frontdesk("settings", "set", "business.name", "Acme Plumbing", env=env)
    before = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
    with read_only_view(data, tmp_path / f"ro-{uuid.uuid4().hex[:6]}") as ro:
        ro_env = _env(ro)
        shown = frontdesk("settings", "show", "--json", env=ro_env)
        assert '"business.name": "Acme Plumbing"' in shown.stdout
        exported = frontdesk("export", env=ro_env)
        assert '"contacts": []' in exported.stdout
        for args in (("settings", "set", "business.name", "B"), ("serve", "--port", "0")):
            refused = frontdesk(*args, env=ro_env, check=False)
            assert refused.returncode == 1, refused.stderr
            lines = refused.stderr.strip().splitlines()
            assert len(lines) == 1, refused.stderr  # one line, no traceback
            assert lines[0].startswith(f"frontdesk: error: {ro}")
            assert "read-only" in lines[0] and "writable" in lines[0]
    after = {p.name: p.read_bytes() for p in data.iterdir() if p.is_file()}
    assert after == before  # nothing stored was lost (or changed)
