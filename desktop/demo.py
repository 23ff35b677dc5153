"""The demo workspace: the real engine on a simulated carrier (``frontdesk demo``).

:func:`build_demo_runtime` builds the same :class:`~desktop.runtime.Runtime` as the live
app, with a :class:`~services.demo_carrier.DemoCarrier` in place of Twilio. The demo has
its own data dir (``<data dir>/demo``) and SQLite database, listens on a free loopback
port, and checks webhook signatures like production, with an auth token that is random
per run. Nothing is sent to real phones.

Like :func:`desktop.live.build_live_runtime` it returns the runtime *not started*:
``await runtime.start()`` starts it and, on a fresh demo workspace, seeds a few
conversations through the real loop (simulated missed calls and replies) in the
background; ``await runtime.stop()`` stops everything, seeding included.

The demo window's actions::

    runtime, carrier = await build_demo_runtime(config)
    await runtime.start()
    actions = DemoActions(carrier)
    bar = DemoBar(actions.missed_call, actions.reply)   # ui.demo_bar
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
from collections.abc import Mapping
from typing import Any

from desktop.config import AppConfig
from desktop.runtime import Runtime
from services import settings_store
from services.clock import SystemClock
from services.demo_carrier import DemoCarrier, LoopbackEndpoint, new_auth_token
from services.private_files import private_dir
from services.storage import migrate
from services.storage.database import Database, UnitOfWork, default_sqlite_url
from services.tasks import TaskSet

__all__ = [
    "DEMO_NUMBER",
    "DEMO_SETTINGS",
    "DemoActions",
    "DemoRuntime",
    "build_demo_runtime",
    "demo_config",
    "random_caller",
]

log = logging.getLogger(__name__)

DEMO_NUMBER = "+15005550006"  # Twilio's "valid number" test number
DEMO_OFFICE_PHONE = "+15005550010"
ALL_WEEK = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}

DEMO_SETTINGS: Mapping[str, Any] = {
    "business.name": "Demo Plumbing Co.",
    "business.phone_number": DEMO_NUMBER,
    "business.booking_link": "https://book.example.com/demo-plumbing",
    "business.hours": ALL_WEEK,
    "forwarding.numbers": [DEMO_OFFICE_PHONE],
    "forwarding.ring_seconds": 20,
    "textback.enabled": True,
    "textback.delay_seconds": 5,  # long enough to watch the countdown
    "textback.repeat_window_minutes": 0,  # the demo may call from one number many times
    "followup.delay_seconds": 120,
    "team.members": ["Dana", "Luis"],
    "team.me": "Dana",
}

# Area codes of real US cities; the 555-01XX block is reserved for fiction.
_AREA_CODES = ("212", "312", "415", "512", "617", "206", "303", "404", "602", "702")
_FIRST = ("Maria", "James", "Aisha", "Tom", "Priya", "Carlos", "Emily", "Noah", "Grace", "Omar")
_LAST = ("Lopez", "Whitaker", "Khan", "Nguyen", "Okafor", "Schmidt", "Rossi", "Park")
_REPLIES = (
    "Yes please! The kitchen sink is leaking under the cabinet. Can someone come today?",
    "Hi, our water heater stopped working this morning. Any chance of a visit tomorrow?",
    "Thanks for getting back to me. How much do you charge to unclog a shower drain?",
    "Can you book me in for Thursday afternoon? Toilet keeps running.",
    "Is there an emergency call-out fee? There's water coming through the ceiling.",
)

# (caller, name or None, reply or None): what a fresh demo workspace starts with.
_SEED: tuple[tuple[str, str | None, str | None], ...] = (
    ("+14155550123", "Maria Lopez", _REPLIES[0]),
    ("+13125550142", "James Whitaker", None),
    ("+16175550111", None, _REPLIES[1]),
)


def random_caller(rng: random.Random | None = None) -> str:
    """A fictional US number (555-01XX) for a simulated caller."""
    r = rng or random
    return f"+1{r.choice(_AREA_CODES)}55501{r.randrange(100):02d}"


def demo_config(config: AppConfig) -> AppConfig:
    """The demo workspace's config: ``<data dir>/demo``, its own SQLite, a free port."""
    folder = private_dir(config.data_dir / "demo")
    return dataclasses.replace(
        config,
        data_dir=folder,
        database_url=default_sqlite_url(folder),
        host="127.0.0.1",
        port=0,
        public_url=None,
        twilio_base_url=None,
    )


