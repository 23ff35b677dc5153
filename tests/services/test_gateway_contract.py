"""Contract: every kind of request TwilioGateway makes is one Twilio's OpenAPI spec accepts.

Stoplight Prism serves Twilio's own spec as a validating mock: a request that violates
the spec gets 422/400/401 (so the gateway raises) and Prism logs "Request did not pass
the validation rules". Each test drives the real gateway at Prism through ``base_url``
and checks both. Every test runs against each spec source of :mod:`tests.twilio_spec`:
the copy the repo pins (fetched from the npm registry by scripts/bootstrap, checked
against its hashes) and Twilio's published spec in ``../shared/twilio-oai/`` where that
exists. Where the spec carries Twilio's response examples (the shared one), Prism answers
with them and the tests also check what the gateway read from the answer.

The pinned spec missing (or ``npx``) skips, with the reason, on a developer's machine
and fails the run in CI (``CI=true``), so the contract is never silently unchecked; the
shared folder asks to be skipped where absent, and is.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from services.gateway import TwilioGateway
from services.ports import CarrierError
from tests.twilio_spec import API, SOURCES, SpecSource, missing_reason, source
from tests.twilio_standin import TwilioStandIn

T = TypeVar("T")

PRISM_PACKAGE = "@stoplight/prism-cli@5.14.2"
START_TIMEOUT_SECONDS = 45.0

# Shaped like real SIDs: the spec checks ^AC[0-9a-fA-F]{32}$ and friends.
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
NUMBER_SID = "PN" + "fedcba9876543210" * 2
PARENT_CALL_SID = "CA" + "00112233445566778899aabbccddeeff"
OFFICE = "+15550001111"
CALLER = "+15557654321"
PUBLIC = "https://frontdesk.example.com"


def usable_source(name: str, file_name: str = API) -> SpecSource:
    """The spec source ``name`` if it can serve ``file_name``; otherwise skip or fail."""
    src = source(name)
    why = missing_reason(src, file_name)
    if why is not None:
        if src.name == "shared":
            pytest.skip(why)  # that folder asks to be skipped where absent
        _missing(why)
    return src


@dataclass
class Prism:
    base_url: str
    log_path: Path
    # Prism answers with Twilio's response examples (only the shared spec has them).
    has_examples: bool

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def log_since(self, offset: int) -> str:
        with self.log_path.open("rb") as fh:
            fh.seek(offset)
            return fh.read().decode("utf-8", "replace")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError as exc:  # any HTTP answer means it is serving
        exc.close()
        return True
    except OSError:
        return False


def _missing(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the contract test must run in CI: {why}")
    pytest.skip(why)


@pytest.fixture(scope="module", params=SOURCES)
def prism(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prism]:
    yield from serve_prism(usable_source(request.param), API, tmp_path_factory)


def serve_prism(
    src: SpecSource, file_name: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prism]:
    """Prism serving ``src``'s ``file_name`` until the generator is closed (a fixture's body)."""
    spec = src.path(file_name)
    npx = shutil.which("npx")
    if npx is None:
        _missing("npx is not installed, so Stoplight Prism cannot run")
        raise AssertionError("unreachable")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("prism") / "prism.log"
    env = dict(os.environ, NO_COLOR="1", FORCE_COLOR="0")
    cmd = [npx, "--yes", PRISM_PACKAGE, "mock", "-h", "127.0.0.1", "-p", str(port), str(spec)]
    with log_path.open("wb") as log:
        # Own session: npx starts node children, so the whole group is stopped at the end.
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not _answers(base_url + "/"):
            if proc.poll() is not None:
                pytest.fail(f"Prism exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"Prism did not answer in time:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield Prism(base_url=base_url, log_path=log_path, has_examples=src.has_examples)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _rejections(log: str) -> list[str]:
    """The request blocks in a Prism log excerpt that failed request validation."""
    blocks: list[list[str]] = []
    for line in log.splitlines():
        if "[HTTP SERVER]" in line and "Request received" in line:
            blocks.append([line])
        elif blocks:
            blocks[-1].append(line)
    return [
        "\n".join(b) for b in blocks if any("did not pass the validation rules" in x for x in b)
    ]


def through_prism(
    prism: Prism,
    action: Callable[[TwilioGateway], Awaitable[T]],
    *,
    api_key: str | None = None,
    api_secret: str | None = None,
) -> T:
    """Run ``action`` on a gateway aimed at Prism; fail on any spec violation."""
    offset = prism.log_size()

    async def main() -> T:
        async with TwilioGateway(
            ACCOUNT_SID,
            "contract-token",
            api_key=api_key,
            api_secret=api_secret,
            base_url=prism.base_url,
            max_attempts=1,
        ) as gateway:
            return await action(gateway)

    try:
        result = asyncio.run(main())
    except CarrierError as exc:
        time.sleep(0.2)
        pytest.fail(f"Prism refused a gateway request ({exc!r}):\n{prism.log_since(offset)}")
    time.sleep(0.2)  # let Prism flush its log lines for these requests
    rejected = _rejections(prism.log_since(offset))
    assert not rejected, "Prism logged spec violations:\n" + "\n\n".join(rejected)
    return result


def test_send_sms_with_status_callback(prism: Prism) -> None:
    sent = through_prism(
        prism,
        lambda gw: gw.send_sms(
            to=CALLER,
            from_=OFFICE,
            body="Sorry we missed your call! Reply here.",
            status_callback=f"{PUBLIC}/twilio/sms/status",
        ),
    )
    if prism.has_examples:
        assert sent.sid.startswith("SM")


def test_send_sms_without_status_callback(prism: Prism) -> None:
    through_prism(
        prism, lambda gw: gw.send_sms(to=CALLER, from_=OFFICE, body="hi", status_callback=None)
    )


@pytest.mark.parametrize("spec_source", SOURCES)
def test_send_mms_with_a_photo_and_no_body_follows_the_spec(spec_source: str) -> None:
    """An outbound MMS as the outbox sends a photo alone: MediaUrl, no Body.

    Checked against the spec's schema directly: Prism 5.14 does not read a repeated or
    single form field as an array (stoplightio/prism#2473) and reports every MediaUrl as
    "must be array", which Twilio accepts."""
    spec = json.loads(usable_source(spec_source).path(API).read_text())
    create = spec["paths"]["/2010-04-01/Accounts/{AccountSid}/Messages.json"]["post"]
    schema = create["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    assert schema["properties"]["MediaUrl"]["type"] == "array"
    media = f"{PUBLIC}/twilio/media/AAAAAAAAAAAAAAAAAAAAAA.jpg?expires=1&sig=ab"

    async def main() -> list[tuple[str, str]]:
        async with TwilioStandIn() as standin:
            async with TwilioGateway(
                standin.account_sid, standin.auth_token, base_url=standin.base_url
            ) as gateway:
                await gateway.send_sms(
                    to=CALLER,
                    from_=OFFICE,
                    body="",
                    status_callback=f"{PUBLIC}/twilio/sms/status",
                    media_urls=[media],
                )
            (create_request,) = standin.requests_to("/Messages.json", "POST")
            return list(create_request.form_items)

    form = asyncio.run(main())
    assert sorted(k for k, _v in form) == ["From", "MediaUrl", "StatusCallback", "To"]
    assert all(k in schema["properties"] for k, _v in form)
    assert set(schema.get("required", [])) <= {k for k, _v in form}
    assert dict(form)["MediaUrl"] == media


def test_send_sms_with_api_key(prism: Prism) -> None:
    through_prism(
        prism,
        lambda gw: gw.send_sms(to=CALLER, from_=OFFICE, body="hi", status_callback=None),
        api_key="SK" + "1" * 32,
        api_secret="key-secret",
    )


def test_list_messages_with_every_filter(prism: Prism) -> None:
    since = datetime.now(UTC) - timedelta(days=1)
    # limit=1: Prism's example next_page_uri is itself invalid, so don't follow it here.
    messages = through_prism(
        prism,
        lambda gw: gw.list_messages(to=OFFICE, from_=CALLER, date_sent_after=since, limit=1),
    )
    if prism.has_examples:
        assert len(messages) == 1 and messages[0].sid.startswith(("SM", "MM"))


def test_list_messages_without_filters(prism: Prism) -> None:
    through_prism(prism, lambda gw: gw.list_messages(limit=1))


def test_list_media_of_a_message(prism: Prism) -> None:
    media = through_prism(prism, lambda gw: gw.list_media("MM" + "0" * 32, limit=1))
    if prism.has_examples:
        assert len(media) == 1 and media[0][0].startswith("https://api.twilio.com/2010-04-01/")


def test_list_calls_with_every_filter(prism: Prism) -> None:
    since = datetime.now(UTC) - timedelta(hours=2)
    calls = through_prism(
        prism,
        lambda gw: gw.list_calls(
            to=OFFICE, start_time_after=since, parent_call_sid=PARENT_CALL_SID, limit=1
        ),
    )
    if prism.has_examples:
        assert len(calls) == 1 and calls[0].sid.startswith("CA")


def test_list_calls_without_filters(prism: Prism) -> None:
    through_prism(prism, lambda gw: gw.list_calls(limit=1))


def test_paging_stops_quietly_at_a_refused_next_page(prism: Prism) -> None:
    """Prism's example next-page link fails validation: the first page is still returned."""
    if not prism.has_examples:
        pytest.skip("needs the example answers' next-page links (the shared spec has them)")

    async def main() -> tuple[int, int]:
        async with TwilioGateway(
            ACCOUNT_SID, "contract-token", base_url=prism.base_url, max_attempts=1
        ) as gw:
            messages = await gw.list_messages(limit=500)
            calls = await gw.list_calls(limit=500)
            return len(messages), len(calls)

    n_messages, n_calls = asyncio.run(main())
    assert n_messages >= 1 and n_calls >= 1


def test_fetch_account(prism: Prism) -> None:
    account = through_prism(prism, lambda gw: gw.fetch_account())
    if prism.has_examples:
        assert account.sid.startswith("AC") and account.status


def test_find_number(prism: Prism) -> None:
    # Prism's example number is not ours, so the exact match finds nothing; the request
    # (IncomingPhoneNumbers list filtered by PhoneNumber) is what is checked.
    through_prism(prism, lambda gw: gw.find_number(OFFICE))


def test_list_numbers(prism: Prism) -> None:
    numbers = through_prism(prism, lambda gw: gw.list_numbers(limit=1))
    if prism.has_examples:
        assert numbers and numbers[0].sid.startswith("PN")


def test_update_number_every_field(prism: Prism) -> None:
    number = through_prism(
        prism,
        lambda gw: gw.update_number(
            NUMBER_SID,
            voice_url=f"{PUBLIC}/twilio/voice",
            voice_method="POST",
            voice_fallback_url=f"{PUBLIC}/twilio/voice/fallback",
            sms_url=f"{PUBLIC}/twilio/sms",
            sms_method="POST",
            status_callback=f"{PUBLIC}/twilio/voice/status",
            status_callback_method="POST",
        ),
    )
    if prism.has_examples:
        assert number.sid.startswith("PN")


def test_update_number_voice_only(prism: Prism) -> None:
    through_prism(prism, lambda gw: gw.update_number(NUMBER_SID, voice_url=f"{PUBLIC}/v"))


def test_create_callback_call(prism: Prism) -> None:
    """Call back: Calls.create with inline TwiML and a status callback for every event."""
    from services import twiml

    document = twiml.connect_callback(
        CALLER, caller_id=OFFICE, action=f"{PUBLIC}/twilio/voice/callback-dial", announce="Hi"
    )
    sid = through_prism(
        prism,
        lambda gw: gw.create_call(
            to="+15550002222",
            from_=OFFICE,
            twiml=document,
            status_callback=f"{PUBLIC}/twilio/voice/callback-status",
        ),
    )
    if prism.has_examples:
        assert sid.startswith("CA")


def test_list_outbound_calls_from_the_number(prism: Prism) -> None:
    since = datetime.now(UTC) - timedelta(hours=2)
    through_prism(prism, lambda gw: gw.list_calls(from_=OFFICE, start_time_after=since, limit=1))


def test_prism_really_validates(prism: Prism) -> None:
    """Negative control: a request that breaks the spec is refused, and the gateway raises."""

    async def main() -> None:
        async with TwilioGateway(
            ACCOUNT_SID, "contract-token", base_url=prism.base_url, max_attempts=1
        ) as gw:
            await gw.update_number(NUMBER_SID, voice_url="not a url")

    offset = prism.log_size()
    with pytest.raises(CarrierError) as info:
        asyncio.run(main())
    assert info.value.status == 422
    assert info.value.retryable is False
    time.sleep(0.2)
    [rejected] = _rejections(prism.log_since(offset))
    assert "VoiceUrl" in rejected
