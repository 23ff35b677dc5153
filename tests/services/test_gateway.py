"""TwilioGateway against the Twilio stand-in, over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import socket
import subprocess
import sys
import warnings
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest

from services.gateway import AccountInfo, TwilioGateway
from services.ports import (
    AuthenticationError,
    Carrier,
    CarrierError,
    NotTextableError,
    OptedOutError,
    UncertainSendError,
)
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

T = TypeVar("T")

OFFICE = "+15550001111"
CALLER = "+15557654321"
CALLBACK = "https://frontdesk.example.com/twilio/sms/status"


def run_with_gateway(
    standin: TwilioStandIn,
    action: Callable[[TwilioGateway], Awaitable[T]],
    **kwargs: object,
) -> T:
    """Run ``action(gateway)`` on a fresh loop with a started gateway, then close it."""
    options: dict[str, object] = {"base_url": standin.base_url, "backoff_seconds": 0.01}
    options.update(kwargs)
    token = str(options.pop("auth_token", standin.auth_token))

    async def main() -> T:
        async with TwilioGateway(standin.account_sid, token, **options) as gateway:  # type: ignore[arg-type]
            return await action(gateway)

    return asyncio.run(main())


def test_gateway_is_a_carrier() -> None:
    gateway: Carrier = TwilioGateway("AC" + "0" * 32, "token")
    assert "token" not in repr(gateway)


def test_constructor_creates_no_session_and_methods_need_start() -> None:
    gateway = TwilioGateway("AC" + "0" * 32, "token")
    assert not gateway.started

    async def main() -> None:
        with pytest.raises(RuntimeError, match="start"):
            await gateway.send_sms(to=CALLER, from_=OFFICE, body="x", status_callback=None)

    asyncio.run(main())


def test_send_sms_with_status_callback(twilio_standin: TwilioStandIn) -> None:
    sent = run_with_gateway(
        twilio_standin,
        lambda gw: gw.send_sms(
            to=CALLER, from_=OFFICE, body="Sorry we missed you!", status_callback=CALLBACK
        ),
    )
    assert sent.sid.startswith("SM") and len(sent.sid) == 34
    assert sent.status == "queued"
    assert (sent.to, sent.from_, sent.body) == (CALLER, OFFICE, "Sorry we missed you!")
    assert sent.num_segments == 1
    assert sent.date_created is not None and sent.date_created.tzinfo is not None

    [request] = twilio_standin.requests_to("/Messages.json", "POST")
    assert request.form == {
        "To": CALLER,
        "From": OFFICE,
        "Body": "Sorry we missed you!",
        "StatusCallback": CALLBACK,
    }
    [message] = twilio_standin.messages_sent
    assert message["sid"] == sent.sid
    assert message["status_callback"] == CALLBACK


def test_send_sms_without_status_callback_sends_no_field(twilio_standin: TwilioStandIn) -> None:
    run_with_gateway(
        twilio_standin,
        lambda gw: gw.send_sms(to=CALLER, from_=OFFICE, body="hi", status_callback=None),
    )
    [request] = twilio_standin.requests_to("/Messages.json", "POST")
    assert "StatusCallback" not in request.form


def test_base_url_rewrites_host_and_keeps_path(twilio_standin: TwilioStandIn) -> None:
    run_with_gateway(
        twilio_standin,
        lambda gw: gw.send_sms(to=CALLER, from_=OFFICE, body="hi", status_callback=None),
    )
    run_with_gateway(twilio_standin, lambda gw: gw.fetch_account())
    paths = [r.path for r in twilio_standin.requests]
    sid = twilio_standin.account_sid
    assert paths == [
        f"/2010-04-01/Accounts/{sid}/Messages.json",
        f"/2010-04-01/Accounts/{sid}.json",
    ]
    assert all(r.auth_user == sid for r in twilio_standin.requests)


def test_reads_retry_429_with_exponential_backoff(twilio_standin: TwilioStandIn) -> None:
    twilio_standin.fail_next("/Messages.json", 429, times=2, method="GET")
    run_with_gateway(
        twilio_standin,
        lambda gw: gw.list_messages(to=CALLER),
        max_attempts=4,
        backoff_seconds=0.02,
    )
    attempts = twilio_standin.requests_to("/Messages.json", "GET")
    assert [r.status for r in attempts] == [429, 429, 200]
    # Exponential backoff: ~0.02 s, then ~0.04 s between attempts.
    gaps = [b.received_monotonic - a.received_monotonic for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.015 and gaps[1] >= 0.035


def test_a_429_on_send_is_raised_at_once_as_a_retryable_refusal(
    twilio_standin: TwilioStandIn,
) -> None:
    """Nothing was created, so the job may try again later, on its own clock."""
    twilio_standin.fail_next("/Messages.json", 429, method="POST")
    with pytest.raises(CarrierError) as info:
        run_with_gateway(
            twilio_standin,
            lambda gw: gw.send_sms(to=CALLER, from_=OFFICE, body="hi", status_callback=None),
            max_attempts=4,
            backoff_seconds=0.01,
        )
    assert info.value.retryable is True and info.value.status == 429
    assert not isinstance(info.value, UncertainSendError)
    assert len(twilio_standin.requests_to("/Messages.json", "POST")) == 1


@pytest.mark.parametrize("fault", ["drop", "500", "hang"])
def test_a_send_whose_answer_is_lost_is_never_repeated(
    twilio_standin: TwilioStandIn, fault: str
) -> None:
    """Created at Twilio, answer lost: one request, one message, an uncertain outcome."""
    twilio_standin.fail_after_create(fault, hang_seconds=2.0)
    with pytest.raises(UncertainSendError):
        run_with_gateway(
            twilio_standin,
            lambda gw: gw.send_sms(to=CALLER, from_=OFFICE, body="hi", status_callback=None),
            max_attempts=4,
            backoff_seconds=0.01,
            timeout_seconds=0.5,
        )
    assert len(twilio_standin.requests_to("/Messages.json", "POST")) == 1
    assert len(twilio_standin.messages_sent) == 1


def test_a_5xx_on_send_is_uncertain_not_retried(twilio_standin: TwilioStandIn) -> None:
    twilio_standin.fail_next("/Messages.json", 503, method="POST", times=3)
    with pytest.raises(UncertainSendError) as info:
        run_with_gateway(
            twilio_standin,
            lambda gw: gw.send_sms(to=CALLER, from_=OFFICE, body="hi", status_callback=None),
            max_attempts=3,
        )
    assert info.value.status == 503
    assert len(twilio_standin.requests_to("/Messages.json", "POST")) == 1


def test_500_on_reads_exhausts_retries_then_retryable_error(
    twilio_standin: TwilioStandIn,
) -> None:
    twilio_standin.fail_next("/Messages.json", 500, times=10)
    with pytest.raises(CarrierError) as info:
        run_with_gateway(twilio_standin, lambda gw: gw.list_messages(), max_attempts=3)
    assert info.value.retryable is True
    assert info.value.status == 500
    assert type(info.value) is CarrierError
    assert len(twilio_standin.requests_to("/Messages.json", "GET")) == 3


def test_connection_refused_is_retried_then_retryable() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def main() -> None:
        async with TwilioGateway(
            "AC" + "0" * 32,
            "token",
            base_url=f"http://127.0.0.1:{port}",
            max_attempts=2,
            backoff_seconds=0.01,
        ) as gateway:
            await gateway.send_sms(to=CALLER, from_=OFFICE, body="hi", status_callback=None)

    with pytest.raises(CarrierError) as info:
        asyncio.run(main())
    assert info.value.retryable is True
    assert not isinstance(info.value, UncertainSendError)  # provably never sent


def test_21610_is_opted_out_and_not_retried(twilio_standin: TwilioStandIn) -> None:
    twilio_standin.fail_next("/Messages.json", 400, 21610, method="POST")
    with pytest.raises(OptedOutError) as info:
        run_with_gateway(
            twilio_standin,
            lambda gw: gw.send_sms(to=CALLER, from_=OFFICE, body="hi", status_callback=None),
        )
    assert info.value.code == 21610 and info.value.status == 400
    assert info.value.retryable is False
    assert "unsubscribed" in str(info.value)
    assert len(twilio_standin.requests_to("/Messages.json", "POST")) == 1


def test_standin_opt_out_gives_21610(twilio_standin: TwilioStandIn) -> None:
    twilio_standin.opt_out(CALLER)
    with pytest.raises(OptedOutError):
        run_with_gateway(
            twilio_standin,
            lambda gw: gw.send_sms(to=CALLER, from_=OFFICE, body="hi", status_callback=None),
        )


@pytest.mark.parametrize("code", [21211, 21614, 21612, 21408])
def test_not_textable_codes(twilio_standin: TwilioStandIn, code: int) -> None:
    twilio_standin.fail_next("/Messages.json", 400, code, f"refused {code}")
    with pytest.raises(NotTextableError) as info:
        run_with_gateway(
            twilio_standin,
            lambda gw: gw.send_sms(to=CALLER, from_=OFFICE, body="hi", status_callback=None),
        )
    assert info.value.code == code
    assert str(info.value) == f"refused {code}"
    assert info.value.retryable is False


def test_other_4xx_is_not_retryable_and_carries_twilio_message(
    twilio_standin: TwilioStandIn,
) -> None:
    twilio_standin.fail_next("/Messages.json", 400, 21606, "The From number is not valid")
    with pytest.raises(CarrierError) as info:
        run_with_gateway(
            twilio_standin,
            lambda gw: gw.send_sms(to=CALLER, from_=OFFICE, body="hi", status_callback=None),
        )
    assert type(info.value) is CarrierError
    assert info.value.retryable is False
    assert info.value.code == 21606
    assert str(info.value) == "The From number is not valid"
    assert len(twilio_standin.requests) == 1


def test_bad_token_is_authentication_error(twilio_standin: TwilioStandIn) -> None:
    with pytest.raises(AuthenticationError) as info:
        run_with_gateway(
            twilio_standin,
            lambda gw: gw.send_sms(to=CALLER, from_=OFFICE, body="hi", status_callback=None),
            auth_token="wrong-token",
        )
    assert info.value.status == 401 and info.value.code == 20003
    assert info.value.retryable is False
    assert "wrong-token" not in str(info.value)
    assert [r.status for r in twilio_standin.requests] == [401]
    with pytest.raises(AuthenticationError):
        run_with_gateway(twilio_standin, lambda gw: gw.fetch_account(), auth_token="nope")


def test_api_key_auth(twilio_standin: TwilioStandIn) -> None:
    key = "SK" + "1" * 32
    twilio_standin.add_api_key(key, "key-secret")
    info = run_with_gateway(
        twilio_standin, lambda gw: gw.fetch_account(), api_key=key, api_secret="key-secret"
    )
    assert info.sid == twilio_standin.account_sid
    assert twilio_standin.requests[0].auth_user == key
    assert twilio_standin.requests[0].path.endswith(f"/Accounts/{twilio_standin.account_sid}.json")


def test_fetch_account(twilio_standin: TwilioStandIn) -> None:
    info = run_with_gateway(twilio_standin, lambda gw: gw.fetch_account())
    assert info == AccountInfo(
        sid=twilio_standin.account_sid, friendly_name="Frontdesk Test Account", status="active"
    )


def test_list_messages_filters_reach_twilio_names(twilio_standin: TwilioStandIn) -> None:
    now = datetime.now(UTC)
    old = twilio_standin.seed_message(
        from_=CALLER, to=OFFICE, body="old", date_sent=now - timedelta(days=2)
    )
    recent = twilio_standin.seed_message(
        from_=CALLER, to=OFFICE, body="recent", date_sent=now - timedelta(minutes=5)
    )
    newest = twilio_standin.seed_message(
        from_=CALLER, to=OFFICE, body="newest", date_sent=now - timedelta(minutes=1)
    )
    twilio_standin.seed_message(from_="+15559990000", to=OFFICE, body="other caller")
    since = (now - timedelta(hours=1)).astimezone(ZoneInfo("America/New_York"))

    messages = run_with_gateway(
        twilio_standin,
        lambda gw: gw.list_messages(to=OFFICE, from_=CALLER, date_sent_after=since, limit=10),
    )
    assert [m.sid for m in messages] == [newest["sid"], recent["sid"]]
    assert old["sid"] not in {m.sid for m in messages}
    first = messages[0]
    assert (first.direction, first.from_, first.to, first.body) == (
        "inbound",
        CALLER,
        OFFICE,
        "newest",
    )
    assert first.status == "received" and first.num_media == 0 and first.error_code is None
    assert first.date_sent is not None and first.date_sent.tzinfo is not None

    [request] = twilio_standin.requests_to("/Messages.json", "GET")
    expected_since = (now - timedelta(hours=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert request.query == {
        "To": OFFICE,
        "From": CALLER,
        "DateSent>": expected_since,
        "PageSize": "10",
    }


def test_list_media_gives_the_urls_the_webhook_would_have(
    twilio_standin: TwilioStandIn,
) -> None:
    mms = twilio_standin.seed_message(
        from_=CALLER, to=OFFICE, body="pipe", media=["image/jpeg", "image/png"]
    )
    media = run_with_gateway(twilio_standin, lambda gw: gw.list_media(mms["sid"]))
    base = f"https://api.twilio.com/2010-04-01/Accounts/{twilio_standin.account_sid}"
    assert [content_type for _url, content_type in media] == ["image/jpeg", "image/png"]
    assert all(url.startswith(f"{base}/Messages/{mms['sid']}/Media/ME") for url, _ in media)
    assert not any(url.endswith(".json") for url, _ in media)


def test_list_messages_follows_pages_up_to_limit(twilio_standin: TwilioStandIn) -> None:
    now = datetime.now(UTC)
    for i in range(7):
        twilio_standin.seed_message(
            from_=CALLER, to=OFFICE, body=f"m{i}", date_sent=now - timedelta(minutes=i)
        )
    messages = run_with_gateway(twilio_standin, lambda gw: gw.list_messages(limit=3))
    assert [m.body for m in messages] == ["m0", "m1", "m2"]

    twilio_standin.reset()
    for i in range(1200):
        twilio_standin.seed_message(
            from_=CALLER, to=OFFICE, body=f"m{i}", date_sent=now - timedelta(seconds=i)
        )
    messages = run_with_gateway(twilio_standin, lambda gw: gw.list_messages(limit=1100))
    assert len(messages) == 1100
    assert [m.body for m in messages[998:1001]] == ["m998", "m999", "m1000"]
    pages = twilio_standin.requests_to("/Messages.json", "GET")
    assert [r.query.get("Page", "0") for r in pages] == ["0", "1"]


def test_list_stops_paging_when_next_page_fails(twilio_standin: TwilioStandIn) -> None:
    now = datetime.now(UTC)
    for i in range(1005):
        twilio_standin.seed_message(
            from_=CALLER, to=OFFICE, body=f"m{i}", date_sent=now - timedelta(seconds=i)
        )
    twilio_standin.fail_next("PageToken", 404, 20404)  # only the next-page link has it
    messages = run_with_gateway(twilio_standin, lambda gw: gw.list_messages(limit=2000))
    assert len(messages) == 1000


def test_list_messages_first_page_failure_raises(twilio_standin: TwilioStandIn) -> None:
    twilio_standin.fail_next("/Messages.json", 503, times=5)
    with pytest.raises(CarrierError) as info:
        run_with_gateway(twilio_standin, lambda gw: gw.list_messages(), max_attempts=2)
    assert info.value.retryable and info.value.status == 503


def test_list_calls_filters_reach_twilio_names(twilio_standin: TwilioStandIn) -> None:
    now = datetime.now(UTC)
    parent = twilio_standin.seed_call(
        from_=CALLER, to=OFFICE, status="completed", start_time=now - timedelta(minutes=3)
    )
    child = twilio_standin.seed_call(
        from_=OFFICE,
        to="+15552223333",
        status="no-answer",
        direction="outbound-dial",
        parent_call_sid=parent["sid"],
        start_time=now - timedelta(minutes=2),
        end_time=now - timedelta(minutes=2) + timedelta(seconds=20),
    )
    twilio_standin.seed_call(from_=CALLER, to=OFFICE, start_time=now - timedelta(days=3))

    calls = run_with_gateway(
        twilio_standin,
        lambda gw: gw.list_calls(
            to="+15552223333",
            start_time_after=now - timedelta(hours=1),
            parent_call_sid=parent["sid"],
            limit=5,
        ),
    )
    assert len(calls) == 1
    call = calls[0]
    assert call.sid == child["sid"] and call.parent_call_sid == parent["sid"]
    assert (call.from_, call.to, call.status, call.direction) == (
        OFFICE,
        "+15552223333",
        "no-answer",
        "outbound-dial",
    )
    assert call.duration_seconds == 20
    assert call.start_time is not None and call.end_time is not None

    [request] = twilio_standin.requests_to("/Calls.json", "GET")
    assert request.query == {
        "To": "+15552223333",
        "ParentCallSid": parent["sid"],
        "StartTime>": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "PageSize": "5",
    }

    recent = run_with_gateway(
        twilio_standin, lambda gw: gw.list_calls(start_time_after=now - timedelta(hours=1))
    )
    assert [c.sid for c in recent] == [child["sid"], parent["sid"]]  # newest first


def test_naive_datetime_filter_is_refused(twilio_standin: TwilioStandIn) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        run_with_gateway(
            twilio_standin, lambda gw: gw.list_messages(date_sent_after=datetime(2025, 1, 1))
        )


def test_find_and_update_number_round_trip(twilio_standin: TwilioStandIn) -> None:
    pn_sid = "PN" + "a1" * 16
    twilio_standin.add_number(OFFICE, sid=pn_sid)
    twilio_standin.add_number("+15550001112")  # a partial-match neighbour

    async def action(gw: TwilioGateway) -> None:
        assert await gw.find_number("+15550009999") is None
        number = await gw.find_number(OFFICE)
        assert number is not None and number.sid == pn_sid and number.phone_number == OFFICE
        assert number.capabilities["sms"] is True
        updated = await gw.update_number(
            pn_sid,
            voice_url="https://fd.example.com/twilio/voice",
            sms_url="https://fd.example.com/twilio/sms",
            status_callback="https://fd.example.com/twilio/voice/status",
        )
        assert updated.voice_url == "https://fd.example.com/twilio/voice"
        assert updated.sms_url == "https://fd.example.com/twilio/sms"
        assert updated.status_callback == "https://fd.example.com/twilio/voice/status"
        again = await gw.find_number(OFFICE)
        assert again == updated
        assert {n.phone_number for n in await gw.list_numbers()} == {OFFICE, "+15550001112"}
        only_fallback = await gw.update_number(pn_sid, voice_fallback_url="https://fb.example")
        assert only_fallback.voice_fallback_url == "https://fb.example"
        assert only_fallback.voice_url == "https://fd.example.com/twilio/voice"

    run_with_gateway(twilio_standin, action)

    [lookup, *_] = twilio_standin.requests_to("/IncomingPhoneNumbers.json", "GET")
    assert lookup.query["PhoneNumber"] == "+15550009999"
    first_update, second_update = twilio_standin.requests_to(f"/{pn_sid}.json", "POST")
    assert first_update.form == {
        "VoiceUrl": "https://fd.example.com/twilio/voice",
        "VoiceMethod": "POST",
        "SmsUrl": "https://fd.example.com/twilio/sms",
        "SmsMethod": "POST",
        "StatusCallback": "https://fd.example.com/twilio/voice/status",
        "StatusCallbackMethod": "POST",
    }
    assert second_update.form == {"VoiceFallbackUrl": "https://fb.example"}


def test_update_unknown_number_is_not_retryable(twilio_standin: TwilioStandIn) -> None:
    with pytest.raises(CarrierError) as info:
        run_with_gateway(
            twilio_standin, lambda gw: gw.update_number("PN" + "0" * 32, voice_url="https://x.io")
        )
    assert info.value.status == 404 and info.value.code == 20404
    assert info.value.retryable is False


def test_close_leaves_no_unclosed_session(twilio_standin: TwilioStandIn) -> None:
    # filterwarnings=error turns an unclosed-session ResourceWarning into a failure;
    # collect explicitly so the check happens inside this test.
    async def main() -> None:
        gateway = TwilioGateway(
            twilio_standin.account_sid, twilio_standin.auth_token, base_url=twilio_standin.base_url
        )
        await gateway.start()
        await gateway.fetch_account()
        await gateway.close()
        await gateway.close()  # idempotent
        assert not gateway.started

    with _no_resource_warnings():
        asyncio.run(main())
        gc.collect()


def test_in_loop_standin_and_wait_for_messages() -> None:
    async def main() -> None:
        async with (
            TwilioStandIn() as standin,
            TwilioGateway(
                standin.account_sid, standin.auth_token, base_url=standin.base_url
            ) as gateway,
        ):
            send = asyncio.create_task(
                gateway.send_sms(to=CALLER, from_=OFFICE, body="hey", status_callback=None)
            )
            [message] = await standin.wait_for_messages(1, timeout=5)
            assert message["body"] == "hey" and message["to"] == CALLER
            assert (await send).sid == message["sid"]
            assert standin.requests[0].received_at > 0

    asyncio.run(main())


@contextlib.contextmanager
def _no_resource_warnings() -> Iterator[None]:
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        yield
    leaked = [w for w in records if issubclass(w.category, ResourceWarning)]
    assert not leaked, [str(w.message) for w in leaked]


def test_thread_mode_serves_other_processes(twilio_standin: TwilioStandIn) -> None:
    """What end-to-end tests rely on: a subprocess (like `frontdesk serve`) reaches it."""
    script = (
        "import base64, sys, urllib.parse, urllib.request\n"
        "base, sid, token = sys.argv[1:4]\n"
        "data = urllib.parse.urlencode({'To': '+15557654321', 'From': '+15550001111',"
        " 'Body': 'from a subprocess'}).encode()\n"
        "req = urllib.request.Request(f'{base}/2010-04-01/Accounts/{sid}/Messages.json', data)\n"
        "auth = base64.b64encode(f'{sid}:{token}'.encode()).decode()\n"
        "req.add_header('Authorization', 'Basic ' + auth)\n"
        "with urllib.request.urlopen(req, timeout=5) as resp:\n"
        "    print(resp.status)\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            twilio_standin.base_url,
            twilio_standin.account_sid,
            twilio_standin.auth_token,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.strip() == "201"
    [message] = twilio_standin.wait_for_messages_sync(1, timeout=5)
    assert message["body"] == "from a subprocess"
    assert message["direction"] == "outbound-api" and message["num_segments"] == "1"
    with pytest.raises(TimeoutError):
        twilio_standin.wait_for_messages_sync(2, timeout=0.05)
