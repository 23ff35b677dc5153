"""Contract: the voicemail's media fetch is the request Twilio's spec describes.

Twilio's 2010-04-01 spec (each source of :mod:`tests.twilio_spec`) has the
Recording resource at ``/2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.json``
behind HTTP basic auth (``accountSid_authToken``); its media is the same resource with
the media's extension (the spec's ``media_url`` example is that path without one), which
is why no Prism mock can serve it. So this test reads the spec itself: the URL the
gateway fetches, captured by the Twilio stand-in, must match that path template with
each parameter's own pattern, ``.json`` swapped for ``.mp3``, on the spec's server, with
the account's credentials. The stand-in (as strict as Twilio) serves the audio only with
valid credentials, for that account's path.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from services import gateway as gateway_module
from services.gateway import TwilioGateway
from services.ports import CarrierError
from tests.services.test_gateway_contract import usable_source
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_spec import API, SOURCES
from tests.twilio_standin import TwilioStandIn, new_sid

RESOURCE = "/2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.json"
AUDIO = b"ID3" + bytes(range(256)) * 8


@pytest.fixture(scope="module", params=SOURCES)
def spec(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    path = usable_source(request.param).path(API)
    yield json.loads(Path(path).read_text(encoding="utf-8"))


def _media_path_pattern(spec: dict[str, Any]) -> re.Pattern[str]:
    """The spec's Recording path as a regex for its ``.mp3`` media: each ``{Param}``
    replaced by that path parameter's own schema pattern."""
    operation = spec["paths"][RESOURCE]["get"]
    patterns = {
        p["name"]: p["schema"]["pattern"].removeprefix("^").removesuffix("$")
        for p in operation["parameters"]
        if p["in"] == "path"
    }
    assert set(patterns) == {"AccountSid", "Sid"}
    regex = re.escape(RESOURCE.removesuffix(".json")) + re.escape(".mp3")
    for name, pattern in patterns.items():
        regex = regex.replace(re.escape("{" + name + "}"), f"(?P<{name}>{pattern})")
    return re.compile(regex)


def test_the_spec_says_what_the_gateway_assumes(spec: dict[str, Any]) -> None:
    """Basic auth with the account's SID and token, on the spec's server, and the media
    at the resource's path (the ``media_url`` example)."""
    item = spec["paths"][RESOURCE]
    operation = item["get"]
    assert operation["security"] == [{"accountSid_authToken": []}]
    scheme = spec["components"]["securitySchemes"]["accountSid_authToken"]
    assert scheme == {"type": "http", "scheme": "basic"}
    (server,) = item["servers"]
    assert server["url"] == gateway_module._TWILIO_API  # where the gateway sends it
    schema = spec["components"]["schemas"]["api.v2010.account.recording"]
    assert "media_url" in schema["properties"]
    assert _media_path_pattern(spec).pattern.startswith(re.escape("/2010-04-01/Accounts/"))
    content = operation["responses"]["200"]["content"]["application/json"]
    if "examples" in content:  # Twilio's published spec; the pinned copy has none
        media_url = next(iter(content["examples"].values()))["value"]["media_url"]
        media_path = "/" + media_url.split("/", 3)[3]
        assert re.fullmatch(_media_path_pattern(spec), media_path + ".mp3"), media_path


def test_the_fetched_url_is_the_specs_media_path_with_the_accounts_basic_auth(
    spec: dict[str, Any], twilio_standin: TwilioStandIn
) -> None:
    pattern = _media_path_pattern(spec)
    recording = twilio_standin.add_recording(new_sid("CA"), audio=AUDIO)

    async def scenario() -> None:
        gateway = TwilioGateway(
            twilio_standin.account_sid,
            twilio_standin.auth_token,
            base_url=twilio_standin.base_url,
            backoff_seconds=0.01,
        )
        await gateway.start()
        try:
            assert await gateway.fetch_recording(recording, max_bytes=1 << 20) == AUDIO
        finally:
            await gateway.close()

    asyncio.run(scenario())
    (request,) = twilio_standin.requests_to("/Recordings/", "GET")
    match = pattern.fullmatch(request.path)
    assert match is not None, f"{request.path} is not {pattern.pattern}"
    assert match["AccountSid"] == twilio_standin.account_sid and match["Sid"] == recording
    assert request.query == {}
    assert request.auth_user == twilio_standin.account_sid  # basic auth, the account's
    assert request.status == 200


def test_the_standin_serves_the_media_only_with_valid_credentials(
    spec: dict[str, Any], twilio_standin: TwilioStandIn
) -> None:
    recording = twilio_standin.add_recording(new_sid("CA"), audio=AUDIO)
    sid, token = twilio_standin.account_sid, twilio_standin.auth_token
    path = RESOURCE.removesuffix(".json").format(AccountSid=sid, Sid=recording) + ".mp3"
    assert _media_path_pattern(spec).fullmatch(path)
    url = twilio_standin.base_url.rstrip("/") + path
    other_account = "AC" + "f" * 32

    async def get(auth: tuple[str, str] | None, target: str = url) -> tuple[int, bytes]:
        headers = {"Authorization": aiohttp.encode_basic_auth(*auth)} if auth else {}
        async with aiohttp.ClientSession() as session, session.get(target, headers=headers) as r:
            return r.status, await r.read()

    async def scenario() -> None:
        assert await get((sid, token)) == (200, AUDIO)
        for auth in (None, (sid, token + "x"), (sid, ""), (other_account, token)):
            status, body = await get(auth)
            assert status == 401 and AUDIO not in body, auth
        # Valid credentials, another account's path: not theirs to read.
        status, _ = await get((sid, token), url.replace(sid, other_account))
        assert status == 404
        # The gateway with a wrong token gets Twilio's 20003, not the audio.
        gateway = TwilioGateway(
            sid, token + "x", base_url=twilio_standin.base_url, backoff_seconds=0.01
        )
        await gateway.start()
        try:
            with pytest.raises(CarrierError) as refused:
                await gateway.fetch_recording(recording, max_bytes=1 << 20)
        finally:
            await gateway.close()
        assert refused.value.status == 401 and not refused.value.retryable

    asyncio.run(scenario())
