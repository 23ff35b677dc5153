"""What belongs to this PC, not to the office's shared database.

``team.me`` (who is at this PC), the PC's name (shown as the number holder) and the
office database it joined (its URL without the password) live in a small JSON file in
the data dir (``this-pc.json``, private to the user). Settings keep
one face: :func:`overlay` puts this PC's ``team.me`` over the shared settings and
:func:`split` takes it out of a batch of changes before they reach the shared table.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from services import settings as settings_mod
from services.settings import Settings

log = logging.getLogger(__name__)

FILE_NAME = "this-pc.json"
PER_PC_KEYS = frozenset({"team.me"})
MAX_PC_NAME = 40


def default_pc_name() -> str:
    return (socket.gethostname() or "this PC")[:MAX_PC_NAME]


class ThisPc:
    """The per-PC file; reads are cheap (a few hundred bytes), writes are atomic."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / FILE_NAME

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self.path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, data: dict[str, Any]) -> None:
        tmp = self.path.with_name(self.path.name + ".part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, indent=1)
        tmp.replace(self.path)

    @property
    def pc_name(self) -> str:
        name = self._load().get("pc_name")
        if isinstance(name, str) and name.strip():
            return name.strip()[:MAX_PC_NAME]
        return default_pc_name()

    def set_pc_name(self, name: str) -> None:
        clean = name.strip()
        if not clean or len(clean) > MAX_PC_NAME or not clean.isprintable():
            raise settings_mod.SettingsError(f"a PC name is 1-{MAX_PC_NAME} printable characters")
        self._save({**self._load(), "pc_name": clean})

    @property
    def me(self) -> str:
        value = self._load().get("team.me")
        return value if isinstance(value, str) else ""

    def set_me(self, name: str) -> str:
        """Store who is at this PC (validated like the setting); returns the stored value."""
        value = settings_mod.validate("team.me", name)
        self._save({**self._load(), "team.me": value})
        return str(value)

    @property
    def database_url(self) -> str | None:
        """The office database this PC joined (no password: that is in the keyring), or
        None for the PC's own SQLite database."""
        value = self._load().get("database_url")
        return value if isinstance(value, str) and value else None

    def set_database_url(self, url: str | None) -> None:
        """Join the office database ``url`` (must hold no password), or leave it (None)."""
        data = self._load()
        if url is None:
            data.pop("database_url", None)
        else:
            if make_url(url).password is not None:
                raise ValueError("the password goes to the keyring, never into this file")
            data["database_url"] = url
        self._save(data)

    def overlay(self, shared: Settings) -> Settings:
        """The shared settings with this PC's ``team.me`` (when this PC has one)."""
        data = self._load()
        if "team.me" not in data:
            return shared  # a workspace from before team.me moved here keeps its value
        return shared.with_changes({"team.me": self.me})

    @staticmethod
    def split(changes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(per-PC changes, shared changes)``; the per-PC ones validated (SettingsError).

        The caller writes the shared ones first and :meth:`apply` the per-PC ones only
        once those committed, so a refused batch stores nothing anywhere.
        """
        mine = {k: settings_mod.validate(k, v) for k, v in changes.items() if k in PER_PC_KEYS}
        return mine, {k: v for k, v in changes.items() if k not in PER_PC_KEYS}

    def apply(self, mine: Mapping[str, Any]) -> None:
        if "team.me" in mine:
            self.set_me(mine["team.me"])
