"""``frontdesk location …`` and ``frontdesk settings show/set --location NAME``.

A location's values are shown resolved (what it sets, and what it takes from the office,
marked so); ``set --location`` writes only that location's value, with the same rules as
the office's keys (bad key or value: a clear error, exit 2, nothing written). Without
``--location`` (or naming the first location) the office's keys mean what DESIGN.md says.
``location add`` checks the number in the Twilio account first (on it, SMS and voice
capable), with the credentials ``serve`` would use.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from typing import Any

from desktop.config import AppConfig

EXIT_OK = 0


class LocationUsageError(Exception):
    """A command that cannot be done as asked; the message says why (exit 2)."""


def add_arguments(sub: Any, common: argparse.ArgumentParser) -> None:
    """The ``location`` command and its actions."""
    location = sub.add_parser("location", parents=[common], help="the office's numbers")
    actions = location.add_subparsers(dest="location_command", metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="every location and its number")
    listing.add_argument("--json", action="store_true", help="as JSON")
    add = actions.add_parser(
        "add", parents=[common], help="add a location (its number is checked at Twilio)"
    )
    add.add_argument("name")
    add.add_argument("number", help="its Twilio number, E.164 (+15551234567)")
    rename = actions.add_parser("rename", parents=[common], help="rename a location")
    rename.add_argument("name")
    rename.add_argument("new_name")
    remove = actions.add_parser(
        "remove", parents=[common], help="remove a location (its threads stay)"
    )
    remove.add_argument("name")


def show(db: Any, name: str, *, as_json: bool) -> None:
    """Print one location's values (``settings show --location NAME``)."""
    from services import location_store
    from services.locations import LOCATION_KEYS

    locations = db.run_sync(lambda uow: location_store.load(uow.session))
    location = _named(locations, name)
    values = {k: v for k, v in location.settings.items() if k in LOCATION_KEYS}
    if as_json:
        print(json.dumps(values, indent=2, ensure_ascii=False))
        return
    print(f"# location {location.name!r} (id {location.id})")
    for key, value in values.items():
        note = "  # the office's" if location.inherits(key) else ""
        print(f"{key} = {json.dumps(value, ensure_ascii=False)}{note}")


def set_value(db: Any, name: str, key: str, value: Any) -> Any:
    """Set one value for one location (``settings set --location NAME KEY VALUE``)."""
    from services import location_store
    from services.clock import SystemClock

    def work(uow: Any) -> Any:
        location = _named(location_store.load(uow.session), name)
        done = location_store.set_values(
            uow.session, location.id, {key: value}, actor="cli", now=SystemClock().now()
        )
        uow.commit()
        return done[key]

    return _refusing(lambda: db.run_sync(work))


def run(config: AppConfig, args: argparse.Namespace, open_db: Callable[..., Any]) -> int:
    """``frontdesk location ACTION``."""
    from services import location_store
    from services.clock import SystemClock

    command = args.location_command
    db = open_db(config, read_only_ok=command == "list")
    try:
        if command == "list":
            locations = db.run_sync(lambda uow: location_store.load(uow.session))
            rows = [{"id": x.id, "name": x.name, "number": x.phone_number} for x in locations]
            if args.json:
                print(json.dumps(rows, indent=2, ensure_ascii=False))
            else:
                for row in rows:
                    print(f"{row['name']}\t{row['number'] or '(no number yet)'}")
            return EXIT_OK
        now = SystemClock().now()
        if command == "add":
            number = _checked_number(config, args.number)

            def add(uow: Any) -> Any:
                done = location_store.add(uow.session, args.name, number, actor="cli", now=now)
                uow.commit()
                return done

            added = _refusing(lambda: db.run_sync(add))
            print(f"{added.name}\t{added.phone_number}")
            return EXIT_OK

        def change(uow: Any) -> None:
            location = _named(location_store.load(uow.session), args.name)
            if command == "rename":
                location_store.rename(uow.session, location.id, args.new_name, actor="cli", now=now)
            else:
                location_store.remove(uow.session, location.id, actor="cli", now=now)
            uow.commit()

        _refusing(lambda: db.run_sync(change))
        return EXIT_OK
    finally:
        db.close()


def _named(locations: Any, name: str) -> Any:
    from services.locations import LocationError

    try:
        return locations.named(name)
    except LocationError as exc:
        raise LocationUsageError(str(exc)) from None


def _refusing(fn: Callable[[], Any]) -> Any:
    from services.locations import LocationError
    from services.settings import SettingsError

    try:
        return fn()
    except (LocationError, SettingsError) as exc:
        raise LocationUsageError(str(exc)) from None


def _checked_number(config: AppConfig, number: str) -> str:
    """``number`` in E.164 once the Twilio account says it can be a location's."""
    from desktop.live import LiveSetupError, load_credentials
    from services import phones
    from services.account_check import account_gateway, number_problems
    from services.credentials import CredentialStore

    e164 = phones.normalize(number)
    if e164 is None:
        raise LocationUsageError(
            f"{number!r} is not a phone number (use +country code, e.g. +15551234567)"
        )
    try:
        creds = load_credentials(CredentialStore())  # the ones `serve` would use
    except LiveSetupError as exc:
        raise LocationUsageError(
            f"a new number is checked in the Twilio account first: {exc}"
        ) from None

    async def check() -> list[str]:
        gateway = account_gateway(creds, config.twilio_base_url)
        await gateway.start()
        try:
            return await number_problems(gateway, e164)
        finally:
            await gateway.close()

    problems = asyncio.run(check())
    if problems:
        raise LocationUsageError(" ".join(problems))
    return e164
