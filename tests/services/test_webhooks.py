"""Outbound webhooks through real HTTP: signed per Standard Webhooks, durable, retried on
the injected clock, bounded against bad receivers, never in the text-back's way."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from desktop.runtime import Runtime
from services.clock import ManualClock
from services.integrations import catalog, endpoints
from services.integrations.api import DeliveryView
from services.integrations.endpoints import EndpointRefused
from tests.harness import BUSINESS, TestApp, running_app
from tests.services.test_voicemail import _leave_voicemail as leave_voicemail
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn
from tests.webhook_receivers import Receivers

CALLER = "+14155550123"
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "resources" / "webhooks.schema.json").read_text()
)

Scenario = Callable[[TestApp, ManualClock, Receivers], Awaitable[None]]


@pytest.fixture
def run(database_url: str, data_dir: Path, twilio_standin: TwilioStandIn) -> Any:
    def go(
        scenario: Scenario, *, timeout: float = 0.5, settings: dict[str, Any] | None = None
    ) -> None:
        clock = ManualClock()

        def configure(runtime: Runtime) -> None:
            runtime.integrations.request_timeout = timeout

        async def main() -> None:
            receivers = Receivers()
            await receivers.start()
            try:
                async with running_app(
                    database_url,
                    data_dir,
                    twilio_standin,
                    clock=clock,
                    configure=configure,
                    settings=settings,
                ) as app:
                    await scenario(app, clock, receivers)
            finally:
                await receivers.close()

        asyncio.run(main())

    return go


async def add(app: TestApp, receivers: Receivers, path: str) -> int:
    new = await app.runtime.integrations.add_webhook(receivers.base + path)
    receivers.secrets[path] = new.secret
    return new.endpoint.id


async def settle(app: TestApp) -> None:
    await app.idle()
    await app.runtime.integrations.idle()


async def wait_deliveries(
    app: TestApp,
    endpoint_id: int,
    check: Callable[[list[DeliveryView]], bool],
    what: str,
    timeout: float = 10.0,
) -> list[DeliveryView]:
    deadline = time.monotonic() + timeout
    while True:
        await settle(app)
        rows = await app.runtime.integrations.deliveries(endpoint_id)
        if check(rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {rows}")
        await asyncio.sleep(0.02)


def test_the_loop_reaches_a_verifying_endpoint_signed_and_in_the_schema(run: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock, receivers: Receivers) -> None:
        endpoint_id = await add(app, receivers, "/ok/a")
        await app.missed_call(CALLER)
        await app.standin.wait_for_messages(1)
        sid = app.standin.messages_sent[0]["sid"]
        await app.post("sms_status", {"MessageSid": sid, "MessageStatus": "delivered"})
        await app.reply(CALLER, "Yes please, the sink")
        contact_id = (await app.inbox.missed_calls())[0].contact_id
        await app.inbox.rename(contact_id, "Maria Lopez", actor="Dana")
        await app.inbox.mark_booked(contact_id, 25000, actor="Dana")
        await app.inbox.callback_done(contact_id, actor="Dana")
        want = {
            "call.missed",
            "text.sent",
            "text.delivered",
            "reply.received",
            "contact.updated",
            "contact.booked",
            "conversation.closed",
        }
        await wait_deliveries(
            app,
            endpoint_id,
            lambda rows: {r.event_type for r in rows if r.state == "delivered"} >= want,
            "every event delivered",
        )
        types = [p["type"] for _path, _h, p in receivers.received]
        assert set(types) == want
        assert len(types) == len(set(types)), "each event exactly once"
        for _path, headers, payload in receivers.received:
            jsonschema.validate(payload, SCHEMA)
            assert headers["webhook-id"].startswith("evt_")
            assert headers["webhook-signature"].startswith("v1,")
        by_type = {p["type"]: p for _path, _h, p in receivers.received}
        assert by_type["call.missed"]["data"]["call"]["from"] == CALLER
        assert by_type["reply.received"]["data"]["message"]["body"] == "Yes please, the sink"
        assert by_type["contact.booked"]["data"]["value_cents"] == 25000
        assert by_type["contact.booked"]["data"]["contact"]["name"] == "Maria Lopez"
        assert by_type["conversation.closed"]["data"]["by"] == "Dana"
        log = await app.runtime.integrations.deliveries(endpoint_id)
        assert all(r.response_code == 200 and r.result == "delivered: HTTP 200" for r in log)

    run(scenario)


def test_a_voicemail_is_received_when_stored_and_its_transcript_follows(run: Any) -> None:
    """voicemail.received goes out once the recording is in the data dir (Twilio's
    transcript is later: null here), voicemail.transcribed once the transcript arrives;
    both verified by the receiver's Standard Webhooks check, each exactly once however
    often Twilio repeats its callbacks."""

    async def scenario(app: TestApp, clock: ManualClock, receivers: Receivers) -> None:
        endpoint_id = await add(app, receivers, "/ok/vm")
        sid = await app.missed_call(CALLER)
        # The first fetch fails: nothing is stored yet, so nothing may be announced; the
        # event follows the retry that stores it.
        attempts = getattr(app.runtime.carrier, "max_attempts")  # noqa: B009  (the gateway)
        app.standin.fail_next(".mp3", 503, method="GET", times=attempts)
        app.engine.voicemails.retries = (0.5,)
        recording = await leave_voicemail(app, sid, app.standin, transcript=None)

        def of(kind: str) -> list[dict[str, Any]]:
            return [p for _path, _h, p in receivers.received if p["type"] == kind]

        def delivered(kind: str) -> Callable[[list[DeliveryView]], bool]:
            return lambda rows: any(r.event_type == kind and r.state == "delivered" for r in rows)

        await wait_deliveries(app, endpoint_id, delivered("voicemail.received"), "the voicemail")
        assert app.engine.voicemails.path_of(recording).is_file()
        [received] = of("voicemail.received")
        jsonschema.validate(received, SCHEMA)
        data = received["data"]
        assert data["voicemail"] == {
            "recording_sid": recording,
            "duration_seconds": 42,
            "transcript": None,
        }
        assert data["call"]["sid"] == sid and data["call"]["from"] == CALLER
        assert data["call"]["to"] == BUSINESS and data["call"]["started_at"]
        assert data["contact"]["phone"] == CALLER
        assert of("voicemail.transcribed") == []

        status, _ = await app.post(
            "transcription",
            {
                "CallSid": sid,
                "From": CALLER,
                "To": BUSINESS,
                "RecordingSid": recording,
                "TranscriptionSid": "TR" + "1" * 32,
                "TranscriptionStatus": "completed",
                "TranscriptionText": "Hi, my boiler is leaking",
            },
        )
        assert status == 204
        await wait_deliveries(
            app, endpoint_id, delivered("voicemail.transcribed"), "the transcript"
        )
        [transcribed] = of("voicemail.transcribed")
        jsonschema.validate(transcribed, SCHEMA)
        assert transcribed["data"]["voicemail"]["transcript"] == "Hi, my boiler is leaking"
        assert transcribed["data"]["call"]["sid"] == sid
        # Twilio repeats its callbacks; a restart sweeps the day: nothing is sent twice.
        status, _ = await app.post(
            "recording_status",
            {"CallSid": sid, "RecordingSid": recording, "RecordingStatus": "completed"},
        )
        assert status == 204
        assert await app.runtime.integrations.recorder.sweep() == 0
        await settle(app)
        ids = [h["webhook-id"] for _p, h, p in receivers.received if p["type"].startswith("voice")]
        assert sorted(ids) == sorted({f"evt_vm_{recording}", f"evt_vm_{recording}_transcript"})

    run(scenario, settings={"voicemail.record": True})


def test_bad_urls_are_refused_with_a_reason_and_nothing_is_stored(run: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock, receivers: Receivers) -> None:
        integrations = app.runtime.integrations
        cases = {
            "": "Enter the URL",
            "not a url": "spaces",
            "ftp://example.com/hook": "must start with https",
            "http://example.com/hook": "https only",
            "https://:443/x": "must start with https",
            "https://example.com:99999/x": "not a valid URL",
            "https://user:pw@example.com/x": "no user name",
            "https://example.com/\x00": "control characters",
            "https://example.com/" + "a" * 600: "longer than 500",
        }
        for url, reason in cases.items():
            with pytest.raises(EndpointRefused, match=reason):
                await integrations.add_webhook(url)
        with pytest.raises(EndpointRefused, match="whsec_"):
            await integrations.add_webhook("https://example.com/x", secret="hunter2")
        assert await integrations.endpoints() == []
        # http to this machine is allowed, for development.
        for url in ("http://localhost:8080/x", "http://127.0.0.1/y", "http://[::1]:9/z"):
            assert endpoints.check_url(url) == url

    run(scenario)


def test_bad_receivers_each_get_a_clear_line_and_the_textback_is_on_time(run: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock, receivers: Receivers) -> None:
        ids = {path: await add(app, receivers, path) for path in ("/hang", "/fail", "/loop")}
        ids["/big"] = await add(app, receivers, "/big")
        good = await add(app, receivers, "/ok/good")
        await app.missed_call(CALLER)
        await app.standin.wait_for_messages(1)
        # The text-back is not held up by the hanging receiver or the rest: it reached
        # Twilio while the hanging receiver's 2 s were not up (an order, not a stopwatch:
        # behind the hang it could only come after the time-out was written).
        hanging = await app.runtime.integrations.deliveries(ids["/hang"])
        assert not any(x.result for x in hanging), hanging
        rows = await wait_deliveries(
            app,
            good,
            lambda r: (
                {x.event_type for x in r} >= {"call.missed", "text.sent"}
                and all(x.state == "delivered" for x in r)
            ),
            "the good endpoint",
        )
        assert len(rows) == 2

        def line(path: str) -> Callable[[list[DeliveryView]], bool]:
            return lambda r: len(r) == 2 and all(x.attempts >= 1 and x.result for x in r)

        hang = await wait_deliveries(app, ids["/hang"], line("/hang"), "hang")
        assert {x.result for x in hang} == {"no answer within 2 s (timed out)"}
        assert all(x.state == "pending" for x in hang), "retried later"
        fail = await wait_deliveries(app, ids["/fail"], line("/fail"), "500")
        assert all(
            x.response_code == 500 and "HTTP 500 from the endpoint" in (x.result or "")
            for x in fail
        )
        loop = await wait_deliveries(app, ids["/loop"], line("/loop"), "redirect")
        assert all(x.response_code == 302 for x in loop)
        assert all(
            x.result == "HTTP 302 redirect to /loop: not followed (enter the final URL)"
            for x in loop
        )
        assert receivers.hits["/loop"] == 2, "the redirect was not followed"
        big = await wait_deliveries(app, ids["/big"], line("/big"), "10 MB")
        assert all(x.state == "delivered" for x in big)
        assert all("answer over 64 KB, the rest was not read" in (x.result or "") for x in big)

        # Backoff on the injected clock: nothing is retried until its due time.
        hits = receivers.hits["/fail"]
        await settle(app)
        assert receivers.hits["/fail"] == hits
        clock.advance(5)
        await wait_deliveries(
            app, ids["/fail"], lambda r: all(x.attempts == 2 for x in r), "second attempt"
        )
        assert receivers.hits["/fail"] == hits + 2

    run(scenario, timeout=2.0)


def test_an_endpoint_failing_for_24_hours_is_turned_off_with_a_notice(run: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock, receivers: Receivers) -> None:
        integrations = app.runtime.integrations
        fail = await add(app, receivers, "/fail")
        await integrations.send_test(fail)
        await wait_deliveries(app, fail, lambda r: r[0].attempts == 1, "first attempt")
        for _ in range(40):  # an hour at most between attempts: 24 h is ~30 of them
            clock.advance(3600)
            await wait_deliveries(app, fail, lambda r: r[0].state != "sending", "attempt")
            (view,) = await integrations.endpoints()
            if not view.enabled:
                break
        (view,) = await integrations.endpoints()
        assert not view.enabled
        assert view.disabled_reason is not None
        assert view.disabled_reason.startswith("Turned off: every delivery failed for 24 hours")
        (row,) = await integrations.deliveries(fail)
        assert row.state == "failed" and "gave up after" in (row.result or "")
        # Nothing more goes there until the owner turns it back on.
        hits = receivers.hits["/fail"]
        await integrations.send_test(fail)
        clock.advance(3600)
        await settle(app)
        assert receivers.hits["/fail"] == hits
        view = await integrations.set_enabled(fail, True)
        assert view.enabled and view.disabled_reason is None
        await wait_deliveries(
            app, fail, lambda r: receivers.hits["/fail"] > hits, "a try after re-enabling"
        )
        await settle(app)
        assert receivers.hits["/fail"] == hits + 1

    run(scenario)


def test_replay_and_test_event_reach_the_endpoint_with_the_same_id(run: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock, receivers: Receivers) -> None:
        integrations = app.runtime.integrations
        ok = await add(app, receivers, "/ok/r")
        await integrations.send_test(ok)
        (row,) = await wait_deliveries(app, ok, lambda r: r[0].state == "delivered", "test")
        assert row.event_type == catalog.EventType.TEST
        await integrations.replay(row.id)
        await wait_deliveries(app, ok, lambda r: len(receivers.received) == 2, "replay")
        first, second = (h["webhook-id"] for _p, h, _b in receivers.received)
        assert first == second == row.event_key
        assert await integrations.signing_secret(ok) == receivers.secrets["/ok/r"]

    run(scenario)


def test_pending_deliveries_survive_a_restart(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    clock = ManualClock()
    vault = endpoints.MemoryVault()

    def configure(runtime: Runtime) -> None:
        runtime.integrations._vault = vault

    async def main() -> None:
        receivers = Receivers()
        await receivers.start()
        try:
            async with running_app(
                database_url, data_dir, twilio_standin, clock=clock, configure=configure
            ) as app:
                ok = await add(app, receivers, "/ok/later")
                receivers.status["/ok/later"] = 503
                await app.missed_call(CALLER)
                await twilio_standin.wait_for_messages(1)
                await wait_deliveries(
                    app, ok, lambda r: len(r) == 2 and all(x.attempts for x in r), "503s"
                )
            # The app is closed; the endpoint recovers; the next start delivers.
            receivers.status["/ok/later"] = 200
            async with running_app(
                database_url, data_dir, twilio_standin, clock=clock, configure=configure
            ) as app:
                clock.advance(timedelta(minutes=1).total_seconds())
                rows = await wait_deliveries(
                    app, ok, lambda r: all(x.state == "delivered" for x in r), "after restart"
                )
                assert {r.event_type for r in rows} == {"call.missed", "text.sent"}
        finally:
            await receivers.close()

    asyncio.run(main())
