"""The demo's simulated carrier against the real receiver and engine, over real HTTP.

The DemoCarrier signs its webhooks with the SDK's RequestValidator; the receiver checks
them like production. These tests prove the demo loop works end to end (missed call →
text-back → delivered status on the message → reply threaded) on SQLite and PostgreSQL,
and that a wrongly signed simulation is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from desktop.config import AppConfig
from desktop.runtime import Runtime
from services import settings_store
from services.clock import SystemClock
from services.demo_carrier import DemoCarrier, DemoCarrierError, LoopbackEndpoint, new_auth_token
from services.ports import NotTextableError, OptedOutError
from services.snapshots import MessageItem
from services.storage import migrate
from services.storage.database import Database, UnitOfWork

NUMBER = "+15005550006"
CALLER = "+14155550123"
SETTINGS: Mapping[str, Any] = {
    "business.name": "Smith & Sons Plumbing",
    "business.phone_number": NUMBER,
    "forwarding.numbers": ["+15005550010"],
    "textback.delay_seconds": 0,
    "followup.delay_seconds": 600,
    "business.hours": {
        d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    },
}


def _preset(database_url: str) -> None:
    db = Database(database_url)
    try:
        migrate.upgrade(db.engine)

        def work(uow: UnitOfWork) -> None:
            settings_store.apply_changes(
                uow.session, SETTINGS, actor="test", now=SystemClock().now()
            )
            uow.commit()

        db.run_sync(work)
    finally:
        db.close()


@contextlib.asynccontextmanager
async def demo_runtime(
    database_url: str, data_dir: Path
) -> AsyncIterator[tuple[Runtime, DemoCarrier]]:
    await asyncio.to_thread(_preset, database_url)
    carrier = DemoCarrier(new_auth_token(), number=NUMBER, status_delays=(0.05, 0.15))
    token = carrier.auth_token
    runtime = Runtime(
        AppConfig(
            data_dir=data_dir,
            database_url=database_url,
            host="127.0.0.1",
            port=0,
            public_url=None,
            twilio_base_url=None,
        ),
        carrier=carrier,
        auth_token=lambda: token,
        endpoint=lambda: LoopbackEndpoint(carrier),
    )
    await runtime.start()
    try:
        yield runtime, carrier
    finally:
        await runtime.stop()


async def _wait(check: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)


def test_demo_loop_end_to_end(database_url: str, data_dir: Path) -> None:
    async def scenario() -> None:
        async with demo_runtime(database_url, data_dir) as (runtime, carrier):
            assert carrier.base_url == runtime.public_url == runtime.receiver.local_url()
            sid = await carrier.simulate_missed_call(CALLER, name="Maria Lopez")
            assert sid.startswith("CA") and len(sid) == 34

            sent = await carrier.wait_for_sent(1)
            assert sent[0].to == CALLER
            assert sent[0].from_ == NUMBER
            assert sent[0].sid.startswith("SM")
            assert sent[0].body.startswith("Hi there, this is Smith & Sons Plumbing.")

            calls = await runtime.inbox.missed_calls()
            assert [c.sid for c in calls] == [sid]
            contact_id = calls[0].contact_id
            assert contact_id is not None

            async def delivered() -> bool:
                items = await runtime.inbox.thread(contact_id)
                out = [i for i in items if isinstance(i, MessageItem) and i.direction == "out"]
                return bool(out) and out[-1].status == "delivered"

            await _wait(delivered)
            await carrier.wait_for_status(sent[0].sid, "delivered")
            assert (await runtime.inbox.missed_calls())[0].textback_status == "delivered"

            await carrier.simulate_reply(CALLER, "Yes please, the sink is leaking")
            thread = await runtime.inbox.thread(contact_id)
            assert getattr(thread[-1], "body", None) == "Yes please, the sink is leaking"
            call = (await runtime.inbox.missed_calls())[0]
            assert call.replied and call.followup_state == "cancelled"

            # Every webhook was accepted after a real signature check against the URL.
            await carrier.idle()
            records = list(runtime.webhooks.recent)
            assert records and all(r.status < 400 for r in records)
            assert all(
                r.checked_url and r.checked_url.startswith(carrier.base_url or "-") for r in records
            )
            paths = {r.path for r in records}
            assert paths == {
                "/twilio/voice",
                "/twilio/voice/dial-result",
                "/twilio/voice/status",
                "/twilio/sms/status",
                "/twilio/sms",
            }
            # The carrier's log serves reconciliation (list_messages) like Twilio's.
            since = datetime.now(UTC) - timedelta(minutes=5)
            found = await carrier.list_messages(to=CALLER, from_=NUMBER, date_sent_after=since)
            assert [m.sid for m in found] == [sent[0].sid]
            assert found[0].status == "delivered"
            assert [c.sid for c in await carrier.list_calls(to=NUMBER)][-1] == sid

    asyncio.run(scenario())


def test_wrongly_signed_simulation_is_refused(database_url: str, data_dir: Path) -> None:
    async def scenario() -> None:
        async with demo_runtime(database_url, data_dir) as (runtime, carrier):
            impostor = DemoCarrier(new_auth_token(), number=NUMBER)
            await impostor.start()
            try:
                assert carrier.base_url is not None
                impostor.attach(carrier.base_url)
                with pytest.raises(DemoCarrierError) as err:
                    await impostor.simulate_reply(CALLER, "hello")
                assert err.value.status == 403
            finally:
                await impostor.close()
            assert await runtime.inbox.conversations() == []
            assert runtime.webhooks.recent[-1].status == 403

    asyncio.run(scenario())


def test_carrier_refuses_like_twilio() -> None:
    async def scenario() -> None:
        carrier = DemoCarrier(new_auth_token(), number=NUMBER, status_delays=(0, 0))
        await carrier.start()
        try:
            with pytest.raises(NotTextableError) as bad:
                await carrier.send_sms(to="+1555", from_=NUMBER, body="hi", status_callback=None)
            assert bad.value.code == 21211
            # Not attached: the STOP is recorded at the carrier, the POST fails.
            with pytest.raises(DemoCarrierError):
                await carrier.simulate_reply(CALLER, "STOP")
            with pytest.raises(OptedOutError) as stopped:
                await carrier.send_sms(to=CALLER, from_=NUMBER, body="hi", status_callback=None)
            assert stopped.value.code == 21610
            with contextlib.suppress(DemoCarrierError):
                await carrier.simulate_reply(CALLER, "START")
            ok = await carrier.send_sms(to=CALLER, from_=NUMBER, body="hi", status_callback=None)
            assert ok.status == "queued" and ok.num_segments == 1
            await carrier.idle()
            assert carrier.sent[-1].status == "delivered"
        finally:
            await carrier.close()

    asyncio.run(scenario())


def test_demo_workspace_is_seeded_once(tmp_path: Path) -> None:
    from desktop import config as config_mod
    from desktop.demo import DemoRuntime, build_demo_runtime

    config = config_mod.resolve(data_dir=str(tmp_path / "data"), environ={})

    async def scenario() -> None:
        runtime, carrier = await build_demo_runtime(config, settings={"textback.delay_seconds": 1})
        assert isinstance(runtime, DemoRuntime)
        assert runtime.config.data_dir == config.data_dir / "demo"
        assert runtime.config.database_url.endswith("/demo/frontdesk.db")
        await runtime.start()
        try:
            await runtime.wait_seeded()
            rows = await runtime.inbox.conversations()
            assert len(rows) == 3
            assert {r.name for r in rows} >= {"Maria Lopez", "James Whitaker"}
            # Three missed calls nobody opened (each unread) and the two callers who replied.
            assert sum(r.unread for r in rows) == 5
            assert len(carrier.sent) == 3
            assert any(
                m.body.startswith("Hi Maria, this is Demo Plumbing Co.") for m in carrier.sent
            )
            cfg = await runtime.inbox.settings()
            assert cfg["business.name"] == "Demo Plumbing Co."
        finally:
            await runtime.stop()

        again, carrier2 = await build_demo_runtime(config)
        await again.start()
        try:
            await again.wait_seeded()
            assert len(await again.inbox.conversations()) == 3  # not seeded twice
            assert carrier2.sent == []
        finally:
            await again.stop()

    asyncio.run(scenario())
