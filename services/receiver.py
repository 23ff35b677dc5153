"""The embedded webhook receiver: Twilio's voice and messaging webhooks over aiohttp.

Only the Twilio paths in :data:`PATHS` are served, POST only; every other path is
404 and another method on a Twilio path is 405. Each request goes through, in order:

1. Twilio's signature, before anything of the request is trusted: no
   ``X-Twilio-Signature`` header -> 403 without reading the body. Twilio only ever sends
   an ``application/x-www-form-urlencoded`` UTF-8 body with no content encoding, so any
   other content type, charset or encoding, or a body that is not UTF-8, cannot carry a
   valid signature: 403 too. The body is read with a cap (``max_body_bytes``; larger ->
   413, never buffered whole) and parsed keeping repeated fields; the signature is
   checked with :class:`twilio.request_validator.RequestValidator` against the configured
   *public* URL plus the request's path and query (never ``request.url``: behind a tunnel
   the local server sees ``http://127.0.0.1:PORT`` while Twilio signed the public URL).
   The SDK signs each distinct value of a field once, so a body carrying an exact copy
   of a signed field would pass it: such a body is refused (403) as well. Missing
   header, no token, no public URL or a mismatch -> 403 and no handler is called,
2. the fields: the route's parser in :mod:`services.webhook_fields` turns the form into
   a typed, bounded value (:class:`BadWebhook` -> 400 with its message),
3. the handler, with that value: :class:`BadWebhook` -> 400, anything else -> 500
   (logged with its traceback),
4. the answer: TwiML as ``text/xml``; status callbacks get 204.

Photos the desk texts (outbound MMS) are the one thing served by GET: Twilio fetches an
MMS's ``MediaUrl`` from ``/twilio/media/NAME?expires=…&sig=…`` (see
:mod:`services.attachments`). Only with a ``media`` store: an unknown name is 404, a
missing, forged or expired signature 403, anything but GET/HEAD 405; the file goes out
with its image Content-Type. These fetches are not webhooks and yield no record.

Every webhook request, accepted or rejected, yields exactly one :class:`WebhookRecord` passed to
``on_record`` (the health panel reads these; ``checked_url`` shows the URL the signature
was checked against, so a proxy/tunnel mismatch is visible). A record's ``path`` is one of
:data:`PATHS` or :data:`OTHER_PATH` and its ``sid`` a cleaned SID or None, so what a
stranger sends cannot grow what is kept about it.

Nothing is created at import time: the aiohttp application, runner and site exist
between :meth:`WebhookReceiver.start` and :meth:`WebhookReceiver.stop`. No Qt here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Final, Protocol
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from twilio.request_validator import RequestValidator

from services import webhook_fields as fields
from services.attachments import MEDIA_PATH, LinkRefused
from services.webhook_fields import (
    BadWebhook,
    CallStatusUpdate,
    DialResult,
    InboundMessage,
    MessageStatusUpdate,
    RecordingDone,
    RecordingStatus,
    TranscriptionDone,
    VoiceCall,
)

__all__ = [
    "OTHER_PATH",
    "PATHS",
    "SIGNATURE_HEADER",
    "BadWebhook",
    "WebhookHandlers",
    "WebhookReceiver",
    "WebhookRecord",
]

logger = logging.getLogger(__name__)

SIGNATURE_HEADER: Final = "X-Twilio-Signature"
# Twilio names the signing algorithm here when a webhook is signed with a SharedKey.
_SIGNATURE_SETTINGS_HEADER: Final = "X-Twilio-Webhooks-Signature-Settings"

PATHS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "voice": "/twilio/voice",
        "dial_result": "/twilio/voice/dial-result",
        "call_status": "/twilio/voice/status",
        "sms": "/twilio/sms",
        "sms_status": "/twilio/sms/status",
        "recorded": "/twilio/voice/recorded",
        "recording_status": "/twilio/voice/recording-status",
        "transcription": "/twilio/voice/transcription",
        "callback_dial": "/twilio/voice/callback-dial",
        "callback_status": "/twilio/voice/callback-status",
    }
)
"""Name -> path of every webhook served. Build webhook URLs from these (public URL + path)."""

OTHER_PATH: Final = "(other)"
"""The path recorded for a request to any path not in :data:`PATHS`."""

_FORM_TYPE: Final = "application/x-www-form-urlencoded"
_READ_CHUNK: Final = 16 * 1024
_SID_FIELDS: Final = ("CallSid", "MessageSid", "SmsSid")
_MAX_URL_SHOWN: Final = 500


class MediaFiles(Protocol):
    """Kept photos Twilio fetches for an outbound MMS (:class:`services.attachments.PhotoStore`)."""

    def open(self, name: str, expires: str, sig: str) -> tuple[Path, str]:
        """The file and its content type; raises :class:`LinkRefused` (404 / 403)."""
        ...


class WebhookHandlers(Protocol):
    """What the receiver calls for each accepted webhook, with its typed fields
    (:mod:`services.webhook_fields`). Raise :class:`BadWebhook` for a request that
    cannot be acted on (answered 400)."""

    async def voice(self, call: VoiceCall) -> str: ...

    async def dial_result(self, result: DialResult) -> str: ...

    async def call_status(self, update: CallStatusUpdate) -> None: ...

    async def inbound_message(self, message: InboundMessage) -> str: ...

    async def message_status(self, update: MessageStatusUpdate) -> None: ...

    async def recorded(self, done: RecordingDone) -> str: ...

    async def recording_status(self, update: RecordingStatus) -> None: ...

    async def transcription(self, done: TranscriptionDone) -> None: ...

    async def callback_dial(self, result: DialResult) -> str: ...

    async def callback_status(self, update: CallStatusUpdate) -> None: ...


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    """One request seen, accepted or rejected, for the health panel.

    ``reason`` is None when the request was answered normally (2xx), else why it was not.
    ``checked_url`` is the URL the signature was checked against (None when no check
    ran). ``sid`` is the CallSid / MessageSid when the body carried one that looks like a
    SID (unverified for rejected requests). ``path`` is a path of :data:`PATHS` or
    :data:`OTHER_PATH`.
    """

    at: datetime
    path: str
    status: int
    reason: str | None
    checked_url: str | None
    sid: str | None


_Form = MultiDictProxy[str]
_Route = Callable[[WebhookHandlers, _Form], Awaitable[str | None]]


async def _voice(h: WebhookHandlers, form: _Form) -> str | None:
    return await h.voice(fields.parse_voice(form))


async def _dial_result(h: WebhookHandlers, form: _Form) -> str | None:
    return await h.dial_result(fields.parse_dial_result(form))


async def _call_status(h: WebhookHandlers, form: _Form) -> str | None:
    await h.call_status(fields.parse_call_status(form))
    return None


async def _inbound_message(h: WebhookHandlers, form: _Form) -> str | None:
    return await h.inbound_message(fields.parse_inbound_message(form))


async def _message_status(h: WebhookHandlers, form: _Form) -> str | None:
    await h.message_status(fields.parse_message_status(form))
    return None


async def _recorded(h: WebhookHandlers, form: _Form) -> str | None:
    return await h.recorded(fields.parse_recording_done(form))


async def _recording_status(h: WebhookHandlers, form: _Form) -> str | None:
    await h.recording_status(fields.parse_recording_status(form))
    return None


async def _transcription(h: WebhookHandlers, form: _Form) -> str | None:
    await h.transcription(fields.parse_transcription(form))
    return None


async def _callback_dial(h: WebhookHandlers, form: _Form) -> str | None:
    return await h.callback_dial(fields.parse_dial_result(form))


async def _callback_status(h: WebhookHandlers, form: _Form) -> str | None:
    await h.callback_status(fields.parse_call_status(form))
    return None


# path -> (parse the fields and call the handler, answers with TwiML?)
_ROUTES: Final[Mapping[str, tuple[_Route, bool]]] = MappingProxyType(
    {
        PATHS["voice"]: (_voice, True),
        PATHS["dial_result"]: (_dial_result, True),
        PATHS["call_status"]: (_call_status, False),
        PATHS["sms"]: (_inbound_message, True),
        PATHS["sms_status"]: (_message_status, False),
        PATHS["recorded"]: (_recorded, True),
        PATHS["recording_status"]: (_recording_status, False),
        PATHS["transcription"]: (_transcription, False),
        PATHS["callback_dial"]: (_callback_dial, True),
        PATHS["callback_status"]: (_callback_status, False),
    }
)


class _Reject(Exception):
    """Internal: answer ``status`` with ``body`` and record ``reason``."""

    def __init__(
        self, status: int, body: str, reason: str | None = None, checked_url: str | None = None
    ) -> None:
        super().__init__(body)
        self.status = status
        self.body = body
        self.reason = reason or body
        self.checked_url = checked_url


class WebhookReceiver:
    """Serves Twilio's webhooks on a local port and hands them to ``handlers``.

    ``auth_token`` and ``public_url`` are read on every request, so a changed credential
    or a new tunnel URL takes effect without a restart. ``public_url`` is the base URL
    Twilio reaches this server at (e.g. ``https://abc.ngrok.app``); signatures are checked
    against it plus the request's path and query.
    There is no way to turn the signature check off: even the demo's simulated carrier
    signs its webhooks with the demo workspace's own token.
    """

    def __init__(
        self,
        handlers: WebhookHandlers,
        *,
        auth_token: Callable[[], str | None],
        public_url: Callable[[], str | None],
        max_body_bytes: int = 64 * 1024,
        on_record: Callable[[WebhookRecord], None] | None = None,
        media: MediaFiles | None = None,
    ) -> None:
        if max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be positive")
        self._handlers = handlers
        self._auth_token = auth_token
        self._public_url = public_url
        self._max_body = max_body_bytes
        self._on_record = on_record
        self._media = media
        self._runner: web.AppRunner | None = None
        self._host: str | None = None
        self._port: int | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Bind ``host:port`` (port 0 = any free port) and serve; returns the bound port."""
        if self._runner is not None:
            raise RuntimeError("WebhookReceiver already started")
        app = web.Application(client_max_size=self._max_body)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound = _bound_port(runner)
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._host = host
        self._port = bound
        logger.info("Webhook receiver listening on %s", self.local_url())
        return bound

    async def stop(self) -> None:
        """Stop serving and release the port. Safe to call when not started."""
        runner, self._runner = self._runner, None
        self._port = None
        self._host = None
        if runner is not None:
            await runner.cleanup()
            logger.info("Webhook receiver stopped")

    @property
    def port(self) -> int | None:
        """The bound port while running, else None."""
        return self._port

    def local_url(self) -> str | None:
        """``http://HOST:PORT`` to reach the receiver from this machine, None when stopped."""
        if self._port is None or self._host is None:
            return None
        host = self._host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._port}"

    # -- request handling --------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith(MEDIA_PATH) and self._media is not None:
            return await self._serve_media(request, path.removeprefix(MEDIA_PATH))
        known = path in _ROUTES
        checked: str | None = None
        sid: str | None = None
        try:
            route = _ROUTES.get(path)
            if route is None:
                raise _Reject(404, "not found")
            if request.method != "POST":
                raise _Reject(405, "method not allowed")
            call, twiml = route
            checked = self._signed_url_shown(request)
            if not request.headers.get(SIGNATURE_HEADER):
                raise _Reject(
                    403, "invalid signature", f"invalid signature: no {SIGNATURE_HEADER} header"
                )
            form = await self._read_form(request)
            sid = _sid_of(form)
            checked = self._check_signature(request, form)
            response = await self._call(call, form, twiml)
        except _Reject as rej:
            rejected = rej
        else:
            self._record(path, response.status, None, checked, sid)
            logger.debug("Webhook %s answered %s (sid %s)", path, response.status, sid)
            return response
        status = rejected.status
        response = web.Response(status=status, text=rejected.body, content_type="text/plain")
        if status == 405:
            response.headers["Allow"] = "POST"
        if status in (403, 413):
            # aiohttp drains (discards) the unread rest of the body; don't reuse the socket.
            response.force_close()
        checked = rejected.checked_url or checked
        self._record(path if known else OTHER_PATH, status, rejected.reason, checked, sid)
        log = logger.debug if status in (404, 405) else logger.warning
        log(
            "Webhook %s rejected: %s %s (checked URL: %s)",
            path if known else OTHER_PATH,
            status,
            rejected.reason,
            checked,
        )
        return response

    async def _serve_media(self, request: web.Request, name: str) -> web.StreamResponse:
        """A kept photo for Twilio's fetch of an MMS's MediaUrl: only with a valid,
        unexpired signature (403), only a name we gave out (404). The query is never
        logged: a valid link is a capability."""
        assert self._media is not None
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, text="method not allowed", headers={"Allow": "GET"})
        media = self._media
        query = request.query
        try:
            file, content_type = await asyncio.to_thread(
                media.open, name, query.get("expires", ""), query.get("sig", "")
            )
        except LinkRefused as exc:
            log = logger.debug if exc.status == 404 else logger.warning
            log("Media %s refused: %s %s", fields.clean_text(name, 60), exc.status, exc)
            return web.Response(status=exc.status, text=str(exc), content_type="text/plain")
        logger.info("Media %s served to %s", name, request.remote)
        return web.FileResponse(
            file,
            headers={"Content-Type": content_type, "Cache-Control": "private, no-store"},
        )

    async def _read_form(self, request: web.Request) -> _Form:
        """The signed request's form; anything Twilio would never send is a 403 (it cannot
        carry a valid signature), an oversized body a 413."""

        def unsigned(why: str) -> _Reject:
            return _Reject(403, "invalid signature", f"invalid signature: {why}")

        declared = request.content_length
        if declared is not None and declared > self._max_body:
            raise _Reject(413, "body too large")  # refused before reading a byte of it
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise unsigned("content encoding (Twilio sends none)")
        # Twilio always sends a form; a missing Content-Type is tolerated, another one is not.
        if "Content-Type" in request.headers and request.content_type != _FORM_TYPE:
            raise unsigned(f"content type is not {_FORM_TYPE}")
        charset = request.charset
        if charset is not None and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise unsigned("charset is not UTF-8")
        body = bytearray()
        try:
            while True:
                chunk = await request.content.read(_READ_CHUNK)
                if not chunk:
                    break
                body += chunk
                if len(body) > self._max_body:
                    raise _Reject(413, "body too large")
        except _Reject:
            raise
        except Exception as exc:  # client went away, malformed chunking, ...
            raise _Reject(400, "could not read body", f"could not read body: {exc!r}") from exc
        try:
            text = bytes(body).decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
        except (UnicodeDecodeError, ValueError) as exc:
            raise unsigned("body is not UTF-8") from exc
        if len(set(pairs)) != len(pairs):
            # The SDK signs each distinct value once: a copy appended to a signed body
            # would pass the check. Twilio never repeats a field with the same value.
            raise unsigned("a field is repeated with the same value")
        return MultiDictProxy(MultiDict(pairs))

    def _public_base(self) -> str | None:
        try:
            public = self._public_url()
        except Exception as exc:
            logger.warning("Reading the public URL failed: %s", type(exc).__name__)
            public = None
        return public.rstrip("/") if public else None

    def _signed_url_shown(self, request: web.Request) -> str | None:
        """The URL a signature would be checked against, redacted for records (or None)."""
        base = self._public_base()
        if base is None:
            return None
        raw = request.raw_path if request.raw_path.startswith("/") else request.path_qs
        return _redact(base + raw)[:_MAX_URL_SHOWN]

    def _check_signature(self, request: web.Request, form: _Form) -> str:
        """Raise a 403 :class:`_Reject` unless Twilio signed this request; returns the URL."""
        base = self._public_base()
        if base is None:
            raise _Reject(403, "invalid signature", "invalid signature: no public URL configured")
        # The request target exactly as received (Twilio signs the URL it requested, byte
        # for byte); aiohttp's normalised path_qs is tried as well when it differs.
        raw = request.raw_path if request.raw_path.startswith("/") else request.path_qs
        candidates = [base + raw]
        if request.path_qs != raw:
            candidates.append(base + request.path_qs)
        shown = _redact(candidates[0])[:_MAX_URL_SHOWN]

        def reject(why: str) -> _Reject:
            return _Reject(403, "invalid signature", f"invalid signature: {why}", shown)

        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            raise reject(f"no {SIGNATURE_HEADER} header")
        try:
            token = self._auth_token()
        except Exception as exc:  # never log the exception text: it may carry the secret
            logger.warning("Reading the auth token failed: %s", type(exc).__name__)
            token = None
        if not token:
            raise reject("no auth token configured")
        validator = RequestValidator(token)
        for url in candidates:
            # A MultiDict: the validator signs every value of a repeated field (getall).
            if bool(validator.validate(url, form, signature)):
                return _redact(url)[:_MAX_URL_SHOWN]
        if _SIGNATURE_SETTINGS_HEADER in request.headers:
            # A Twilio Webhooks Rule signs with a SharedKey secret, not the auth token.
            raise reject(f"mismatch (signed with a SharedKey: {_SIGNATURE_SETTINGS_HEADER})")
        raise reject("mismatch")

    async def _call(self, call: _Route, form: _Form, twiml: bool) -> web.Response:
        try:
            result = await call(self._handlers, form)
        except BadWebhook as exc:
            raise _Reject(400, str(exc) or "bad request") from exc
        except Exception as exc:
            logger.exception("Webhook handler failed")
            raise _Reject(500, "internal error", f"handler error: {type(exc).__name__}") from exc
        if not twiml:
            return web.Response(status=204)
        if not isinstance(result, str):
            logger.error("Webhook handler returned %s instead of TwiML", type(result).__name__)
            raise _Reject(500, "internal error", "handler returned no TwiML")
        return web.Response(text=result, content_type="text/xml", charset="utf-8")

    def _record(
        self, path: str, status: int, reason: str | None, checked_url: str | None, sid: str | None
    ) -> None:
        if self._on_record is None:
            return
        record = WebhookRecord(
            at=datetime.now(UTC),
            path=path,
            status=status,
            reason=reason,
            checked_url=checked_url,
            sid=sid,
        )
        try:
            self._on_record(record)
        except Exception:
            logger.exception("on_record callback failed")


def _bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2 and isinstance(address[1], int):
            return address[1]
    raise RuntimeError("receiver bound no TCP address")


def _sid_of(form: _Form) -> str | None:
    for name in _SID_FIELDS:
        value = form.get(name)
        if value:
            return fields.clean_sid(value.strip())
    return None


def _redact(url: str) -> str:
    """The URL without a password in its userinfo, fit for records and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
