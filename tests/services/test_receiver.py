"""The webhook receiver over real HTTP: requests signed as Twilio signs them.

The handlers here are a tiny recording stand-in for the engine (the boundary the
receiver talks to); everything between the socket and that boundary is the real thing.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from yarl import URL

from services.receiver import (
    OTHER_PATH,
    PATHS,
    BadWebhook,
    WebhookReceiver,
    WebhookRecord,
)
from services.webhook_fields import (
    CallStatusUpdate,
    DialResult,
    InboundMessage,
    MessageStatusUpdate,
    VoiceCall,
)
from tests.signing import SIGNATURE_HEADER, form_body, post_signed, sign

TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC = "https://frontdesk-test.example.ngrok.app"
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Dial timeout="20"/></Response>'
FORM_CT = "application/x-www-form-urlencoded; charset=utf-8"

VOICE = {
    "AccountSid": "AC" + "0" * 32,
    "CallSid": "CA" + "1" * 32,
    "From": "+14155550123",
    "To": "+14155550100",
    "CallStatus": "ringing",
    "Direction": "inbound",
    "ApiVersion": "2010-04-01",
}


@dataclass
class RecordingHandlers:
    """Stand-in for the engine: records every call with its typed fields; ``fail`` makes
    the next call raise."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    fail: BaseException | None = None

    def _seen(self, name: str, value: Any) -> None:
        self.calls.append((name, value))
        if self.fail is not None:
            exc, self.fail = self.fail, None
            raise exc

    async def voice(self, call: VoiceCall) -> str:
        self._seen("voice", call)
        if call.from_ == "+10000000000":
            raise BadWebhook("no such caller")
        return TWIML

    async def dial_result(self, result: DialResult) -> str:
        self._seen("dial_result", result)
        return "<Response><Hangup/></Response>"

    async def call_status(self, update: CallStatusUpdate) -> None:
        self._seen("call_status", update)

    async def inbound_message(self, message: InboundMessage) -> str:
        self._seen("inbound_message", message)
        return "<Response/>"

    async def message_status(self, update: MessageStatusUpdate) -> None:
        self._seen("message_status", update)


@dataclass
class Env:
    receiver: WebhookReceiver
    handlers: RecordingHandlers
    session: aiohttp.ClientSession
    base: str
    records: list[WebhookRecord]

    async def signed(
        self, path: str, params: Any, *, token: str = TOKEN, query: str = ""
    ) -> tuple[int, str, str]:
        return await post_signed(self.session, self.base, PUBLIC, path, params, token, query=query)

    async def raw(
        self,
        method: str,
        target: str,
        *,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, str, str]:
        url = URL(self.base + target, encoded=True)
        async with self.session.request(method, url, data=data, headers=headers) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


@asynccontextmanager
async def serving(
    *,
    token: Callable[[], str | None] = lambda: TOKEN,
    public: Callable[[], str | None] = lambda: PUBLIC,
    **kwargs: Any,
) -> AsyncIterator[Env]:
    handlers = RecordingHandlers()
    records: list[WebhookRecord] = kwargs.pop("records", [])
    receiver = WebhookReceiver(
        handlers,
        auth_token=token,
        public_url=public,
        on_record=kwargs.pop("on_record", records.append),
        **kwargs,
    )
    port = await receiver.start()
    try:
        assert receiver.port == port
        base = receiver.local_url()
        assert base == f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            yield Env(receiver, handlers, session, base, records)
    finally:
        await receiver.stop()


def run(test: Callable[[Env], Awaitable[None]], **kwargs: Any) -> None:
    async def main() -> None:
        async with serving(**kwargs) as env:
            await test(env)

    asyncio.run(main())


# -- the signer itself -------------------------------------------------------------------


