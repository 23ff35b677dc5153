"""The composition root of the engine: one place builds every service and wires them.

``frontdesk serve``, the desktop app, the demo and the tests all build a
:class:`Runtime`; only what differs (the carrier, the clock, the public URL) is passed
in. Nothing here runs at import time; :meth:`Runtime.start` must be awaited on the
running loop and :meth:`Runtime.stop` undoes it in reverse order.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from desktop.config import AppConfig
from services import sync_state
from services.account_check import number_problems
from services.attachments import PhotoStore
from services.catchup import CatchUp
from services.clock import Clock, SystemClock
from services.engine import Engine
from services.events import (
    EventBus,
    EverythingChanged,
    OfficeChanged,
    SettingsChanged,
    WebhookSeen,
)
from services.holder import AdvisoryLock, HolderLock, SoloLock
from services.inbox import Inbox
from services.integrations.endpoints import MemoryVault, SecretVault
from services.integrations.service import Integrations
from services.location_admin import LocationAdmin
from services.location_wiring import LocationWiring, WireOutcome
from services.office import Office
from services.office_bus import OfficeChannel
from services.ports import Carrier
from services.presence import TYPING, Presence
from services.prices import PriceFetcher, PriceSource
from services.receiver import WebhookReceiver, WebhookRecord
from services.refusals import RefusalLog
from services.scheduler import Scheduler
from services.storage import migrate
from services.storage.database import Database, UnitOfWork
from services.tasks import TaskSet
from services.this_pc import ThisPc
from services.tunnel import PublicEndpoint, TunnelSupervisor
from services.wiring import FALLBACK_KEYS, NumberAdmin, WiringError

HOLDER_URL_KEY = "office.holder_url"
# A settings change with one of these keys may add, remove or renumber a location.
NUMBER_KEYS = frozenset({"locations", "business.phone_number"})

log = logging.getLogger(__name__)


# The event loop (webhooks, the GUI) shares the GIL with the database's worker thread,
# which runs Python (SQLAlchemy) for milliseconds at a stretch. Each time the loop comes
# back from a socket call it waits for the GIL, up to the switch interval (5 ms by
# default), and a webhook makes several such calls: under a burst that wait was most of
# the loop's time (profiled: ~1.5 ms per socket send). Half a millisecond hands the GIL
# back to the loop promptly; the worker's throughput barely changes.
GIL_SWITCH_SECONDS = 0.0005


async def _cancelled(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` (if any) and wait until it has stopped."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def favour_the_event_loop() -> None:
    """Set the process's GIL switch interval for a loop that shares the GIL with the
    database worker (:data:`GIL_SWITCH_SECONDS`). A process-wide setting: the entry
    points that run the engine (``frontdesk serve``, the desktop app) call it once."""
    sys.setswitchinterval(GIL_SWITCH_SECONDS)


class ManagedCarrier(Carrier, Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...


@dataclass
class WebhookLog:
    """The newest webhook records in memory (the health panel); refusals are also
    counted in the database (:class:`services.refusals.RefusalLog`)."""

    recent: collections.deque[WebhookRecord] = field(
        default_factory=lambda: collections.deque(maxlen=200)
    )

    @property
    def last_accepted(self) -> WebhookRecord | None:
        return next((r for r in reversed(self.recent) if r.status < 400), None)


class OfficeScheduler(Scheduler):
    """The scheduler, plus: a wake on a desk client (which runs no scheduler) tells the
    number holder through the office channel, so a job added here runs there at once."""

    remote_wake: Callable[[], None] | None = None

    def wake(self) -> None:
        super().wake()
        if self.remote_wake is not None:
            self.remote_wake()


class Runtime:
    """Database, event bus, engine, scheduler, inbox and receiver for one data dir.

    On a shared PostgreSQL database only the number holder (see :mod:`services.office`)
    runs the receiver, tunnel, wiring, scheduler, recovery and catch-up; every process
    has the database, the event bus (joined to the other PCs' by
    :class:`~services.office_bus.OfficeChannel`), the inbox and the engine for replies.
    """

    def __init__(
        self,
        config: AppConfig,
        *,
        carrier: ManagedCarrier,
        auth_token: Callable[[], str | None],
        endpoint: Callable[[], PublicEndpoint] | None,
        number_admin: NumberAdmin | None = None,
        clock: Clock | None = None,
        secrets: SecretVault | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or SystemClock()
        self.carrier = carrier
        self.bus = EventBus()
        self.db = Database(config.database_url)
        self.this_pc = ThisPc(config.data_dir)
        self.pc_name = self.this_pc.pc_name
        self.origin = uuid.uuid4().hex
        self.scheduler = OfficeScheduler(self.db, self.clock)
        self.public_url: str | None = None
        self.holder_url: str | None = None  # the holder's public URL (desk clients)
        self._endpoint_factory = endpoint
        self.tunnel: TunnelSupervisor | None = None
        # Photos the desk texts: kept in the data dir, fetched by Twilio under links
        # signed with a key derived from the auth token (no other secret to store).
        self.photos = PhotoStore(
            config.data_dir / "attachments", auth_token=auth_token, clock=self.clock
        )
        self.engine = Engine(
            self.db,
            carrier,
            self.bus,
            self.clock,
            self.scheduler,
            # A desk client's replies ask for delivery status at the holder's receiver.
            public_url=lambda: self.public_url or self.holder_url,
            sends_here=lambda: self.holding,
            voicemail_dir=config.data_dir / "voicemail",
            photos=self.photos,
        )
        self.inbox = Inbox(self.db, self.bus, self.clock, this_pc=self.this_pc)
        self.locations = LocationAdmin(
            self.db, self.bus, self.clock, check_number=self._number_problems
        )
        # Outbound webhooks and HubSpot: every PC edits them, the holder delivers.
        self.integrations = Integrations(
            self.db, self.bus, self.clock, secrets if secrets is not None else MemoryVault()
        )
        self.webhooks = WebhookLog()
        self.refusals = RefusalLog(self.db)
        self._refusal_flush: asyncio.Task[None] | None = None
        self.receiver = WebhookReceiver(
            self.engine,
            auth_token=auth_token,
            public_url=lambda: self.public_url,
            on_record=self._on_webhook,
            media=self.photos,
        )
        self._number_admin = number_admin
        # Every location's number, pointed here by the holder (services/location_wiring).
        self.numbers = LocationWiring(number_admin, self.db) if number_admin else None
        self._renumbering = TaskSet("numbers")  # re-wiring after a location change
        # How often the holder looks for location changes no event announced.
        self.numbers_check_seconds = 30.0
        self._numbers_watch: asyncio.Task[None] | None = None
        self._background = TaskSet("runtime")
        self._tidy_task: asyncio.Task[None] | None = None
        self.wiring_error: str | None = None
        self.tunnel_wait_seconds = 30.0
        self.tunnel_check_interval = 30.0
        self._first_url = asyncio.Event()
        self.catchup = CatchUp(
            self.db, carrier, self.engine, self.clock, callbacks=self.engine.callbacks
        )
        # Twilio settles prices after the fact: the holder asks for them (services/prices).
        self.prices = (
            PriceFetcher(self.db, carrier, self.clock) if isinstance(carrier, PriceSource) else None
        )
        self._price_task: asyncio.Task[None] | None = None
        self.catchup_error: str | None = None
        self._disconnected = False  # the owner pressed Disconnect: leave the number alone
        shared = self.db.dialect == "postgresql"
        self.channel: OfficeChannel | None = None
        lock: HolderLock = SoloLock(self.pc_name)
        if shared:
            self.channel = OfficeChannel(
                config.database_url, self.bus, self.origin, on_control=self._on_control
            )
            lock = AdvisoryLock(config.database_url, self.pc_name)
        self.office = Office(
            lock,
            self,
            self.bus,
            pc_name=self.pc_name,
            send_control=self.channel.send_control if self.channel else None,
        )
        self.presence = Presence(self.bus, self.channel.send_control if self.channel else None)
        self._jobs_wake_pending = False
        if self.channel is not None:
            self.scheduler.remote_wake = self._wake_holder
        self.bus.subscribe(self._on_office_event)

    @property
    def number_admin(self) -> NumberAdmin | None:
        return self._number_admin

    async def _number_problems(self, number: str) -> list[str]:
        """Why ``number`` cannot be a location's number on this account ([]: it can)."""
        if self._number_admin is None:
            return []  # simulated (the demo): every number is the demo carrier's
        return await number_problems(self._number_admin, number)

    @property
    def wired(self) -> bool:
        """True once this run pointed a location's number here (until offline /
        disconnected / handed over); :attr:`numbers` says which."""
        return self.numbers is not None and bool(self.numbers.wired)

    @property
    def go_offline_timeout(self) -> float:
        """Seconds each number may take to go offline on the way out."""
        return self.numbers.offline_timeout if self.numbers is not None else 15.0

    @go_offline_timeout.setter
    def go_offline_timeout(self, seconds: float) -> None:
        if self.numbers is not None:
            self.numbers.offline_timeout = seconds

    @property
    def disconnected(self) -> bool:
        return self._disconnected

    @property
    def holding(self) -> bool:
        """True while this process holds the business number (always, on SQLite)."""
        return self.office.holding

    async def start(self) -> None:
        """Migrate, start the carrier, join the office; the holder then starts the engine,
        listens and wires the number (a desk client leaves all that to the holder)."""
        await self.db.run(lambda _uow: migrate.upgrade(self.db.engine))
        await self.carrier.start()
        if self.channel is not None:
            await self.channel.start()
        await self.office.start()
        if not self.holding:
            await self._read_holder_url()
        # Every PC's own voicemail copies (the holder also prunes: services/voicemail.py).
        self._tidy_task = asyncio.get_running_loop().create_task(
            self.engine.voicemails.tidy_daily(), name="voicemail-tidy"
        )

    # ---- the number holder's duties (services.office.HolderDuties) ----------------------
    async def take(self) -> None:
        """Become the holder: reconcile in-flight sends, run jobs, listen, wire, catch up."""
        await self.engine.start()
        await self.integrations.start()
        if self.prices is not None and self._price_task is None:
            self._price_task = self._background.spawn(self.prices.run(), name="prices")
        if self.numbers is not None and self._numbers_watch is None:
            self._numbers_watch = self._background.spawn(self._watch_numbers(), name="numbers")
        port = await self.receiver.start(self.config.host, self.config.port)
        if self._endpoint_factory is not None:
            self._first_url = asyncio.Event()
            self.tunnel = TunnelSupervisor(
                self._endpoint_factory,
                port,
                self._url_changed,
                check_interval=self.tunnel_check_interval,
            )
            await self.tunnel.start()
            # Serve only once Twilio can reach us (webhooks signed for the public URL
            # would be refused before it is known); a tunnel that cannot start is reported
            # by the supervisor and retried in the background.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._first_url.wait(), self.tunnel_wait_seconds)

    async def give_up(self, *, go_offline: bool) -> None:
        """Stop the holder's duties; the number goes to the offline fallback only when
        ``go_offline`` (the last PC to leave): a hand-over leaves it to the next holder."""
        watch, self._numbers_watch = self._numbers_watch, None
        await _cancelled(watch)
        # A re-wiring under way finishes first: what it wired is then taken offline too.
        await self._renumbering.close()
        if go_offline:
            await self.go_offline()
        if self.numbers is not None:
            self.numbers.forget()  # the next holder wires them; this PC no longer does
        await self._stop_prices()
        if self.tunnel is not None:
            await self.tunnel.stop()
            self.tunnel = None
        await self.receiver.stop()
        await self.integrations.stop()
        await self.engine.stop()
        self.public_url = None

    async def _stop_prices(self) -> None:
        task, self._price_task = self._price_task, None
        await _cancelled(task)

    async def request_takeover(self) -> None:
        """A desk client asks the holder for the number (see :class:`Office`)."""
        await self.office.request_takeover()

    def _on_control(self, kind: str, message: dict[str, object]) -> None:
        if kind == "jobs":
            if self.holding:
                Scheduler.wake(self.scheduler)
            return
        if kind == TYPING:
            self.presence.received(message)
            return
        self.office.on_control(kind, message)

    def _wake_holder(self) -> None:
        if self.holding or self.channel is None or self._jobs_wake_pending:
            return
        self._jobs_wake_pending = True

        def send() -> None:
            self._jobs_wake_pending = False
            if self.channel is not None:
                self.channel.send_control("jobs")

        # A burst of wakes (one per job of a batch) becomes one notification.
        asyncio.get_running_loop().call_soon(send)

    def _on_office_event(self, event: object) -> None:
        if isinstance(event, OfficeChanged) and not event.holding:
            self._background.spawn(self._read_holder_url(), name="holder-url")
        elif self._renumbered(event):
            # A location added, removed or renumbered (here or on another PC): the holder
            # wires the new number and catches it up, and releases the old one. An offline
            # setting changed: each number's fallback is set again (nothing else changes).
            self._renumbering.spawn(self._numbers_changed(), name="numbers-changed")

    def _renumbered(self, event: object) -> bool:
        """True when ``event`` may change which numbers this holder must wire, or how: a
        settings change naming them or their offline fallback, or EverythingChanged (the
        office channel reconnected, and such a change may have been among the
        notifications lost meanwhile)."""
        if not (self.holding and self.public_url and self.numbers is not None):
            return False
        if isinstance(event, SettingsChanged):
            return bool((NUMBER_KEYS | FALLBACK_KEYS).intersection(event.keys))
        return isinstance(event, EverythingChanged)

    async def numbers_settled(self) -> None:
        """Wait until the re-wiring after location changes so far has finished."""
        await self._renumbering.drain()

    async def check_numbers(self) -> bool:
        """Re-wire when the stored locations' numbers are not those this holder wired (or
        tried to): a change no event announced, such as ``frontdesk location add`` run in
        a process that has no office channel. True when it re-wired."""
        if not (self.holding and self.public_url and self.numbers is not None):
            return False
        if self._disconnected:
            return False
        stored = set((await self.locations.locations()).numbers())
        known = set(self.numbers.wired) | (set(self.numbers.errors) - {""})
        if stored == known:
            return False
        await self._numbers_changed()
        return True

    async def _watch_numbers(self) -> None:
        while True:
            await asyncio.sleep(self.numbers_check_seconds)
            try:
                await self.check_numbers()
            except Exception:  # the next check tries again
                log.exception("checking the locations' numbers failed")

    async def _numbers_changed(self) -> None:
        outcome = await self.rewire()
        if outcome is not None and outcome.new:
            await self.catch_up(outcome.new)

    async def _read_holder_url(self) -> None:
        def read(uow: UnitOfWork) -> str | None:
            value = sync_state.get(uow.session, HOLDER_URL_KEY)
            return value if isinstance(value, str) else None

        self.holder_url = await self.db.run(read)

    async def _url_changed(self, url: str | None) -> None:
        self.public_url = url
        if url:
            await self.rewire()
            if self.wired:
                # Calls and texts that reached the number while it was not pointed here
                # (app closed, tunnel down) are in Twilio's logs: record them now.
                await self.catch_up()
            self._first_url.set()

    async def catch_up(self, numbers: Sequence[str] | None = None) -> None:
        """Record what reached ``numbers`` (default: every location's number, or those
        pointed here when this runtime wires them) while we were not listening."""
        if numbers is None:
            numbers = (await self.locations.locations()).numbers()
            if self.numbers is not None:
                numbers = [n for n in numbers if n in self.numbers.wired]
        problems: list[str] = []
        for phone in numbers:
            try:
                await self.catchup.run(phone)
            except Exception as exc:  # the next re-wire or start tries again
                problems.append(f"{phone}: {exc}" if len(numbers) > 1 else str(exc))
                log.error("catch-up for %s failed: %s", phone, exc)
        self.catchup_error = f"catch-up failed: {'; '.join(problems)}" if problems else None

    async def rewire(self) -> WireOutcome | None:
        """Point every location's number at the current public URL (on start, on URL
        change, on a location added, removed or renumbered); None when not wiring now."""
        if self.numbers is None or not self.public_url or self._disconnected:
            return None
        url = self.public_url
        outcome = await self.numbers.wire(await self.locations.locations(), url)
        self.wiring_error = self.numbers.error()
        if outcome.wired:
            try:
                await self._remember_holder_url(url)
            except Exception as exc:  # still serving; say why desk clients may not know
                self.wiring_error = str(exc)
                log.error("could not store the holder's URL: %s", exc)
        return outcome

    async def _remember_holder_url(self, url: str) -> None:
        def put(uow: UnitOfWork) -> None:
            sync_state.put(uow.session, HOLDER_URL_KEY, url)
            uow.commit()

        await self.db.run(put)

    async def go_offline(self) -> None:
        """Point every number this run wired at its offline fallback."""
        if self.numbers is None or not self.numbers.wired:
            return
        await self.numbers.go_offline(await self.locations.locations())

    async def disconnect(self) -> None:
        """Give the numbers back: restore what each had before Frontdesk wired it.

        Raises :class:`WiringError` (or a carrier error) when Twilio cannot be told.
        Until :meth:`connect`, URL changes no longer re-wire the numbers.
        """
        if self.numbers is None:
            raise WiringError("this workspace has no Twilio number to disconnect")
        locations = await self.locations.locations()
        if not locations.numbers():
            raise WiringError("business.phone_number is not set: nothing to disconnect")
        self._disconnected = True
        await self.numbers.disconnect(locations)

    async def connect(self) -> None:
        """Undo :meth:`disconnect`: wire the numbers here again and catch up."""
        self._disconnected = False
        await self.rewire()
        if self.wired:
            await self.catch_up()

    async def stop(self) -> None:
        """Leave the office: a holder hands over, or sets the fallback if it is the last."""
        await self.office.stop()
        tidy, self._tidy_task = self._tidy_task, None
        if tidy is not None:
            tidy.cancel()
            await asyncio.gather(tidy, return_exceptions=True)
        await self._stop_prices()
        if self.tunnel is not None:
            await self.tunnel.stop()
        await self.receiver.stop()
        await self.integrations.stop()
        await self.engine.stop()
        if self.channel is not None:
            await self.channel.stop()
        await self._background.close()
        with contextlib.suppress(Exception):
            await self.flush_refusals()
        await self.carrier.close()
        await asyncio.get_running_loop().run_in_executor(None, self.db.close)

    def _on_webhook(self, record: WebhookRecord) -> None:
        self.webhooks.recent.append(record)
        self.bus.publish(WebhookSeen(record.path, record.status, record.reason))
        if record.status >= 400:
            self.refusals.note(record)
            if self._refusal_flush is None or self._refusal_flush.done():
                self._refusal_flush = self._background.spawn(
                    self._flush_refusals(), name="webhook-refusals"
                )

    async def flush_refusals(self) -> None:
        """Store the refusal counts now, after any flush under way (tests, shutdown)."""
        await self.refusals.flush()

    async def _flush_refusals(self) -> None:
        """Write the refusal counts until none are pending: one transaction per batch
        however many requests a flood sends meanwhile; stop on a failure (the next
        refusal tries again)."""
        while self.refusals.dirty:
            if not await self.refusals.flush():
                return
