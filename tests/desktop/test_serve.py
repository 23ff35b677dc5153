"""`frontdesk serve` as an office box runs it: a subprocess, real HTTP, real database."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve_process import ServeProcess, frontdesk, serve_env
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

BUSINESS = "+15005550001"
CALLER = "+14155550123"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TEMPLATE = "Hi [First Name], [Business Name] here. Sorry we missed you!"

pytestmark = pytest.mark.slow


@pytest.fixture
def office(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> Iterator[tuple[dict[str, str], TwilioStandIn]]:
    twilio_standin.add_number(BUSINESS)
    env = serve_env(twilio_standin, data_dir, database_url)
    for key, value in [
        ("business.name", "Smith & Sons"),
        ("business.phone_number", BUSINESS),
        ("forwarding.numbers", '["+15005550002"]'),
        (
            "business.hours",
            json.dumps({day: [["00:00", "23:59"]] for day in DAYS}),
        ),
        ("templates.missed_call", TEMPLATE),
        ("textback.delay_seconds", "0"),
        ("followup.delay_seconds", "4"),
        ("templates.follow_up", "Still need us? Just reply."),
    ]:
        frontdesk("settings", "set", key, value, env=env)
    yield env, twilio_standin


def missed_call(server: ServeProcess, sid: str, caller: str = CALLER) -> None:
    base = {"CallSid": sid, "From": caller, "To": BUSINESS}
    assert server.post("voice", {**base, "CallStatus": "ringing"})[0] == 200
    assert server.post("dial_result", {**base, "DialCallStatus": "no-answer"})[0] == 200
    assert server.post("call_status", {**base, "CallStatus": "completed"})[0] == 204


def test_serve_wires_the_number_texts_once_and_a_reply_cancels_the_follow_up(
    office: tuple[dict[str, str], TwilioStandIn],
) -> None:
    env, standin = office
    server = ServeProcess(env, standin.auth_token).start()
    try:
        (number,) = standin.numbers
        assert number["voice_url"] == "https://office.example.com/twilio/voice"
        assert number["sms_url"] == "https://office.example.com/twilio/sms"
        assert number["status_callback"] == "https://office.example.com/twilio/voice/status"
        missed_call(server, "CA" + "1" * 32)
        missed_call(server, "CA" + "1" * 32)  # Twilio retried everything
        (text,) = standin.wait_for_messages_sync(1, timeout=10)
        assert text["to"] == CALLER
        assert text["body"] == "Hi there, Smith & Sons here. Sorry we missed you!"
        status, _ = server.post(
            "sms", {"MessageSid": "SM" + "2" * 32, "From": CALLER, "To": BUSINESS, "Body": "Yes!"}
        )
        assert status == 200
        time.sleep(5)  # past the follow-up delay
        assert len(standin.messages_sent) == 1  # the reply cancelled the follow-up
    finally:
        assert server.stop() == 0
    exported = frontdesk("export", "--format", "json", env=env).stdout
    assert '"body": "Yes!"' in exported and '"outcome": "missed"' in exported


def test_stop_stops_texts(office: tuple[dict[str, str], TwilioStandIn]) -> None:
    env, standin = office
    server = ServeProcess(env, standin.auth_token).start()
    try:
        server.post(
            "sms", {"MessageSid": "SM" + "3" * 32, "From": CALLER, "To": BUSINESS, "Body": "STOP"}
        )
        missed_call(server, "CA" + "4" * 32)
        time.sleep(1.0)
        assert standin.messages_sent == []
    finally:
        server.stop()


def test_kill_9_during_the_delay_then_restart_sends_exactly_once(
    office: tuple[dict[str, str], TwilioStandIn],
) -> None:
    env, standin = office
    frontdesk("settings", "set", "textback.delay_seconds", "3", env=env)
    server = ServeProcess(env, standin.auth_token).start()
    called_at = time.monotonic()
    missed_call(server, "CA" + "5" * 32)
    server.kill()
    assert standin.messages_sent == []
    restarted = ServeProcess(env, standin.auth_token).start()
    try:
        (text,) = standin.wait_for_messages_sync(1, timeout=15)
        assert text["to"] == CALLER
        assert time.monotonic() - called_at >= 3.0  # not before its time
        time.sleep(1.0)
        assert len(standin.messages_sent) == 1
    finally:
        restarted.stop()


def test_kill_9_while_twilio_holds_the_create_then_restart_adopts_it_not_resends(
    office: tuple[dict[str, str], TwilioStandIn],
) -> None:
    """The most dangerous moment of a send: Twilio has created the text and the process
    dies before the answer arrives. The restarted box looks it up and adopts its SID."""
    env, standin = office
    frontdesk("settings", "set", "followup.delay_seconds", "0", env=env)
    standin.fail_after_create("hang", hang_seconds=5.0)
    server = ServeProcess(env, standin.auth_token).start()
    missed_call(server, "CA" + "7" * 32)
    (created,) = standin.wait_for_messages_sync(1, timeout=15)
    server.kill()  # the create's answer never reaches it
    restarted = ServeProcess(env, standin.auth_token).start()
    try:
        # Uncertain: looked up after the settle period (30 s), then adopted.
        deadline = time.monotonic() + 60
        exported: dict[str, object] = {}
        while time.monotonic() < deadline:
            result = frontdesk("export", "--format", "json", env=env)
            exported = json.loads(result.stdout)
            messages = exported["conversations"][0]["messages"]  # type: ignore[index]
            if any(m["sid"] == created["sid"] for m in messages):
                break
            time.sleep(1.0)
        messages = exported["conversations"][0]["messages"]  # type: ignore[index]
        assert [m["sid"] for m in messages if m["direction"] == "out"] == [created["sid"]]
        (call,) = exported["calls"]  # type: ignore[misc]
        assert call["textback"]["state"] == "sent"
        assert len(standin.messages_sent) == 1  # adopted, never sent again
        assert len(standin.requests_to("/Messages.json", "POST")) == 1
    finally:
        restarted.stop()
