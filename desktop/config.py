"""Where things are and how to reach them: the command line over the environment.

Resolved once at start-up into a frozen :class:`AppConfig`; nothing reads the
environment after that.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from services.office_db import with_password
from services.private_files import private_dir
from services.storage.database import DATABASE_FILE, default_sqlite_url
from services.this_pc import ThisPc

DEFAULT_PORT = 8765


@dataclass(frozen=True)
class AppConfig:
    data_dir: Path
    database_url: str
    host: str
    port: int
    public_url: str | None  # FRONTDESK_PUBLIC_URL: no tunnel when set
    twilio_base_url: str | None  # FRONTDESK_TWILIO_BASE_URL

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"


class ConfigError(ValueError):
    """A command-line option or environment variable that cannot be used."""


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("Frontdesk", appauthor=False))


def resolve(
    *,
    data_dir: str | None = None,
    host: str | None = None,
    port: int | None = None,
    environ: Mapping[str, str] | None = None,
    database_password: Callable[[], str | None] | None = None,
) -> AppConfig:
    """The configuration. The database is ``FRONTDESK_DATABASE_URL``, else the office
    database this PC joined (``this-pc.json``, its password from the keyring through
    ``database_password``), else this PC's own SQLite file."""
    env = os.environ if environ is None else environ
    folder = Path(data_dir or env.get("FRONTDESK_DATA_DIR") or default_data_dir()).expanduser()
    try:
        # 0700 when created; an existing folder is tightened once it holds our database
        # (never a folder the user merely pointed us at, such as their home).
        private_dir(folder, ours=(folder / DATABASE_FILE).exists())
    except OSError as exc:
        raise ConfigError(f"cannot use data directory {folder}: {exc.strerror}") from None
    if port is None:
        raw = env.get("FRONTDESK_PORT", "")
        if raw:
            if not raw.isdigit() or not 0 <= int(raw) <= 65535:
                raise ConfigError(f"FRONTDESK_PORT={raw!r} is not a port number (0-65535)")
            port = int(raw)
        else:
            port = DEFAULT_PORT
    public = (env.get("FRONTDESK_PUBLIC_URL") or "").strip() or None
    if public and not public.startswith(("https://", "http://")):
        raise ConfigError(f"FRONTDESK_PUBLIC_URL={public!r} must start with https://")
    return AppConfig(
        data_dir=folder,
        database_url=env.get("FRONTDESK_DATABASE_URL")
        or joined_database(folder, database_password)
        or default_sqlite_url(folder),
        host=host or "127.0.0.1",
        port=port,
        public_url=public.rstrip("/") if public else None,
        twilio_base_url=(env.get("FRONTDESK_TWILIO_BASE_URL") or "").strip() or None,
    )


def joined_database(folder: Path, password: Callable[[], str | None] | None = None) -> str | None:
    """The office database this PC joined (``this-pc.json`` in ``folder``), with its
    password from the keyring (``password``, default the OS keyring); None if none."""
    url = ThisPc(folder).database_url
    if url is None:
        return None
    if password is None:
        from services.credentials import CredentialStore

        password = CredentialStore().load_database_password
    return with_password(url, password())
