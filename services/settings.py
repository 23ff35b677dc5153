"""Settings keys (DESIGN.md), their defaults and validation; pure, no storage.

Every key is validated and normalised by its :class:`SettingSpec` before anything is
written (storage is :mod:`services.settings_store`), so the Settings screen can refuse a
bad value in place with the same rules. Raises :class:`SettingsError` with a sentence the
owner can act on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services import phones, templates

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class SettingsError(ValueError):
    """A key that does not exist or a value it cannot take."""


Validator = Callable[[Any], Any]


@dataclass(frozen=True)
class SettingSpec:
    """One settings key: its default, its validator and a line of help. A whole-number
    key also states its range (``low``..``high`` ``unit``), which its editor shows."""

    key: str
    default: Any
    validate: Validator
    help: str
    low: int | None = None
    high: int | None = None
    unit: str = ""


def _int_spec(key: str, default: int, low: int, high: int, unit: str, help: str) -> SettingSpec:
    return SettingSpec(key, default, _int_range(low, high, unit), help, low, high, unit)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise SettingsError("must be true or false")


def _int_range(low: int, high: int, unit: str) -> Validator:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"must be a whole number of {unit} from {low} to {high}")
        if not low <= value <= high:
            raise SettingsError(f"must be from {low} to {high} {unit} (got {value})")
        return value

    return check


def _text(max_len: int, *, allow_empty: bool = True) -> Validator:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise SettingsError("must be text")
        text: str = value.strip()
        if not text and not allow_empty:
            raise SettingsError("must not be empty")
        if len(text) > max_len:
            raise SettingsError(f"must be at most {max_len} characters")
        return text

    return check


def _template(value: Any) -> str:
    if not isinstance(value, str):
        raise SettingsError("must be text")
    try:
        templates.validate(value)
    except templates.TemplateError as exc:
        raise SettingsError(str(exc)) from None
    if len(value) > 1000:
        raise SettingsError("must be at most 1000 characters")
    return value


def _e164(value: Any, *, allow_empty: bool = True) -> str:
    if value in ("", None) and allow_empty:
        return ""
    if not isinstance(value, str):
        raise SettingsError('must be a phone number in quotes, like "+15551234567"')
    normalized = phones.normalize(value)
    if normalized is None:
        raise SettingsError(
            f"{value!r} is not a valid phone number (use +country code, e.g. +15551234567)"
        )
    return normalized


def _phone_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise SettingsError('must be a list of phone numbers, e.g. ["+15551234567"]')
    if len(value) > 10:
        raise SettingsError("Twilio rings at most 10 numbers at once")
    result = [_e164(item, allow_empty=False) for item in value]
    if len(set(result)) != len(result):
        raise SettingsError("lists the same phone twice")
    return result


def _timezone(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise SettingsError('must be an IANA time zone name, e.g. "America/Chicago"')
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f'{value!r} is not a time zone name; use one like "America/Chicago" or "Europe/London"'
        ) from None
    return value


def _ranges(value: Any, where: str) -> list[list[str]]:
    if not isinstance(value, list):
        raise SettingsError(f'{where}: must be a list of ["HH:MM", "HH:MM"] pairs')
    result: list[list[str]] = []
    for pair in value:
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(p, str) and _HHMM.match(p) for p in pair)
        ):
            raise SettingsError(f'{where}: {pair!r} is not a ["HH:MM", "HH:MM"] pair')
        start, end = pair
        if start >= end:
            raise SettingsError(f"{where}: opening {start} must be before closing {end}")
        result.append([start, end])
    return sorted(result)


def _hours(value: Any) -> dict[str, list[list[str]]]:
    if not isinstance(value, dict):
        raise SettingsError('must be an object like {"mon": [["08:00", "17:00"]]}')
    unknown = sorted(set(value) - set(WEEKDAYS))
    if unknown:
        raise SettingsError(f"unknown day(s) {', '.join(unknown)}; use {', '.join(WEEKDAYS)}")
    return {day: _ranges(value[day], day) for day in WEEKDAYS if day in value}


def _quiet_hours(value: Any) -> dict[str, str] | None:
    if value in (None, "", {}):
        return None
    if (
        not isinstance(value, dict)
        or set(value) != {"start", "end"}
        or not all(isinstance(v, str) and _HHMM.match(v) for v in value.values())
    ):
        raise SettingsError('must be null or {"start": "21:00", "end": "08:00"}')
    if value["start"] == value["end"]:
        raise SettingsError("start and end must differ")
    return {"start": value["start"], "end": value["end"]}


_MAX_CLOSED_DATES = 366


def _dates(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise SettingsError('must be a list of dates like ["2025-12-25", "2026-01-01"]')
    if len(value) > _MAX_CLOSED_DATES:
        raise SettingsError(f"lists more than {_MAX_CLOSED_DATES} days")
    result: set[str] = set()
    for item in value:
        if not isinstance(item, str) or not re.fullmatch(
            r"[0-9]{4}-[0-9]{2}-[0-9]{2}", item.strip()
        ):
            raise SettingsError(f"{item!r} is not a date written YYYY-MM-DD")
        try:
            date.fromisoformat(item.strip())
        except ValueError:
            raise SettingsError(f"{item!r} is not a real date") from None
        result.add(item.strip())
    return sorted(result)


def _url(value: Any, *, allow_empty: bool = True) -> str:
    if value in ("", None) and allow_empty:
        return ""
    if not isinstance(value, str):
        raise SettingsError("must be a web address")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{value!r} is not a web address (it must start with https://)")
    return value.strip().rstrip("/") if parts.path in ("", "/") else value.strip()


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: Any) -> str:
    if value in ("", None):
        return ""
    if not isinstance(value, str) or not _EMAIL.match(value.strip()) or len(value) > 200:
        raise SettingsError(f"{value!r} is not an email address (like office@example.com)")
    return value.strip()


def _names(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise SettingsError('must be a list of names, e.g. ["Dana", "Luis"]')
    names = [v.strip() for v in value]
    if len(set(names)) != len(names):
        raise SettingsError("lists the same name twice")
    return names


def _snippets(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise SettingsError('must be a list like [{"title": "Hours", "body": "We open at 8."}]')
    result = []
    for item in value:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("title"), str)
            or not isinstance(item.get("body"), str)
            or not item["title"].strip()
            or not item["body"].strip()
        ):
            raise SettingsError(f"{item!r} needs a non-empty title and body")
        result.append({"title": item["title"].strip(), "body": item["body"]})
    return result


def _choice(*options: str) -> Validator:
    def check(value: Any) -> str:
        if value not in options:
            raise SettingsError(f"must be one of: {', '.join(options)}")
        return str(value)

    return check


def _region(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{2}", value):
        raise SettingsError('must be a two-letter country code, e.g. "US" or "GB"')
    return value


_DEFAULT_HOURS = {day: [["08:00", "17:00"]] for day in WEEKDAYS[:5]}

SPECS: dict[str, SettingSpec] = {
    spec.key: spec
    for spec in (
        SettingSpec("business.name", "", _text(80), "Your business name, as callers know it"),
        SettingSpec("business.phone_number", "", _e164, "The Twilio number callers dial (E.164)"),
        SettingSpec("business.timezone", "America/New_York", _timezone, "IANA time zone"),
        SettingSpec("business.hours", _DEFAULT_HOURS, _hours, "Opening hours per weekday"),
        SettingSpec("business.booking_link", "", _url, "Online booking page"),
        SettingSpec("business.default_region", "US", _region, "Country for numbers without +"),
        SettingSpec("forwarding.numbers", [], _phone_list, "Phones to ring (empty: forward mode)"),
        _int_spec("forwarding.ring_seconds", 20, 5, 60, "seconds", "Ring time"),
        SettingSpec("textback.enabled", True, _bool, "Text callers back automatically"),
        _int_spec("textback.delay_seconds", 30, 0, 3600, "seconds", "Wait before texting"),
        _int_spec(
            "textback.repeat_window_minutes",
            720,
            0,
            43200,
            "minutes",
            "Do not text the same caller twice within this window",
        ),
        SettingSpec(
            "templates.missed_call",
            templates.DEFAULT_TEMPLATES["templates.missed_call"],
            _template,
            "Text after a missed call",
        ),
        SettingSpec(
            "templates.after_hours",
            templates.DEFAULT_TEMPLATES["templates.after_hours"],
            _template,
            "Text after a call outside business hours",
        ),
        SettingSpec(
            "templates.follow_up",
            templates.DEFAULT_TEMPLATES["templates.follow_up"],
            _template,
            "One follow-up if they have not replied",
        ),
        SettingSpec(
            "templates.voicemail",
            templates.DEFAULT_TEMPLATES["templates.voicemail"],
            _template,
            "Text after a missed call where the caller left a voicemail (empty: the usual one)",
        ),
        SettingSpec(
            "templates.catch_up",
            templates.DEFAULT_TEMPLATES["templates.catch_up"],
            _template,
            "Text for calls missed while Frontdesk was offline",
        ),
        SettingSpec(
            "templates.help",
            "[Business Name]: reply to this number to reach our front desk. Reply STOP to opt out.",
            _template,
            "Answer to HELP",
        ),
        _int_spec(
            "followup.delay_seconds", 86400, 0, 30 * 86400, "seconds", "Follow-up delay (0 = off)"
        ),
        SettingSpec("quiet_hours", None, _quiet_hours, "Hold texts between these times"),
        SettingSpec(
            "voicemail.greeting",
            "Sorry we missed your call. We will text you in a moment.",
            _text(500),
            "What callers hear when nobody answers (empty: hang up)",
        ),
        SettingSpec("voicemail.record", False, _bool, "Record a voicemail after the greeting"),
        _int_spec(
            "voicemail.retention_days",
            365,
            0,
            3650,
            "days",
            "Delete voicemail recordings older than this (0 = keep them)",
        ),
        SettingSpec(
            "lookup.enabled",
            True,
            _bool,
            "Check a new caller's line type and name with Twilio Lookup before texting "
            "(about 1 cent per new number; landlines are not texted)",
        ),
        SettingSpec(
            "business.closed_dates",
            [],
            _dates,
            "Days the business is closed (holidays), as YYYY-MM-DD: after-hours all day",
        ),
        SettingSpec(
            "callbacks.desk_phone",
            "",
            _e164,
            "Phone that rings first for Call back (empty: the first phone to ring)",
        ),
        SettingSpec("team.members", [], _names, "Team members for assignment"),
        SettingSpec("team.me", "", _text(100), "Who is using this PC (for 'Assigned to me')"),
        SettingSpec("snippets", [], _snippets, "Saved replies"),
        SettingSpec("notifications.enabled", True, _bool, "Desktop notifications"),
        SettingSpec("notifications.sound", True, _bool, "Play a sound on new replies"),
        SettingSpec("tunnel.public_url", "", _url, "Fixed public URL (no tunnel)"),
        SettingSpec("tunnel.ngrok_path", "", _text(500), "Path to the ngrok program"),
        SettingSpec(
            "offline.mode",
            "forward",
            _choice("forward", "twiml_url", "none"),
            "What callers get while Frontdesk is off",
        ),
        SettingSpec("offline.forward_to", "", _e164, "Phone to forward to while offline"),
        SettingSpec("offline.twiml_url", "", _url, "TwiML Bin URL to use while offline"),
        SettingSpec(
            "offline.voicemail_email",
            "",
            _email,
            "Email voicemails left while offline to this address (empty: no voicemail)",
        ),
        _int_spec(
            "catchup.max_age_hours",
            12,
            0,
            168,
            "hours",
            "Never text back a call older than this after being offline",
        ),
    )
}


def parse_cli_value(text: str) -> Any:
    """DESIGN.md's rule: VALUE is JSON when it parses, else a plain string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def validate(key: str, value: Any) -> Any:
    """Return the normalised value for ``key`` or raise :class:`SettingsError`."""
    spec = SPECS.get(key)
    if spec is None:
        close = [k for k in SPECS if k.split(".")[-1] == key.split(".")[-1]]
        hint = f" Did you mean {close[0]}?" if close else ""
        raise SettingsError(f"unknown setting {key!r}.{hint} Run `frontdesk settings show`.")
    try:
        return spec.validate(value)
    except SettingsError as exc:
        raise SettingsError(f"{key}: {exc}") from None


class Settings(Mapping[str, Any]):
    """An immutable snapshot of every setting (stored values over defaults)."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = {key: spec.default for key, spec in SPECS.items()}
        self._values.update({k: v for k, v in values.items() if k in SPECS})

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Any:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self["business.timezone"])

    def with_changes(self, changes: Mapping[str, Any]) -> Settings:
        return Settings({**self._values, **changes})


def cross_check(settings: Settings) -> None:
    """Rules that span keys, checked on the combined result of a batch."""
    if settings["offline.mode"] == "twiml_url" and not settings["offline.twiml_url"]:
        raise SettingsError("offline.mode is twiml_url but offline.twiml_url is empty")
