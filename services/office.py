"""The office supervisor: this process is the number holder or a desk client.

:class:`Office` decides the role with a :class:`~services.holder.HolderLock` and tells
the composition root through :class:`HolderDuties` when to take up the holder's duties
(receiver, tunnel, wiring, scheduler, recovery, catch-up) and when to give them up.

- Start: try the lock once; the holder takes up its duties, anyone else is a desk
  client and never touches the number.
- A desk client tries the lock every ``poll_seconds`` (2 s), and at once when the
  holder says it let go: when the holder dies its session ends, PostgreSQL frees the
  lock, and a desk client takes over within a poll.
- A holder checks every poll that its lock is still held (a lost connection loses the
  lock: it gives up its duties at once, without touching the wiring).
- :meth:`request_takeover` asks the holder (a ``handover`` NOTIFY) to let this PC have
  the number; the holder gives up its duties and releases; the other desk clients hold
  back for ``handover_grace`` seconds so the one that asked gets it.
- :meth:`stop` (a clean quit): a holder gives up its duties, setting the offline
  fallback only when no other Frontdesk is connected (the last to leave), releases the
  lock and says so, so another PC takes over at once.

Every change of role or holder is published as :class:`~services.events.OfficeChanged`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from services.events import EventBus, OfficeChanged
from services.holder import HolderLock

log = logging.getLogger(__name__)


class HolderDuties(Protocol):
    async def take(self) -> None:
        """Become the number holder: recover, start the scheduler, listen, wire, catch up."""
        ...

    async def give_up(self, *, go_offline: bool) -> None:
        """Stop the holder's duties; point the number at the fallback only if told to."""
        ...


class Office:
    """Holder election and hand-over for one process; start and stop on the loop."""

    def __init__(
        self,
        lock: HolderLock,
        duties: HolderDuties,
        bus: EventBus,
        *,
        pc_name: str,
        send_control: Callable[..., None] | None = None,
        poll_seconds: float = 2.0,
        handover_grace: float = 5.0,
    ) -> None:
        self._lock = lock
        self._duties = duties
        self._bus = bus
        self.pc_name = pc_name
        self._send_control = send_control
        self.poll_seconds = poll_seconds
        self.handover_grace = handover_grace
        self.holding = False
        self.holder: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._poke = asyncio.Event()
        self._handover_asked = False
        self._hold_back_until = 0.0
        self._want_until = 0.0
        self._busy = asyncio.Lock()  # one role change at a time
        self.takeovers = 0  # times this process became the holder after start

    @property
    def shared(self) -> bool:
        return self._lock.shared

    # ---- life cycle -----------------------------------------------------------------
    async def start(self) -> None:
        """Take the number if free (and do the holder's duties), then keep watching."""
        self._poke = asyncio.Event()
        await self._attempt()
        await self._refresh_holder()
        if self._lock.shared:
            self._task = asyncio.get_running_loop().create_task(self._watch(), name="office")

    async def stop(self) -> None:
        """Clean quit: hand over (or, when last to leave, set the offline fallback)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        async with self._busy:
            if self.holding:
                others = await self._lock.others_present()
                await self._give_up(go_offline=others == 0)
                if others and self._send_control is not None:
                    self._send_control("released")
        await self._lock.close()

    # ---- requests from the UI and from other PCs ----------------------------------------
    async def request_takeover(self) -> None:
        """Ask the holder for the number; this PC tries hard for ``handover_grace`` s."""
        if self.holding or not self._lock.shared:
            return
        self._want_until = time.monotonic() + self.handover_grace * 2
        if self._send_control is not None:
            self._send_control("handover", pc=self.pc_name)
        self._poke.set()

    def on_control(self, kind: str, message: dict[str, Any]) -> None:
        """A control message from another process (called on the loop)."""
        if kind == "released":
            self._poke.set()
        elif kind == "handover":
            if self.holding:
                self._handover_asked = True
            else:
                # Someone else asked for it: let them have it.
                self._hold_back_until = time.monotonic() + self.handover_grace
            self._poke.set()

    # ---- the watch loop ------------------------------------------------------------------
    async def _watch(self) -> None:
        while True:
            wanting = time.monotonic() < self._want_until
            timeout = 0.25 if wanting else self.poll_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), timeout)
            self._poke.clear()
            try:
                await self._tick()
            except Exception:  # keep watching: the next tick tries again
                log.exception("office supervisor tick failed")

    async def _tick(self) -> None:
        if self.holding:
            if self._handover_asked:
                self._handover_asked = False
                log.info("another PC asked for the number: handing it over")
                async with self._busy:
                    await self._give_up(go_offline=False)
                self._hold_back_until = time.monotonic() + self.handover_grace
                if self._send_control is not None:
                    self._send_control("released")
            elif not await self._lock.still_held():
                log.error("lost the number (office database connection lost): stepping down")
                async with self._busy:
                    await self._duties.give_up(go_offline=False)
                    self.holding = False
        elif self._may_try() and await self._attempt():
            self.takeovers += 1
            self._want_until = 0.0
        await self._refresh_holder()

    def _may_try(self) -> bool:
        now = time.monotonic()
        return now >= self._hold_back_until or now < self._want_until

    async def _attempt(self) -> bool:
        async with self._busy:
            if self.holding:
                return True
            if not await self._lock.try_acquire():
                return False
            self.holding = True
            log.info("%s holds the business number", self.pc_name)
            try:
                await self._duties.take()
            except Exception:
                log.exception("could not take up the number holder's duties; letting go")
                await self._give_up(go_offline=False)
                raise
        return True

    async def _give_up(self, *, go_offline: bool) -> None:
        try:
            await self._duties.give_up(go_offline=go_offline)
        finally:
            await self._lock.release()
            self.holding = False

    async def _refresh_holder(self) -> None:
        holder = self.pc_name if self.holding else await self._lock.holder_name()
        if holder != self.holder or self._published_holding != self.holding:
            self.holder = holder
            self._published_holding = self.holding
            self._bus.publish(OfficeChanged(holder, self.holding))

    _published_holding: bool | None = None
