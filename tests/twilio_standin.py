"""A Twilio stand-in: a small aiohttp server speaking Twilio's REST shapes, for tests.

It serves exactly what :class:`services.gateway.TwilioGateway` uses, under
``/2010-04-01/Accounts/{AccountSid}``:

- ``POST Messages.json`` (send), ``GET Messages.json`` (To, From, DateSent, DateSent>,
  DateSent< filters), ``GET Messages/{Sid}.json``. As at Twilio, a created message is
  ``queued`` with no ``date_sent`` until it leaves (:meth:`TwilioStandIn.release`, or a
  status set with :meth:`TwilioStandIn.set_message_status`), so DateSent filters do not
  see it; lists are newest first by creation. ``price`` stays null until the message
  is final (delivered, undelivered, failed, read, received), as at Twilio; a call's
  until it ended (:data:`SEGMENT_PRICE`, :data:`MINUTE_PRICE`).
- MMS: ``MediaUrl`` (repeatable, at most 10) must be an absolute http(s) URL (else 400
  21620). As at Twilio the create answers 201 and the media is then fetched over real
  HTTP: a URL under a base registered with :meth:`TwilioStandIn.expose` (the tunnel:
  public base -> the receiver's local URL) is fetched there; any other URL is one Twilio
  could not reach (11200). A non-200 answer is 11200, a Content-Type other than JPEG /
  PNG / GIF 12300, more than 5 MB in all 30019: the message becomes ``failed`` with that
  ``error_code`` and its StatusCallback is POSTed, signed, as Twilio would. Every fetch
  is recorded (:attr:`TwilioStandIn.media_fetches`, :meth:`wait_for_media_fetches`).
- Faults after the create (:meth:`TwilioStandIn.fail_after_create`): the message is
  created and then the connection is dropped, a 500 is answered, or the answer hangs.
- ``GET Calls.json`` (To, From, ParentCallSid, Status, StartTime, StartTime>,
  StartTime< filters), ``GET Calls/{Sid}.json``
- ``GET/POST IncomingPhoneNumbers.json`` (list filtered by PhoneNumber / buy),
  ``GET/POST IncomingPhoneNumbers/{Sid}.json`` (fetch / update webhooks)
- ``GET Accounts/{Sid}.json``
- ``POST Calls.json`` (an outbound call: To, From and one of Url / Twiml /
  ApplicationSid required, as at Twilio; recorded in :attr:`TwilioStandIn.calls_created`)
- ``GET Recordings/{Sid}.json`` / ``.mp3`` / ``.wav`` (seed with
  :meth:`TwilioStandIn.add_recording`)
- Lookup v2 ``GET /v2/PhoneNumbers/{PhoneNumber}`` (``Fields`` checked against
  Twilio's list; line type and caller name seeded with :meth:`TwilioStandIn.set_lookup`,
  an unknown valid number is a mobile with no CNAM; ``lookup_latency_seconds`` delays it)

Every request is checked for HTTP Basic auth (the account SID or an added API key, with
the configured secret); anything else gets 401 with Twilio's error JSON (code 20003).
Every request is recorded (method, path, query, form, monotonic and wall-clock arrival
time, response status). Lists are newest first and paged like Twilio (``PageSize``,
``Page``, ``PageToken``; ``next_page_uri`` when there is more).

Two ways to run it:

- in a background thread with its own loop (serves asyncio tests and subprocesses)::

      standin = TwilioStandIn()
      base_url = standin.start_in_thread()
      ...
      standin.stop()

  or ``with TwilioStandIn() as standin:`` (thread mode too).

- in the current loop::

      async with TwilioStandIn() as standin:   # or: await standin.start() / aclose()
          ...

State and recorded requests are guarded by a lock, so tests may read and seed them
from any thread while the server runs.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from tests.signing import form_body, sign

API_VERSION = "2010-04-01"
DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEFAULT_AUTH_TOKEN = "standin-auth-token-0123456789abcd"
DEFAULT_PAGE_SIZE = 50

_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXT = set("^{}\\[~]|€\f")


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 lowercase hex digits."""
    return prefix + secrets.token_hex(16)


def rfc2822(moment: datetime | None) -> str | None:
    """Twilio's date format: ``Wed, 26 Nov 2025 19:38:00 +0000``."""
    if moment is None:
        return None
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0))