def _prepare(
    database_url: str, values: Mapping[str, Any], answers: Mapping[str, Any] | None = None
) -> bool:
    """Migrate; store the demo settings on a fresh workspace, then the owner's own
    ``answers`` (fresh or not: what the wizard asked wins). True when it was fresh."""
    db = Database(database_url)
    try:
        migrate.upgrade(db.engine)

        def work(uow: UnitOfWork) -> bool:
            current = settings_store.load(uow.session)
            fresh = not current["business.phone_number"]
            if fresh:
                settings_store.apply_changes(
                    uow.session, values, actor="demo", now=SystemClock().now()
                )
            if answers:
                settings_store.apply_changes(
                    uow.session, answers, actor="first-run wizard", now=SystemClock().now()
                )
            uow.commit()
            return fresh

        return db.run_sync(work)
    finally:
        db.close()


class DemoRuntime(Runtime):
    """A :class:`Runtime` that seeds a fresh demo workspace after it starts."""

    def __init__(self, config: AppConfig, *, carrier: DemoCarrier, seed: bool) -> None:
        token = carrier.auth_token
        super().__init__(
            config,
            carrier=carrier,
            auth_token=lambda: token,
            endpoint=lambda: LoopbackEndpoint(carrier),
        )
        self.demo_carrier = carrier
        self._seed = seed
        self._seeding = TaskSet("demo-seed")
        self._seed_task: asyncio.Task[Any] | None = None

    async def start(self) -> None:
        await super().start()
        if self._seed:
            self._seed_task = self._seeding.spawn(self._seed_workspace(), name="demo-seed")

    async def wait_seeded(self) -> None:
        """Wait until the first-run seeding is done (no-op when nothing was seeded)."""
        if self._seed_task is not None:
            await asyncio.shield(self._seed_task)

    async def stop(self) -> None:
        await self._seeding.close(grace=0)
        await super().stop()

    async def _seed_workspace(self) -> None:
        """A few conversations through the real loop: missed calls, text-backs, replies."""
        carrier = self.demo_carrier
        before = len(carrier.sent)
        for caller, name, _reply in _SEED:
            await carrier.simulate_missed_call(caller, name=name)
            if name:
                await self._rename(caller, name)
        # The text-backs go out after textback.delay_seconds; the replies follow them.
        delay = (await self.inbox.settings())["textback.delay_seconds"]
        with contextlib.suppress(TimeoutError):
            await carrier.wait_for_sent(before + len(_SEED), timeout=delay + 15)
        for caller, _name, reply in _SEED:
            if reply:
                await carrier.simulate_reply(caller, reply)
        log.info("demo workspace seeded with %d conversations", len(_SEED))

    async def _rename(self, phone: str, name: str) -> None:
        for call in await self.inbox.missed_calls(limit=20):
            if call.phone == phone and call.contact_id is not None:
                await self.inbox.rename(call.contact_id, name, actor="demo")
                return


async def build_demo_runtime(
    config: AppConfig,
    *,
    seed: bool = True,
    settings: Mapping[str, Any] | None = None,
    answers: Mapping[str, Any] | None = None,
) -> tuple[Runtime, DemoCarrier]:
    """The runtime on the demo workspace and its simulated carrier (not started).

    ``settings`` override :data:`DEMO_SETTINGS` on a fresh workspace (the selftest uses
    that); ``answers`` (what the first-run wizard asked: business name, phones, texts)
    are stored on the demo workspace whether fresh or not; ``seed=False`` leaves the
    inbox empty.
    """
    cfg = demo_config(config)
    fresh = await asyncio.to_thread(
        _prepare, cfg.database_url, {**DEMO_SETTINGS, **(settings or {})}, answers
    )
    carrier = DemoCarrier(new_auth_token(), number=DEMO_NUMBER)
    runtime = DemoRuntime(cfg, carrier=carrier, seed=seed and fresh)
    return runtime, carrier


class DemoActions:
    """What the demo bar's buttons do. Each returns a sentence saying what happened."""

    def __init__(self, carrier: DemoCarrier, rng: random.Random | None = None) -> None:
        self._carrier = carrier
        self._rng = rng or random.Random()
        self._callers: list[str] = []
        self._replied: set[str] = set()

    async def missed_call(self) -> str:
        caller = random_caller(self._rng)
        name = f"{self._rng.choice(_FIRST)} {self._rng.choice(_LAST)}"
        await self._carrier.simulate_missed_call(caller, name=name)
        self._callers.append(caller)
        return f"Simulated a missed call from {caller}"

    async def reply(self) -> str:
        """A reply from the newest texted caller who has not replied yet (else the newest
        simulated caller, else a new number)."""
        texted = [m.to for m in reversed(self._carrier.sent) if m.to not in self._replied]
        caller = texted[0] if texted else (self._callers[-1] if self._callers else None)
        caller = caller or random_caller(self._rng)
        await self._carrier.simulate_reply(caller, self._rng.choice(_REPLIES))
        self._replied.add(caller)
        return f"Simulated a reply from {caller}"
