"""A real PostgreSQL restart in the middle of a run (pg_ctl restart of a throwaway server
of this test's own): both PCs come back, the number has a holder again, every view is
told to reload, texts waiting across the restart go out once, and new calls are texted.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import psycopg
import pytest

from services.events import Event, EverythingChanged
from services.holder import libpq_url
from tests.harness import running_app
from tests.pg_cluster import throwaway_postgres
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _pc(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "this-pc.json").write_text(json.dumps({"pc_name": name}))
    return folder


async def _until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out: {what}"
        await asyncio.sleep(0.05)


def test_postgresql_restart_mid_run(tmp_path: Path, twilio_standin: TwilioStandIn) -> None:
    with throwaway_postgres() as cluster:
        with psycopg.connect(libpq_url(cluster.url()), autocommit=True) as admin:
            admin.execute("CREATE DATABASE office")
        url = cluster.url(db="office")

        async def scenario() -> None:
            async with (
                running_app(
                    url,
                    _pc(tmp_path, "front"),
                    twilio_standin,
                    settings={"textback.delay_seconds": 3},
                ) as a,
                running_app(url, _pc(tmp_path, "back"), twilio_standin) as b,
            ):
                assert a.runtime.holding and not b.runtime.holding
                seen_on_b: list[Event] = []
                b.runtime.bus.subscribe(seen_on_b.append)
                first = ["+14155550101", "+14155550102"]
                for caller in first:
                    await a.missed_call(caller)  # texts due in 3 s: waiting across the restart

                await asyncio.to_thread(cluster.restart)

                # Each PC notices, reconnects and tells its views to reload.
                await _until(lambda: EverythingChanged() in seen_on_b, 20, "B reloads")
                # The number has a holder again (the lock's session died with the server).
                await _until(lambda: a.runtime.holding or b.runtime.holding, 20, "a holder again")
                holder = a if a.runtime.holding else b
                other = b if holder is a else a
                await _until(lambda: not other.runtime.holding, 5, "one holder only")
                # The texts that were waiting go out, once each.
                await _until(
                    lambda: len(twilio_standin.messages_sent) >= len(first), 30, "waiting texts"
                )
                # A new call after the restart, through whoever holds the number now.
                if holder.runtime.receiver.local_url() is None:
                    await _until(
                        lambda: holder.runtime.receiver.local_url() is not None, 10, "receiver"
                    )
                await holder.missed_call("+14155550103")
                await _until(
                    lambda: len(twilio_standin.messages_sent) >= 3, 20, "the new call's text"
                )
                await asyncio.sleep(4)  # a duplicate would have shown up by now
                sent = sorted(m["to"] for m in twilio_standin.messages_sent)
                assert sent == [*first, "+14155550103"]

        asyncio.run(scenario())
