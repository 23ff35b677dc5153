"""Every location's number, wired by the number holder: the set of numbers pointed here.

The holder points *every* active location's number at its public URL (the same VoiceUrl,
SmsUrl, StatusCallback and VoiceFallbackUrl for all: the receiver tells them apart by
``To``), side by side, each through :mod:`services.wiring` with its own backup and its
location's settings. :class:`LocationWiring` remembers which numbers this run pointed
here and why any other could not be (:attr:`LocationWiring.errors`, by number): a number
that is not on the Twilio account is reported for itself and the others are still wired.

- :meth:`~LocationWiring.wire` (start, a new public URL, a take-over, a location added,
  removed or renumbered): wires every location's number and releases a number that no
  location answers any more (removed, or renumbered) to its offline fallback, as
  :func:`services.wiring.go_offline` sets it on a clean exit, so its callers still get
  what the owner chose for "Frontdesk is off". Which numbers the office's holder wired
  is kept in the database (sync_state :data:`WIRED_KEY`), so a location removed while
  no PC held the numbers (the holder died, or a hand-over was under way) is released by
  the next holder; a released number that no longer points at a Frontdesk (the owner
  gave it another use meanwhile) is left alone;
- :meth:`~LocationWiring.go_offline` (the last PC leaves): every number wired here;
- :meth:`~LocationWiring.disconnect` (the owner's Disconnect): every location's number
  gets its own previous configuration back.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from services import sync_state, wiring
from services.locations import Location, Locations
from services.settings import Settings
from services.storage.database import Database, UnitOfWork
from services.wiring import NumberAdmin, WiringError

log = logging.getLogger(__name__)

NO_NUMBER = "business.phone_number is not set: the number was not wired"
# The numbers the office's holder pointed at itself (each still a location's, or one
# whose release to the offline fallback has yet to succeed).
WIRED_KEY = "wiring.numbers"


@dataclass(frozen=True, slots=True)
class WireOutcome:
    """What one :meth:`LocationWiring.wire` pass did, by number."""

    wired: tuple[str, ...]  # pointed here (or already were)
    new: tuple[str, ...]  # of those, the ones not pointed here before in this run
    released: tuple[str, ...]  # no location's any more: given the offline fallback
    failed: tuple[str, ...]  # could not be wired (see LocationWiring.errors)


class LocationWiring:
    """The numbers this process pointed here; one pass at a time (an internal lock)."""

    def __init__(self, admin: NumberAdmin, db: Database, *, offline_timeout: float = 15.0) -> None:
        self._admin = admin
        self._db = db
        self.offline_timeout = offline_timeout
        self._wired: dict[str, int] = {}  # number -> the location it was wired for
        self.errors: dict[str, str] = {}  # number ("" when the first has none) -> why
        self._lock = asyncio.Lock()

    @property
    def wired(self) -> list[str]:
        """The numbers pointed here in this run, in the order they were wired."""
        return list(self._wired)

    def error(self) -> str | None:
        """Every number's problem in one line (None when every number is wired)."""
        return "; ".join(self.errors.values()) or None

    async def wire(self, locations: Locations, public_url: str) -> WireOutcome:
        """Point every location's number at ``public_url``; release numbers no longer any
        location's. A number that fails is recorded in :attr:`errors`; the others go on.

        The numbers are moved side by side (a take-over waits for the slowest, not the sum).
        """
        async with self._lock:
            errors: dict[str, str] = {}
            if not locations.first.phone_number:
                errors[""] = NO_NUMBER
                log.warning(NO_NUMBER)
            targets = [loc for loc in locations if loc.phone_number]
            done = await asyncio.gather(
                *(self._wire_one(loc, public_url) for loc in targets), return_exceptions=True
            )
            wired: list[str] = []
            new: list[str] = []
            failed: list[str] = []
            for location, result in zip(targets, done, strict=True):
                number = location.phone_number
                if isinstance(result, BaseException):
                    if not isinstance(result, Exception):
                        raise result  # cancelled: not a wiring problem
                    failed.append(number)
                    errors[number] = _about(location, locations, result)
                    continue
                wired.append(number)
                if number not in self._wired:
                    new.append(number)
                self._wired[number] = location.id
            self.errors = errors
            released = await self._release(locations)
            return WireOutcome(tuple(wired), tuple(new), tuple(released), tuple(failed))

    async def _wire_one(self, location: Location, public_url: str) -> None:
        number = location.phone_number
        try:
            await wiring.wire(self._admin, self._db, number, public_url, settings=location.settings)
        except Exception as exc:  # WiringError or a carrier error: reported for this number
            log.error("could not wire %s: %s", number, exc)
            raise

    async def _release(self, locations: Locations) -> list[str]:
        stored = await self._db.run(_stored)
        gone = [n for n in dict.fromkeys([*stored, *self._wired]) if not locations.by_number(n)]
        for number in gone:
            self._wired.pop(number, None)
        done = await asyncio.gather(*(self._release_one(n, locations.office) for n in gone))
        released = [n for n, ok in zip(gone, done, strict=True) if ok]
        # A release that failed is kept, to be tried again at the next wiring.
        keep = [n for n in dict.fromkeys([*stored, *gone, *self._wired]) if n not in released]
        await self._db.run(lambda uow: _store(uow, keep))
        return released

    async def _release_one(self, number: str, office: Settings) -> bool:
        """Give ``number`` (no location's now) its offline fallback, unless it no longer
        points at a Frontdesk; True when nothing more is to be done for it."""
        try:
            found = await self._admin.find_number(number)
        except Exception as exc:  # tried again at the next wiring
            log.error("could not read %s to release it: %s", number, exc)
            return False
        if found is None or not wiring.points_at_frontdesk(found):
            return True
        return await self._offline(number, office)

    async def go_offline(self, locations: Locations) -> None:
        """Every number wired here gets its offline fallback (the last PC to leave)."""
        async with self._lock:
            numbers = list(self._wired)
            done = await asyncio.gather(
                *(self._offline(n, _settings_of(n, locations)) for n in numbers)
            )
            for number, offline in zip(numbers, done, strict=True):
                if offline:
                    del self._wired[number]

    async def _offline(self, number: str, settings: Settings | None) -> bool:
        try:
            await asyncio.wait_for(
                wiring.go_offline(self._admin, self._db, number, settings=settings),
                self.offline_timeout,
            )
        except Exception as exc:  # VoiceFallbackUrl still covers its callers
            log.error("could not take %s offline: %s", number, exc)
            return False
        return True

    def forget(self) -> None:
        """This process no longer holds the numbers (a hand-over): nothing is wired here."""
        self._wired.clear()

    async def disconnect(self, locations: Locations) -> None:
        """Give every location's number its previous configuration back; raises the first
        :class:`WiringError` (or carrier error) once every number was tried."""
        async with self._lock:
            if not locations.numbers():
                raise WiringError("business.phone_number is not set: nothing to disconnect")
            problems: list[Exception] = []
            kept: list[str] = []  # not given back: still the office's to release
            for number in locations.numbers():
                try:
                    await wiring.disconnect(self._admin, self._db, number)
                except Exception as exc:
                    log.error("could not disconnect %s: %s", number, exc)
                    problems.append(exc)
                    kept.append(number)
                self._wired.pop(number, None)
            await self._db.run(lambda uow: _store(uow, kept))
            if problems:
                raise problems[0]


def _stored(uow: UnitOfWork) -> list[str]:
    value = sync_state.get(uow.session, WIRED_KEY)
    return [n for n in value if isinstance(n, str)] if isinstance(value, list) else []


def _store(uow: UnitOfWork, numbers: list[str]) -> None:
    if _stored(uow) != numbers:
        sync_state.put(uow.session, WIRED_KEY, numbers)
        uow.commit()


def _settings_of(number: str, locations: Locations) -> Settings | None:
    location = locations.by_number(number)
    return location.settings if location is not None else None


def _about(location: Location, locations: Locations, exc: Exception) -> str:
    """The error as the owner reads it: with several locations, which one it is about."""
    if not locations.several:
        return str(exc)
    return f"{location.name} ({location.phone_number}): {exc}"