def test_signer_matches_twilios_documented_example() -> None:
    # The worked example from Twilio's webhook-security documentation.
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert sign("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_paths_are_the_twilio_webhooks() -> None:
    assert dict(PATHS) == {
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


# -- accepted ------------------------------------------------------------------------------


def test_signed_voice_request_gets_the_handlers_twiml() -> None:
    async def t(env: Env) -> None:
        status, ctype, body = await env.signed(PATHS["voice"], VOICE)
        assert (status, body) == (200, TWIML)
        assert ctype.startswith("text/xml")
        [(name, call)] = env.handlers.calls
        assert name == "voice"
        assert call == VoiceCall(VOICE["CallSid"], VOICE["From"], VOICE["To"], "ringing")
        [rec] = env.records
        assert (rec.path, rec.status, rec.reason) == ("/twilio/voice", 200, None)
        assert rec.checked_url == PUBLIC + "/twilio/voice"
        assert rec.sid == VOICE["CallSid"]
        assert rec.at.tzinfo is not None

    run(t)


def test_every_path_reaches_its_handler() -> None:
    async def t(env: Env) -> None:
        sms = {"MessageSid": "SM" + "2" * 32, "From": "+14155550123", "Body": "hi"}
        results = [
            await env.signed(PATHS["dial_result"], {**VOICE, "DialCallStatus": "no-answer"}),
            await env.signed(PATHS["call_status"], {**VOICE, "CallStatus": "completed"}),
            await env.signed(PATHS["sms"], sms),
            await env.signed(PATHS["sms_status"], {**sms, "MessageStatus": "delivered"}),
        ]
        assert [name for name, _ in env.handlers.calls] == [
            "dial_result",
            "call_status",
            "inbound_message",
            "message_status",
        ]
        assert results[0][0] == 200 and results[0][1].startswith("text/xml")
        assert results[0][2] == "<Response><Hangup/></Response>"
        assert results[1][0] == 204 and results[1][2] == ""
        assert results[2][0] == 200 and results[2][1].startswith("text/xml")
        assert results[2][2] == "<Response/>"
        assert results[3][0] == 204
        assert [r.sid for r in env.records] == [VOICE["CallSid"]] * 2 + [sms["MessageSid"]] * 2

    run(t)


def test_query_string_is_part_of_the_signed_url() -> None:
    async def t(env: Env) -> None:
        status, _, _ = await env.signed(PATHS["voice"], VOICE, query="x=1")
        assert status == 200
        assert env.records[-1].checked_url == PUBLIC + "/twilio/voice?x=1"
        # Percent-encoding in the query is signed as sent, byte for byte.
        status, _, _ = await env.signed(PATHS["voice"], VOICE, query="q=a%2Fb&n=caf%C3%A9&e=")
        assert status == 200
        # A signature made without the query does not cover a request with one.
        signature = sign(TOKEN, PUBLIC + "/twilio/voice", VOICE)
        status, _, body = await env.raw(
            "POST",
            "/twilio/voice?x=1",
            data=form_body(VOICE),
            headers={"Content-Type": FORM_CT, SIGNATURE_HEADER: signature},
        )
        assert (status, body) == (403, "invalid signature")
        assert len(env.handlers.calls) == 2

    run(t)


def test_public_url_trailing_slash_is_ignored() -> None:
    async def t(env: Env) -> None:
        status, _, _ = await env.signed(PATHS["voice"], VOICE)
        assert status == 200

    run(t, public=lambda: PUBLIC + "/")


def test_unicode_body_survives_byte_exact() -> None:
    text = "Hi 👋🏽 👨‍👩‍👧 🇺🇸 שלום עולם مرحبا بالعالم e\u0301 \u200f+1 (555) & = % +"
    params = {"MessageSid": "SM" + "3" * 32, "From": "+14155550123", "Body": text}

    async def t(env: Env) -> None:
        status, _, _ = await env.signed(PATHS["sms"], params)
        assert status == 200
        [(_, message)] = env.handlers.calls
        assert message.body == text.strip()
        assert message.body.encode("utf-8") == text.strip().encode("utf-8")

    run(t)


def test_mms_media_fields_reach_the_handler() -> None:
    params = {
        "MessageSid": "MM" + "4" * 32,
        "From": "+14155550123",
        "Body": "",
        "NumMedia": "2",
        "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM4/Media/ME0",
        "MediaContentType0": "image/jpeg",
        "MediaUrl1": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM4/Media/ME1",
        "MediaContentType1": "application/pdf",
    }

    async def t(env: Env) -> None:
        status, _, _ = await env.signed(PATHS["sms"], params)
        assert status == 200
        [(_, message)] = env.handlers.calls
        assert message.body == ""  # blank Body kept
        assert message.media == (
            (params["MediaUrl0"], "image/jpeg"),
            (params["MediaUrl1"], "application/pdf"),
        )

    run(t)


def test_repeated_fields_are_signed_and_an_appended_copy_is_refused() -> None:
    pairs = [("MessageSid", "SM" + "5" * 32), ("Tag", "b"), ("From", "+14155550123"), ("Tag", "a")]

    async def t(env: Env) -> None:
        status, _, _ = await env.signed(PATHS["sms"], pairs)
        assert status == 200
        # Every value is covered by the signature: adding one breaks it.
        signature = sign(TOKEN, PUBLIC + PATHS["sms"], pairs)
        status, _, _ = await env.raw(
            "POST",
            PATHS["sms"],
            data=form_body([*pairs, ("Tag", "c")]),
            headers={"Content-Type": FORM_CT, SIGNATURE_HEADER: signature},
        )
        assert status == 403
        # The SDK's validator signs each distinct value once, so a copy of a signed field
        # appended to the body (a second From, a second Body) would pass it: refused.
        for extra in [("From", "+14155550123"), ("Tag", "a")]:
            status, _, body = await env.raw(
                "POST",
                PATHS["sms"],
                data=form_body([*pairs, extra]),
                headers={"Content-Type": FORM_CT, SIGNATURE_HEADER: signature},
            )
            assert (status, body) == (403, "invalid signature")
            assert env.records[-1].reason == (
                "invalid signature: a field is repeated with the same value"
            )
        assert len(env.handlers.calls) == 1

    run(t)


def test_new_fields_from_twilio_are_ignored_not_refused() -> None:
    async def t(env: Env) -> None:
        status, _, _ = await env.signed(PATHS["voice"], {**VOICE, "SomeFutureField": "x"})
        assert status == 200
        assert env.handlers.calls[0][1].call_sid == VOICE["CallSid"]

    run(t)


# -- signature rejections --------------------------------------------------------------------


def test_unsigned_request_is_403_and_handler_not_called() -> None:
    async def t(env: Env) -> None:
        status, ctype, body = await env.raw(
            "POST", PATHS["voice"], data=form_body(VOICE), headers={"Content-Type": FORM_CT}
        )
        assert (status, body) == (403, "invalid signature")
        assert ctype.startswith("text/plain")
        assert env.handlers.calls == []
        [rec] = env.records
        assert rec.status == 403
        assert rec.reason is not None and SIGNATURE_HEADER in rec.reason
        assert rec.checked_url == PUBLIC + "/twilio/voice"
        assert rec.sid is None  # the body of an unsigned request is not even read

    run(t)


def test_wrong_token_is_403() -> None:
    async def t(env: Env) -> None:
        status, _, body = await env.signed(PATHS["voice"], VOICE, token="not-the-token")
        assert (status, body) == (403, "invalid signature")
        assert env.handlers.calls == []
        assert env.records[-1].reason == "invalid signature: mismatch"

    run(t)


def test_signed_for_the_local_url_is_403_and_record_shows_checked_url() -> None:
    async def t(env: Env) -> None:
        # What a naive request.url check would accept: signed for http://127.0.0.1:PORT.
        status, _, _ = await post_signed(
            env.session, env.base, env.base, PATHS["voice"], VOICE, TOKEN
        )
        assert status == 403
        assert env.handlers.calls == []
        [rec] = env.records
        assert rec.checked_url == PUBLIC + "/twilio/voice"
        assert rec.checked_url != env.base + "/twilio/voice"

    run(t)


def test_tampered_body_is_403() -> None:
    async def t(env: Env) -> None:
        signature = sign(TOKEN, PUBLIC + PATHS["voice"], VOICE)
        status, _, _ = await env.raw(
            "POST",
            PATHS["voice"],
            data=form_body({**VOICE, "From": "+19995550000"}),
            headers={"Content-Type": FORM_CT, SIGNATURE_HEADER: signature},
        )
        assert status == 403
        assert env.handlers.calls == []

    run(t)


@pytest.mark.parametrize(
    ("token", "public", "why"),
    [
        (None, PUBLIC, "no auth token configured"),
        ("", PUBLIC, "no auth token configured"),
        (TOKEN, None, "no public URL configured"),
    ],
)
def test_missing_configuration_is_403(token: str | None, public: str | None, why: str) -> None:
    async def t(env: Env) -> None:
        status, _, body = await env.signed(PATHS["voice"], VOICE)
        assert (status, body) == (403, "invalid signature")
        assert env.handlers.calls == []
        assert env.records[-1].reason == f"invalid signature: {why}"

    run(t, token=lambda: token, public=lambda: public)


def test_credentials_are_read_per_request() -> None:
    current = {"token": "old-token"}

    async def t(env: Env) -> None:
        assert (await env.signed(PATHS["voice"], VOICE, token="old-token"))[0] == 200
        current["token"] = TOKEN
        assert (await env.signed(PATHS["voice"], VOICE, token="old-token"))[0] == 403
        assert (await env.signed(PATHS["voice"], VOICE))[0] == 200

    run(t, token=lambda: current["token"])


# -- routing ---------------------------------------------------------------------------------


def test_unknown_paths_and_wrong_methods() -> None:
    async def t(env: Env) -> None:
        for target in ("/", "/twilio", "/twilio/voice/", "/admin", "/twilio/voice/other"):
            status, _, _ = await env.raw("POST", target, data=b"", headers={})
            assert status == 404, target
            assert (await env.raw("GET", target))[0] == 404, target
        status, _, _ = await env.raw("GET", PATHS["voice"])
        assert status == 405
        async with env.session.get(env.base + PATHS["sms"]) as resp:
            assert resp.status == 405
            assert resp.headers["Allow"] == "POST"
        assert (await env.raw("PUT", PATHS["sms"]))[0] == 405
        assert env.handlers.calls == []
        assert [r.status for r in env.records[-3:]] == [405, 405, 405]
        assert len(env.records) == 13
        # A stranger's path is not kept: every unknown path is recorded as one bucket.
        assert {r.path for r in env.records if r.status == 404} == {OTHER_PATH}

    run(t)


# -- body rules ------------------------------------------------------------------------------


def test_signed_empty_body_is_400_before_the_handler() -> None:
    async def t(env: Env) -> None:
        status, ctype, body = await env.signed(PATHS["voice"], {})
        assert (status, body) == (400, "missing field(s): CallSid")
        assert ctype.startswith("text/plain")
        assert env.handlers.calls == []
        assert env.records[-1].reason == "missing field(s): CallSid"
        # The handler's own BadWebhook is a 400 too.
        status, _, body = await env.signed(PATHS["voice"], {**VOICE, "From": "+10000000000"})
        assert (status, body) == (400, "no such caller")

    run(t)


def test_two_megabyte_body_is_413_without_calling_the_handler() -> None:
    big = {**VOICE, "Body": "x" * (2 * 1024 * 1024)}

    async def chunks() -> AsyncIterator[bytes]:
        payload = form_body(big)
        for i in range(0, len(payload), 64 * 1024):
            yield payload[i : i + 64 * 1024]

    async def t(env: Env) -> None:
        status, _, body = await env.signed(PATHS["voice"], big)  # with Content-Length
        assert (status, body) == (413, "body too large")
        # Chunked, no Content-Length: the cap applies while reading.
        signature = sign(TOKEN, PUBLIC + PATHS["voice"], big)
        status, _, _ = await env.raw(
            "POST",
            PATHS["voice"],
            data=chunks(),
            headers={"Content-Type": FORM_CT, SIGNATURE_HEADER: signature},
        )
        assert status == 413
        assert env.handlers.calls == []
        assert [r.status for r in env.records] == [413, 413]
        # Still serving.
        assert (await env.signed(PATHS["voice"], VOICE))[0] == 200

    run(t)


def test_body_just_under_the_limit_is_accepted() -> None:
    async def t(env: Env) -> None:
        base = len(form_body({**VOICE, "Body": ""}))
        params = {**VOICE, "Body": "y" * (1024 - base)}
        assert len(form_body(params)) == 1024
        assert (await env.signed(PATHS["voice"], params))[0] == 200
        params = {**VOICE, "Body": "y" * (1025 - base)}
        assert (await env.signed(PATHS["voice"], params))[0] == 413

    run(t, max_body_bytes=1024)


@pytest.mark.parametrize(
    "body",
    [
        b"CallSid=CA1&Body=caf\xe9",  # Latin-1 bytes on the wire
        b"CallSid=CA1&Body=caf%E9",  # percent-encoded Latin-1
        b"CallSid=CA1&Body=\xff\xfe",
    ],
)
def test_non_utf8_body_is_403(body: bytes) -> None:
    # Twilio only sends UTF-8: such a body cannot carry a valid signature.
    async def t(env: Env) -> None:
        signature = sign(TOKEN, PUBLIC + PATHS["sms"], {"CallSid": "CA1"})
        status, _, text = await env.raw(
            "POST",
            PATHS["sms"],
            data=body,
            headers={"Content-Type": FORM_CT, SIGNATURE_HEADER: signature},
        )
        assert (status, text) == (403, "invalid signature")
        assert env.handlers.calls == []
        assert env.records[-1].reason == "invalid signature: body is not UTF-8"

    run(t)


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded; charset=latin-1"},
        {"Content-Type": FORM_CT, "Content-Encoding": "gzip"},
    ],
)
def test_what_twilio_never_sends_is_403(headers: dict[str, str]) -> None:
    async def t(env: Env) -> None:
        for signed in (False, True):
            extra = {SIGNATURE_HEADER: sign(TOKEN, PUBLIC + PATHS["sms"], {})} if signed else {}
            status, _, text = await env.raw(
                "POST", PATHS["sms"], data=b'{"Body": "hi"}', headers={**headers, **extra}
            )
            assert (status, text) == (403, "invalid signature")
        assert env.handlers.calls == []

    run(t)

    run(t)


