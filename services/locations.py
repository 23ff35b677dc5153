"""Locations: the office's Twilio numbers, each with its own values; pure, no storage.

An office starts with one location, the first (id :data:`FIRST`): its values *are* the
office's settings keys (DESIGN.md's keys keep their meaning). Another location sets only
what differs (:data:`LOCATION_KEYS`: its number, name, time zone, hours, closed days,
phones to ring, templates, booking link, quiet hours, greeting); everything else falls back
to the office's value. :class:`Locations` is one immutable snapshot of them all, resolved:
each :class:`Location` carries its effective :class:`~services.settings.Settings`, so the
policy, the templates and the TwiML read a location's values exactly as they read the
office's. Storage is :mod:`services.location_store`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.settings import Settings, SettingsError

FIRST = 1

# What a location may set for itself; every other key is the office's alone.
LOCATION_KEYS: frozenset[str] = frozenset(
    {
        "business.name",
        "business.phone_number",
        "business.timezone",
        "business.hours",
        "business.closed_dates",
        "business.booking_link",
        "forwarding.numbers",
        "forwarding.ring_seconds",
        "templates.missed_call",
        "templates.after_hours",
        "templates.follow_up",
        "templates.voicemail",
        "templates.catch_up",
        "templates.help",
        "quiet_hours",
        "voicemail.greeting",
        "callbacks.desk_phone",
    }
)

MAX_NAME = 80
MAX_LOCATIONS = 20


class LocationError(ValueError):
    """A location that does not exist, or a name, number or key it cannot take."""


def clean_name(value: Any) -> str:
    """A location's name: 1..80 characters of printable text, trimmed."""
    if not isinstance(value, str) or not value.strip():
        raise LocationError("a location needs a name")
    name = " ".join(value.split())
    if len(name) > MAX_NAME:
        raise LocationError(f"a location's name is at most {MAX_NAME} characters")
    if not name.isprintable():
        raise LocationError("a location's name must be plain text")
    return name


def check_key(key: str) -> None:
    """Refuse a key a location cannot set for itself, saying which ones it can."""
    if key not in LOCATION_KEYS:
        raise SettingsError(
            f"{key} is the office's, not a location's; a location sets: "
            + ", ".join(sorted(LOCATION_KEYS))
        )


@dataclass(frozen=True)
class Location:
    """One location, resolved: ``settings`` are its values over the office's.

    ``own`` names the keys it sets itself (every key, for the first: it is the office).
    """

    id: int
    name: str
    settings: Settings
    own: frozenset[str] = field(default_factory=frozenset)

    @property
    def phone_number(self) -> str:
        number: str = self.settings["business.phone_number"]
        return number

    @property
    def is_first(self) -> bool:
        return self.id == FIRST

    def inherits(self, key: str) -> bool:
        """True when ``key`` comes from the office (the location does not set it)."""
        return not self.is_first and key not in self.own


@dataclass(frozen=True)
class LocationRow:
    """What storage holds of a location: its name and its own values (not resolved)."""

    id: int
    name: str
    values: Mapping[str, Any]


class Locations:
    """Every active location, resolved against the office's settings; immutable.

    Order: the first location, then the others by id (the order they were added).
    """

    def __init__(self, office: Settings, rows: Sequence[LocationRow]) -> None:
        resolved: list[Location] = []
        for row in sorted(rows, key=lambda r: (r.id != FIRST, r.id)):
            if row.id == FIRST:
                resolved.append(Location(FIRST, row.name, office, frozenset(LOCATION_KEYS)))
                continue
            own = {k: v for k, v in row.values.items() if k in LOCATION_KEYS}
            resolved.append(Location(row.id, row.name, office.with_changes(own), frozenset(own)))
        if not resolved or resolved[0].id != FIRST:
            resolved.insert(0, Location(FIRST, "Main", office, frozenset(LOCATION_KEYS)))
        self._all = tuple(resolved)
        self._by_id = {loc.id: loc for loc in resolved}
        self._by_number = {loc.phone_number: loc for loc in reversed(resolved) if loc.phone_number}
        self.office = office

    @classmethod
    def single(cls, office: Settings, name: str = "Main") -> Locations:
        """An office with only its first location (and no stored rows to read)."""
        return cls(office, [LocationRow(FIRST, name, {})])

    def __iter__(self) -> Iterator[Location]:
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)

    @property
    def first(self) -> Location:
        return self._all[0]

    @property
    def several(self) -> bool:
        """More than one location: the inbox labels threads with theirs."""
        return len(self._all) > 1

    def get(self, location_id: int | None) -> Location:
        """The location ``location_id`` (None, or one since removed: the first)."""
        if location_id is None:
            return self.first
        return self._by_id.get(location_id, self.first)

    def find(self, location_id: int) -> Location | None:
        """The active location ``location_id``; None once it is removed (its threads
        and calls keep the id)."""
        return self._by_id.get(location_id)

    def named(self, name: str) -> Location:
        """The location called ``name`` (case and spacing ignored), or LocationError."""
        wanted = " ".join(name.split()).casefold()
        for loc in self._all:
            if loc.name.casefold() == wanted:
                return loc
        known = ", ".join(repr(loc.name) for loc in self._all)
        raise LocationError(f"no location called {name!r}; there are {known}")

    def by_number(self, number: str) -> Location | None:
        """The location whose Twilio number is ``number`` (E.164), if any."""
        return self._by_number.get(number)

    def for_number(self, number: str) -> Location:
        """Where a call or text to ``number`` belongs: its location, else the first
        (a number not (yet) configured still reaches the office's inbox)."""
        return self._by_number.get(number) or self.first

    def numbers(self) -> list[str]:
        """Every location's Twilio number that is set, first location's first."""
        return [loc.phone_number for loc in self._all if loc.phone_number]


def check_number_free(locations: Locations, number: str, *, for_id: int | None) -> None:
    """Refuse ``number`` when another location already uses it."""
    taken = locations.by_number(number)
    if taken is not None and taken.id != for_id:
        raise LocationError(f"{number} is already the number of location {taken.name!r}")
