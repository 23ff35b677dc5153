"""Settings stored as JSON rows; a batch is validated whole before anything is written."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.settings import Settings, SettingsError, cross_check, validate
from services.storage.models import AuditEntry, Location, LocationSetting, Setting


def _other_location_has(session: Session, number: str) -> bool:
    """True when a location other than the first answers ``number`` (services.locations:
    one number, one location)."""
    taken = session.scalar(
        select(LocationSetting.location_id)
        .join(Location, Location.id == LocationSetting.location_id)
        .where(
            LocationSetting.key == "business.phone_number",
            LocationSetting.value == json.dumps(number),
            Location.removed_at.is_(None),
        )
        .limit(1)
    )
    return taken is not None


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
    number = normalised.get("business.phone_number")
    if number and _other_location_has(session, number):
        raise SettingsError(f"business.phone_number: {number} is another location's number")
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