# -- failures --------------------------------------------------------------------------------


def test_handler_crash_is_500_logged_and_the_next_request_is_served(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret_text = "private message text 7f3a"

    async def t(env: Env) -> None:
        env.handlers.fail = RuntimeError("boom")
        sms = {"MessageSid": "SM" + "6" * 32, "From": "+14155550123", "Body": secret_text}
        status, _, body = await env.signed(PATHS["sms"], sms)
        assert status == 500
        assert "boom" not in body
        assert env.records[-1].status == 500
        assert env.records[-1].reason == "handler error: RuntimeError"
        status, _, _ = await env.signed(PATHS["voice"], VOICE)
        assert status == 200

    with caplog.at_level(logging.DEBUG):
        run(t)
    crash = [r for r in caplog.records if r.exc_info and r.name == "services.receiver"]
    assert len(crash) == 1
    assert "boom" in caplog.text  # the traceback is there
    assert TOKEN not in caplog.text
    assert secret_text not in caplog.text


def test_on_record_exceptions_are_contained(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[WebhookRecord] = []

    def on_record(record: WebhookRecord) -> None:
        seen.append(record)
        raise RuntimeError("panel went away")

    async def t(env: Env) -> None:
        assert (await env.signed(PATHS["voice"], VOICE))[0] == 200
        empty = await env.raw("POST", PATHS["voice"], data=b"", headers={"Content-Type": FORM_CT})
        assert empty[0] == 403
        assert (await env.raw("POST", "/nope"))[0] == 404

    with caplog.at_level(logging.ERROR):
        run(t, on_record=on_record)
    assert [r.status for r in seen] == [200, 403, 404]
    assert seen[1].checked_url == PUBLIC + "/twilio/voice"
    assert "on_record callback failed" in caplog.text


# -- lifecycle -------------------------------------------------------------------------------


def test_stop_frees_the_port() -> None:
    async def main() -> None:
        receiver = WebhookReceiver(
            RecordingHandlers(), auth_token=lambda: TOKEN, public_url=lambda: PUBLIC
        )
        assert receiver.port is None and receiver.local_url() is None
        port = await receiver.start()
        base = receiver.local_url()
        assert base is not None
        async with aiohttp.ClientSession() as session:
            assert (await post_signed(session, base, PUBLIC, PATHS["voice"], VOICE, TOKEN))[
                0
            ] == 200
        with pytest.raises(RuntimeError):
            await receiver.start()
        await receiver.stop()
        assert receiver.port is None and receiver.local_url() is None
        await receiver.stop()  # idempotent

        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0  # nothing listening

        again = WebhookReceiver(
            RecordingHandlers(), auth_token=lambda: TOKEN, public_url=lambda: PUBLIC
        )
        assert await again.start(port=port) == port
        await again.stop()

    asyncio.run(main())


def test_nothing_is_bound_at_construction() -> None:
    receiver = WebhookReceiver(
        RecordingHandlers(), auth_token=lambda: TOKEN, public_url=lambda: PUBLIC
    )
    assert receiver.port is None
