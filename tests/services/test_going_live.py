"""Going live on a Twilio account: number wiring, offline safety, catch-up, secrets.

Real parts throughout: the runtime (tests.harness.running_app) with its receiver on
loopback, the gateway over HTTP to the Twilio stand-in, and, for the URL change, the
fake ngrok agent of tests/fake_ngrok.py driven through pyngrok and the TunnelSupervisor.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from desktop import logs
from services import sync_state
from services.catchup import CURSOR_KEY, cursor_key
from services.settings import Settings
from services.storage.database import Database, UnitOfWork
from services.wiring import BACKUP_KEY, backup_key, offline_voice_url
from tests.fake_ngrok import FIRST_URL, FakeNgrok, alive, eventually, fake_ngrok
from tests.harness import BUSINESS, OFFICE_PHONE, PUBLIC_URL, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

CALLER_A = "+14155550101"
CALLER_B = "+14155550102"
CALLER_C = "+14155550103"
CALLER_D = "+14155550104"
CALLER_E = "+14155550105"
TEXTER = "+14155550106"
CALLER_F = "+14155550107"
FORWARD_TO = "+14155550199"
CATCH_UP_TEXT = "Sorry we missed you earlier at [Business Name]. How can we help?"
CATCH_UP_BODY = "Sorry we missed you earlier at Smith & Sons Plumbing. How can we help?"

OFFLINE = {
    "offline.mode": "forward",
    "offline.forward_to": FORWARD_TO,
    "offline.voicemail_email": "office@example.com",
}


def number_of(standin: TwilioStandIn) -> dict[str, Any]:
    return next(n for n in standin.numbers if n["phone_number"] == BUSINESS)


def offline_url() -> str:
    return offline_voice_url(Settings(OFFLINE), None)


# -- the offline voice URL ------------------------------------------------------------------


def test_offline_voice_url_for_each_mode() -> None:
    url = offline_voice_url(Settings({**OFFLINE, "voicemail.greeting": "Back soon & thanks"}), None)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "twimlets.com", "/forward")
    query = parse_qs(parts.query)
    assert query["PhoneNumber"] == [FORWARD_TO]
    assert query["Timeout"] == ["20"]
    fail = urlsplit(query["FailUrl"][0])
    assert (fail.netloc, fail.path) == ("twimlets.com", "/voicemail")
    assert parse_qs(fail.query) == {
        "Email": ["office@example.com"],
        "Message": ["Back soon & thanks"],
        "Transcribe": ["true"],
    }
    # No email: the caller hears the greeting instead of a voicemail box.
    no_mail = offline_voice_url(Settings({**OFFLINE, "offline.voicemail_email": ""}), None)
    fail = urlsplit(parse_qs(urlsplit(no_mail).query)["FailUrl"][0])
    assert fail.path == "/message"
    assert "Message[0]" in parse_qs(fail.query)
    # No forward phone: straight to voicemail.
    direct = offline_voice_url(Settings({**OFFLINE, "offline.forward_to": ""}), None)
    assert urlsplit(direct).path == "/voicemail"
    bin_url = "https://handler.twilio.com/twiml/EH0123"
    assert (
        offline_voice_url(
            Settings({"offline.mode": "twiml_url", "offline.twiml_url": bin_url}), None
        )
        == bin_url
    )
    from services.ports import NumberConfig

    previous = NumberConfig("PN1", BUSINESS, voice_url="https://old.example.com/voice")
    assert offline_voice_url(Settings({"offline.mode": "none"}), previous) == (
        "https://old.example.com/voice"
    )
    assert offline_voice_url(Settings({"offline.mode": "none"}), None) == ""


# -- wiring, offline, disconnect -------------------------------------------------------------


def test_first_start_wires_the_number_and_a_clean_exit_goes_offline(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        async with running_app(database_url, data_dir, twilio_standin, settings=OFFLINE) as app:
            number = number_of(twilio_standin)
            assert number["voice_url"] == PUBLIC_URL + "/twilio/voice"
            assert number["sms_url"] == PUBLIC_URL + "/twilio/sms"
            assert number["status_callback"] == PUBLIC_URL + "/twilio/voice/status"
            assert number["voice_fallback_url"] == offline_url()
            assert app.runtime.wired
            # A live call is answered by us while wired.
            await app.missed_call(CALLER_A)
            await twilio_standin.wait_for_messages(1)
            await app.idle()
        number = number_of(twilio_standin)
        assert number["voice_url"] == offline_url()
        assert number["voice_fallback_url"] == offline_url()
        assert number["sms_url"] == ""  # texts stay in Twilio's log for catch-up
        assert number["status_callback"] == ""

    asyncio.run(scenario())


def test_disconnect_restores_the_previous_configuration_exactly(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    old = {
        "voice_url": "https://old.example.com/voice",
        "sms_url": "https://old.example.com/sms",
        "status_callback": "https://old.example.com/status",
    }
    twilio_standin.add_number(
        BUSINESS,
        voice_url=old["voice_url"],
        sms_url=old["sms_url"],
        status_callback=old["status_callback"],
    )
    sid = number_of(twilio_standin)["sid"]
    before = twilio_standin.number(sid)

    async def scenario() -> None:
        async with running_app(database_url, data_dir, twilio_standin, settings=OFFLINE) as app:
            assert number_of(twilio_standin)["voice_url"] == PUBLIC_URL + "/twilio/voice"
            await app.runtime.disconnect()
            assert not app.runtime.wired
            # A URL change now leaves the number alone.
            await app.runtime.rewire()
        # ... and so does the exit.

    asyncio.run(scenario())
    after = twilio_standin.number(sid)
    keys = (
        "voice_url",
        "voice_method",
        "voice_fallback_url",
        "sms_url",
        "sms_method",
        "status_callback",
        "status_callback_method",
    )
    assert {k: after[k] for k in keys} == {k: before[k] for k in keys}


def test_restart_after_going_offline_keeps_the_first_backup(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    """The offline Twimlet set on exit is never mistaken for the owner's configuration."""
    twilio_standin.add_number(BUSINESS, voice_url="https://old.example.com/voice")

    async def scenario() -> None:
        for _ in range(2):
            async with running_app(database_url, data_dir, twilio_standin, settings=OFFLINE):
                pass
        assert number_of(twilio_standin)["voice_url"] == offline_url()
        async with running_app(database_url, data_dir, twilio_standin, settings=OFFLINE) as app:
            await app.runtime.disconnect()
        assert number_of(twilio_standin)["voice_url"] == "https://old.example.com/voice"
        db = Database(database_url)
        try:
            keys = (BACKUP_KEY, backup_key(BUSINESS))
            backups = db.run_sync(lambda uow: [sync_state.get(uow.session, k) for k in keys])
            assert backups == [None, None]
        finally:
            db.close()

    asyncio.run(scenario())


