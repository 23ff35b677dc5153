"""Voicemail end to end: TwiML that never loops, the recording fetched into the data
dir, shown and searchable, the voicemail template, retention and deletion; on SQLite
and PostgreSQL, every webhook signed as Twilio signs it."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from xml.etree import ElementTree as ET

from services.clock import ManualClock
from services.export import collect
from tests.harness import BUSINESS, PUBLIC_URL, call_sid, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

CALLER = "+14155550123"
AUDIO = b"ID3" + bytes(range(256)) * 40


def _record(twiml: str) -> ET.Element:
    root = ET.fromstring(twiml)
    record = root.find("Record")
    assert record is not None, twiml
    return record


async def _leave_voicemail(app, sid: str, standin: TwilioStandIn, *, transcript: str | None):  # type: ignore[no-untyped-def]
    """The caller records a message: Twilio's Record action, recording status and
    transcription callbacks, in the order Twilio sends them."""
    recording = standin.add_recording(sid, audio=AUDIO, duration=42)
    base = {"CallSid": sid, "From": CALLER, "To": BUSINESS, "AccountSid": standin.account_sid}
    status, body = await app.post(
        "recorded",
        {
            **base,
            "RecordingSid": recording,
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/X/Recordings/{recording}",
            "RecordingDuration": "42",
            "Digits": "hangup",
        },
    )
    assert status == 200
    assert ET.fromstring(body).find("Hangup") is not None
    assert ET.fromstring(body).find("Record") is None
    status, _ = await app.post(
        "recording_status",
        {
            **base,
            "RecordingSid": recording,
            "RecordingStatus": "completed",
            "RecordingDuration": "42",
            "RecordingChannels": "1",
            "RecordingSource": "RecordVerb",
        },
    )
    assert status == 204
    if transcript is not None:
        status, _ = await app.post(
            "transcription",
            {
                **base,
                "RecordingSid": recording,
                "TranscriptionSid": "TR" + "1" * 32,
                "TranscriptionStatus": "completed",
                "TranscriptionText": transcript + "\x00",
            },
        )
        assert status == 204
    return recording


def test_record_has_its_own_action_and_no_url_answers_400_or_loops(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        settings = {"voicemail.record": True}
        async with running_app(database_url, data_dir, twilio_standin, settings=settings) as app:
            sid = call_sid()
            base = {"CallSid": sid, "From": CALLER, "To": BUSINESS}
            status, _ = await app.post("voice", {**base, "CallStatus": "ringing"})
            assert status == 200
            status, body = await app.post(
                "dial_result", {**base, "CallStatus": "in-progress", "DialCallStatus": "no-answer"}
            )
            assert status == 200
            record = _record(body)
            assert record.get("action") == PUBLIC_URL + "/twilio/voice/recorded"
            assert record.get("recordingStatusCallback") == (
                PUBLIC_URL + "/twilio/voice/recording-status"
            )
            assert record.get("transcribe") == "true"
            assert record.get("transcribeCallback") == PUBLIC_URL + "/twilio/voice/transcription"
            # An old <Record> without an action requests the current URL again: a Dial
            # result without DialCallStatus, or the voice URL; both hang up, never 400.
            recording = "RE" + "2" * 32
            rec = {"RecordingSid": recording, "RecordingUrl": "https://api.twilio.com/x"}
            status, body = await app.post("dial_result", {**base, **rec})
            assert status == 200 and ET.fromstring(body).find("Hangup") is not None
            status, body = await app.post("voice", {**base, **rec, "CallStatus": "in-progress"})
            assert status == 200
            assert ET.fromstring(body).find("Record") is None
            assert ET.fromstring(body).find("Hangup") is not None
            # Forward mode greets and records with the same action.
            await app.set(forwarding__numbers=[])
            status, body = await app.post("voice", {**base, "CallSid": call_sid()})
            assert _record(body).get("action") == PUBLIC_URL + "/twilio/voice/recorded"
            # Unsigned: refused before anything.
            local = app.runtime.receiver.local_url()
            async with app.session.post(local + "/twilio/voice/recorded", data=base) as resp:
                assert resp.status == 403

    asyncio.run(scenario())


def test_voicemail_is_fetched_shown_searchable_and_exported(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        settings = {"voicemail.record": True}
        async with running_app(database_url, data_dir, twilio_standin, settings=settings) as app:
            sid = await app.missed_call(CALLER)
            recording = await _leave_voicemail(
                app, sid, twilio_standin, transcript="Hi, my boiler is leaking, call me"
            )
            path = data_dir / "voicemail" / f"{recording}.mp3"

            async def fetched() -> bool:
                return path.is_file()

            await app.until("the recording is fetched", fetched)
            assert path.read_bytes() == AUDIO
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
            gets = twilio_standin.requests_to(f"/Recordings/{recording}.mp3", "GET")
            assert len(gets) == 1 and gets[0].auth_user == twilio_standin.account_sid
            calls = await app.inbox.missed_calls()
            vm = calls[0].voicemail
            assert vm is not None and vm.playable and vm.duration_seconds == 42
            assert vm.transcript == "Hi, my boiler is leaking, call me"  # NUL stripped
            assert await app.engine.voicemail_file(vm.id) == str(path)
            # The thread shows it, the transcript is searchable.
            rows = await app.inbox.conversations(search="boiler")
            assert [r.contact_id for r in rows] == [calls[0].contact_id]
            assert await app.inbox.conversations(search="furnace") == []
            data = await app.runtime.db.run(lambda uow: collect(uow.session))
            exported = data["calls"][0]
            assert exported["voicemail"] == {
                "recording_sid": recording,
                "duration_seconds": 42,
                "transcript": "Hi, my boiler is leaking, call me",
            }
            assert exported["line_type"] == "mobile"
            json.dumps(data)
            # Retries of every callback change nothing.
            await _leave_voicemail_retry(app, sid, recording)
            assert len((await app.inbox.missed_calls())[0:1]) == 1

    asyncio.run(scenario())


async def _leave_voicemail_retry(app, sid: str, recording: str) -> None:  # type: ignore[no-untyped-def]
    status, _ = await app.post(
        "recording_status",
        {"CallSid": sid, "RecordingSid": recording, "RecordingStatus": "completed"},
    )
    assert status == 204
    await app.idle()


def test_an_oversized_recording_is_refused_and_nothing_is_written(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        settings = {"voicemail.record": True}
        async with running_app(database_url, data_dir, twilio_standin, settings=settings) as app:
            app.engine.voicemails.max_bytes = 1000
            app.engine.voicemails.retries = ()
            sid = await app.missed_call(CALLER)
            recording = await _leave_voicemail(app, sid, twilio_standin, transcript=None)
            await app.idle()
            assert not (data_dir / "voicemail" / f"{recording}.mp3").exists()
            assert not list((data_dir / "voicemail").glob("*.part"))

    asyncio.run(scenario())


def test_voicemail_template_thanks_the_caller_for_the_message(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        settings = {
            "voicemail.record": True,
            "textback.delay_seconds": 60,
            "templates.voicemail": "Got your voicemail, [First Name]. We call back soon.",
        }
        async with running_app(
            database_url, data_dir, twilio_standin, settings=settings, clock=clock
        ) as app:
            sid = await app.missed_call(CALLER)
            await _leave_voicemail(app, sid, twilio_standin, transcript=None)
            await app.idle()
            assert twilio_standin.messages_sent == []
            clock.advance(61)
            app.runtime.scheduler.wake()
            sent = await twilio_standin.wait_for_messages(1)
            assert sent[0]["body"] == "Got your voicemail, there. We call back soon."

    asyncio.run(scenario())


def _passes(app, n: int):  # type: ignore[no-untyped-def]
    """A check for ``app.until``: the daily retention pass has run ``n`` times."""

    async def check() -> bool:
        return bool(app.engine.voicemails.prune_passes >= n)

    return check


def test_retention_runs_daily_on_the_clock_while_holding_the_number(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        settings = {"voicemail.record": True, "voicemail.retention_days": 3}
        async with running_app(
            database_url, data_dir, twilio_standin, settings=settings, clock=clock
        ) as app:
            voicemails = app.engine.voicemails
            sid = await app.missed_call(CALLER)
            recording = await _leave_voicemail(app, sid, twilio_standin, transcript="day one")
            path = data_dir / "voicemail" / f"{recording}.mp3"

            async def fetched() -> bool:
                return path.is_file()

            await app.until("the recording is fetched", fetched)
            clock.advance(23 * 3600)  # not a day yet: no pass
            clock.advance(3600)
            await app.until("the first daily pass", _passes(app, 1))
            await app.idle()
            assert voicemails.prune_passes == 1
            for day in (2, 3):  # kept while it is not older than 3 days
                clock.advance(86400)
                await app.until(f"day {day}'s pass", _passes(app, day))
                assert path.is_file()
            clock.advance(86400)
            await app.until("day 4's pass", _passes(app, 4))
            assert not path.exists()
            (call,) = await app.inbox.missed_calls()
            assert call.voicemail is not None and call.voicemail.removed
            assert call.voicemail.transcript == "day one"  # the words stay in the thread

            # Only while holding the number: given up (a hand-over), no more passes.
            second = await app.missed_call(CALLER)
            kept = await _leave_voicemail(app, second, twilio_standin, transcript="day four")
            kept_path = data_dir / "voicemail" / f"{kept}.mp3"

            async def kept_fetched() -> bool:
                return kept_path.is_file()

            await app.until("the second recording is fetched", kept_fetched)
            await app.runtime.give_up(go_offline=False)
            clock.advance(10 * 86400)
            await asyncio.sleep(0.2)  # give a (wrongly) running loop its chance
            assert voicemails.prune_passes == 4
            assert kept_path.is_file()

    asyncio.run(scenario())


def test_retention_and_deleting_the_contact_delete_the_file(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        settings = {"voicemail.record": True, "voicemail.retention_days": 30}
        async with running_app(
            database_url, data_dir, twilio_standin, settings=settings, clock=clock
        ) as app:
            first = await app.missed_call(CALLER)
            old = await _leave_voicemail(app, first, twilio_standin, transcript="old one")
            await app.idle()
            clock.advance(20 * 86400)
            second = await app.missed_call(CALLER)
            new = await _leave_voicemail(app, second, twilio_standin, transcript="new one")
            await app.idle()
            folder = data_dir / "voicemail"
            assert {p.name for p in folder.iterdir()} == {f"{old}.mp3", f"{new}.mp3"}
            clock.advance(11 * 86400)  # the daily pass (no one calls prune here)
            await app.until("the day's retention pass", _passes(app, 2))
            assert {p.name for p in folder.iterdir()} == {f"{new}.mp3"}
            calls = await app.inbox.missed_calls()
            by_sid = {c.sid: c.voicemail for c in calls}
            assert by_sid[first] is not None and by_sid[first].removed
            assert by_sid[second] is not None and by_sid[second].playable
            contact_id = calls[0].contact_id
            assert await app.engine.voicemails.forget_contact(contact_id, actor="test")
            assert list(folder.iterdir()) == []
            assert await app.inbox.conversations(search="new") == []

    asyncio.run(scenario())
