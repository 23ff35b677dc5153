"""Twilio's webhook fields, parsed into typed, bounded values at the receiver's edge.

The receiver checks the signature, then hands the form to one parser here per route; the
engine only ever sees the resulting frozen dataclasses. The rules, the same for every
field:

- text is cleaned: NUL and other control characters (newline and tab kept in a message
  body) are removed and the length is capped (PostgreSQL refuses NULs; nothing here is
  allowed to grow a row or a log line without bound);
- numbers are ASCII digits only (``"²".isdigit()`` and ``"١٢".isdigit()`` are True) and
  inside a sane range, else dropped (None);
- enumerations keep the values Twilio documents and put anything else in ``"other"``
  (Twilio adds values at times; a new one must not fail a write);
- SIDs are ASCII letters and digits, at most :data:`MAX_SID`.

A required field that is missing or unusable raises
:class:`BadWebhook` (answered 400); an optional one that cannot
be used is logged (its name and length, never its value) and dropped. Unknown fields are
ignored: Twilio may add fields at any time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from services.price_values import Price, parse_price

__all__ = [
    "CALL_STATUSES",
    "DIAL_STATUSES",
    "MAX_ADDRESS",
    "MAX_BODY",
    "MAX_MEDIA",
    "MAX_SID",
    "MESSAGE_STATUSES",
    "OTHER",
    "RECORDING_STATUSES",
    "BadWebhook",
    "CallStatusUpdate",
    "DialResult",
    "InboundMessage",
    "MessageStatusUpdate",
    "RecordingDone",
    "RecordingStatus",
    "TranscriptionDone",
    "VoiceCall",
    "clean_sid",
    "clean_text",
    "parse_call_status",
    "parse_dial_result",
    "parse_inbound_message",
    "parse_message_status",
    "parse_recording_done",
    "parse_recording_status",
    "parse_transcription",
    "parse_voice",
]

log = logging.getLogger(__name__)

OTHER: Final = "other"
MAX_SID: Final = 64
MAX_ADDRESS: Final = 256  # From/To: E.164, an alphanumeric sender, a SIP URI, client:name
MAX_BODY: Final = 1600  # Twilio's own limit on a message body
MAX_MEDIA: Final = 10  # Twilio delivers at most 10 media per MMS
MAX_URL: Final = 2048
MAX_CONTENT_TYPE: Final = 100
MAX_CALL_SECONDS: Final = 24 * 3600  # Twilio ends every call after 24 hours
MAX_ERROR_CODE: Final = 99_999  # Twilio's error codes have at most five digits

CALL_STATUSES: Final = frozenset(
    {"queued", "initiated", "ringing", "in-progress", "completed", "busy", "no-answer"}
    | {"failed", "canceled"}
)
DIAL_STATUSES: Final = frozenset(
    {"completed", "answered", "busy", "no-answer", "failed", "canceled"}
)
RECORDING_STATUSES: Final = frozenset({"in-progress", "completed", "absent", "failed"})
TRANSCRIPTION_STATUSES: Final = frozenset({"completed", "failed"})
MAX_TRANSCRIPT: Final = 5000  # Twilio transcribes at most 2 minutes of speech
MESSAGE_STATUSES: Final = frozenset(
    {"accepted", "scheduled", "queued", "sending", "sent", "receiving", "received"}
    | {"delivered", "undelivered", "failed", "read", "canceled", "partially_delivered"}
)

# C0 and C1 control characters and DEL (NUL among them); emoji joiners and direction
# marks are format characters, not controls, and stay.
_CONTROLS: Final = [*range(0x00, 0x20), *range(0x7F, 0xA0)]
_DROP_CONTROLS: Final = dict.fromkeys(_CONTROLS)
_DROP_CONTROLS_KEEP_LINES: Final = dict.fromkeys(c for c in _CONTROLS if chr(c) not in "\n\t")


class BadWebhook(ValueError):
    """A required field is missing or unusable: answered 400 with the message."""


def clean_text(value: str, cap: int, *, multiline: bool = False) -> str:
    """``value`` without NULs and control characters (newline and tab kept when
    ``multiline``, a CRLF read as a newline), at most ``cap`` characters, surrounding
    whitespace stripped."""
    head = value[: cap * 4]  # enough to hold cap characters once controls are gone
    if multiline:
        cleaned = head.replace("\r\n", "\n").translate(_DROP_CONTROLS_KEEP_LINES)
    else:
        cleaned = head.translate(_DROP_CONTROLS)
    return cleaned.strip()[:cap].strip()


def clean_sid(value: str | None) -> str | None:
    """A Twilio SID (ASCII letters and digits, 2 to :data:`MAX_SID` long) or None."""
    if not value or len(value) > MAX_SID or len(value) < 2:
        return None
    if not (value.isascii() and value.isalnum()):
        return None
    return value


def _drop(field: str, value: str, why: str) -> None:
    log.warning("webhook field %s dropped (%d characters): %s", field, len(value), why)


def _sid(form: Mapping[str, str], name: str) -> str:
    raw = form.get(name, "")
    sid = clean_sid(raw.strip())
    if sid is None:
        if raw.strip():
            raise BadWebhook(f"{name} is not a Twilio SID")
        raise BadWebhook(f"missing field(s): {name}")
    return sid


def _address(form: Mapping[str, str], name: str, *, required: bool = False) -> str:
    value = clean_text(form.get(name, ""), MAX_ADDRESS)
    if required and not value:
        raise BadWebhook(f"missing field(s): {name}")
    return value


def _count(form: Mapping[str, str], name: str, high: int) -> int | None:
    """An ASCII-digit count in [0, high], else None (logged when present)."""
    raw = form.get(name, "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(high)) or int(raw) > high:
        _drop(name, raw, f"not a whole number from 0 to {high}")
        return None
    return int(raw)


def _enum(form: Mapping[str, str], name: str, known: frozenset[str], *, required: bool) -> str:
    raw = form.get(name, "").strip()
    if not raw:
        if required:
            raise BadWebhook(f"missing field(s): {name}")
        return ""
    value = raw.lower()
    if value in known:
        return value
    _drop(name, raw, f"not a known value; kept as {OTHER!r}")
    return OTHER


def _bool(form: Mapping[str, str], name: str) -> bool | None:
    raw = form.get(name, "").strip().lower()
    if raw in ("true", "false"):
        return raw == "true"
    if raw:
        _drop(name, raw, "not true or false")
    return None


@dataclass(frozen=True, slots=True)
class RecordingDone:
    """A ``<Record>`` verb's action request: the caller finished (or skipped) a voicemail.

    ``recording_sid`` is None when nothing was recorded (silence, an immediate hang-up)."""

    call_sid: str
    recording_sid: str | None
    duration_seconds: int | None


@dataclass(frozen=True, slots=True)
class RecordingStatus:
    """A recording status callback (``recordingStatusCallback``)."""

    call_sid: str
    recording_sid: str
    status: str  # one of RECORDING_STATUSES or OTHER
    duration_seconds: int | None


@dataclass(frozen=True, slots=True)
class TranscriptionDone:
    """A transcription callback (``transcribeCallback``) for a voicemail."""

    call_sid: str
    recording_sid: str
    status: str  # one of TRANSCRIPTION_STATUSES or OTHER
    text: str


@dataclass(frozen=True, slots=True)
class VoiceCall:
    """The voice webhook: a call reached the number.

    ``recording`` is set when the request is a ``<Record>`` without an ``action``
    coming back to the voice URL (TwiML served before this version): answered with a
    hang-up, never the greeting again."""

    call_sid: str
    from_: str
    to: str
    status: str  # one of CALL_STATUSES, OTHER or "" when absent
    recording: RecordingDone | None = None


@dataclass(frozen=True, slots=True)
class DialResult:
    """The Dial verb's action request: how ringing the office ended."""

    call_sid: str
    from_: str
    to: str
    dial_status: str  # one of DIAL_STATUSES or OTHER; "" for a Record request
    bridged: bool | None
    dial_seconds: int | None
    # A <Record> that reached the Dial-result URL (its action missing or pointing here).
    recording: RecordingDone | None = None


