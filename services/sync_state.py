"""Small JSON key/value state that is not a user setting (wiring backups, cursors)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from services.storage.models import SyncState


def get(session: Session, key: str, default: Any = None) -> Any:
    row = session.get(SyncState, key)
    return json.loads(row.value) if row is not None else default


def put(session: Session, key: str, value: Any) -> None:
    row = session.get(SyncState, key)
    text = json.dumps(value)
    if row is None:
        session.add(SyncState(key=key, value=text))
    else:
        row.value = text