# -- the tunnel moves ------------------------------------------------------------------------


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeNgrok]:
    with fake_ngrok(tmp_path, monkeypatch) as fake:
        yield fake


@pytest.mark.timeout(60)
def test_a_new_tunnel_url_rewires_the_number(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn, fake: FakeNgrok
) -> None:
    moved = "https://moved456.ngrok-free.app"

    async def scenario() -> None:
        async with running_app(
            database_url,
            data_dir,
            twilio_standin,
            settings=OFFLINE,
            endpoint=lambda: fake.tunnel(auth_token="ngrok-secret-token-123456"),
            tunnel_check_interval=0.2,
        ) as app:
            assert app.runtime.public_url == FIRST_URL
            assert number_of(twilio_standin)["voice_url"] == FIRST_URL + "/twilio/voice"
            tunnel = app.runtime.tunnel
            assert tunnel is not None and tunnel.state == "up"
            fake.set("url", moved)
            await eventually(
                lambda: number_of(twilio_standin)["voice_url"] == moved + "/twilio/voice",
                what="the number to follow the tunnel",
            )
            number = number_of(twilio_standin)
            assert number["sms_url"] == moved + "/twilio/sms"
            assert number["status_callback"] == moved + "/twilio/voice/status"
            assert number["voice_fallback_url"] == offline_url()
            assert app.runtime.public_url == moved
        assert number_of(twilio_standin)["voice_url"] == offline_url()
        assert not any(alive(pid) for pid in fake.pids())

    asyncio.run(scenario())


