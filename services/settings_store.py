"""Settings stored as JSON rows; a batch is validated whole before anything is written."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.settings import Settings, cross_check, validate
from services.storage.models import AuditEntry, Setting


def load(session: Session) -> Settings:
    rows = session.scalars(select(Setting)).all()
    return Settings({row.key: json.loads(row.value) for row in rows})


def apply_changes(
    session: Session, changes: Mapping[str, Any], *, actor: str, now: datetime
) -> dict[str, Any]:
    """Validate every change, then write them all; returns the normalised values.

    Nothing is written when any value is refused (the caller's unit of work is left
    untouched). The caller commits.
    """
    normalised = {key: validate(key, value) for key, value in changes.items()}
    cross_check(load(session).with_changes(normalised))
    for key, value in normalised.items():
        row = session.get(Setting, key)
        text = json.dumps(value)
        if row is None:
            session.add(Setting(key=key, value=text, updated_at=now))
        else:
            row.value = text
            row.updated_at = now
    session.add(
        AuditEntry(
            at=now,
            actor=actor,
            action="settings.set",
            subject=None,
            detail={"keys": sorted(normalised)},
        )
    )
    return normalised
