"""The engine's real object graph for tests: a Runtime on a real database, a real
receiver on loopback, the real Twilio gateway talking HTTP to the Twilio stand-in.

Used inside a running loop (``asyncio.run`` in service tests, the qasync loop in UI
tests)::

    async with running_app(database_url, data_dir, standin) as app:
        await app.missed_call("+15005550006")
        await app.idle()
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from desktop.config import AppConfig
from desktop.runtime import Runtime
from services import settings_store
from services.clock import SystemClock
from services.gateway import TwilioGateway
from services.receiver import PATHS
from services.storage import migrate
from services.storage.database import Database, UnitOfWork
from services.tunnel import FixedPublicUrl, PublicEndpoint
from tests.signing import post_signed
from tests.twilio_standin import TwilioStandIn

PUBLIC_URL = "https://frontdesk-test.example.com"
BUSINESS = "+15005550001"
OFFICE_PHONE = "+15005550002"

_sids = itertools.count(1)


def call_sid() -> str:
    return f"CA{next(_sids):032x}"


def message_sid() -> str:
    return f"SM{next(_sids):032x}"


@dataclass
class TestApp:
    """The running app as a test drives it (not a test class: ``__test__`` is off)."""

    __test__ = False
    runtime: Runtime
    standin: TwilioStandIn
    session: aiohttp.ClientSession

    @property
    def inbox(self) -> Any:
        return self.runtime.inbox

    @property
    def engine(self) -> Any:
        return self.runtime.engine

    async def post(
        self, name: str, params: Mapping[str, str], *, token: str | None = None
    ) -> tuple[int, str]:
        """POST a webhook signed as Twilio signs it (against the public URL)."""
        local = self.runtime.receiver.local_url()
        assert local is not None
        status, _ctype, body = await post_signed(
            self.session,
            local,
            PUBLIC_URL,
            PATHS[name],
            params,
            token or self.standin.auth_token,
        )
        return status, body

    async def set(self, **changes: Any) -> None:
        await self.inbox.update_settings(
            {key.replace("__", "."): value for key, value in changes.items()}, actor="test"
        )

    async def missed_call(
        self,
        caller: str,
        *,
        sid: str | None = None,
        dial_status: str = "no-answer",
        to: str = BUSINESS,
    ) -> str:
        """A call to ``to`` (a location's number) that rings its phones and is not
        answered: voice, Dial result, status."""
        sid = sid or call_sid()
        base = {
            "CallSid": sid,
            "From": caller,
            "To": to,
            "AccountSid": self.standin.account_sid,
        }
        status, _ = await self.post("voice", {**base, "CallStatus": "ringing"})
        assert status == 200
        status, _ = await self.post(
            "dial_result", {**base, "CallStatus": "in-progress", "DialCallStatus": dial_status}
        )
        assert status == 200
        status, _ = await self.post("call_status", {**base, "CallStatus": "completed"})
        assert status == 204
        return sid

    async def reply(self, caller: str, body: str, **extra: str) -> str:
        sid = message_sid()
        status, _ = await self.post(
            "sms",
            {
                "MessageSid": sid,
                "From": caller,
                "To": BUSINESS,
                "Body": body,
                "NumMedia": "0",
                **extra,
            },
        )
        assert status == 200
        return sid

    async def add_location(self, name: str, number: str, values: Mapping[str, Any]) -> int:
        """Add a location (issue 13) as the Locations pane does: stored, then announced;
        its id. The stand-in owns its number."""
        from services import location_store
        from services.events import SettingsChanged

        if not any(n.get("phone_number") == number for n in self.standin.numbers):
            self.standin.add_number(number)
        now = self.runtime.clock.now()

        def work(uow: UnitOfWork) -> int:
            location = location_store.add(uow.session, name, number, actor="test", now=now)
            if values:
                location_store.set_values(uow.session, location.id, values, actor="test", now=now)
            uow.commit()
            return location.id

        location_id: int = await self.runtime.db.run(work)
        self.runtime.bus.publish(SettingsChanged(("locations",)))
        return location_id

    async def idle(self) -> None:
        await self.runtime.engine.idle()

    async def until(self, what: str, check: Callable[[], Any], timeout: float = 10.0) -> None:
        """Let the engine work until ``await check()`` is true (waits on work, not time:
        the deadline only turns a hang into a failure)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await check():
            if loop.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.01)
            await self.idle()

    async def jobs(self) -> list[tuple[str, str]]:
        """Every job as (kind, state), oldest first."""

        def read(uow: UnitOfWork) -> list[tuple[str, str]]:
            from sqlalchemy import select

            from services.storage.models import Job

            return [(j.kind, j.state) for j in uow.session.scalars(select(Job).order_by(Job.id))]

        return await self.runtime.db.run(read)

    async def outbound(self) -> list[Any]:
        """Every outbound message row: (sid, body, status, kind, error), oldest first."""

        def read(uow: UnitOfWork) -> list[Any]:
            from sqlalchemy import select

            from services.storage.models import Message

            rows = uow.session.scalars(
                select(Message).where(Message.direction == "out").order_by(Message.id)
            )
            return [(m.sid, m.body, m.status, m.kind, m.error_message) for m in rows]

        return await self.runtime.db.run(read)