# -- catch-up ----------------------------------------------------------------------------------


def _set_cursor(database_url: str, at: datetime, key: str = CURSOR_KEY) -> None:
    """Set a catch-up cursor (by default the shared one from before locations)."""
    from services.storage import migrate

    db = Database(database_url)
    try:
        migrate.upgrade(db.engine)

        def work(uow: UnitOfWork) -> None:
            sync_state.put(uow.session, key, at.isoformat())
            uow.commit()

        db.run_sync(work)
    finally:
        db.close()


def _cursor(database_url: str, number: str = BUSINESS) -> datetime:
    db = Database(database_url)
    try:
        raw = db.run_sync(lambda uow: sync_state.get(uow.session, cursor_key(number)))
    finally:
        db.close()
    return datetime.fromisoformat(str(raw))


def test_what_happened_while_down_is_caught_up_once(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    now = datetime.now(UTC)
    # Frontdesk was last up five hours ago.
    _set_cursor(database_url, now - timedelta(hours=5))
    s = twilio_standin

    def call(caller: str, minutes_ago: float, status: str) -> str:
        start = now - timedelta(minutes=minutes_ago)
        return str(s.seed_call(from_=caller, to=BUSINESS, status=status, start_time=start)["sid"])

    def leg(parent: str, minutes_ago: float, status: str) -> None:
        start = now - timedelta(minutes=minutes_ago)
        s.seed_call(
            from_=BUSINESS,
            to=FORWARD_TO,
            status=status,
            direction="outbound-dial",
            parent_call_sid=parent,
            start_time=start,
        )

    missed_dial = call(CALLER_A, 30, "completed")  # the forward Twimlet rang, nobody answered
    leg(missed_dial, 29.9, "no-answer")
    hung_up = call(CALLER_B, 20, "no-answer")  # no Dial at all
    answered = call(CALLER_C, 40, "completed")
    leg(answered, 39.9, "busy")
    leg(answered, 39.8, "completed")
    too_old = call(CALLER_D, 180, "completed")  # greeted by the Twimlet, no Dial, 3 h ago
    ongoing = call(CALLER_E, 2, "in-progress")
    # F called, then texted before Frontdesk was back: the desk answers the text, and no
    # catch-up text goes, however fast it could have left before the text was recorded.
    texted_after = call(CALLER_F, 25, "no-answer")
    s.seed_message(
        from_=CALLER_F, to=BUSINESS, body="Call me back?", date_sent=now - timedelta(minutes=15)
    )
    # The texter called after texting: that call is texted back as usual.
    texted_before = call(TEXTER, 5, "no-answer")
    s.seed_message(
        from_=TEXTER,
        to=BUSINESS,
        body="Are you open Saturday?",
        date_sent=now - timedelta(minutes=10),
    )
    photo = s.seed_message(
        from_=TEXTER,
        to=BUSINESS,
        body="This is the leak",
        date_sent=now - timedelta(minutes=8),
        media=["image/jpeg"],
    )
    s.seed_message(
        from_=BUSINESS,
        to=TEXTER,
        body="(sent by someone else)",
        direction="outbound-api",
        date_sent=now - timedelta(minutes=9),
    )
    s.seed_message(
        from_=TEXTER, to=BUSINESS, body="before the cursor", date_sent=now - timedelta(hours=6)
    )
    settings = {
        **OFFLINE,
        "catchup.max_age_hours": 1,
        "templates.catch_up": CATCH_UP_TEXT,
    }

    async def scenario() -> None:
        async with running_app(database_url, data_dir, s, settings=settings) as app:
            sent = await s.wait_for_messages(3)
            await app.idle()
            await asyncio.sleep(0.3)
            sent = s.messages_sent
            assert sorted(m["to"] for m in sent) == [CALLER_A, CALLER_B, TEXTER]
            assert {m["body"] for m in sent} == {CATCH_UP_BODY}
            calls = {c.sid: c for c in await app.inbox.missed_calls()}
            assert set(calls) == {missed_dial, hung_up, too_old, texted_after, texted_before}
            assert calls[missed_dial].textback_state == "sent"
            assert calls[hung_up].textback_state == "sent"
            assert calls[texted_before].textback_state == "sent"
            assert calls[too_old].textback_state == "skipped"
            assert calls[too_old].textback_reason == "the call is older than the catch-up limit"
            assert calls[texted_after].textback_state == "skipped"
            assert calls[texted_after].textback_reason == (
                "they texted after the call (the desk answers them)"
            )
            assert {c.source for c in calls.values()} == {"catchup"}
            export = await _export(database_url)
            outcomes = {c["sid"]: c["outcome"] for c in export["calls"]}
            assert outcomes[answered] == "answered"
            assert ongoing not in outcomes  # still talking: decided by a later run
            texts = [
                m["body"]
                for conv in export["conversations"]
                for m in conv["messages"]
                if m["direction"] == "in"
            ]
            assert texts == ["Call me back?", "Are you open Saturday?", "This is the leak"]
            # The MMS keeps its photo, read from the message's Media list.
            (mms,) = [
                m
                for conv in export["conversations"]
                for m in conv["messages"]
                if m["sid"] == photo["sid"]
            ]
            media_uri = photo["_media"][0]["uri"].removesuffix(".json")
            assert mms["media"] == ["https://api.twilio.com" + media_uri]
            result = app.runtime.catchup.last_result
            assert result is not None
            assert (result.calls_missed, result.calls_answered, result.messages) == (5, 1, 3)
            assert result.pending == 1
        cursor = _cursor(database_url)
        assert now - timedelta(minutes=3) < cursor < now - timedelta(minutes=2)  # held at E

        # A restart right after: nothing new is recorded or sent.
        async with running_app(database_url, data_dir, s, settings=settings) as app:
            await app.idle()
            await asyncio.sleep(0.3)
            assert len(s.messages_sent) == 3
            result = app.runtime.catchup.last_result
            assert result is not None
            assert (result.calls_missed, result.calls_answered, result.messages) == (0, 0, 0)
        assert len(s.messages_sent) == 3

    asyncio.run(scenario())


async def _export(database_url: str) -> dict[str, Any]:
    from services import export

    db = Database(database_url)
    try:
        data: dict[str, Any] = await db.run(lambda uow: export.collect(uow.session))
        return data
    finally:
        await asyncio.to_thread(db.close)


# -- secrets ------------------------------------------------------------------------------------

REAL_SID = "AC" + "5e1f0c2a9b7d4e3f8a6c1b0d2e4f6a8c"
REAL_TOKEN = "9f86d081884c7d659a2feaa0c55ad015"


def test_credentials_never_reach_the_disk(
    database_url: str, data_dir: Path, tmp_path: Path
) -> None:
    root = logging.getLogger()
    level = root.level
    log_dir = data_dir / "logs"
    logs.configure(log_dir, lambda: [REAL_TOKEN], verbose=True)
    try:
        with TwilioStandIn(REAL_SID, REAL_TOKEN) as standin:

            async def scenario() -> None:
                async with running_app(database_url, data_dir, standin, settings=OFFLINE) as app:
                    await app.missed_call(CALLER_A)
                    await standin.wait_for_messages(1)
                    await app.reply(CALLER_A, "Thanks!")
                    # A forged webhook is rejected (and recorded with the URL checked).
                    status, _ = await app.post(
                        "sms",
                        {"MessageSid": "SM" + "0" * 32, "From": CALLER_B, "Body": "x"},
                        token="not-the-token",
                    )
                    assert status == 403
                    await app.idle()
                    await asyncio.sleep(0.2)

            asyncio.run(scenario())
    finally:
        for handler in list(root.handlers):
            if getattr(handler, "_frontdesk", False):
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
    log_text = (log_dir / "frontdesk.log").read_text(encoding="utf-8")
    assert "wired " + BUSINESS in log_text  # the log really was written during the run
    leaks = [
        path
        for path in tmp_path.rglob("*")
        if path.is_file() and REAL_TOKEN.encode() in path.read_bytes()
    ]
    assert leaks == []
    assert OFFICE_PHONE  # the run rang the office (harness default)
