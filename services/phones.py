"""Phone numbers: normalising to E.164, deciding whether a caller can be texted, display.

Pure functions over :mod:`phonenumbers`; no I/O. Twilio hands us caller IDs in a few
shapes besides E.164 (``anonymous``, placeholder numbers for withheld caller ID,
``client:alice`` for Voice SDK clients, ``sip:bob@example.com`` for SIP calls, short
codes); :func:`classify` sorts them into a stable reason code so the policy can refuse
to text them and the UI can say why (:func:`describe_reason`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat
from phonenumbers import timezone as pn_timezone

__all__ = [
    "ANONYMOUS",
    "CLIENT",
    "INVALID",
    "NOT_MOBILE",
    "REASONS",
    "SHORT_CODE",
    "SIP",
    "PhoneCheck",
    "classify",
    "describe_reason",
    "format_for_display",
    "normalize",
    "time_zone",
]

# Stable reason codes (stored in the database and shown in the UI via describe_reason).
ANONYMOUS: Final = "anonymous"
CLIENT: Final = "client"
SIP: Final = "sip"
SHORT_CODE: Final = "short_code"
INVALID: Final = "invalid"
NOT_MOBILE: Final = "not_mobile"

REASONS: Final[dict[str, str]] = {
    ANONYMOUS: "The caller withheld their number, so there is no one to text.",
    CLIENT: "The call came from a Twilio app client, not a phone, so it can't be texted.",
    SIP: "The call came over SIP (an internet phone address), so it can't be texted.",
    SHORT_CODE: "This is a short code (a service number), which can't receive texts.",
    INVALID: "This is not a valid phone number, so it can't be texted.",
    NOT_MOBILE: "Landline: call back. This number is a landline or fixed VoIP line, which "
    "can't receive texts.",
}

# Caller-ID words carriers and Twilio use when the number is withheld (compared lowercased).
_ANONYMOUS_WORDS: Final = frozenset(
    {
        "",
        "anonymous",
        "restricted",
        "unknown",
        "private",
        "blocked",
        "unavailable",
        "withheld",
        "no caller id",
    }
)

# Twilio's placeholder From numbers for withheld caller ID: the keypad spellings of
# ANONYMOUS, RESTRICTED, BLOCKED, UNAVAILABLE and UNKNOWN.
_ANONYMOUS_NUMBERS: Final = frozenset(
    {"+266696687", "+7378742833", "+2562533", "+86282452253", "+8656696"}
)

# Lookup line types (Twilio Lookup v2 ``line_type_intelligence.type`` and similar
# spellings) that cannot receive SMS; compared lowercased with separators removed.
_NOT_MOBILE_LINE_TYPES: Final = frozenset({"landline", "fixedline", "fixedvoip", "voipfixed"})
# classify, time_zone and format_for_display remember this many answers: they are pure,
# and one missed call asks them about the same number several times (its record, its
# decision, its text, its quiet hours), at ~0.1-0.2 ms of phonenumbers each.
_REMEMBERED: Final = 4096

_FORMATTING = re.compile(r"[\s().\-/]")
_SHORT_CODE = re.compile(r"\+?\d{3,6}")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")


@dataclass(frozen=True, slots=True)
class PhoneCheck:
    """The verdict on one raw caller ID.

    ``e164`` is set whenever the raw value is a valid phone number (also for
    ``not_mobile``); ``reason`` is one of the codes in :data:`REASONS` when
    ``textable`` is false, and ``None`` when it is true.
    """

    raw: str
    e164: str | None
    textable: bool
    reason: str | None


def _parse_valid(raw: str, default_region: str) -> PhoneNumber | None:
    """Parse ``raw`` and return it only if phonenumbers says it is a valid number."""
    text = raw.strip()
    if text[:4].lower() == "tel:":
        text = text[4:].strip()
    # Any other URI scheme (sip:, client:, whatsapp:, mailto:) or an address is not a
    # phone number, even if phonenumbers could dig digits out of it.
    if not text or "@" in text or _SCHEME.match(text):
        return None
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return number


def normalize(raw: str, default_region: str = "US") -> str | None:
    """Return ``raw`` as an E.164 string (``+14155552671``), or ``None`` if not valid.

    National numbers are read in ``default_region`` (an ISO 3166 code such as
    ``"US"`` or ``"GB"``); a ``tel:`` prefix is accepted. Anything phonenumbers does
    not consider a valid number (short codes, Twilio's anonymous placeholders,
    garbage) gives ``None``.
    """
    number = _parse_valid(raw, default_region)
    if number is None:
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _is_anonymous(text: str) -> bool:
    if " ".join(text.lower().split()) in _ANONYMOUS_WORDS:
        return True
    compact = _FORMATTING.sub("", text)
    return compact in _ANONYMOUS_NUMBERS


@functools.lru_cache(maxsize=_REMEMBERED)
def classify(raw: str, default_region: str = "US", line_type: str | None = None) -> PhoneCheck:
    """Decide whether ``raw`` (a caller ID as Twilio sent it) can be texted.

    Checks run in this order, the first match giving the reason:
    ``anonymous`` (empty, a withheld-ID word such as ``anonymous`` / ``restricted`` /
    ``unknown`` / ``private``, or one of Twilio's placeholder numbers like
    ``+266696687``), ``client`` (``client:alice``), ``sip`` (``sip:`` / ``sips:``),
    ``short_code`` (3 to 6 digits, with or without ``+``), ``invalid`` (phonenumbers
    says it is not a valid number) and finally ``not_mobile``, only when ``line_type``
    is given (from a carrier lookup) and is a landline or fixed VoIP line (``landline``,
    ``fixedVoip``, ``voip-fixed``...). Without a ``line_type`` a valid number is
    assumed textable.
    """
    text = raw.strip()
    if _is_anonymous(text):
        return PhoneCheck(raw, None, False, ANONYMOUS)
    lowered = text.lower()
    if lowered.startswith("client:"):
        return PhoneCheck(raw, None, False, CLIENT)
    if lowered.startswith(("sip:", "sips:")):
        return PhoneCheck(raw, None, False, SIP)
    if _SHORT_CODE.fullmatch(_FORMATTING.sub("", text)):
        return PhoneCheck(raw, None, False, SHORT_CODE)
    number = _parse_valid(text, default_region)
    if number is None:
        return PhoneCheck(raw, None, False, INVALID)
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if line_type is not None:
        kind = re.sub(r"[\s_\-]", "", line_type).lower()
        if kind in _NOT_MOBILE_LINE_TYPES:
            return PhoneCheck(raw, e164, False, NOT_MOBILE)
    return PhoneCheck(raw, e164, True, None)


@functools.lru_cache(maxsize=_REMEMBERED)
def time_zone(e164: str) -> ZoneInfo | None:
    """The one IANA zone of this number's region (its area code in North America), or
    None when the number spans several zones or is not a phone number."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return None
    zones = [z for z in pn_timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
    if len(zones) != 1:
        return None
    try:
        return ZoneInfo(zones[0])
    except (ZoneInfoNotFoundError, ValueError):
        return None


def describe_reason(code: str) -> str:
    """A sentence for the UI explaining a :class:`PhoneCheck` reason code."""
    return REASONS.get(code, "This number can't receive texts.")


@functools.lru_cache(maxsize=_REMEMBERED)
def format_for_display(e164: str, default_region: str = "US") -> str:
    """Format a number for people: national format when it shares the country calling
    code of ``default_region`` (``(415) 555-2671`` for a US office, also for Canada),
    international otherwise (``+44 7400 123456``).

    Input that does not parse as a phone number (``anonymous``, ``client:alice``) is
    returned unchanged, stripped, so the UI can always show something.
    """
    text = e164.strip()
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except NumberParseException:
        return text
    if not phonenumbers.is_possible_number(number):
        return text
    home_code = phonenumbers.country_code_for_region(default_region.upper())
    if number.country_code == home_code:
        return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
