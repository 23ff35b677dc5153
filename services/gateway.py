"""The real carrier: Twilio's REST API through the twilio SDK's asyncio client.

:class:`TwilioGateway` implements :class:`services.ports.Carrier` (send an SMS, read the
message and call logs) plus what ``serve`` and the app need to wire the business number
to themselves (find a number, update its webhooks, list numbers) and to check the
credentials (fetch the account).

Lifecycle: the constructor only stores plain values. ``await start()`` creates the
aiohttp-backed SDK client inside the running loop; ``await close()`` closes its session.
``async with TwilioGateway(...) as gw:`` does both.

``base_url`` sends every request that would go to ``https://<anything>.twilio.com`` to
that base instead, path and query unchanged: the Twilio stand-in in tests, Stoplight
Prism in the contract test, or any Twilio-compatible endpoint. It is applied in the HTTP
client, so every domain the SDK knows about (api, lookups, ...) is covered.

Errors: every method raises :class:`services.ports.CarrierError` or a subclass, never an
SDK or aiohttp exception. Reads retry retryable failures (HTTP 429, 5xx, connection
errors and timeouts) with exponential backoff (``backoff_seconds``, doubled per attempt)
up to ``max_attempts`` attempts in all, then raise them with ``retryable=True``.
A send (``Messages.create``) is never repeated once it may have reached Twilio: only a
connection that could not be opened is retried here; a 429 or another refusal is raised
(nothing was created); a timeout, a dropped connection, a 5xx or an unreadable answer
after the request went out raise :class:`~services.ports.UncertainSendError`, and the
caller looks the message up before deciding anything.

The auth token / API secret is never logged and never part of ``repr()``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.base import values
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from services.ports import (
    AuthenticationError,
    CarrierError,
    LineInfo,
    NotTextableError,
    NumberConfig,
    OptedOutError,
    RemoteCall,
    RemoteMessage,
    SentMessage,
    UncertainSendError,
)
from services.price_values import Price, parse_price

__all__ = ["AccountInfo", "TwilioGateway"]

_log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: The SDK's "parameter not given" marker (typed, so mypy sees an ``object``).
_UNSET: object = values.unset

#: Twilio error codes meaning "this recipient can never be texted from here".
OPTED_OUT_CODES = frozenset({21610})
NOT_TEXTABLE_CODES = frozenset({21211, 21614, 21612, 21408})
AUTH_CODES = frozenset({20003})

#: Twilio's largest page size.
_MAX_PAGE_SIZE = 1000
_DEFAULT_TIMEOUT_SECONDS = 30.0
_TWILIO_API = "https://api.twilio.com"  # media URLs as Twilio's webhooks give them


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """The Twilio account the credentials belong to.

    ``status`` is Twilio's account status: ``active``, ``suspended`` or ``closed``.
    """

    sid: str
    friendly_name: str
    status: str


def _rebase_url(url: str, base_url: str) -> str:
    """Replace ``url``'s scheme and host by ``base_url``'s, keeping path and query.

    A path on ``base_url`` (``http://h/prefix``) is put in front of the request path.
    """
    base = urlsplit(base_url)
    parts = urlsplit(url)
    prefix = base.path.rstrip("/")
    return urlunsplit((base.scheme, base.netloc, prefix + parts.path, parts.query, ""))


class _FrontdeskHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # SDK is untyped
    """The SDK's aiohttp client, with the host rewrite and a real per-request timeout.

    The stock client hands ``timeout=None`` to aiohttp, which means "no timeout at all";
    here every request gets ``timeout_seconds`` (total) unless the caller passes one.
    Must be constructed inside a running loop (it creates an ``aiohttp.ClientSession``).
    """

    def __init__(self, *, base_url: str | None, timeout_seconds: float) -> None:
        super().__init__(pool_connections=True, timeout=timeout_seconds)
        self._base_url = base_url.rstrip("/") if base_url else None

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if self._base_url is not None:
            url = _rebase_url(url, self._base_url)
        total = timeout if timeout is not None else self.timeout
        send_headers = dict(headers or {})
        if auth is not None:
            # aiohttp 3.14 deprecates BasicAuth (a DeprecationWarning on every request
            # from the stock SDK client); build the header ourselves.
            send_headers["Authorization"] = aiohttp.encode_basic_auth(auth[0], auth[1])
        # Never log auth or headers (the Authorization header carries the token).
        _log.debug("twilio %s %s", method.upper(), url)
        session: aiohttp.ClientSession = self.session
        form: list[tuple[str, object]] | None = None
        if data is not None:
            # A list value (StatusCallbackEvent) is a repeated field, as Twilio reads it;
            # handed to aiohttp as is it would be sent as the list's repr.
            form = [
                (key, item)
                for key, value in data.items()
                for item in (value if isinstance(value, list | tuple) else [value])
            ]
        async with session.request(
            method.upper(),
            url,
            params=cast("Mapping[str, str] | None", params),
            data=form,
            headers=send_headers,
            timeout=aiohttp.ClientTimeout(total=total),
            allow_redirects=allow_redirects,
        ) as resp:
            text = await resp.text()
            if resp.status >= 400:  # error bodies carry no secrets; they explain refusals
                _log.debug("twilio %s %s -> %s %.500s", method.upper(), url, resp.status, text)
            else:
                _log.debug("twilio %s %s -> %s", method.upper(), url, resp.status)
            return Response(resp.status, text, resp.headers)


def _strip_sdk_prefix(message: str) -> str:
    """``"Unable to create record: The 'To' number ..."`` -> ``"The 'To' number ..."``."""
    if message.startswith("Unable to ") and ": " in message:
        return message.split(": ", 1)[1]
    return message


def _error_from_http(status: int, code: int | None, message: str) -> CarrierError:
    """Map an HTTP status and Twilio error code to the right :class:`CarrierError`."""
    if code in OPTED_OUT_CODES:
        return OptedOutError(message, code=code, status=status)
    if code in NOT_TEXTABLE_CODES:
        return NotTextableError(message, code=code, status=status)
    if status == 401 or code in AUTH_CODES:
        return AuthenticationError(message, code=code, status=status)
    retryable = status == 429 or status >= 500
    return CarrierError(message, code=code, status=status, retryable=retryable)


def _as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _as_dt(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


def _map_exception(exc: BaseException) -> CarrierError | None:
    """Translate an SDK/aiohttp failure, or ``None`` when it is not a carrier failure."""
    if isinstance(exc, CarrierError):
        return exc
    if isinstance(exc, TwilioRestException):
        status = int(exc.status)
        code = _as_int(exc.code)
        if code == status:  # the SDK puts the HTTP status there when the body had no code
            code = None
        return _error_from_http(status, code, _strip_sdk_prefix(str(exc.msg)))
    if isinstance(exc, TwilioException):
        # RFC-9457 errors (TwilioServiceException) carry status/code/detail/title;
        # page fetches raise TwilioException("Unable to fetch page", response).
        status_attr = _as_int(getattr(exc, "status", None))
        if status_attr is not None:
            detail = getattr(exc, "detail", None) or getattr(exc, "title", None) or str(exc)
            return _error_from_http(status_attr, _as_int(getattr(exc, "code", None)), detail)
        response = exc.args[1] if len(exc.args) > 1 else None
        if isinstance(response, Response):
            return _error_from_response(response)
        return CarrierError(f"Twilio client error: {exc}")
    if isinstance(exc, aiohttp.ClientResponseError):
        return _error_from_http(exc.status, None, exc.message)
    if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
        return CarrierError(f"cannot reach Twilio: {type(exc).__name__}: {exc}", retryable=True)
    if isinstance(exc, ValueError):  # e.g. a 200 whose body is not JSON
        return CarrierError(f"unexpected answer from Twilio: {exc}")
    return None


def _not_sent(exc: BaseException) -> bool:
    """True when the request provably never left: the connection could not be opened."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return True
    return isinstance(exc, aiohttp.ClientConnectorError) and not isinstance(
        exc, aiohttp.ServerDisconnectedError
    )


def _send_failure(exc: BaseException) -> CarrierError | None:
    """Classify a failed create: a refusal (nothing created) or an unknown outcome."""
    if _not_sent(exc):
        return CarrierError(f"cannot reach Twilio: {type(exc).__name__}: {exc}", retryable=True)
    err = _map_exception(exc)
    if err is None:
        return None
    if isinstance(err, UncertainSendError):
        return err
    if err.status is not None and 400 <= err.status < 500:
        return err  # Twilio answered and refused: nothing was created (429 included)
    if err.status is not None:  # 5xx: Twilio may have created it before failing
        return UncertainSendError(
            f"Twilio answered HTTP {err.status} ({err}); the text may have been created",
            code=err.code,
            status=err.status,
        )
    return UncertainSendError(f"no answer from Twilio ({err}); the text may have been created")


def _error_from_response(response: Response) -> CarrierError:
    status = int(response.status_code)
    code: int | None = None
    message = f"HTTP {status}"
    try:
        payload = json.loads(response.text)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        code = _as_int(payload.get("code"))
        text = payload.get("message") or payload.get("detail") or payload.get("title")
        if isinstance(text, str) and text:
            message = text
    return _error_from_http(status, code, message)


def _utc(moment: datetime | None) -> datetime | object:
    """A UTC datetime for the SDK's serializer (it formats without converting), or unset."""
    if moment is None:
        return _UNSET
    if moment.tzinfo is None:
        raise ValueError("datetime filters must be timezone-aware")
    return moment.astimezone(UTC)


class TwilioGateway:
    """Twilio's REST API as a :class:`services.ports.Carrier`, plus number wiring.

    Construct with plain values; call :meth:`start` inside the running loop before any
    other method (or use ``async with``) and :meth:`close` on shutdown. Methods raise
    :class:`RuntimeError` when the gateway is not started.

    Authentication: ``account_sid`` + ``auth_token``, or an API key (``api_key`` +
    ``api_secret``) for ``account_sid``; the key pair wins when both are given.
    ``max_attempts`` counts the first try (``1`` = never retry); ``backoff_seconds`` is
    the wait before the second attempt, doubled before each further one.
    ``timeout_seconds`` bounds each HTTP request (total, seconds).
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        base_url: str | None = None,
        max_attempts: int = 4,
        backoff_seconds: float = 0.5,
        timeout_seconds: float = _DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if backoff_seconds < 0:
            raise ValueError("backoff_seconds must not be negative")
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self.account_sid = account_sid
        self._auth_token = auth_token
        self._api_key = api_key
        self._api_secret = api_secret
        self.base_url = base_url.rstrip("/") if base_url else None
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self._http: _FrontdeskHttpClient | None = None
        self._client: Any = None

    def __repr__(self) -> str:
        base = f", base_url={self.base_url!r}" if self.base_url else ""
        return f"<TwilioGateway {self.account_sid}{base}>"

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Create the HTTP session and SDK client on the running loop (idempotent)."""
        if self._client is not None:
            return
        http = _FrontdeskHttpClient(base_url=self.base_url, timeout_seconds=self.timeout_seconds)
        if self._api_key and self._api_secret:
            username, password = self._api_key, self._api_secret
        else:
            username, password = self.account_sid, self._auth_token
        self._http = http
        self._client = Client(username, password, self.account_sid, http_client=http)

    async def close(self) -> None:
        """Close the aiohttp session. Safe to call twice or without :meth:`start`."""
        http, self._http, self._client = self._http, None, None
        if http is not None:
            await http.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def started(self) -> bool:
        return self._client is not None

    def _api(self) -> Any:
        """The account's 2010-04-01 API context (``client.api.v2010.account``)."""
        if self._client is None:
            raise RuntimeError("TwilioGateway is not started: await start() first")
        return self._client.api.v2010.account

    # -- retry -------------------------------------------------------------------------

    async def _call(self, what: str, op: Callable[[], Awaitable[_T]]) -> _T:
        """Run ``op`` with the retry policy; raise :class:`CarrierError` on failure."""
        attempt = 1
        while True:
            try:
                return await op()
            except Exception as exc:
                err = _map_exception(exc)
                if err is None:
                    raise
                if not err.retryable or attempt >= self.max_attempts:
                    if err.retryable:
                        _log.warning("%s failed after %d attempts: %s", what, attempt, err)
                    raise err from exc
                delay = self.backoff_seconds * (2 ** (attempt - 1))
                _log.info(
                    "%s failed (attempt %d/%d, %s); retrying in %.2fs",
                    what,
                    attempt,
                    self.max_attempts,
                    err,
                    delay,
                )
                await asyncio.sleep(delay)
                attempt += 1

    async def _create_once(self, create: Callable[[], Awaitable[_T]]) -> _T:
        """Run a create at most once past the point where it may have reached Twilio.

        Retried (with the backoff) only while the connection cannot even be opened.
        """
        attempt = 1
        while True:
            try:
                return await create()
            except Exception as exc:
                err = _send_failure(exc)
                if err is None:
                    raise
                if _not_sent(exc) and attempt < self.max_attempts:
                    await asyncio.sleep(self.backoff_seconds * (2 ** (attempt - 1)))
                    attempt += 1
                    continue
                _log.warning("send SMS: %s", err)
                raise err from exc

    async def _collect(
        self, what: str, first_page: Callable[[int], Awaitable[Any]], limit: int
    ) -> list[Any]:
        """Read up to ``limit`` records: the first page (errors raise), then next pages.

        A failing next page ends the walk quietly (logged) and returns what was read, so a
        flaky or odd ``next_page_uri`` never loses the records already in hand.
        """
        if limit <= 0:
            return []
        page = await self._call(what, lambda: first_page(min(limit, _MAX_PAGE_SIZE)))
        records: list[Any] = []
        while True:
            for record in page:
                records.append(record)
                if len(records) >= limit:
                    return records
            if not page.next_page_url:
                return records
            current = page
            try:
                page = await self._call(f"{what} (next page)", current.next_page_async)
            except CarrierError as exc:
                _log.warning("%s: stopped paging after %d records: %s", what, len(records), exc)
                return records
            if page is None:
                return records

    # -- messages ----------------------------------------------------------------------

    async def send_sms(
        self,
        *,
        to: str,
        from_: str,
        body: str,
        status_callback: str | None,
        media_urls: Sequence[str] = (),
    ) -> SentMessage:
        """Send one SMS (``Messages.create``); ``StatusCallback`` is set when given, one
        ``MediaUrl`` per entry of ``media_urls`` (an MMS; ``body`` may then be empty).

        Sent at most once past the point where it may have reached Twilio. Raises
        :class:`UncertainSendError` when the outcome is unknown (timeout, dropped
        connection, 5xx, an answer that is not a message); :class:`OptedOutError`
        (21610), :class:`NotTextableError` (21211, 21614, 21612, 21408),
        :class:`AuthenticationError` (401 / 20003), and otherwise :class:`CarrierError`
        carrying Twilio's message, ``code`` and HTTP ``status``: ``retryable=True`` for
        429 and for a connection that could not be opened (nothing was created).
        """
        messages = self._api().messages
        callback: object = status_callback if status_callback else _UNSET

        async def create() -> Any:
            return await messages.create_async(
                to=to,
                from_=from_,
                body=body if body or not media_urls else _UNSET,
                status_callback=callback,
                media_url=list(media_urls) if media_urls else _UNSET,
            )

        msg = await self._create_once(create)
        if not getattr(msg, "sid", None):
            raise UncertainSendError("Twilio's answer to the send had no message SID")
        return SentMessage(
            sid=str(msg.sid),
            status=str(msg.status or "queued"),
            to=_as_str(msg.to) or to,
            from_=_as_str(msg.from_) or from_,
            body=msg.body if isinstance(msg.body, str) else body,
            num_segments=_as_int(msg.num_segments),
            date_created=_as_dt(msg.date_created),
        )

    async def list_messages(
        self,
        *,
        to: str | None = None,
        from_: str | None = None,
        date_sent_after: datetime | None = None,
        limit: int = 200,
    ) -> list[RemoteMessage]:
        """Messages matching ``To`` / ``From`` / ``DateSent>``, newest first (Twilio's order).

        At most ``limit`` records, read over as many pages as needed (page size up to
        1000). ``date_sent_after`` must be timezone-aware. Raises :class:`CarrierError`
        when the first page fails; a failing later page just ends the list.
        """
        messages = self._api().messages
        after = _utc(date_sent_after)

        async def first(page_size: int) -> Any:
            return await messages.page_async(
                to=to if to else _UNSET,
                from_=from_ if from_ else _UNSET,
                date_sent_after=after,
                page_size=page_size,
            )

        records = await self._collect("list messages", first, limit)
        return [
            RemoteMessage(
                sid=str(m.sid),
                direction=str(m.direction or ""),
                from_=_as_str(m.from_) or "",
                to=_as_str(m.to) or "",
                body=_as_str(m.body) or "",
                status=str(m.status or ""),
                date_sent=_as_dt(m.date_sent),
                date_created=_as_dt(m.date_created),
                num_media=_as_int(m.num_media) or 0,
                error_code=_as_int(m.error_code),
            )
            for m in records
        ]

    async def list_media(self, message_sid: str, *, limit: int = 10) -> list[tuple[str, str]]:
        """An MMS's media as ``(url, content type)``, the URL as Twilio's webhook gives it
        (``https://api.twilio.com/…/Media/ME…``, no ``.json``). Raises :class:`CarrierError`."""
        media = self._api().messages(message_sid).media

        async def first(page_size: int) -> Any:
            return await media.page_async(page_size=page_size)

        records = await self._collect("list media", first, limit)
        return [
            (_TWILIO_API + str(m.uri).removesuffix(".json"), str(m.content_type or ""))
            for m in records
            if m.uri
        ]

    async def list_calls(
        self,
        *,
        to: str | None = None,
        from_: str | None = None,
        start_time_after: datetime | None = None,
        parent_call_sid: str | None = None,
        limit: int = 200,
    ) -> list[RemoteCall]:
        """Calls matching ``To`` / ``From`` / ``StartTime>`` / ``ParentCallSid``, newest first.

        Same paging and error contract as :meth:`list_messages`; ``duration_seconds``
        is in whole seconds.
        """
        calls = self._api().calls
        after = _utc(start_time_after)

        async def first(page_size: int) -> Any:
            return await calls.page_async(
                to=to if to else _UNSET,
                from_=from_ if from_ else _UNSET,
                start_time_after=after,
                parent_call_sid=parent_call_sid if parent_call_sid else _UNSET,
                page_size=page_size,
            )

        records = await self._collect("list calls", first, limit)
        return [
            RemoteCall(
                sid=str(c.sid),
                parent_call_sid=_as_str(c.parent_call_sid),
                from_=_as_str(getattr(c, "_from", None)) or "",
                to=_as_str(c.to) or "",
                status=str(c.status or ""),
                direction=str(c.direction or ""),
                start_time=_as_dt(c.start_time),
                end_time=_as_dt(c.end_time),
                duration_seconds=_as_int(c.duration),
            )
            for c in records
        ]

    async def fetch_message_price(self, sid: str) -> Price | None:
        """What Twilio charged for a message (``GET Messages/{Sid}.json``): None while it
        has no price yet. Raises :class:`CarrierError` (status 404 when it is gone)."""
        resource = self._api().messages(sid)

        async def fetch() -> Any:
            return await resource.fetch_async()

        record = await self._call("fetch message", fetch)
        return parse_price(getattr(record, "price", None), getattr(record, "price_unit", None))

    async def fetch_call_price(self, sid: str) -> Price | None:
        """What Twilio charged for a call (``GET Calls/{Sid}.json``); as above."""
        resource = self._api().calls(sid)

        async def fetch() -> Any:
            return await resource.fetch_async()

        record = await self._call("fetch call", fetch)
        return parse_price(getattr(record, "price", None), getattr(record, "price_unit", None))

    # -- lookup, recordings, outbound calls --------------------------------------------

    async def lookup_number(self, phone: str, *, timeout_seconds: float) -> LineInfo:
        """Lookup v2 ``GET /v2/PhoneNumbers/{phone}?Fields=line_type_intelligence,caller_name``:
        one request, bounded by ``timeout_seconds`` and never retried (the text-back
        waits on it). Raises :class:`CarrierError`."""
        if self._client is None:
            raise RuntimeError("TwilioGateway is not started: await start() first")
        context = self._client.lookups.v2.phone_numbers(phone)
        try:
            found = await asyncio.wait_for(
                context.fetch_async(fields="line_type_intelligence,caller_name"),
                timeout_seconds,
            )
        except Exception as exc:
            err = _map_exception(exc)
            if err is None:
                raise
            raise err from exc
        line = found.line_type_intelligence
        cnam = found.caller_name
        line = line if isinstance(line, dict) else {}
        cnam = cnam if isinstance(cnam, dict) else {}
        return LineInfo(
            phone=_as_str(found.phone_number) or phone,
            valid=found.valid if isinstance(found.valid, bool) else None,
            line_type=_as_str(line.get("type")),
            carrier_name=_as_str(line.get("carrier_name")),
            caller_name=_as_str(cnam.get("caller_name")),
            caller_type=_as_str(cnam.get("caller_type")),
        )

    async def fetch_recording(self, recording_sid: str, *, max_bytes: int) -> bytes:
        """``GET /2010-04-01/Accounts/{Sid}/Recordings/{RecordingSid}.mp3`` with the
        account's credentials, read in chunks and refused past ``max_bytes``. Retries
        like every read. Raises :class:`CarrierError`."""
        if self._http is None:
            raise RuntimeError("TwilioGateway is not started: await start() first")
        if not (recording_sid.isascii() and recording_sid.isalnum()):
            raise CarrierError(f"{recording_sid!r} is not a recording SID")
        url = f"{_TWILIO_API}/2010-04-01/Accounts/{self.account_sid}/Recordings/{recording_sid}.mp3"
        if self.base_url is not None:
            url = _rebase_url(url, self.base_url)
        if self._api_key and self._api_secret:
            login, secret = self._api_key, self._api_secret
        else:
            login, secret = self.account_sid, self._auth_token
        http = self._http

        async def get() -> bytes:
            async with http.session.get(
                url,
                headers={"Authorization": aiohttp.encode_basic_auth(login, secret)},
                timeout=aiohttp.ClientTimeout(total=self.timeout_seconds),
            ) as resp:
                if resp.status >= 400:
                    text = await resp.text(errors="replace")
                    raise _error_from_response(Response(resp.status, text[:2000], resp.headers))
                if (resp.content_length or 0) > max_bytes:
                    raise CarrierError(f"the recording is larger than {max_bytes:,} bytes")
                data = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    data += chunk
                    if len(data) > max_bytes:
                        raise CarrierError(f"the recording is larger than {max_bytes:,} bytes")
                return bytes(data)

        return await self._call("fetch recording", get)

    async def create_call(
        self, *, to: str, from_: str, twiml: str, status_callback: str | None
    ) -> str:
        """``Calls.create`` with inline ``Twiml``; the status callback (when given) gets
        the call's end (Twilio's default event: its final status, no-answer or busy
        included). Never repeated once it may have reached Twilio (a second call would
        ring the desk twice)."""
        calls = self._api().calls
        callback: object = status_callback if status_callback else _UNSET

        async def create() -> Any:
            return await calls.create_async(
                to=to,
                from_=from_,
                twiml=twiml,
                status_callback=callback,
                status_callback_method="POST" if status_callback else _UNSET,
            )

        call = await self._create_once(create)
        if not getattr(call, "sid", None):
            raise UncertainSendError("Twilio's answer to the call had no call SID")
        return str(call.sid)

    # -- account and numbers -----------------------------------------------------------

    async def fetch_account(self) -> AccountInfo:
        """The account behind the credentials (``GET /Accounts/{Sid}.json``).

        Raises :class:`AuthenticationError` for wrong credentials, else as
        :meth:`send_sms`.
        """
        if self._client is None:
            raise RuntimeError("TwilioGateway is not started: await start() first")
        context = self._client.api.v2010.accounts(self.account_sid)
        account = await self._call("fetch account", context.fetch_async)
        return AccountInfo(
            sid=str(account.sid),
            friendly_name=_as_str(account.friendly_name) or "",
            status=str(account.status or ""),
        )

    async def list_numbers(self, *, limit: int = 1000) -> list[NumberConfig]:
        """The account's IncomingPhoneNumbers, at most ``limit``."""
        numbers = self._api().incoming_phone_numbers

        async def first(page_size: int) -> Any:
            return await numbers.page_async(page_size=page_size)

        return [_number_config(n) for n in await self._collect("list numbers", first, limit)]

    async def find_number(self, phone_number: str) -> NumberConfig | None:
        """The IncomingPhoneNumber whose E.164 ``phone_number`` is exactly this, or None.

        Uses the list filtered by ``PhoneNumber`` (Twilio matches partially, so the
        exact number is picked from the answer).
        """
        numbers = self._api().incoming_phone_numbers

        async def first(page_size: int) -> Any:
            return await numbers.page_async(phone_number=phone_number, page_size=page_size)

        for record in await self._collect("find number", first, 200):
            if record.phone_number == phone_number:
                return _number_config(record)
        return None

    async def update_number(
        self,
        sid: str,
        *,
        voice_url: str | None = None,
        voice_method: str = "POST",
        voice_fallback_url: str | None = None,
        sms_url: str | None = None,
        sms_method: str = "POST",
        status_callback: str | None = None,
        status_callback_method: str = "POST",
    ) -> NumberConfig:
        """Point the number's webhooks somewhere; returns the number as Twilio now has it.

        Only the URLs given (not None) are sent; each method (``VoiceMethod``,
        ``SmsMethod``, ``StatusCallbackMethod``) is sent together with its URL and
        not otherwise. ``""`` clears a URL. Raises :class:`CarrierError` (404 / 20404
        for an unknown SID) as :meth:`send_sms` does.
        """
        fields: dict[str, object] = {}
        if voice_url is not None:
            fields["voice_url"] = voice_url
            fields["voice_method"] = voice_method
        if voice_fallback_url is not None:
            fields["voice_fallback_url"] = voice_fallback_url
        if sms_url is not None:
            fields["sms_url"] = sms_url
            fields["sms_method"] = sms_method
        if status_callback is not None:
            fields["status_callback"] = status_callback
            fields["status_callback_method"] = status_callback_method
        context = self._api().incoming_phone_numbers(sid)

        async def update() -> Any:
            return await context.update_async(**fields)

        return _number_config(await self._call("update number", update))


def _number_config(record: Any) -> NumberConfig:
    caps_raw = record.capabilities
    capabilities: dict[str, bool] = {}
    if isinstance(caps_raw, dict):
        for key, value in caps_raw.items():
            if isinstance(value, bool):
                capabilities[str(key)] = value
    return NumberConfig(
        sid=str(record.sid),
        phone_number=_as_str(record.phone_number) or "",
        voice_url=_as_str(record.voice_url),
        voice_method=_as_str(record.voice_method),
        voice_fallback_url=_as_str(record.voice_fallback_url),
        sms_url=_as_str(record.sms_url),
        sms_method=_as_str(record.sms_method),
        status_callback=_as_str(record.status_callback),
        capabilities=capabilities,
    )
