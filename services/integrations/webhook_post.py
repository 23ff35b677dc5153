"""One signed POST to an outbound webhook endpoint (the Standard Webhooks spec).

Headers ``webhook-id`` (the event key: the same on every retry, so receivers can drop
duplicates), ``webhook-timestamp`` (seconds, this attempt) and ``webhook-signature``
(``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``, by the ``standardwebhooks``
package). Bounded: a per-request timeout, at most :data:`MAX_RESPONSE` bytes of the
answer are read, redirects are never followed (a 3xx is a failure saying where it
pointed). Every way it can go wrong ends as an :class:`Outcome` with a clear line.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import aiohttp
from standardwebhooks.webhooks import Webhook

from services.integrations.endpoints import EndpointRefused, check_url
from services.integrations.outcome import Outcome, retry_after_header

MAX_RESPONSE = 64 * 1024
USER_AGENT = "Frontdesk-Webhooks/1"


def body_of(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def signed_headers(secret: str, key: str, at: datetime, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": key,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(key, at, body),
    }


async def post(
    session: aiohttp.ClientSession,
    url: str,
    secret: str,
    key: str,
    payload: dict[str, Any],
    at: datetime,
    *,
    timeout: float,
) -> Outcome:
    try:
        check_url(url)
    except EndpointRefused as exc:
        return Outcome(False, f"refused URL: {exc}", retry=False)
    body = body_of(payload)
    headers = signed_headers(secret, key, at, body)
    try:
        async with asyncio.timeout(timeout):
            async with session.post(
                url, data=body.encode("utf-8"), headers=headers, allow_redirects=False
            ) as resp:
                read, cut = await _read_capped(resp)
                return _judge(resp, read, cut)
    except TimeoutError:
        return Outcome(False, f"no answer within {timeout:g} s (timed out)")
    except aiohttp.ClientConnectorError as exc:
        return Outcome(False, f"could not connect to {exc.host}:{exc.port}: {exc.os_error}")
    except aiohttp.ClientError as exc:
        return Outcome(False, f"connection failed: {type(exc).__name__}: {exc}"[:250])


async def _read_capped(resp: aiohttp.ClientResponse) -> tuple[bytes, bool]:
    """At most MAX_RESPONSE bytes; True when the endpoint sent more (the rest is dropped
    with the connection)."""
    buf = bytearray()
    while len(buf) < MAX_RESPONSE:
        chunk = await resp.content.read(MAX_RESPONSE - len(buf))
        if not chunk:
            return bytes(buf), False
        buf.extend(chunk)
    more = not resp.content.at_eof() and bool(await resp.content.read(1))
    return bytes(buf), more


def _judge(resp: aiohttp.ClientResponse, read: bytes, cut: bool) -> Outcome:
    code = resp.status
    note = f"; answer over {MAX_RESPONSE // 1024} KB, the rest was not read" if cut else ""
    if 200 <= code < 300:
        return Outcome(True, f"delivered: HTTP {code}{note}", code)
    if 300 <= code < 400:
        where = resp.headers.get("Location", "")[:120] or "nowhere"
        return Outcome(
            False,
            f"HTTP {code} redirect to {where}: not followed (enter the final URL)",
            code,
        )
    snippet = read[:80].decode("utf-8", "replace").replace("\n", " ").strip()
    line = f"HTTP {code} from the endpoint" + (f": {snippet}" if snippet else "") + note
    retry_after = retry_after_header(resp.headers.get("Retry-After"))
    return Outcome(False, line, code, retry_after=retry_after)
