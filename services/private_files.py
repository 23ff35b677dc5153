"""The workspace is private to the user: directories 0700, files 0600 (Linux and macOS).

The database, its WAL and shared-memory files and the logs hold every customer's texts:
no other local user may read them. SQLite creates ``-wal`` and ``-shm`` with the
database file's own permissions, so creating the database file 0600 first covers them;
files an older version left 0644 are tightened when opened. On Windows permission bits do
not apply: the data dir sits in the user's profile, whose ACL already keeps other users
out.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Final

__all__ = ["DIR_MODE", "FILE_MODE", "POSIX", "private_dir", "private_file", "tighten"]

DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600
POSIX: Final = os.name == "posix"


def private_dir(path: Path, *, ours: bool = True) -> Path:
    """Create ``path`` (and missing parents) as 0700. An existing directory is tightened
    only when ``ours`` (it is Frontdesk's own folder, not one the user pointed us at)."""
    existed = path.is_dir()
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if POSIX and (ours or not existed):
        tighten(path)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty as 0600 when missing (never truncating it); tighten it to
    0600 when it exists."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
        os.close(fd)
    tighten(path)
    return path


def tighten(path: Path) -> None:
    """Take the group's and others' permissions off ``path`` (POSIX; a no-op elsewhere
    and for a path that does not exist or that we may not change, e.g. read-only)."""
    if not POSIX:
        return
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(mode & ~0o077)
    except OSError:
        pass
