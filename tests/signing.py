"""Sign webhooks exactly as Twilio does, for tests that POST to the running receiver.

Written from Twilio's documented scheme, independently of the SDK's
``RequestValidator`` (so a test proves the receiver, not the SDK against itself):

    X-Twilio-Signature = base64(HMAC-SHA1(auth_token, URL + name1 + value1 + name2 + ...))

where URL is the exact URL Twilio requested (public base + path + query) and the POST
fields are sorted by name (code point order); a repeated name contributes each of its
values, sorted. Note: the SDK's validator de-duplicates identical values of a repeated
name, so sign repeated fields with distinct values.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlencode

import aiohttp
from yarl import URL

SIGNATURE_HEADER = "X-Twilio-Signature"

Params = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]
"""POST fields: a mapping (a value may be a list for a repeated name) or (name, value) pairs."""


def pairs_of(params: Params) -> list[tuple[str, str]]:
    """The fields as (name, value) pairs in the order given (the order they are POSTed)."""
    if isinstance(params, Mapping):
        out: list[tuple[str, str]] = []
        for name, value in params.items():
            if isinstance(value, str):
                out.append((name, value))
            else:
                out.extend((name, v) for v in value)
        return out
    return [(name, value) for name, value in params]


def sign(auth_token: str, url: str, params: Params) -> str:
    """The X-Twilio-Signature Twilio would send for a form POST of ``params`` to ``url``."""
    data = url + "".join(name + value for name, value in sorted(pairs_of(params)))
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def form_body(params: Params) -> bytes:
    """The application/x-www-form-urlencoded UTF-8 body Twilio would POST."""
    return urlencode(pairs_of(params), encoding="utf-8").encode("ascii")


async def post_signed(
    session: aiohttp.ClientSession,
    base_local_url: str,
    public_url: str,
    path: str,
    params: Params,
    token: str,
    *,
    query: str = "",
) -> tuple[int, str, str]:
    """POST ``params`` to ``base_local_url + path (+ "?" + query)``, signed for
    ``public_url + path (+ "?" + query)`` as Twilio (behind a tunnel) would.

    Returns (status, Content-Type header value or "", body text). The response is read
    and released before returning.
    """
    target = path + (f"?{query}" if query else "")
    signature = sign(token, public_url.rstrip("/") + target, params)
    body = form_body(params)
    # aiohttp warns (an error under filterwarnings=error) on raw bytes over 1 MiB.
    data: bytes | io.BytesIO = body if len(body) < 1024 * 1024 else io.BytesIO(body)
    async with session.post(
        # encoded=True: send the path and query byte for byte as signed.
        URL(base_local_url.rstrip("/") + target, encoded=True),
        data=data,
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            SIGNATURE_HEADER: signature,
        },
    ) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()