@dataclass(frozen=True, slots=True)
class CallStatusUpdate:
    """A call's status callback."""

    call_sid: str
    from_: str
    to: str
    status: str  # one of CALL_STATUSES or OTHER
    duration_seconds: int | None
    child_leg: bool  # ParentCallSid present: a leg of our own Dial
    price: Price | None = None  # Price / PriceUnit, when Twilio includes them


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A text (SMS or MMS) that reached the number."""

    message_sid: str
    from_: str
    to: str
    body: str
    media: tuple[tuple[str, str], ...]  # (url, content type), at most MAX_MEDIA


@dataclass(frozen=True, slots=True)
class MessageStatusUpdate:
    """Delivery status of a text we sent."""

    message_sid: str
    status: str  # one of MESSAGE_STATUSES or OTHER
    error_code: int | None
    price: Price | None = None  # Price / PriceUnit, when Twilio includes them


def _is_record_request(form: Mapping[str, str]) -> bool:
    return any(form.get(name, "").strip() for name in ("RecordingSid", "RecordingUrl"))


def _optional_sid(form: Mapping[str, str], name: str) -> str | None:
    raw = form.get(name, "").strip()
    sid = clean_sid(raw)
    if raw and sid is None:
        _drop(name, raw, "not a Twilio SID")
    return sid


def parse_voice(form: Mapping[str, str]) -> VoiceCall:
    return VoiceCall(
        call_sid=_sid(form, "CallSid"),
        from_=_address(form, "From", required=True),
        to=_address(form, "To"),
        status=_enum(form, "CallStatus", CALL_STATUSES, required=False),
        recording=parse_recording_done(form) if _is_record_request(form) else None,
    )


def parse_recording_done(form: Mapping[str, str]) -> RecordingDone:
    return RecordingDone(
        call_sid=_sid(form, "CallSid"),
        recording_sid=_optional_sid(form, "RecordingSid"),
        duration_seconds=_count(form, "RecordingDuration", MAX_CALL_SECONDS),
    )


def parse_recording_status(form: Mapping[str, str]) -> RecordingStatus:
    return RecordingStatus(
        call_sid=_sid(form, "CallSid"),
        recording_sid=_sid(form, "RecordingSid"),
        status=_enum(form, "RecordingStatus", RECORDING_STATUSES, required=True),
        duration_seconds=_count(form, "RecordingDuration", MAX_CALL_SECONDS),
    )


def parse_transcription(form: Mapping[str, str]) -> TranscriptionDone:
    return TranscriptionDone(
        call_sid=_sid(form, "CallSid"),
        recording_sid=_sid(form, "RecordingSid"),
        status=_enum(form, "TranscriptionStatus", TRANSCRIPTION_STATUSES, required=True),
        text=clean_text(form.get("TranscriptionText", ""), MAX_TRANSCRIPT, multiline=True),
    )


def parse_dial_result(form: Mapping[str, str]) -> DialResult:
    if not form.get("DialCallStatus", "").strip() and _is_record_request(form):
        done = parse_recording_done(form)
        return DialResult(
            call_sid=done.call_sid,
            from_=_address(form, "From"),
            to=_address(form, "To"),
            dial_status="",
            bridged=None,
            dial_seconds=None,
            recording=done,
        )
    return DialResult(
        call_sid=_sid(form, "CallSid"),
        from_=_address(form, "From"),
        to=_address(form, "To"),
        dial_status=_enum(form, "DialCallStatus", DIAL_STATUSES, required=True),
        bridged=_bool(form, "DialBridged"),
        dial_seconds=_count(form, "DialCallDuration", MAX_CALL_SECONDS),
    )


def parse_call_status(form: Mapping[str, str]) -> CallStatusUpdate:
    return CallStatusUpdate(
        call_sid=_sid(form, "CallSid"),
        from_=_address(form, "From"),
        to=_address(form, "To"),
        status=_enum(form, "CallStatus", CALL_STATUSES, required=True),
        duration_seconds=_count(form, "CallDuration", MAX_CALL_SECONDS),
        child_leg=bool(form.get("ParentCallSid", "").strip()),
        price=_price(form),
    )


def parse_inbound_message(form: Mapping[str, str]) -> InboundMessage:
    sid = _sid(form, "SmsSid") if form.get("SmsSid") and not form.get("MessageSid") else None
    return InboundMessage(
        message_sid=sid or _sid(form, "MessageSid"),
        from_=_address(form, "From", required=True),
        to=_address(form, "To"),
        body=clean_text(form.get("Body", ""), MAX_BODY, multiline=True),
        media=_media(form),
    )


def parse_message_status(form: Mapping[str, str]) -> MessageStatusUpdate:
    sid = _sid(form, "SmsSid") if form.get("SmsSid") and not form.get("MessageSid") else None
    status_field = (
        "SmsStatus" if form.get("SmsStatus") and not form.get("MessageStatus") else "MessageStatus"
    )
    code = _count(form, "ErrorCode", MAX_ERROR_CODE)
    return MessageStatusUpdate(
        message_sid=sid or _sid(form, "MessageSid"),
        status=_enum(form, status_field, MESSAGE_STATUSES, required=True),
        error_code=code or None,  # 0 is "no error"
        price=_price(form),
    )


def _price(form: Mapping[str, str]) -> Price | None:
    raw = form.get("Price", "")
    if not raw.strip():
        return None
    price = parse_price(raw, form.get("PriceUnit"))
    if price is None:
        _drop("Price", raw, "not a price")
    return price


def _media(form: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    count = _count(form, "NumMedia", 1_000_000) or 0
    if count > MAX_MEDIA:
        _drop("NumMedia", str(count), f"more than {MAX_MEDIA}; the first {MAX_MEDIA} kept")
    found: list[tuple[str, str]] = []
    for i in range(min(count, MAX_MEDIA)):
        url = clean_text(form.get(f"MediaUrl{i}", ""), MAX_URL)
        if not url:
            continue
        if not url.startswith(("https://", "http://")) or " " in url:
            _drop(f"MediaUrl{i}", url, "not an http(s) URL")
            continue
        kind = clean_text(form.get(f"MediaContentType{i}", ""), MAX_CONTENT_TYPE)
        found.append((url, kind))
    return tuple(found)
