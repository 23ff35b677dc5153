"""What the engine needs from the outside world, as plain types and protocols.

The real Twilio gateway (:mod:`services.gateway`) and the demo's simulated carrier
(:mod:`services.demo_carrier`) both implement :class:`Carrier`; the engine only ever
sees this protocol, so tests and the demo build the same object graph as production.
All times are timezone-aware UTC ``datetime`` values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SentMessage:
    """What the carrier answered to a send: the new message's SID and first status."""

    sid: str
    status: str
    to: str
    from_: str
    body: str
    num_segments: int | None = None
    date_created: datetime | None = None


@dataclass(frozen=True, slots=True)
class RemoteMessage:
    """One entry of the carrier's message log (Twilio's Messages list)."""

    sid: str
    direction: str  # "inbound" | "outbound-api" | "outbound-call" | "outbound-reply"
    from_: str
    to: str
    body: str
    status: str
    date_sent: datetime | None = None
    date_created: datetime | None = None
    num_media: int = 0
    error_code: int | None = None


@dataclass(frozen=True, slots=True)
class RemoteCall:
    """One entry of the carrier's call log (Twilio's Calls list)."""

    sid: str
    parent_call_sid: str | None
    from_: str
    to: str
    status: str  # queued | ringing | in-progress | completed | busy | failed | no-answer | canceled
    direction: str  # "inbound" | "outbound-dial" | "outbound-api"
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class NumberConfig:
    """An IncomingPhoneNumber: its SID and where its webhooks point."""

    sid: str
    phone_number: str
    voice_url: str | None = None
    voice_method: str | None = None
    voice_fallback_url: str | None = None
    sms_url: str | None = None
    sms_method: str | None = None
    status_callback: str | None = None
    capabilities: dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LineInfo:
    """Twilio Lookup v2 on one number: line type intelligence and caller name (CNAM).

    ``line_type`` is Twilio's ``line_type_intelligence.type`` (mobile, landline,
    fixedVoip, nonFixedVoip, tollFree, ...) or None when unknown; ``caller_name`` and
    ``caller_type`` (CONSUMER / BUSINESS) come from CNAM, US numbers only."""

    phone: str
    valid: bool | None
    line_type: str | None
    carrier_name: str | None
    caller_name: str | None
    caller_type: str | None


class CarrierError(Exception):
    """A send or lookup the carrier refused or could not answer.

    ``code`` is Twilio's error code when there is one, ``status`` the HTTP status;
    ``retryable`` says whether trying again later can succeed (429, 5xx, network); for a
    send it also promises that nothing was created (see :class:`UncertainSendError`).
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        status: int | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.retryable = retryable


class UncertainSendError(CarrierError):
    """A create whose outcome is unknown: it may have created the message (a timeout, a
    dropped connection or a 5xx after the request was sent). Never repeat it blindly:
    look the message up in the carrier's log first."""

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None):
        super().__init__(message, code=code, status=status, retryable=False)


class OptedOutError(CarrierError):
    """Twilio 21610: the recipient replied STOP to this sender; never text them again."""


class NotTextableError(CarrierError):
    """Twilio 21211 / 21614 (and kin): the number is invalid or cannot receive SMS."""


class AuthenticationError(CarrierError):
    """Twilio 20003 / HTTP 401: the Account SID or auth token is wrong."""


class Carrier(Protocol):
    """The carrier operations the engine uses. Every method is a coroutine on the loop."""

    async def send_sms(
        self,
        *,
        to: str,
        from_: str,
        body: str,
        status_callback: str | None,
        media_urls: Sequence[str] = (),
    ) -> SentMessage:
        """Send one SMS (an MMS when ``media_urls`` are given: public URLs the carrier
        fetches), once: never retried when it may have created the message.

        Raises :class:`UncertainSendError` when the outcome is unknown, else
        :class:`CarrierError` (or a subclass) when refused; ``retryable`` refusals
        created nothing.
        """
        ...

    async def list_messages(
        self,
        *,
        to: str | None = None,
        from_: str | None = None,
        date_sent_after: datetime | None = None,
        limit: int = 200,
    ) -> list[RemoteMessage]:
        """The newest messages matching the filters, newest first, at most ``limit``."""
        ...

    async def list_calls(
        self,
        *,
        to: str | None = None,
        from_: str | None = None,
        start_time_after: datetime | None = None,
        parent_call_sid: str | None = None,
        limit: int = 200,
    ) -> list[RemoteCall]:
        """The newest calls matching the filters, newest first, at most ``limit``."""
        ...

    async def lookup_number(self, phone: str, *, timeout_seconds: float) -> LineInfo:
        """Lookup v2 line type and caller name of ``phone`` (E.164), one request bounded
        by ``timeout_seconds``, never retried. Raises :class:`CarrierError`."""
        ...

    async def fetch_recording(self, recording_sid: str, *, max_bytes: int) -> bytes:
        """A recording's audio (MP3), with the account's credentials; at most
        ``max_bytes`` (a larger one raises :class:`CarrierError`)."""
        ...

    async def create_call(
        self, *, to: str, from_: str, twiml: str, status_callback: str | None
    ) -> str:
        """Place a call from ``from_`` to ``to`` that runs ``twiml`` once answered;
        returns its CallSid. Never repeated. Raises :class:`CarrierError`."""
        ...

    async def list_media(self, message_sid: str, *, limit: int = 10) -> list[tuple[str, str]]:
        """An MMS's media as ``(url, content type)``, as the messaging webhook gives them."""
        ...