def segment_count(body: str) -> int:
    """SMS segments as Twilio counts them (GSM-7: 160/153, else UCS-2: 70/67)."""
    if not body:
        return 1
    if all(ch in _GSM7 or ch in _GSM7_EXT for ch in body):
        units = sum(2 if ch in _GSM7_EXT else 1 for ch in body)
        return 1 if units <= 160 else -(-units // 153)
    units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in body)
    return 1 if units <= 70 else -(-units // 67)


def _parse_filter_time(value: str) -> datetime | None:
    """``2025-11-26``, ``2025-11-26T19:38:00Z`` or any ISO 8601 -> aware UTC datetime."""
    text = value.strip()
    if not text:
        return None
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _error_body(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


_MEDIA_ERRORS = {
    11200: "HTTP retrieval failure",
    12300: "Invalid Content-Type",
    30019: "Content size exceeds carrier limit",
}

_NOT_YET_SENT = frozenset({"accepted", "scheduled", "queued", "sending"})
#: As at Twilio, a message has a price only once it is final (never while queued or
#: merely "sent"); a call once it has ended.
_FINAL_MESSAGE = frozenset({"delivered", "undelivered", "failed", "read", "received"})
_FINAL_CALL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
#: Twilio's US rates (dollars): per SMS segment, per started minute of an answered call.
SEGMENT_PRICE = Decimal("0.0083")
MINUTE_PRICE = Decimal("0.0085")


def message_price(status: str, segments: int) -> str | None:
    """The ``price`` Twilio shows for a message in ``status``: None until it is final."""
    if status not in _FINAL_MESSAGE:
        return None
    return f"{-(SEGMENT_PRICE * segments):.5f}"


def call_price(status: str, duration: int | None) -> str | None:
    """The ``price`` of a call: None until it ended; only answered minutes are charged."""
    if status not in _FINAL_CALL:
        return None
    minutes = -(-(duration or 0) // 60) if status == "completed" else 0
    return f"{-(MINUTE_PRICE * minutes):.5f}"


_DEFAULT_CODES = {400: 21201, 401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the stand-in received.

    ``query`` and ``form`` keep the last value of each name (``*_items`` keep all, in
    order). ``received_monotonic`` is ``time.monotonic()`` and ``received_at`` is
    ``time.time()`` at arrival; ``status`` is the HTTP status answered.
    """

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    query_items: tuple[tuple[str, str], ...]
    form_items: tuple[tuple[str, str], ...]
    received_monotonic: float
    received_at: float
    auth_user: str | None
    status: int = 0


@dataclass
class _Failure:
    path_substring: str
    status: int
    code: int
    message: str
    remaining: int
    method: str | None


@dataclass
class _AfterCreate:
    mode: str  # "drop" | "500" | "hang"
    remaining: int
    hang_seconds: float


@dataclass
class _State:
    messages: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    numbers: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    after_create: list[_AfterCreate] = field(default_factory=list)
    # (recipient, sender): Twilio blocks per sender; a sender of None blocks every one.
    opted_out: set[tuple[str, str | None]] = field(default_factory=set)
    recordings: dict[str, dict[str, Any]] = field(default_factory=dict)
    lookups: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls_created: list[dict[str, Any]] = field(default_factory=list)
    exposed: dict[str, str] = field(default_factory=dict)  # public base -> local base
    media_fetches: list[dict[str, Any]] = field(default_factory=list)
    to_fetch: list[tuple[str, list[str], str | None]] = field(default_factory=list)


#: What Twilio delivers as MMS to US/Canadian handsets (it resizes these to fit).
MMS_TYPES = frozenset({"image/jpeg", "image/jpg", "image/png", "image/gif"})
MMS_MAX_BYTES = 5 * 1024 * 1024
MAX_MEDIA_URLS = 10


class TwilioStandIn:
    """An in-process Twilio REST stand-in. See the module docstring for the API.

    ``latency_seconds`` delays every answer (for benchmarks); ``friendly_name`` and
    ``account_status`` shape the Accounts answer.
    """

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        friendly_name: str = "Frontdesk Test Account",
        account_status: str = "active",
        latency_seconds: float = 0.0,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.host = host
        self.port = port
        self.friendly_name = friendly_name
        self.account_status = account_status
        self.latency_seconds = latency_seconds
        self.lookup_latency_seconds = 0.0
        self._api_keys: dict[str, str] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._state = _State()
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None
        self._fetching: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash); only once started."""
        if self._base_url is None:
            raise RuntimeError("TwilioStandIn is not running")
        return self._base_url

    async def start(self) -> str:
        """Serve on the running loop; returns the base URL."""
        if self._runner is not None:
            return self.base_url
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        port = runner.addresses[0][1]
        self._runner = runner
        self._loop = asyncio.get_running_loop()
        self._base_url = f"http://{self.host}:{port}"
        return self._base_url

    async def aclose(self) -> None:
        """Stop serving (in-loop mode)."""
        for task in list(self._fetching):
            task.cancel()
        if self._fetching:
            await asyncio.gather(*self._fetching, return_exceptions=True)
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self._base_url = None
        if self._thread is None:
            self._loop = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def start_in_thread(self, timeout: float = 10.0) -> str:
        """Serve from a daemon thread with its own loop; returns the base URL."""
        if self._thread is not None:
            return self.base_url
        ready = threading.Event()
        errors: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        thread = threading.Thread(target=run, name="twilio-standin", daemon=True)
        self._thread = thread
        thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("TwilioStandIn did not start in time")
        if errors:
            self._thread = None
            thread.join(timeout)
            loop.close()
            raise errors[0]
        return self.base_url

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background thread started by :meth:`start_in_thread`."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.aclose(), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            self._thread = None
            self._loop = None
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def __enter__(self) -> Self:
        self.start_in_thread()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- test controls -------------------------------------------------------------------

    def add_api_key(self, key_sid: str, secret: str) -> None:
        """Accept Basic auth with this API key SID and secret too."""
        with self._lock:
            self._api_keys[key_sid] = secret

    def add_number(
        self,
        phone_number: str,
        *,
        sid: str | None = None,
        friendly_name: str | None = None,
        voice_url: str | None = None,
        sms_url: str | None = None,
        status_callback: str | None = None,
        capabilities: dict[str, bool] | None = None,
    ) -> dict[str, Any]:
        """Own an IncomingPhoneNumber; returns its Twilio JSON (a copy).

        ``capabilities`` overrides Twilio's flags (e.g. ``{"sms": False}`` for a
        voice-only number); unnamed flags keep their defaults.
        """
        number = self._number_json(
            sid or new_sid("PN"),
            phone_number,
            friendly_name=friendly_name,
            voice_url=voice_url,
            sms_url=sms_url,
            status_callback=status_callback,
        )
        if capabilities:
            number["capabilities"] = {**number["capabilities"], **capabilities}
        with self._lock:
            self._state.numbers[number["sid"]] = number
            return dict(number)

    def seed_message(
        self,
        *,
        from_: str,
        to: str,
        body: str,
        direction: str = "inbound",
        status: str | None = None,
        sid: str | None = None,
        date_sent: datetime | None = None,
        num_media: int = 0,
        error_code: int | None = None,
        media: list[str] | None = None,
    ) -> dict[str, Any]:
        """Put a message in the log (an inbound reply by default); returns its JSON.

        ``media`` lists content types (e.g. ``["image/jpeg"]``): each becomes a Media
        record under the message, and ``num_media`` follows it.
        """
        moment = date_sent or datetime.now(UTC)
        if media:
            num_media = len(media)
        if status is None:
            status = "received" if direction == "inbound" else "delivered"
        message = self._message_json(
            sid=sid or new_sid("SM" if num_media == 0 else "MM"),
            from_=from_,
            to=to,
            body=body,
            direction=direction,
            status=status,
            created=moment,
            sent=None if status in _NOT_YET_SENT else moment,
            num_media=num_media,
            error_code=error_code,
        )
        message["_media"] = [
            {
                "sid": new_sid("ME"),
                "account_sid": self.account_sid,
                "parent_sid": message["sid"],
                "content_type": content_type,
                "date_created": rfc2822(moment),
                "date_updated": rfc2822(moment),
                "uri": "",
            }
            for content_type in (media or [])
        ]
        for item in message["_media"]:
            item["uri"] = (
                f"{self._account_uri()}/Messages/{message['sid']}/Media/{item['sid']}.json"
            )
        with self._changed:
            self._state.messages.append(message)
            self._changed.notify_all()
            return dict(message)

    def seed_call(
        self,
        *,
        from_: str,
        to: str,
        status: str = "no-answer",
        direction: str = "inbound",
        sid: str | None = None,
        parent_call_sid: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        duration: int | None = None,
    ) -> dict[str, Any]:
        """Put a call in the log (an unanswered inbound call by default); returns its JSON."""
        start = start_time or datetime.now(UTC)
        call_sid = sid or new_sid("CA")
        if end_time is None and status in {"completed", "busy", "no-answer", "failed", "canceled"}:
            end_time = start
        if duration is None and end_time is not None:
            duration = max(0, int((end_time - start).total_seconds()))
        call: dict[str, Any] = {
            "sid": call_sid,
            "account_sid": self.account_sid,
            "parent_call_sid": parent_call_sid,
            "to": to,
            "to_formatted": to,
            "from": from_,
            "from_formatted": from_,
            "phone_number_sid": None,
            "status": status,
            "direction": direction,
            "start_time": rfc2822(start),
            "end_time": rfc2822(end_time),
            "duration": None if duration is None else str(duration),
            "date_created": rfc2822(start),
            "date_updated": rfc2822(end_time or start),
            "price": call_price(status, duration),
            "price_unit": "USD",
            "answered_by": None,
            "api_version": API_VERSION,
            "forwarded_from": None,
            "group_sid": None,
            "caller_name": None,
            "queue_time": "0",
            "trunk_sid": None,
            "uri": f"{self._account_uri()}/Calls/{call_sid}.json",
            "subresource_uris": {},
            "_start": start,
        }
        with self._changed:
            self._state.calls.append(call)
            self._changed.notify_all()
            return _public(call)

    def add_recording(
        self, call_sid: str, *, audio: bytes = b"ID3fake-mp3", duration: int = 7
    ) -> str:
        """A recording of ``call_sid`` (its MP3 bytes); returns its RecordingSid."""
        sid = new_sid("RE")
        now = datetime.now(UTC)
        with self._lock:
            self._state.recordings[sid] = {
                "sid": sid,
                "account_sid": self.account_sid,
                "call_sid": call_sid,
                "duration": str(duration),
                "status": "completed",
                "channels": 1,
                "source": "RecordVerb",
                "date_created": rfc2822(now),
                "uri": f"{self._account_uri()}/Recordings/{sid}.json",
                "_audio": audio,
            }
        return sid

    def set_lookup(
        self,
        phone_number: str,
        *,
        line_type: str | None = "mobile",
        caller_name: str | None = None,
        caller_type: str | None = None,
        valid: bool = True,
    ) -> None:
        """What Lookup v2 answers for ``phone_number``."""
        with self._lock:
            self._state.lookups[phone_number] = {
                "valid": valid,
                "type": line_type,
                "caller_name": caller_name,
                "caller_type": caller_type,
            }

    @property
    def calls_created(self) -> list[dict[str, Any]]:
        """Every ``POST Calls.json`` accepted, with its form (``_form``)."""
        with self._lock:
            return [dict(c) for c in self._state.calls_created]

    def fail_next(
        self,
        path_substring: str,
        status: int,
        code: int | None = None,
        message: str | None = None,
        *,
        times: int = 1,
        method: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests whose path (with its raw query string, so
        ``"PageToken"`` picks next-page requests) contains ``path_substring``
        (and, if given, whose method is ``method``) with Twilio's error JSON.

        E.g. ``fail_next("Messages.json", 400, 21610, method="POST")`` or
        ``fail_next("Messages.json", 429, times=2)``. Code defaults by status (429 ->
        20429, 500 -> 20500, ...). Failures queue in the order they were added.
        """
        default_message = {
            21610: "Attempt to send to unsubscribed recipient",
            21211: "Invalid 'To' Phone Number",
            21614: "'To' number is not a valid mobile number",
            20429: "Too Many Requests",
            20500: "An internal server error has occurred",
        }
        real_code = code if code is not None else _DEFAULT_CODES.get(status, status)
        with self._lock:
            self._state.failures.append(
                _Failure(
                    path_substring=path_substring,
                    status=status,
                    code=real_code,
                    message=message or default_message.get(real_code, f"Error {real_code}"),
                    remaining=times,
                    method=method.upper() if method else None,
                )
            )

    def fail_after_create(self, mode: str, *, times: int = 1, hang_seconds: float = 5.0) -> None:
        """The next ``times`` sends create their message, then: ``"drop"`` closes the
        connection without answering, ``"500"`` answers HTTP 500, ``"hang"`` answers only
        after ``hang_seconds`` (longer than the client's timeout)."""
        if mode not in ("drop", "500", "hang"):
            raise ValueError(f"unknown mode {mode!r}")
        with self._lock:
            self._state.after_create.append(_AfterCreate(mode, times, hang_seconds))

    def release(self, sid: str | None = None) -> None:
        """Queued messages leave (status ``sent``, DateSent now): one, or all."""
        now = datetime.now(UTC)
        with self._lock:
            for message in self._state.messages:
                if message["date_sent"] is None and sid in (None, message["sid"]):
                    message["status"] = "sent"
                    message["date_sent"] = rfc2822(now)
                    message["_sent"] = now

    def opt_out(self, phone_number: str, *, sender: str | None = None) -> None:
        """Later sends to this number from ``sender`` fail with 21610, as Twilio does after
        the recipient texted STOP to ``sender`` (None: from every sender)."""
        with self._lock:
            self._state.opted_out.add((phone_number, sender))

    def opt_in(self, phone_number: str, *, sender: str) -> None:
        """Lift ``sender``'s block, as Twilio does when the recipient texts START to it."""
        with self._lock:
            self._state.opted_out.discard((phone_number, sender))

    def set_message_status(
        self, sid: str, status: str, *, error_code: int | None = None
    ) -> dict[str, Any]:
        """Change a message's status (e.g. ``delivered``, ``undelivered``); returns JSON."""
        with self._lock:
            for message in self._state.messages:
                if message["sid"] == sid:
                    now = datetime.now(UTC)
                    message["status"] = status
                    message["error_code"] = error_code
                    message["date_updated"] = rfc2822(now)
                    message["price"] = message_price(status, int(message["num_segments"]))
                    if message["date_sent"] is None and status not in _NOT_YET_SENT:
                        message["date_sent"] = rfc2822(now)
                        message["_sent"] = now
                    return _public(message)
        raise KeyError(sid)

    def reset(self) -> None:
        """Forget every message, call, number, failure and recorded request."""
        with self._lock:
            self._state = _State()

    def expose(self, public_base: str, local_base: str) -> None:
        """Route fetches (media, status callbacks) of URLs under ``public_base`` to
        ``local_base``, path and query unchanged: what the tunnel does for Twilio."""
        with self._lock:
            self._state.exposed[public_base.rstrip("/")] = local_base.rstrip("/")

    @property
    def media_fetches(self) -> list[dict[str, Any]]:
        """Every media fetch, in order: ``sid``, ``url``, ``status`` (HTTP, or None when
        unreachable), ``content_type``, ``size``, ``sha256``, ``error_code`` (None if ok)."""
        with self._lock:
            return [dict(f) for f in self._state.media_fetches]

    async def wait_for_media_fetches(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Await (on any loop) until at least ``n`` media fetches have finished."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self._state.media_fetches) >= n:
                    return [dict(f) for f in self._state.media_fetches]
                have = len(self._state.media_fetches)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"expected {n} media fetches, got {have}")
            await asyncio.sleep(0.005)

    # -- reading state -------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._state.requests)

    def requests_to(self, path_substring: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests whose path contains ``path_substring`` (and method matches)."""
        wanted = method.upper() if method else None
        return [
            r
            for r in self.requests
            if path_substring in r.path and (wanted is None or r.method == wanted)
        ]

    @property
    def messages_sent(self) -> list[dict[str, Any]]:
        """Messages accepted by ``POST Messages.json``, in order; each is Twilio's JSON
        plus ``status_callback`` (the StatusCallback form field or None) and
        ``received_monotonic`` / ``received_at`` (arrival times)."""
        with self._lock:
            return [dict(m) for m in self._state.sent]

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The whole message log (sent and seeded), newest first."""
        with self._lock:
            return [_public(m) for m in _newest_first(self._state.messages, "_at")]

    @property
    def calls(self) -> list[dict[str, Any]]:
        with self._lock:
            return [_public(c) for c in _newest_first(self._state.calls, "_start")]

    @property
    def numbers(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(n) for n in self._state.numbers.values()]

    def number(self, sid: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._state.numbers[sid])

    def wait_for_messages_sync(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until at least ``n`` messages were sent; returns ``messages_sent``.

        Raises :class:`TimeoutError` when fewer arrived within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._state.sent) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"expected {n} sent messages, got {len(self._state.sent)}")
                self._changed.wait(left)
            return [dict(m) for m in self._state.sent]

    async def wait_for_messages(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Await (on any loop) until at least ``n`` messages were sent.

        Polls every 5 ms, so it works whether the server runs on this loop or in its
        thread. Raises :class:`TimeoutError` on timeout.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if len(self._state.sent) >= n:
                    return [dict(m) for m in self._state.sent]
                have = len(self._state.sent)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"expected {n} sent messages, got {have}")
            await asyncio.sleep(0.005)

    # -- HTTP ----------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        received_monotonic = time.monotonic()
        received_at = time.time()
        form_items: tuple[tuple[str, str], ...] = ()
        if request.method in {"POST", "PUT"} and request.can_read_body:
            post = await request.post()
            form_items = tuple((k, str(v)) for k, v in post.items())
        query_items = tuple((k, v) for k, v in request.query.items())
        auth_user = _basic_user(request)
        media_urls = [v for k, v in form_items if k == "MediaUrl"]
        response = self._respond(
            request,
            dict(query_items),
            dict(form_items),
            received_monotonic,
            received_at,
            media_urls=media_urls,
        )
        with self._lock:
            to_fetch, self._state.to_fetch = self._state.to_fetch, []
        for sid, urls, callback in to_fetch:
            task = asyncio.get_running_loop().create_task(self._fetch_media(sid, urls, callback))
            self._fetching.add(task)
            task.add_done_callback(self._fetching.discard)
        fault = None
        if request.method == "POST" and request.path.endswith("/Messages.json"):
            fault = self._take_after_create() if response.status == 201 else None
        if fault is not None and fault.mode == "500":
            response = _json_error(500, 20500, "An internal server error has occurred")
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(query_items),
            form=dict(form_items),
            query_items=query_items,
            form_items=form_items,
            received_monotonic=received_monotonic,
            received_at=received_at,
            auth_user=auth_user,
            status=response.status,
        )
        with self._changed:
            self._state.requests.append(record)
            self._changed.notify_all()
        if self.latency_seconds > 0:
            await asyncio.sleep(self.latency_seconds)
        if self.lookup_latency_seconds > 0 and request.path.startswith("/v2/PhoneNumbers/"):
            await asyncio.sleep(self.lookup_latency_seconds)
        if fault is not None and fault.mode == "hang":
            await asyncio.sleep(fault.hang_seconds)
        if fault is not None and fault.mode == "drop" and request.transport is not None:
            request.transport.abort()  # created, and the answer never comes back
        return response

    def _route(self, url: str) -> str | None:
        """The URL to fetch for public ``url`` (through an exposed base), or None."""
        with self._lock:
            exposed = dict(self._state.exposed)
        for public, local in exposed.items():
            if url.startswith(public + "/"):
                return local + url[len(public) :]
        return None

    async def _fetch_media(self, sid: str, urls: list[str], callback: str | None) -> None:
        """Fetch an MMS's media as Twilio does after answering the create; fail it
        (11200 / 12300 / 30019) and POST its StatusCallback when a fetch does not work."""
        error: int | None = None
        total = 0
        media: list[dict[str, Any]] = []
        async with aiohttp.ClientSession() as session:
            for url in urls:
                record: dict[str, Any] = {
                    "sid": sid,
                    "url": url,
                    "status": None,
                    "content_type": None,
                    "size": 0,
                    "sha256": None,
                    "error_code": None,
                }
                target = self._route(url)
                if target is None:
                    record["error_code"] = 11200  # not reachable from Twilio's side
                else:
                    try:
                        async with session.get(
                            target, timeout=aiohttp.ClientTimeout(total=10)
                        ) as resp:
                            record["status"] = resp.status
                            ctype = resp.headers.get("Content-Type", "").split(";")[0].strip()
                            record["content_type"] = ctype.lower()
                            data = await resp.content.read(MMS_MAX_BYTES + 1)
                    except (aiohttp.ClientError, TimeoutError):
                        record["error_code"] = 11200
                    else:
                        record["size"] = len(data)
                        record["sha256"] = hashlib.sha256(data).hexdigest()
                        total += len(data)
                        if resp.status != 200:
                            record["error_code"] = 11200
                        elif record["content_type"] not in MMS_TYPES:
                            record["error_code"] = 12300
                        elif total > MMS_MAX_BYTES:
                            record["error_code"] = 30019
                        else:
                            media.append(
                                {
                                    "sid": new_sid("ME"),
                                    "parent_sid": sid,
                                    "content_type": record["content_type"],
                                    "uri": f"{self._account_uri()}/Messages/{sid}/Media/"
                                    f"{new_sid('ME')}.json",
                                }
                            )
                error = error or record["error_code"]
                with self._changed:
                    self._state.media_fetches.append(record)
                    self._changed.notify_all()
            failed: dict[str, Any] | None = None
            with self._lock:
                for message in self._state.messages:
                    if message["sid"] == sid:
                        message["_media"] = media
                        if error is not None:
                            message["status"] = "failed"
                            message["error_code"] = error
                            message["error_message"] = _MEDIA_ERRORS[error]
                            failed = _public(message)
            if failed is not None and callback:
                await self._post_status(session, callback, failed)

    async def _post_status(
        self, session: aiohttp.ClientSession, callback: str, message: dict[str, Any]
    ) -> None:
        target = self._route(callback)
        if target is None:
            return
        params = {
            "MessageSid": message["sid"],
            "SmsSid": message["sid"],
            "AccountSid": self.account_sid,
            "From": message["from"],
            "To": message["to"],
            "MessageStatus": message["status"],
            "SmsStatus": message["status"],
            "ErrorCode": str(message["error_code"]),
            "ApiVersion": API_VERSION,
        }
        headers = {
            "X-Twilio-Signature": sign(self.auth_token, callback, params),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        try:
            async with session.post(target, data=form_body(params), headers=headers) as resp:
                await resp.read()
        except aiohttp.ClientError:
            pass  # Twilio gives up on an unreachable callback too

    def _respond(
        self,
        request: web.Request,
        query: dict[str, str],
        form: dict[str, str],
        received_monotonic: float,
        received_at: float,
        *,
        media_urls: list[str] | None = None,
    ) -> web.Response:
        if not self._authorized(request):
            return _json_error(401, 20003, "Authenticate")
        failure = self._take_failure(request.method, request.path_qs)
        if failure is not None:
            return _json_error(failure.status, failure.code, failure.message)
        parts = [p for p in request.path.split("/") if p]
        if parts[:2] == ["v2", "PhoneNumbers"] and len(parts) == 3:
            if request.method != "GET":
                return _json_error(405, 20004, "Method not allowed")
            with self._lock:
                return self._lookup(parts[2], query)
        # ["2010-04-01", "Accounts", "{Sid}.json"] or [..., "{Sid}", "Resource.json", ...]
        if len(parts) < 3 or parts[0] != API_VERSION or parts[1] != "Accounts":
            return self._not_found(request.path)
        if len(parts) == 3:
            if parts[2] != f"{self.account_sid}.json":
                return self._not_found(request.path)
            if request.method != "GET":
                return _json_error(405, 20004, "Method not allowed")
            return _json(200, self._account_json())
        if parts[2] != self.account_sid:
            return self._not_found(request.path)
        resource, rest = parts[3], parts[4:]
        method = request.method
        with self._lock:
            if resource == "Messages.json" and not rest:
                if method == "POST":
                    return self._create_message(
                        form, received_monotonic, received_at, media_urls or []
                    )
                if method == "GET":
                    return self._list("messages", self._filter_messages(query), query, request)
            if resource == "Messages" and len(rest) == 1 and method == "GET":
                return self._fetch(self._state.messages, rest[0], request.path)
            if (
                resource == "Messages"
                and len(rest) == 2
                and rest[1] == "Media.json"
                and method == "GET"
            ):
                parent = next((m for m in self._state.messages if m["sid"] == rest[0]), None)
                if parent is None:
                    return self._not_found(request.path)
                return self._list("media_list", list(parent.get("_media", [])), query, request)
            if resource == "Calls.json" and not rest and method == "GET":
                return self._list("calls", self._filter_calls(query), query, request)
            if resource == "Calls.json" and not rest and method == "POST":
                return self._create_call(form)
            if resource == "Recordings" and len(rest) == 1 and method == "GET":
                return self._recording(rest[0], request.path)
            if resource == "Calls" and len(rest) == 1 and method == "GET":
                return self._fetch(self._state.calls, rest[0], request.path)
            if resource == "IncomingPhoneNumbers.json" and not rest:
                if method == "GET":
                    return self._list(
                        "incoming_phone_numbers", self._filter_numbers(query), query, request
                    )
                if method == "POST":
                    return self._buy_number(form)
            if resource == "IncomingPhoneNumbers" and len(rest) == 1:
                sid = rest[0].removesuffix(".json")
                number = self._state.numbers.get(sid)
                if number is None:
                    return self._not_found(request.path)
                if method == "POST":
                    _apply_number_update(number, form)
                    number["date_updated"] = rfc2822(datetime.now(UTC))
                if method in {"GET", "POST"}:
                    return _json(200, dict(number))
        return self._not_found(request.path)

    def _authorized(self, request: web.Request) -> bool:
        credentials = _basic_credentials(request)
        if credentials is None:
            return False
        login, password = credentials
        with self._lock:
            if login == self.account_sid:
                return secrets.compare_digest(password.encode(), self.auth_token.encode())
            secret = self._api_keys.get(login)
        return secret is not None and secrets.compare_digest(password.encode(), secret.encode())

    def _take_failure(self, method: str, path: str) -> _Failure | None:
        with self._lock:
            for failure in self._state.failures:
                if failure.path_substring in path and failure.method in (None, method):
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._state.failures.remove(failure)
                    return failure
        return None

    def _take_after_create(self) -> _AfterCreate | None:
        with self._lock:
            if not self._state.after_create:
                return None
            fault = self._state.after_create[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._state.after_create.pop(0)
            return fault

    def _not_found(self, path: str) -> web.Response:
        return _json_error(404, 20404, f"The requested resource {path} was not found")

    # -- resources (called with the lock held) -------------------------------------------

    def _account_uri(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}"

    def _account_json(self) -> dict[str, Any]:
        created = rfc2822(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))
        base = self._account_uri()
        return {
            "sid": self.account_sid,
            "owner_account_sid": self.account_sid,
            "friendly_name": self.friendly_name,
            "status": self.account_status,
            "type": "Full",
            "date_created": created,
            "date_updated": created,
            "uri": f"{base}.json",
            "subresource_uris": {
                "messages": f"{base}/Messages.json",
                "calls": f"{base}/Calls.json",
                "incoming_phone_numbers": f"{base}/IncomingPhoneNumbers.json",
            },
        }

    def _message_json(
        self,
        *,
        sid: str,
        from_: str,
        to: str,
        body: str,
        direction: str,
        status: str,
        created: datetime,
        sent: datetime | None,
        num_media: int = 0,
        error_code: int | None = None,
    ) -> dict[str, Any]:
        uri = f"{self._account_uri()}/Messages/{sid}.json"
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "messaging_service_sid": None,
            "to": to,
            "from": from_,
            "body": body,
            "status": status,
            "direction": direction,
            "num_segments": str(segment_count(body)),
            "num_media": str(num_media),
            "date_created": rfc2822(created),
            "date_updated": rfc2822(created),
            "date_sent": rfc2822(sent),
            "price": message_price(status, segment_count(body)),
            "price_unit": "USD",
            "error_code": error_code,
            "error_message": None,
            "api_version": API_VERSION,
            "uri": uri,
            "subresource_uris": {"media": uri.removesuffix(".json") + "/Media.json"},
            "_at": created,
            "_sent": sent,
        }

    def _number_json(
        self,
        sid: str,
        phone_number: str,
        *,
        friendly_name: str | None = None,
        voice_url: str | None = None,
        sms_url: str | None = None,
        status_callback: str | None = None,
    ) -> dict[str, Any]:
        now = rfc2822(datetime.now(UTC))
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "friendly_name": friendly_name or phone_number,
            "phone_number": phone_number,
            "voice_url": voice_url or "",
            "voice_method": "POST",
            "voice_fallback_url": "",
            "voice_fallback_method": "POST",
            "voice_caller_id_lookup": False,
            "voice_application_sid": "",
            "sms_url": sms_url or "",
            "sms_method": "POST",
            "sms_fallback_url": "",
            "sms_fallback_method": "POST",
            "sms_application_sid": "",
            "status_callback": status_callback or "",
            "status_callback_method": "POST",
            "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
            "beta": False,
            "origin": "twilio",
            "status": "in-use",
            "trunk_sid": None,
            "emergency_status": "Inactive",
            "api_version": API_VERSION,
            "date_created": now,
            "date_updated": now,
            "uri": f"{self._account_uri()}/IncomingPhoneNumbers/{sid}.json",
        }

    def _create_message(
        self,
        form: dict[str, str],
        received_monotonic: float,
        received_at: float,
        media_urls: list[str],
    ) -> web.Response:
        to = form.get("To", "")
        from_ = form.get("From", "")
        body = form.get("Body", "")
        if not to:
            return _json_error(400, 21604, "A 'To' phone number is required.")
        if not from_ and not form.get("MessagingServiceSid"):
            return _json_error(400, 21603, "A 'From' phone number is required.")
        if not body and not form.get("MediaUrl"):
            return _json_error(400, 21602, "Message body is required.")
        if len(media_urls) > MAX_MEDIA_URLS:
            return _json_error(400, 21623, "Number of media files exceeds allowed limit")
        for url in media_urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return _json_error(400, 21620, "Invalid media URL(s)")
        if {(to, None), (to, from_)} & self._state.opted_out:
            return _json_error(400, 21610, "Attempt to send to unsubscribed recipient")
        now = datetime.now(UTC)
        message = self._message_json(
            sid=new_sid("MM" if media_urls else "SM"),
            from_=from_,
            to=to,
            body=body,
            direction="outbound-api",
            status="queued",
            created=now,
            sent=None,  # queued: it has not left yet, so no DateSent
            num_media=len(media_urls),
        )
        self._state.messages.append(message)
        if media_urls:
            self._state.to_fetch.append((message["sid"], media_urls, form.get("StatusCallback")))
        record = _public(message)
        record["status_callback"] = form.get("StatusCallback")
        record["received_monotonic"] = received_monotonic
        record["received_at"] = received_at
        self._state.sent.append(record)
        return _json(201, _public(message))

    _LOOKUP_FIELDS = frozenset(
        {
            "validation",
            "caller_name",
            "sim_swap",
            "call_forwarding",
            "line_status",
            "line_type_intelligence",
            "identity_match",
            "reassigned_number",
            "sms_pumping_risk",
            "phone_number_quality_score",
            "pre_fill",
        }
    )

    def _lookup(self, phone: str, query: dict[str, str]) -> web.Response:
        wanted = [f.strip() for f in query.get("Fields", "").split(",") if f.strip()]
        unknown = [f for f in wanted if f not in self._LOOKUP_FIELDS]
        if unknown:
            return _json_error(400, 60200, f"Invalid field(s): {', '.join(unknown)}")
        phone = _plus(phone)
        seeded = self._state.lookups.get(phone, {"valid": True, "type": "mobile"})
        valid = bool(seeded.get("valid", True))
        line = None
        if "line_type_intelligence" in wanted and valid:
            line = {
                "mobile_country_code": "310",
                "mobile_network_code": "456",
                "carrier_name": "Stand-in Wireless",
                "type": seeded.get("type"),
                "error_code": None,
            }
        cnam = None
        if "caller_name" in wanted and valid:
            cnam = {
                "caller_name": seeded.get("caller_name"),
                "caller_type": seeded.get("caller_type"),
                "error_code": None,
            }
        payload = {
            "calling_country_code": "1",
            "country_code": "US",
            "phone_number": phone,
            "national_format": phone,
            "valid": valid,
            "validation_errors": [] if valid else ["NOT_A_NUMBER"],
            "caller_name": cnam,
            "sim_swap": None,
            "call_forwarding": None,
            "line_status": None,
            "line_type_intelligence": line,
            "identity_match": None,
            "reassigned_number": None,
            "sms_pumping_risk": None,
            "phone_number_quality_score": None,
            "pre_fill": None,
            "url": f"https://lookups.twilio.com/v2/PhoneNumbers/{phone}",
        }
        return _json(200, payload)

    def _create_call(self, form: dict[str, str]) -> web.Response:
        to, from_ = form.get("To", ""), form.get("From", "")
        if not to:
            return _json_error(400, 21201, "No 'To' number is specified")
        if not from_:
            return _json_error(400, 21213, "No 'From' number is specified")
        if not any(form.get(k) for k in ("Url", "Twiml", "ApplicationSid")):
            return _json_error(400, 21205, "Url parameter is required.")
        if not any(n["phone_number"] == from_ for n in self._state.numbers.values()):
            return _json_error(400, 21210, "The source phone number provided is not verified")
        sid = new_sid("CA")
        start = datetime.now(UTC)
        call: dict[str, Any] = {
            "sid": sid,
            "account_sid": self.account_sid,
            "parent_call_sid": None,
            "to": to,
            "to_formatted": to,
            "from": from_,
            "from_formatted": from_,
            "status": "queued",
            "direction": "outbound-api",
            "start_time": None,
            "end_time": None,
            "duration": None,
            "date_created": rfc2822(start),
            "date_updated": rfc2822(start),
            "price": None,
            "price_unit": "USD",
            "answered_by": None,
            "api_version": API_VERSION,
            "caller_name": None,
            "uri": f"{self._account_uri()}/Calls/{sid}.json",
            "subresource_uris": {},
            "_start": start,
        }
        self._state.calls.append(call)
        self._state.calls_created.append({**_public(call), "_form": dict(form)})
        return _json(201, _public(call))

    def _recording(self, name: str, path: str) -> web.Response:
        sid, _, ext = name.partition(".")
        item = self._state.recordings.get(sid)
        if item is None or ext not in ("json", "mp3", "wav"):
            return self._not_found(path)
        if ext == "json":
            return _json(200, _public(item))
        kind = "audio/mpeg" if ext == "mp3" else "audio/x-wav"
        return web.Response(body=item["_audio"], content_type=kind)

    def _buy_number(self, form: dict[str, str]) -> web.Response:
        phone = form.get("PhoneNumber")
        if not phone:
            return _json_error(400, 21452, "No phone number specified")
        number = self._number_json(new_sid("PN"), phone, friendly_name=form.get("FriendlyName"))
        _apply_number_update(number, form)
        self._state.numbers[number["sid"]] = number
        return _json(201, dict(number))

    def _fetch(self, items: list[dict[str, Any]], name: str, path: str) -> web.Response:
        sid = name.removesuffix(".json")
        for item in items:
            if item["sid"] == sid:
                return _json(200, _public(item))
        return self._not_found(path)

    def _filter_messages(self, query: dict[str, str]) -> list[dict[str, Any]]:
        items = _newest_first(self._state.messages, "_at")
        if "To" in query:
            items = [m for m in items if m["to"] == _plus(query["To"])]
        if "From" in query:
            items = [m for m in items if m["from"] == _plus(query["From"])]
        if any(k in query for k in ("DateSent", "DateSent>", "DateSent<")):
            items = [m for m in items if m["_sent"] is not None]  # queued: no DateSent yet
        return _filter_time(items, "_sent", query, "DateSent")

    def _filter_calls(self, query: dict[str, str]) -> list[dict[str, Any]]:
        items = _newest_first(self._state.calls, "_start")
        if "To" in query:
            items = [c for c in items if c["to"] == _plus(query["To"])]
        if "From" in query:
            items = [c for c in items if c["from"] == _plus(query["From"])]
        if "ParentCallSid" in query:
            items = [c for c in items if c["parent_call_sid"] == query["ParentCallSid"]]
        if "Status" in query:
            items = [c for c in items if c["status"] == query["Status"]]
        return _filter_time(items, "_start", query, "StartTime")

    def _filter_numbers(self, query: dict[str, str]) -> list[dict[str, Any]]:
        items = list(self._state.numbers.values())
        if "PhoneNumber" in query:
            wanted = _plus(query["PhoneNumber"])
            items = [n for n in items if wanted in n["phone_number"]]
        if "FriendlyName" in query:
            items = [n for n in items if n["friendly_name"] == query["FriendlyName"]]
        return items

    def _list(
        self, key: str, items: list[dict[str, Any]], query: dict[str, str], request: web.Request
    ) -> web.Response:
        try:
            page_size = int(query.get("PageSize", DEFAULT_PAGE_SIZE))
            page = int(query.get("Page", "0"))
        except ValueError:
            return _json_error(400, 20001, "Invalid paging parameter")
        if not 1 <= page_size <= 1000 or page < 0:
            return _json_error(400, 20001, "Invalid paging parameter")
        start = page * page_size
        chunk = items[start : start + page_size]
        base_query = {k: v for k, v in query.items() if k not in {"Page", "PageToken"}}
        base_query["PageSize"] = str(page_size)

        def uri(page_number: int) -> str:
            params = dict(base_query, Page=str(page_number))
            if page_number > 0:
                params["PageToken"] = f"PA{page_number}"
            return str(request.url.with_query(params).relative())

        has_more = start + page_size < len(items)
        return _json(
            200,
            {
                key: [_public(i) for i in chunk],
                "page": page,
                "page_size": page_size,
                "start": start,
                "end": start + max(len(chunk) - 1, 0),
                "uri": uri(page),
                "first_page_uri": uri(0),
                "next_page_uri": uri(page + 1) if has_more else None,
                "previous_page_uri": uri(page - 1) if page > 0 else None,
            },
        )


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """A copy without the stand-in's private ``_`` keys."""
    return {k: v for k, v in item.items() if not k.startswith("_")}


def _newest_first(items: Iterable[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return sorted(items, key=lambda i: i[key], reverse=True)


def _filter_time(
    items: list[dict[str, Any]], key: str, query: dict[str, str], name: str
) -> list[dict[str, Any]]:
    exact = _parse_filter_time(query.get(name, ""))
    after = _parse_filter_time(query.get(f"{name}>", ""))
    before = _parse_filter_time(query.get(f"{name}<", ""))
    if exact is not None:
        items = [i for i in items if i[key].date() == exact.date()]
    if after is not None:  # Twilio's ">" means "on or after"
        items = [i for i in items if i[key] >= after.replace(microsecond=0)]
    if before is not None:
        items = [i for i in items if i[key] <= before]
    return items


def _plus(value: str) -> str:
    """A ``+`` sent unencoded in a query string arrives as a space: undo that."""
    return "+" + value[1:] if value.startswith(" ") else value


_NUMBER_FIELDS = {
    "FriendlyName": "friendly_name",
    "VoiceUrl": "voice_url",
    "VoiceMethod": "voice_method",
    "VoiceFallbackUrl": "voice_fallback_url",
    "VoiceFallbackMethod": "voice_fallback_method",
    "SmsUrl": "sms_url",
    "SmsMethod": "sms_method",
    "SmsFallbackUrl": "sms_fallback_url",
    "SmsFallbackMethod": "sms_fallback_method",
    "StatusCallback": "status_callback",
    "StatusCallbackMethod": "status_callback_method",
}


def _apply_number_update(number: dict[str, Any], form: dict[str, str]) -> None:
    for name, key in _NUMBER_FIELDS.items():
        if name in form:
            number[key] = form[name]


def _basic_credentials(request: web.Request) -> tuple[str, str] | None:
    """(login, password) from an HTTP Basic ``Authorization`` header, or None."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    login, sep, password = decoded.partition(":")
    return (login, password) if sep else None


def _basic_user(request: web.Request) -> str | None:
    credentials = _basic_credentials(request)
    return credentials[0] if credentials else None


def _json(status: int, payload: dict[str, Any]) -> web.Response:
    return web.json_response(payload, status=status)


def _json_error(status: int, code: int, message: str) -> web.Response:
    return _json(status, _error_body(status, code, message))