def _preset(database_url: str, values: Mapping[str, Any]) -> None:
    """Write settings before start, as an office's saved settings would be."""
    db = Database(database_url)
    try:
        migrate.upgrade(db.engine)

        def work(uow: UnitOfWork) -> None:
            settings_store.apply_changes(uow.session, values, actor="test", now=SystemClock().now())
            uow.commit()

        db.run_sync(work)
    finally:
        db.close()


def app_config(database_url: str, data_dir: Path) -> AppConfig:
    return AppConfig(
        data_dir=data_dir,
        database_url=database_url,
        host="127.0.0.1",
        port=0,
        public_url=PUBLIC_URL,
        twilio_base_url=None,
    )


@contextlib.asynccontextmanager
async def running_app(
    database_url: str,
    data_dir: Path,
    standin: TwilioStandIn,
    *,
    settings: Mapping[str, Any] | None = None,
    clock: Any = None,
    endpoint: Callable[[], PublicEndpoint] | None = None,
    tunnel_check_interval: float | None = None,
    configure: Callable[[Runtime], None] | None = None,
    gateway_timeout: float = 30.0,
) -> AsyncIterator[TestApp]:
    """The runtime on the stand-in, started; stopped (cleanly, going offline) on exit.

    ``endpoint`` replaces the fixed public URL (e.g. a fake ngrok tunnel);
    ``configure`` may adjust the runtime before it starts; ``gateway_timeout`` bounds
    each request to the stand-in (seconds).
    """
    if not any(n.get("phone_number") == BUSINESS for n in standin.numbers):
        standin.add_number(BUSINESS)
    gateway = TwilioGateway(
        standin.account_sid,
        standin.auth_token,
        base_url=standin.base_url,
        backoff_seconds=0.01,
        timeout_seconds=gateway_timeout,
    )
    runtime = Runtime(
        app_config(database_url, data_dir),
        carrier=gateway,
        auth_token=lambda: standin.auth_token,
        endpoint=endpoint or (lambda: FixedPublicUrl(PUBLIC_URL)),
        number_admin=gateway,
        clock=clock,
    )
    if tunnel_check_interval is not None:
        runtime.tunnel_check_interval = tunnel_check_interval
    if configure is not None:
        configure(runtime)
    base = {
        "business.name": "Smith & Sons Plumbing",
        "business.phone_number": BUSINESS,
        "forwarding.numbers": [OFFICE_PHONE],
        "textback.delay_seconds": 0,
        "business.hours": {
            d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        },
    }
    await asyncio.to_thread(_preset, database_url, {**base, **(settings or {})})
    await runtime.start()
    local = runtime.receiver.local_url()
    if endpoint is None and local is not None:
        standin.expose(PUBLIC_URL, local)  # the tunnel: Twilio's fetches reach the receiver
    session = aiohttp.ClientSession()
    try:
        yield TestApp(runtime, standin, session)
    finally:
        await session.close()
        await runtime.stop()
