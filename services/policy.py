"""Whether, what and when to text a caller after a missed call (DESIGN.md, step 2).

Pure functions over plain values; the engine gathers the facts in one transaction and
records the :class:`Decision` with the call, so the desk can see why a caller was or
was not texted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services import hours as business_hours
from services import phones
from services.phones import REASONS, PhoneCheck, describe_reason
from services.settings import Settings

# Skip reasons, stable codes shown in words by describe_skip().
DISABLED = "disabled"
OPTED_OUT = "opted_out"
REPEAT = "repeat_caller"
TOO_OLD = "too_old"
NO_TEMPLATE = "no_template"
TEXTED_US = "texted_us"
BLOCKED_HERE = "blocked_here"

_SKIP_WORDS = {
    DISABLED: "auto-text is turned off in Settings",
    OPTED_OUT: "the caller opted out (texted STOP)",
    REPEAT: "already texted this caller recently",
    TOO_OLD: "the call is older than the catch-up limit",
    NO_TEMPLATE: "the template is empty",
    TEXTED_US: "they texted after the call (the desk answers them)",
    BLOCKED_HERE: "they opted out of texts from this number (texted STOP to it)",
}


def describe_skip(code: str) -> str:
    """A sentence for a skip reason code (policy's own or a phone check's); text that is
    already a sentence (a carrier's refusal in words) comes back unchanged."""
    if code in _SKIP_WORDS:
        return _SKIP_WORDS[code]
    if code in REASONS:
        return describe_reason(code)
    return code


@dataclass(frozen=True, slots=True)
class Facts:
    """What the engine knows about the caller at the moment of deciding."""

    phone: PhoneCheck
    opted_out: bool
    last_textback_at: datetime | None  # newest scheduled/sent text-back to this caller
    call_at: datetime
    now: datetime
    catch_up: bool = False
    # Caught up: the caller texted this number after the call (Twilio's log says so).
    texted_after: bool = False
    # Twilio refuses this number's texts to them (STOP to it; START elsewhere did not
    # lift it): services.opt_outs.
    blocked_here: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    send: bool
    reason: str | None  # skip code when not sending
    template_key: str | None
    after_hours: bool
    due_at: datetime | None
    held_until: datetime | None  # set when quiet hours pushed the send later


def after_hours(settings: Settings, when: datetime) -> bool:
    """Outside business hours, or on one of ``business.closed_dates`` (holidays,
    closures: the whole day, in the business's time zone)."""
    if when.astimezone(settings.tz).date().isoformat() in settings["business.closed_dates"]:
        return True
    return not business_hours.is_open(settings["business.hours"], settings.tz, when)


def caller_tz(settings: Settings, phone: str | None) -> ZoneInfo:
    """The caller's time zone, from their number's region when that region has exactly
    one zone (most countries; a US area code usually names one), else the business's."""
    if phone:
        zone = phones.time_zone(phone)
        if zone is not None:
            return zone
    return settings.tz


def decide_textback(settings: Settings, facts: Facts) -> Decision:
    """Decide the text-back for one missed call."""
    closed = after_hours(settings, facts.call_at)

    def skip(code: str) -> Decision:
        return Decision(False, code, None, closed, None, None)

    if not settings["textback.enabled"]:
        return skip(DISABLED)
    if not facts.phone.textable:
        return skip(facts.phone.reason or "invalid")
    if facts.opted_out:
        return skip(OPTED_OUT)
    if facts.blocked_here:
        return skip(BLOCKED_HERE)
    if facts.catch_up:
        max_age = timedelta(hours=settings["catchup.max_age_hours"])
        if facts.now - facts.call_at > max_age:
            return skip(TOO_OLD)
        if facts.texted_after:
            # Live, their text would cancel the waiting text-back; caught up, both are
            # already in the log, so decide it here rather than race the text's record.
            return skip(TEXTED_US)
    window = timedelta(minutes=settings["textback.repeat_window_minutes"])
    if facts.last_textback_at is not None and facts.now - facts.last_textback_at < window:
        return skip(REPEAT)
    if facts.catch_up:
        key = "templates.catch_up"
    else:
        key = "templates.after_hours" if closed else "templates.missed_call"
    if not settings[key].strip():
        return skip(NO_TEMPLATE)
    due = facts.now + timedelta(seconds=settings["textback.delay_seconds"])
    due, held = hold_for_quiet_hours(settings, due, facts.phone.e164)
    return Decision(True, None, key, closed, due, held)


def hold_for_quiet_hours(
    settings: Settings, due: datetime, phone: str | None
) -> tuple[datetime, datetime | None]:
    """Move ``due`` to the end of quiet hours when it falls inside them, quiet hours read
    on the caller's clock (:func:`caller_tz`): 21:00 in Los Angeles, not in New York."""
    quiet = settings["quiet_hours"]
    if not quiet:
        return due, None  # no quiet hours: no need for the caller's time zone either
    until = business_hours.quiet_until(quiet, caller_tz(settings, phone), due)
    return (until, until) if until is not None else (due, None)


STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
START_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})


def keyword(body: str) -> str | None:
    """'stop' / 'start' / 'help' when the whole message is such a keyword, else None.

    Like Twilio, only a message that is the keyword alone counts ("Stop." counts,
    "please don't stop by" does not).
    """
    word = body.strip().strip(".!?,;: ").upper()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return None
