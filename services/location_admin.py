"""Adding, renaming, removing and configuring locations: :class:`services.api.LocationsApi`.

A new number (a location added, or a location's number changed) is checked in the Twilio
account first (on the account, SMS and voice capable: ``check_number``) and nothing is
saved when the check finds a problem. Every change is published as a
:class:`~services.events.SettingsChanged` whose keys include ``"locations"`` (and the keys
changed), so the engine, the wiring and every PC of the office see it.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from services import location_store, phones
from services.clock import Clock
from services.events import EventBus, SettingsChanged
from services.locations import Location, LocationError, Locations
from services.storage.database import Database, UnitOfWork

T = TypeVar("T")

# The problems found with a number in the Twilio account, in words ([]: fine to use).
NumberCheck = Callable[[str], Awaitable[list[str]]]

LOCATIONS = "locations"


class LocationRefused(LocationError):
    """A location change refused, with every reason (``problems``) in words."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


class LocationAdmin:
    """Implements :class:`services.api.LocationsApi` over the database."""

    def __init__(
        self, db: Database, bus: EventBus, clock: Clock, *, check_number: NumberCheck
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._check_number = check_number

    async def locations(self) -> Locations:
        return await self._db.run(lambda uow: location_store.load(uow.session))

    async def add(self, name: str, number: str, *, actor: str) -> Location:
        """Add a location answering ``number``, once the account says it can."""
        e164 = phones.normalize(number) if isinstance(number, str) else None
        if e164 is None:
            raise LocationRefused(
                [f"{number!r} is not a phone number (use +country code, e.g. +15551234567)."]
            )
        await self._check(e164)
        return await self._write(
            lambda s: location_store.add(s, name, e164, actor=actor, now=self._clock.now()),
            ("business.phone_number",),
        )

    async def rename(self, location_id: int, name: str, *, actor: str) -> None:
        await self._write(
            lambda s: location_store.rename(
                s, location_id, name, actor=actor, now=self._clock.now()
            ),
            (),
        )

    async def remove(self, location_id: int, *, actor: str) -> None:
        await self._write(
            lambda s: location_store.remove(s, location_id, actor=actor, now=self._clock.now()),
            ("business.phone_number",),
        )

    async def update(
        self, location_id: int, changes: Mapping[str, Any], *, actor: str
    ) -> dict[str, Any]:
        """Set ``changes`` for one location (the first: the office's settings); a new
        number is checked in the account first. Raises SettingsError/LocationError."""
        number = changes.get("business.phone_number")
        if isinstance(number, str) and number:
            e164 = phones.normalize(number)
            current = (await self.locations()).get(location_id)
            if e164 is not None and e164 != current.phone_number:
                await self._check(e164)
        done: dict[str, Any] = await self._write(
            lambda s: location_store.set_values(
                s, location_id, changes, actor=actor, now=self._clock.now()
            ),
            tuple(changes),
        )
        return done

    async def reset(self, location_id: int, keys: Iterable[str], *, actor: str) -> list[str]:
        """Let a location inherit ``keys`` from the office again."""
        wanted = list(keys)
        done: list[str] = await self._write(
            lambda s: location_store.reset_values(
                s, location_id, wanted, actor=actor, now=self._clock.now()
            ),
            tuple(wanted),
        )
        return done

    async def _check(self, number: str) -> None:
        problems = await self._check_number(number)
        if problems:
            raise LocationRefused(problems)

    async def _write(self, fn: Callable[[Any], T], keys: tuple[str, ...]) -> T:
        event = SettingsChanged(tuple(sorted({LOCATIONS, *keys})))

        def work(uow: UnitOfWork) -> T:
            result = fn(uow.session)
            uow.after_commit(functools.partial(self._bus.publish, event))
            uow.commit()
            return result

        return await self._db.run(work)
