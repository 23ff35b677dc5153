"""Voicemail files in an office (two PCs, one PostgreSQL database, one clock): only the
number holder applies retention, and every PC drops its own copy of a recording whose
contact was deleted on another PC within a day, by the injected clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.clock import ManualClock
from tests.harness import running_app
from tests.services.test_voicemail import _leave_voicemail
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

CALLER = "+14155550123"


@pytest.fixture
def office_url() -> Iterator[str]:
    from tests.conftest import _fresh_postgres_database

    yield from _fresh_postgres_database()


def _pc(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "this-pc.json").write_text(json.dumps({"pc_name": name}))
    return folder


@pytest.mark.postgres
def test_a_desk_clients_copy_goes_within_a_day_and_only_the_holder_prunes(
    office_url: str, tmp_path: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        settings = {"voicemail.record": True, "voicemail.retention_days": 30}
        front, back = _pc(tmp_path, "front"), _pc(tmp_path, "back")
        async with (
            running_app(office_url, front, twilio_standin, settings=settings, clock=clock) as a,
            running_app(office_url, back, twilio_standin, settings=settings, clock=clock) as b,
        ):
            assert a.runtime.holding and not b.runtime.holding
            sid = await a.missed_call(CALLER)
            recording = await _leave_voicemail(a, sid, twilio_standin, transcript="leak")
            on_front = front / "voicemail" / f"{recording}.mp3"

            async def fetched() -> bool:
                return on_front.is_file()

            await a.until("the holder fetched the recording", fetched)
            (call,) = await b.inbox.missed_calls()
            assert call.voicemail is not None and call.contact_id is not None
            # Played on the desk client: fetched into its own data dir.
            on_back = Path(await b.engine.voicemail_file(call.voicemail.id))
            assert on_back == back / "voicemail" / f"{recording}.mp3" and on_back.is_file()

            # Deleted on the holder: its file goes at once; the desk client's copy stays
            # until its daily tidy, a day later on the clock.
            assert await a.engine.delete_contact(call.contact_id, actor="Dana")
            assert not on_front.exists() and on_back.is_file()
            clock.advance(86400)

            async def tidied() -> bool:
                return (
                    b.engine.voicemails.tidy_passes >= 1 and a.engine.voicemails.prune_passes >= 1
                )

            await b.until("both PCs' daily passes", tidied)
            assert not on_back.exists()
            # Retention is the holder's alone; the desk client never prunes.
            assert b.engine.voicemails.prune_passes == 0

    asyncio.run(scenario())
