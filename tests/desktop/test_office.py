"""Several PCs on one PostgreSQL database: real `frontdesk serve` processes.

Each process has its own data dir (its own PC name in ``this-pc.json``) and its own
public URL, so the Twilio stand-in's recorded IncomingPhoneNumbers updates say exactly
which PC pointed the number where, and when.
"""

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
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DESK = ("frontdesk serve: desk client",)
LISTENING = "frontdesk serve: listening on"

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def office_db(tmp_path: Path, twilio_standin: TwilioStandIn) -> Iterator[str]:
    from tests.conftest import _fresh_postgres_database

    twilio_standin.add_number(BUSINESS)
    for url in _fresh_postgres_database():
        env = serve_env(twilio_standin, tmp_path / "setup", url)
        (tmp_path / "setup").mkdir()
        for key, value in [
            ("business.name", "Smith & Sons"),
            ("business.phone_number", BUSINESS),
            ("forwarding.numbers", '["+15005550002"]'),
            ("business.hours", json.dumps({day: [["00:00", "23:59"]] for day in DAYS})),
            ("textback.delay_seconds", "0"),
        ]:
            frontdesk("settings", "set", key, value, env=env)
        yield url


def pc(name: str, tmp_path: Path, standin: TwilioStandIn, database_url: str) -> ServeProcess:
    data_dir = tmp_path / name
    data_dir.mkdir(exist_ok=True)
    (data_dir / "this-pc.json").write_text(json.dumps({"pc_name": name}))
    env = serve_env(standin, data_dir, database_url)
    env["FRONTDESK_PUBLIC_URL"] = f"https://{name}.example.com"
    return ServeProcess(env, standin.auth_token)


def wired_to(standin: TwilioStandIn) -> list[str]:
    """The VoiceUrl of every update of the number, in order ("" when cleared)."""
    return [
        r.form.get("VoiceUrl", "") for r in standin.requests_to("/IncomingPhoneNumbers/", "POST")
    ]


def voice_url(standin: TwilioStandIn) -> str:
    (number,) = standin.numbers
    return str(number["voice_url"])


def missed_call(server: ServeProcess, sid: str, caller: str) -> None:
    base = {"CallSid": sid, "From": caller, "To": BUSINESS}
    assert server.post("voice", {**base, "CallStatus": "ringing"})[0] == 200
    assert server.post("dial_result", {**base, "DialCallStatus": "no-answer"})[0] == 200
    assert server.post("call_status", {**base, "CallStatus": "completed"})[0] == 204


def test_start_order_hand_over_and_the_returning_pc(
    office_db: str, tmp_path: Path, twilio_standin: TwilioStandIn
) -> None:
    standin = twilio_standin
    a = pc("pc-a", tmp_path, standin, office_db).start()
    b = pc("pc-b", tmp_path, standin, office_db)
    try:
        # B starts second: a desk client that never touches the number.
        line = b.start(ready=DESK).output[-1]
        assert "held by pc-a" in line
        time.sleep(2.5)  # more than one poll of B's
        assert voice_url(standin) == "https://pc-a.example.com/twilio/voice"
        assert all("pc-a.example.com" in url for url in wired_to(standin))

        # A quits cleanly while B runs: hands over, no offline fallback in between.
        before = len(wired_to(standin))
        stopped_at = time.monotonic()
        assert a.stop() == 0
        b.wait_for_line(LISTENING, timeout=10)
        assert time.monotonic() - stopped_at < 10
        assert wired_to(standin)[before:] == ["https://pc-b.example.com/twilio/voice"]
        (number,) = standin.numbers
        assert number["sms_url"] == "https://pc-b.example.com/twilio/sms"

        # A comes back: a desk client again, the number stays with B.
        a = pc("pc-a", tmp_path, standin, office_db)
        line = a.start(ready=DESK).output[-1]
        assert "held by pc-b" in line
        time.sleep(2.5)
        assert wired_to(standin)[before:] == ["https://pc-b.example.com/twilio/voice"]

        # A (a desk client) leaves: the number is not touched.
        assert a.stop() == 0
        assert wired_to(standin)[before:] == ["https://pc-b.example.com/twilio/voice"]
    finally:
        a.kill()
        last = len(wired_to(standin))
        # B is the last to leave: it sets the offline fallback.
        assert b.stop() == 0
    (number,) = standin.numbers
    assert len(wired_to(standin)) == last + 1
    assert number["sms_url"] == ""
    assert "example.com" not in number["voice_url"]


def test_kill_9_of_the_holder_with_texts_waiting(
    office_db: str, tmp_path: Path, twilio_standin: TwilioStandIn
) -> None:
    standin = twilio_standin
    frontdesk(
        "settings",
        "set",
        "textback.delay_seconds",
        "4",
        env=serve_env(standin, tmp_path / "setup", office_db),
    )
    a = pc("pc-a", tmp_path, standin, office_db).start()
    b = pc("pc-b", tmp_path, standin, office_db)
    try:
        b.start(ready=DESK)
        callers = ["+14155550101", "+14155550102", "+14155550103"]
        for i, caller in enumerate(callers):
            missed_call(a, f"CA{i:032d}", caller)
        killed_at = time.monotonic()
        a.kill()
        assert standin.messages_sent == []
        b.wait_for_line(LISTENING, timeout=10)
        deadline = killed_at + 10
        while voice_url(standin) != "https://pc-b.example.com/twilio/voice":
            assert time.monotonic() < deadline, "B did not take the number within 10 s"
            time.sleep(0.1)
        texts = standin.wait_for_messages_sync(len(callers), timeout=15)
        time.sleep(1.5)  # anything sent twice would show up by now
        assert sorted(t["to"] for t in standin.messages_sent) == sorted(callers)
        assert {t["status_callback"] for t in texts} == {
            "https://pc-b.example.com/twilio/sms/status"
        }
        # B now answers Twilio: a new call is texted back (delay 4 s) by B.
        b_call = "+14155550199"
        missed_call(b, "CA" + "9" * 32, b_call)
        standin.wait_for_messages_sync(len(callers) + 1, timeout=10)
        assert [t["to"] for t in standin.messages_sent].count(b_call) == 1
    finally:
        a.kill()
        b.stop()
