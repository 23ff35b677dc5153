"""A simulated carrier for the demo workspace and ``frontdesk selftest``.

:class:`DemoCarrier` implements :class:`services.ports.Carrier` and plays Twilio's part
over real HTTP: it POSTs the same webhooks Twilio would (voice, Dial result, call status,
inbound SMS, SMS status callbacks) to the real receiver, signed exactly as Twilio signs
them (``RequestValidator(token).compute_signature(url, params)``) with a demo auth token
that is random per run. Nothing leaves this machine and nothing is sent to a phone.

:class:`LoopbackEndpoint` is the demo's :class:`services.tunnel.PublicEndpoint`: the
"public" URL is the receiver's own loopback address, and opening it tells the carrier
where to post (:meth:`DemoCarrier.attach`).

Life cycle: the aiohttp session exists between :meth:`DemoCarrier.start` and
:meth:`DemoCarrier.close`; every background task (delayed status callbacks) is tracked
and cancelled on close. No Qt here.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import aiohttp
from twilio.request_validator import RequestValidator

from services import phones, templates
from services.ports import (
    CarrierError,
    LineInfo,
    NotTextableError,
    OptedOutError,
    RemoteCall,
    RemoteMessage,
    SentMessage,
)
from services.receiver import PATHS, SIGNATURE_HEADER
from services.tasks import TaskSet

__all__ = ["DemoCarrier", "DemoCarrierError", "LoopbackEndpoint", "new_auth_token"]

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
_STOP_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
)
_START_WORDS = frozenset({"start", "yes", "unstop"})


def new_auth_token() -> str:
    """A random auth token for one demo run (32 hex digits, like Twilio's)."""
    return secrets.token_hex(16)


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


#: What one simulated SMS segment costs (Twilio's US rate, in dollars).
DEMO_SEGMENT_PRICE = 0.0083


class DemoCarrierError(CarrierError):
    """The simulated carrier could not reach the receiver, or the receiver refused it."""


class DemoCarrier:
    """Twilio, simulated: sends are logged and acknowledged with signed status callbacks;
    calls and replies are simulated by POSTing signed webhooks to the receiver.

    ``number`` is the business's (demo) Twilio number the simulated callers dial.
    ``status_delays`` are the seconds after a send at which the "sent" and "delivered"
    callbacks are posted.
    """

    def __init__(
        self,
        auth_token: str,
        *,
        number: str,
        account_sid: str | None = None,
        status_delays: tuple[float, float] = (0.3, 1.0),
        request_timeout: float = 10.0,
    ) -> None:
        if not auth_token:
            raise ValueError("auth_token must not be empty")
        if not 0 <= status_delays[0] <= status_delays[1]:
            raise ValueError("status_delays must be increasing and non-negative")
        self._validator = RequestValidator(auth_token)
        self.auth_token = auth_token
        self.number = number
        self.account_sid = account_sid or _sid("AC")
        self._delays = status_delays
        self._timeout = request_timeout
        self._base_url: str | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks = TaskSet("demo-carrier")
        self._messages: list[RemoteMessage] = []  # oldest first
        self._calls: list[RemoteCall] = []  # oldest first
        self._opted_out: set[tuple[str, str]] = set()  # (customer, business number)
        self._seq = itertools.count(1)

    # -- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Create the HTTP session on the running loop (idempotent)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout)
            )

    async def close(self) -> None:
        """Cancel pending callbacks and close the session. Safe to call twice."""
        await self._tasks.close(grace=0)
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def attach(self, base_url: str) -> None:
        """Tell the carrier the receiver's public base URL (where webhooks go)."""
        self._base_url = base_url.rstrip("/")

    @property
    def base_url(self) -> str | None:
        return self._base_url

    async def idle(self) -> None:
        """Wait until every pending status callback has been posted (tests, selftest)."""
        await self._tasks.drain()

    # -- the carrier log -----------------------------------------------------------------

    @property
    def sent(self) -> list[RemoteMessage]:
        """Messages sent through :meth:`send_sms`, oldest first, with their latest status."""
        return [m for m in self._messages if m.direction == "outbound-api"]

    @property
    def calls(self) -> list[RemoteCall]:
        """Calls simulated so far, oldest first."""
        return list(self._calls)

    async def wait_for_sent(self, count: int, timeout: float = 10.0) -> list[RemoteMessage]:
        """Wait until at least ``count`` messages were sent; returns :attr:`sent`."""
        async with asyncio.timeout(timeout):
            while len(self.sent) < count:
                await asyncio.sleep(0.02)
        return self.sent

    async def wait_for_status(self, sid: str, status: str, timeout: float = 10.0) -> None:
        """Wait until the message ``sid`` reached ``status`` in the carrier's log."""
        async with asyncio.timeout(timeout):
            while True:
                message = self._message(sid)
                if message is not None and message.status == status:
                    return
                await asyncio.sleep(0.02)

    def _message(self, sid: str) -> RemoteMessage | None:
        return next((m for m in self._messages if m.sid == sid), None)

    def _set_status(self, sid: str, status: str) -> None:
        for i, m in enumerate(self._messages):
            if m.sid == sid:
                now = datetime.now(UTC)
                self._messages[i] = replace(
                    m, status=status, date_sent=m.date_sent or (now if status == "sent" else None)
                )

    # -- Carrier -------------------------------------------------------------------------

    async def send_sms(
        self,
        *,
        to: str,
        from_: str,
        body: str,
        status_callback: str | None,
        media_urls: Sequence[str] = (),
    ) -> SentMessage:
        if self._session is None:
            raise CarrierError("the demo carrier is not started", retryable=True)
        check = phones.classify(to, "US")
        if not check.textable or check.e164 is None:
            raise NotTextableError(
                f"The 'To' number {to} is not a valid phone number.", code=21211, status=400
            )
        if not body.strip() and not media_urls:
            raise CarrierError("Message body is required.", code=21602, status=400)
        if (check.e164, from_) in self._opted_out:
            raise OptedOutError("Attempt to send to unsubscribed recipient", code=21610, status=400)
        now = datetime.now(UTC)
        sid = _sid("SM")
        self._messages.append(
            RemoteMessage(
                sid=sid,
                direction="outbound-api",
                from_=from_,
                to=check.e164,
                body=body,
                status="queued",
                date_created=now,
                num_media=len(media_urls),
            )
        )
        callback = status_callback or (
            self._base_url + PATHS["sms_status"] if self._base_url else None
        )
        self._tasks.spawn(
            self._deliver(sid, check.e164, from_, callback, templates.segments(body).segments),
            name=f"demo-status-{sid}",
        )
        return SentMessage(
            sid=sid,
            status="queued",
            to=check.e164,
            from_=from_,
            body=body,
            num_segments=templates.segments(body).segments,
            date_created=now,
        )

    async def _deliver(
        self, sid: str, to: str, from_: str, callback: str | None, segments: int = 1
    ) -> None:
        first, second = self._delays
        await asyncio.sleep(first)
        for status, wait in (("sent", second - first), ("delivered", 0.0)):
            self._set_status(sid, status)
            if callback is not None:
                params = {
                    "AccountSid": self.account_sid,
                    "ApiVersion": API_VERSION,
                    "From": from_,
                    "To": to,
                    "MessageSid": sid,
                    "SmsSid": sid,
                    "MessageStatus": status,
                    "SmsStatus": status,
                }
                if status == "delivered":  # a simulated US rate, so the demo shows cost
                    params |= {"Price": f"-{DEMO_SEGMENT_PRICE * segments:.5f}", "PriceUnit": "USD"}
                try:
                    await self._post_url(callback, params, expect=(200, 204))
                except DemoCarrierError as exc:
                    log.warning("demo status callback %s for %s failed: %s", status, sid, exc)
            if wait:
                await asyncio.sleep(wait)

    async def list_messages(
        self,
        *,
        to: str | None = None,
        from_: str | None = None,
        date_sent_after: datetime | None = None,
        limit: int = 200,
    ) -> list[RemoteMessage]:
        found = [
            m
            for m in reversed(self._messages)
            if (to is None or m.to == to)
            and (from_ is None or m.from_ == from_)
            and (
                date_sent_after is None
                or (m.date_sent or m.date_created or date_sent_after) >= date_sent_after
            )
        ]
        return found[:limit]

    async def list_calls(
        self,
        *,
        to: str | None = None,
        from_: str | None = None,
        start_time_after: datetime | None = None,
        parent_call_sid: str | None = None,
        limit: int = 200,
    ) -> list[RemoteCall]:
        found = [
            c
            for c in reversed(self._calls)
            if (to is None or c.to == to)
            and (from_ is None or c.from_ == from_)
            and (parent_call_sid is None or c.parent_call_sid == parent_call_sid)
            and (
                start_time_after is None
                or (c.start_time is not None and c.start_time >= start_time_after)
            )
        ]
        return found[:limit]

    async def list_media(self, message_sid: str, *, limit: int = 10) -> list[tuple[str, str]]:
        """The demo's simulated texts carry no media."""
        return []

    async def lookup_number(self, phone: str, *, timeout_seconds: float) -> LineInfo:
        """The demo's callers are all mobiles, nameless (no cost, no network)."""
        return LineInfo(phone, True, "mobile", "Demo Wireless", None, None)

    async def fetch_recording(self, recording_sid: str, *, max_bytes: int) -> bytes:
        raise CarrierError("the demo carrier records no voicemails")

    async def create_call(
        self, *, to: str, from_: str, twiml: str, status_callback: str | None
    ) -> str:
        """A simulated call: logged as an outbound call, completed at once."""
        sid = _sid("CA")
        now = datetime.now(UTC)
        self._calls.append(
            RemoteCall(sid, None, from_, to, "completed", "outbound-api", now, now, 0)
        )
        return sid

    # -- simulations ---------------------------------------------------------------------

    async def simulate_missed_call(self, caller: str, *, name: str | None = None) -> str:
        """A call from ``caller`` that rings the office and is not answered, as Twilio
        reports it: the voice webhook (ringing), the Dial result (no-answer), then the
        parent call's status callback (completed). Returns the CallSid.

        ``name`` is sent as ``CallerName`` (what Twilio's caller-ID lookup adds).
        Raises :class:`DemoCarrierError` when the receiver refuses a step.
        """
        call_sid = _sid("CA")
        child_sid = _sid("CA")
        started = datetime.now(UTC)
        base = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call_sid,
            "Direction": "inbound",
            "From": caller,
            "To": self.number,
            "Caller": caller,
            "Called": self.number,
        }
        if name:
            base["CallerName"] = name
        await self._post("voice", {**base, "CallStatus": "ringing"}, expect=(200,))
        await self._post(
            "dial_result",
            {
                **base,
                "CallStatus": "in-progress",
                "DialCallSid": child_sid,
                "DialCallStatus": "no-answer",
                "DialBridged": "false",
                "DialCallDuration": "0",
            },
            expect=(200,),
        )
        await self._post(
            "call_status",
            {**base, "CallStatus": "completed", "CallDuration": "21", "Duration": "1"},
            expect=(200, 204),
        )
        ended = datetime.now(UTC)
        self._calls.append(
            RemoteCall(
                sid=call_sid,
                parent_call_sid=None,
                from_=caller,
                to=self.number,
                status="completed",
                direction="inbound",
                start_time=started,
                end_time=ended,
                duration_seconds=21,
            )
        )
        self._calls.append(
            RemoteCall(
                sid=child_sid,
                parent_call_sid=call_sid,
                from_=self.number,
                to=caller,
                status="no-answer",
                direction="outbound-dial",
                start_time=started,
                end_time=ended,
                duration_seconds=0,
            )
        )
        return call_sid

    async def simulate_reply(self, caller: str, body: str) -> str:
        """A text from ``caller`` to the business number (the messaging webhook).

        Returns the MessageSid. STOP-family words opt the caller out at the carrier too
        (later sends to them fail with 21610, as on Twilio); START/YES/UNSTOP undo it.
        """
        message_sid = _sid("SM")
        now = datetime.now(UTC)
        word = body.strip().lower()
        if word in _STOP_WORDS:
            self._opted_out.add((caller, self.number))
        elif word in _START_WORDS:
            self._opted_out.discard((caller, self.number))
        self._messages.append(
            RemoteMessage(
                sid=message_sid,
                direction="inbound",
                from_=caller,
                to=self.number,
                body=body,
                status="received",
                date_sent=now,
                date_created=now,
            )
        )
        await self._post(
            "sms",
            {
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
                "MessageSid": message_sid,
                "SmsSid": message_sid,
                "SmsMessageSid": message_sid,
                "From": caller,
                "To": self.number,
                "Body": body,
                "NumMedia": "0",
                "NumSegments": "1",
                "SmsStatus": "received",
            },
            expect=(200,),
        )
        return message_sid

    # -- HTTP ----------------------------------------------------------------------------

    def sign(self, url: str, params: Mapping[str, str]) -> str:
        """The X-Twilio-Signature Twilio would send for ``params`` POSTed to ``url``."""
        return str(self._validator.compute_signature(url, dict(params)))

    async def _post(self, name: str, params: Mapping[str, str], *, expect: Sequence[int]) -> str:
        if self._base_url is None:
            raise DemoCarrierError(
                "the demo carrier does not know the receiver's URL yet (attach() first)"
            )
        return await self._post_url(self._base_url + PATHS[name], params, expect=expect)

    async def _post_url(self, url: str, params: Mapping[str, str], *, expect: Sequence[int]) -> str:
        session = self._session
        if session is None:
            raise DemoCarrierError("the demo carrier is not started")
        headers = {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "User-Agent": "TwilioProxy/1.1 (Frontdesk demo carrier)",
            "I-Twilio-Idempotency-Token": f"demo-{next(self._seq)}",
            SIGNATURE_HEADER: self.sign(url, params),
        }
        try:
            async with session.post(url, data=dict(params), headers=headers) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DemoCarrierError(f"could not reach the receiver at {url}: {exc!r}") from exc
        if status not in expect:
            raise DemoCarrierError(
                f"the receiver answered {status} to {url}: {text[:200]}", status=status
            )
        return text


class LoopbackEndpoint:
    """The demo's public endpoint: the receiver's own loopback URL.

    ``open(port)`` returns ``http://127.0.0.1:{port}`` and attaches ``carrier`` (when
    given) to it, so the simulated Twilio posts where the receiver listens and signs for
    the URL the receiver checks against.
    """

    def __init__(self, carrier: DemoCarrier | None = None, *, host: str = "127.0.0.1") -> None:
        self._carrier = carrier
        self._host = host
        self._url: str | None = None

    async def open(self, local_port: int) -> str:
        self._url = f"http://{self._host}:{local_port}"
        if self._carrier is not None:
            self._carrier.attach(self._url)
        return self._url

    async def close(self) -> None:
        self._url = None

    def url(self) -> str | None:
        return self._url

    async def check(self) -> str | None:
        return self._url

    def __repr__(self) -> str:
        return f"LoopbackEndpoint({self._url!r})"
