"""Locations as rows (``locations``, ``location_settings``); pure rules in services.locations.

Each function takes the unit of work's session and leaves committing to the caller; a
change is validated whole before anything is written (nothing is written when any part is
refused). The first location's values are the office's settings, written through
:mod:`services.settings_store`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services import settings_store
from services.locations import (
    FIRST,
    MAX_LOCATIONS,
    Location,
    LocationError,
    LocationRow,
    Locations,
    check_key,
    check_number_free,
    clean_name,
)
from services.settings import cross_check, validate
from services.storage.models import AuditEntry, LocationSetting
from services.storage.models import Location as LocationModel


def load(session: Session) -> Locations:
    """Every active location, resolved against the office's settings."""
    office = settings_store.load(session)
    rows = session.scalars(
        select(LocationModel).where(LocationModel.removed_at.is_(None)).order_by(LocationModel.id)
    ).all()
    values: dict[int, dict[str, Any]] = {}
    for item in session.scalars(select(LocationSetting)):
        values.setdefault(item.location_id, {})[item.key] = json.loads(item.value)
    return Locations(office, [LocationRow(r.id, r.name, values.get(r.id, {})) for r in rows])


def add(session: Session, name: str, number: str, *, actor: str, now: datetime) -> Location:
    """A new location called ``name`` answering ``number`` (E.164, checked at Twilio by
    the caller before this); everything else it inherits from the office."""
    clean = clean_name(name)
    phone = validate("business.phone_number", number)
    if not phone:
        raise LocationError("a new location needs its Twilio number")
    current = load(session)
    if len(current) >= MAX_LOCATIONS:
        raise LocationError(f"an office has at most {MAX_LOCATIONS} locations")
    _check_name_free(session, clean, for_id=None)
    check_number_free(current, phone, for_id=None)
    row = LocationModel(name=clean, created_at=now)
    session.add(row)
    session.flush()
    session.add(
        LocationSetting(
            location_id=row.id,
            key="business.phone_number",
            value=json.dumps(phone),
            updated_at=now,
        )
    )
    _audit(session, now, actor, "location.add", row.id, name=clean, number=phone)
    session.flush()
    return load(session).get(row.id)


def rename(session: Session, location_id: int, name: str, *, actor: str, now: datetime) -> None:
    clean = clean_name(name)
    row = _active(session, location_id)
    _check_name_free(session, clean, for_id=location_id)
    row.name = clean
    _audit(session, now, actor, "location.rename", location_id, name=clean)


def remove(session: Session, location_id: int, *, actor: str, now: datetime) -> None:
    """Retire a location: its threads stay (history), its number is no longer wired
    and a call or text to it lands in the first location's inbox."""
    if location_id == FIRST:
        raise LocationError("the first location is the office itself and cannot be removed")
    row = _active(session, location_id)
    _audit(session, now, actor, "location.remove", location_id, name=row.name)
    row.removed_at = now
    # Its old threads keep a label that says so, and the name is free for a new one.
    row.name = f"{row.name[:60]} (removed #{row.id})"


def set_values(
    session: Session,
    location_id: int,
    changes: Mapping[str, Any],
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Set ``changes`` for one location; returns the normalised values.

    For the first location these are the office's settings (every key allowed). For
    another, only :data:`~services.locations.LOCATION_KEYS`, each validated as the
    office's would be, and checked together with what the location inherits.
    """
    current = load(session)
    location = current.get(location_id)
    if location.id != location_id:
        raise LocationError(f"location {location_id} does not exist")
    if location_id == FIRST:
        return settings_store.apply_changes(session, changes, actor=actor, now=now)
    for key in changes:
        check_key(key)
    normalised = {key: validate(key, value) for key, value in changes.items()}
    if "business.phone_number" in normalised:
        if not normalised["business.phone_number"]:
            raise LocationError("a location other than the first needs its Twilio number")
        check_number_free(current, normalised["business.phone_number"], for_id=location_id)
    cross_check(location.settings.with_changes(normalised))
    for key, value in normalised.items():
        row = session.get(LocationSetting, (location_id, key))
        text = json.dumps(value)
        if row is None:
            session.add(
                LocationSetting(location_id=location_id, key=key, value=text, updated_at=now)
            )
        else:
            row.value = text
            row.updated_at = now
    _audit(session, now, actor, "location.set", location_id, keys=sorted(normalised))
    return normalised


def reset_values(
    session: Session, location_id: int, keys: Iterable[str], *, actor: str, now: datetime
) -> list[str]:
    """Let a location inherit ``keys`` from the office again (not its number)."""
    if location_id == FIRST:
        raise LocationError("the first location's values are the office's own")
    _active(session, location_id)
    wanted = sorted(set(keys))
    for key in wanted:
        check_key(key)
    if "business.phone_number" in wanted:
        raise LocationError("a location keeps its own Twilio number")
    session.execute(
        delete(LocationSetting).where(
            LocationSetting.location_id == location_id, LocationSetting.key.in_(wanted)
        )
    )
    _audit(session, now, actor, "location.reset", location_id, keys=wanted)
    return wanted


def _active(session: Session, location_id: int) -> LocationModel:
    row = session.get(LocationModel, location_id)
    if row is None or row.removed_at is not None:
        raise LocationError(f"location {location_id} does not exist")
    return row


def _check_name_free(session: Session, name: str, *, for_id: int | None) -> None:
    taken = session.scalar(
        select(LocationModel.id).where(
            func.lower(LocationModel.name) == name.lower(), LocationModel.removed_at.is_(None)
        )
    )
    if taken is not None and taken != for_id:
        raise LocationError(f"there is already a location called {name!r}")


def _audit(
    session: Session, now: datetime, actor: str, action: str, location_id: int, **detail: Any
) -> None:
    session.add(
        AuditEntry(
            at=now, actor=actor, action=action, subject=f"location:{location_id}", detail=detail
        )
    )
