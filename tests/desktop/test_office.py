"""Several PCs on one PostgreSQL database: real `frontdesk serve` processes.

Each process has its own data dir (its own PC name in ``this-pc.json``) and its own
public URL, so the Twilio stand-in's recorded IncomingPhoneNumbers updates say exactly
which PC pointed the number where, and when. The office has two locations (two numbers):
whatever happens to the first number happens to the second.
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
NORTH = "+15005550011"  # the second location's number
NUMBERS = (BUSINESS, NORTH)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DESK = ("frontdesk serve: desk client",)
LISTENING = "frontdesk serve: listening on"

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def office_db(tmp_path: Path, twilio_standin: TwilioStandIn) -> Iterator[str]:
    from tests.conftest import _fresh_postgres_database

    twilio_standin.add_number(BUSINESS)
    twilio_standin.add_number(NORTH)
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
        frontdesk("location", "add", "North", NORTH, env=env)
        yield url


def pc(name: str, tmp_path: Path, standin: TwilioStandIn, database_url: str) -> ServeProcess:
    data_dir = tmp_path / name
    data_dir.mkdir(exist_ok=True)
    (data_dir / "this-pc.json").write_text(json.dumps({"pc_name": name}))
    env = serve_env(standin, data_dir, database_url)
    env["FRONTDESK_PUBLIC_URL"] = f"https://{name}.example.com"
    return ServeProcess(env, standin.auth_token)


def number(standin: TwilioStandIn, phone: str = BUSINESS) -> dict[str, object]:
    return next(n for n in standin.numbers if n["phone_number"] == phone)


def wired_to(standin: TwilioStandIn, phone: str = BUSINESS) -> list[str]:
    """The VoiceUrl of every update of ``phone``, in order ("" when cleared)."""
    path = f"/IncomingPhoneNumbers/{number(standin, phone)['sid']}.json"
    return [r.form.get("VoiceUrl", "") for r in standin.requests_to(path, "POST")]


def voice_url(standin: TwilioStandIn, phone: str = BUSINESS) -> str:
    return str(number(standin, phone)["voice_url"])


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
    at_b = ["https://pc-b.example.com/twilio/voice"]
    try:
        # B starts second: a desk client that never touches the numbers.
        line = b.start(ready=DESK).output[-1]
        assert "held by pc-a" in line
        time.sleep(2.5)  # more than one poll of B's
        for phone in NUMBERS:
            assert voice_url(standin, phone) == "https://pc-a.example.com/twilio/voice"
            assert all("pc-a.example.com" in url for url in wired_to(standin, phone))

        # A quits cleanly while B runs: hands over, no offline fallback in between.
        before = {phone: len(wired_to(standin, phone)) for phone in NUMBERS}
        stopped_at = time.monotonic()
        assert a.stop() == 0
        b.wait_for_line(LISTENING, timeout=10)
        assert time.monotonic() - stopped_at < 10
        for phone in NUMBERS:
            assert wired_to(standin, phone)[before[phone] :] == at_b
            assert number(standin, phone)["sms_url"] == "https://pc-b.example.com/twilio/sms"

        # A comes back: a desk client again, the numbers stay with B.
        a = pc("pc-a", tmp_path, standin, office_db)
        line = a.start(ready=DESK).output[-1]
        assert "held by pc-b" in line
        time.sleep(2.5)
        for phone in NUMBERS:
            assert wired_to(standin, phone)[before[phone] :] == at_b

        # A (a desk client) leaves: the numbers are not touched.
        assert a.stop() == 0
        for phone in NUMBERS:
            assert wired_to(standin, phone)[before[phone] :] == at_b
    finally:
        a.kill()
        last = {phone: len(wired_to(standin, phone)) for phone in NUMBERS}
        # B is the last to leave: it sets the offline fallback on every number.
        assert b.stop() == 0
    for phone in NUMBERS:
        assert len(wired_to(standin, phone)) == last[phone] + 1
        assert number(standin, phone)["sms_url"] == ""
        assert "example.com" not in voice_url(standin, phone)


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
        # Two calls that reached the numbers without a webhook reaching A (its tunnel was
        # down, say): only Twilio's log has them, for the next holder's catch-up.
        unheard = {BUSINESS: "+14155550111", NORTH: "+14155550112"}
        for phone, caller in unheard.items():
            standin.seed_call(from_=caller, to=phone, status="no-answer")
        killed_at = time.monotonic()
        a.kill()
        assert standin.messages_sent == []
        b.wait_for_line(LISTENING, timeout=10)
        deadline = killed_at + 10
        for phone in NUMBERS:
            while voice_url(standin, phone) != "https://pc-b.example.com/twilio/voice":
                assert time.monotonic() < deadline, f"B did not take {phone} within 10 s"
                time.sleep(0.1)
        everyone = callers + list(unheard.values())
        texts = standin.wait_for_messages_sync(len(everyone), timeout=15)
        time.sleep(1.5)  # anything sent twice would show up by now
        assert sorted(t["to"] for t in standin.messages_sent) == sorted(everyone)
        assert {t["status_callback"] for t in texts} == {
            "https://pc-b.example.com/twilio/sms/status"
        }
        # B now answers Twilio: a new call is texted back (delay 4 s) by B.
        b_call = "+14155550199"
        missed_call(b, "CA" + "9" * 32, b_call)
        standin.wait_for_messages_sync(len(everyone) + 1, timeout=10)
        assert [t["to"] for t in standin.messages_sent].count(b_call) == 1
    finally:
        a.kill()
        b.stop()
