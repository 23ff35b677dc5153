"""A Dial result that arrives while its call's record is still queued joins the record's
unit of work (services/waiting_records): the same rows, one text, and when the decision
fails there, the record still lands and the Dial result runs on its own.

The database's workers are held busy while the voice webhook is answered, so the record
is certainly still queued when the Dial result arrives (on PostgreSQL's several workers
too: every one is held).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from services import burst_writes
from services.storage.database import UnitOfWork
from services.storage.models import Call
from services.waiting_records import WaitingRecord
from tests.harness import BUSINESS, TestApp, call_sid
from tests.services.test_burst_writes import run, texted, written
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn


@pytest.fixture
def joins(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each Dial result joined its call's record (the real method, watched)."""
    seen: list[bool] = []
    real = WaitingRecord.join

    def watched(self: WaitingRecord[Any], work: Any) -> Any:
        outcome = real(self, work)
        seen.append(outcome is not None)
        return outcome

    monkeypatch.setattr(WaitingRecord, "join", watched)
    return seen


@asynccontextmanager
async def workers_held(app: TestApp) -> AsyncIterator[None]:
    """Every database worker busy (on a unit that waits) until the block ends."""
    db = app.runtime.db
    # The voice webhook reads the locations from the engine's cache: fresh, it needs no
    # worker while they are held.
    await db.run(lambda uow: app.engine._locations(uow.session))
    count = len(db._workers._threads)
    started = threading.Semaphore(0)
    release = threading.Event()

    def hold(_uow: UnitOfWork) -> None:
        started.release()
        release.wait(10)

    holds = [asyncio.ensure_future(db.run(hold, urgent=True)) for _ in range(count)]
    for _ in range(count):
        assert await asyncio.to_thread(started.acquire, True, 10)
    try:
        yield
    finally:
        release.set()
        await asyncio.gather(*holds)


async def joined_call(app: TestApp, caller: str, joins: list[bool]) -> str:
    """A missed call whose Dial result arrives while its record is queued."""
    sid = call_sid()
    base = {"CallSid": sid, "From": caller, "To": BUSINESS, "AccountSid": app.standin.account_sid}
    app.engine.voice_record_budget = 0.0  # the answer does not wait for the record
    async with workers_held(app):
        status, _ = await app.post("voice", {**base, "CallStatus": "ringing"})
        assert status == 200
        dial = asyncio.ensure_future(
            app.post(
                "dial_result", {**base, "CallStatus": "in-progress", "DialCallStatus": "no-answer"}
            )
        )
        await _until_joined(joins)
    status, body = await dial
    assert status == 200 and "<Response>" in body
    status, _ = await app.post("call_status", {**base, "CallStatus": "completed"})
    assert status == 204
    return sid


async def _until_joined(joins: list[bool]) -> None:
    """Until the Dial result has joined (or not) the record (not app.until: waiting for
    the engine's background work would wait for the held workers)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not joins:
        assert loop.time() < deadline, "the Dial result never tried to join the record"
        await asyncio.sleep(0.005)


def test_a_dial_result_joining_its_queued_record_writes_what_two_units_write(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn, joins: list[bool]
) -> None:
    """The joined call's rows are those of a call whose record landed first (Core way),
    and those of the ORM way; one text each."""

    async def scenario(app: TestApp) -> None:
        app.engine.writes_in_core = False
        general = await texted(app, "+14155550131", 1)
        app.engine.writes_in_core = True
        core = await texted(app, "+14155550132", 2)
        assert joins == []  # each record had landed first (voice_record_budget)
        joined = await joined_call(app, "+14155550133", joins)
        assert joins == [True]
        await app.standin.wait_for_messages(3)
        await app.until("the text is recorded", lambda: _all_sent(app))
        assert await written(app, joined) == await written(app, core)
        assert await written(app, joined) == await written(app, general)
        assert [m["to"] for m in app.standin.messages_sent].count("+14155550133") == 1

    run(database_url, data_dir, twilio_standin, scenario, **{"lookup.enabled": False})


def test_a_decision_failing_beside_its_record_leaves_the_record_and_runs_on_its_own(
    database_url: str,
    data_dir: Path,
    twilio_standin: TwilioStandIn,
    joins: list[bool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first decision fails inside the record's unit: the record is written alone (no
    retry of it needed, nothing unsaved), then the Dial result's own unit texts once."""
    real = burst_writes.text_now
    failures: list[str] = []

    def fails_once(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append(kwargs["call_sid"])
            raise RuntimeError("the decision failed")
        return real(*args, **kwargs)

    monkeypatch.setattr(burst_writes, "text_now", fails_once)

    async def scenario(app: TestApp) -> None:
        sid = await joined_call(app, "+14155550141", joins)
        assert joins == [True] and failures == [sid]
        await app.standin.wait_for_messages(1)
        await app.until("the text is recorded", lambda: _all_sent(app))
        assert app.engine.unsaved_calls == []

        def calls(uow: UnitOfWork) -> int:
            return int(uow.session.scalar(select(func.count()).select_from(Call)) or 0)

        assert await app.runtime.db.run(calls) == 1
        row = await written(app, sid)
        assert row["call"]["outcome"] == "missed" and row["call"]["mode"] == "ring"
        assert [job["state"] for job in row["jobs"]] == ["sent", "pending"]  # and its follow-up
        await app.idle()  # a second send would have been started and finished by now
        assert len(app.standin.messages_sent) == 1

    run(database_url, data_dir, twilio_standin, scenario, **{"lookup.enabled": False})


async def _all_sent(app: TestApp) -> bool:
    return all(state == "sent" for kind, state in await app.jobs() if kind == "textback")
