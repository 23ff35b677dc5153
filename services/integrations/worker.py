"""Runs due deliveries on the number holder: bounded, timed, never on the engine's path.

The loop claims what is due (at most ``concurrency`` at a time), sends each through its
endpoint's sender on a task of its own, and records the outcome with
:mod:`~services.integrations.delivery_state`. It sleeps on the injected clock until the
next due time, a :meth:`DeliveryWorker.wake`, or ``poll_seconds`` (so work added on
another PC is picked up). Deliveries a dead process left ``sending`` are retried on start.
An endpoint whose every delivery has failed for 24 h is disabled, with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from services import records
from services.clock import Clock, as_utc, wait_for_event
from services.integrations import delivery_state as ds
from services.integrations.delivery_state import DeliveryState
from services.integrations.outcome import Outcome
from services.storage.database import Database, UnitOfWork
from services.storage.models import IntegrationDelivery, IntegrationEndpoint, IntegrationEvent
from services.tasks import TaskSet

log = logging.getLogger(__name__)

DISABLE_AFTER = timedelta(hours=24)
KEEP_EVENTS = timedelta(days=7)
NO_SECRET_RETRY = timedelta(minutes=5)


@dataclass(frozen=True)
class Claimed:
    """A delivery being sent: everything the sender needs, read in the claim."""

    id: int
    endpoint_id: int
    endpoint_uid: str
    kind: str
    url: str
    key: str
    type: str
    payload: dict[str, Any]


Send = Callable[[Claimed, datetime], Awaitable[Outcome]]


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        send: Send,
        *,
        concurrency: int = 4,
        poll_seconds: float = 5.0,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._send = send
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self._on_change = on_change or (lambda: None)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sending = TaskSet("integrations-delivery")

    @property
    def running(self) -> bool:
        return self._task is not None

    async def start(self) -> None:
        await self._db.run(self._recover)
        self._wake = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="deliveries")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._sending.close(grace=2.0)

    def wake(self) -> None:
        self._wake.set()

    async def idle(self) -> None:
        """Wait until nothing is being sent (tests)."""
        await asyncio.sleep(0)
        await self._sending.drain()

    # ---- the loop ----------------------------------------------------------------------
    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                free = self.concurrency - len(self._sending)
                claimed = (
                    await self._db.run(functools.partial(self._claim, limit=free)) if free else []
                )
                for item in claimed:
                    self._sending.spawn(self._deliver(item), name=f"delivery-{item.id}")
                next_due = await self._db.run(self._next_due)
            except Exception:  # the database is back on the next round
                log.exception("integration deliveries: a round failed")
                next_due = None
            now = self._clock.now()
            until = now + timedelta(seconds=self.poll_seconds)
            if next_due is not None and len(self._sending) < self.concurrency:
                until = min(until, max(now, next_due))
            if next_due is not None and next_due <= now and len(self._sending) < self.concurrency:
                continue
            await wait_for_event(self._clock, self._wake, until)

    def _recover(self, uow: UnitOfWork) -> None:
        s = uow.session
        now = self._clock.now()
        stuck = s.scalars(
            select(IntegrationDelivery).where(IntegrationDelivery.state == DeliveryState.SENDING)
        ).all()
        for row in stuck:
            ds.recover(row, now)
        s.execute(delete(IntegrationEvent).where(IntegrationEvent.created_at < now - KEEP_EVENTS))
        uow.commit()

    def _claim(self, uow: UnitOfWork, *, limit: int) -> list[Claimed]:
        s = uow.session
        now = self._clock.now()
        stmt = (
            select(IntegrationDelivery, IntegrationEndpoint, IntegrationEvent)
            .join(IntegrationEndpoint, IntegrationEndpoint.id == IntegrationDelivery.endpoint_id)
            .join(IntegrationEvent, IntegrationEvent.id == IntegrationDelivery.event_id)
            .where(
                IntegrationDelivery.state == DeliveryState.PENDING,
                IntegrationDelivery.due_at <= now,
                IntegrationEndpoint.enabled.is_(True),
            )
            .order_by(IntegrationDelivery.due_at, IntegrationDelivery.id)
            .limit(limit)
        )
        if s.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(of=IntegrationDelivery, skip_locked=True)
        out: list[Claimed] = []
        for row, endpoint, event in s.execute(stmt).all():
            ds.claim(row, now)
            out.append(
                Claimed(
                    row.id,
                    endpoint.id,
                    endpoint.uid,
                    endpoint.kind,
                    endpoint.url,
                    event.key,
                    event.type,
                    dict(event.payload),
                )
            )
        uow.commit()
        return out

    def _next_due(self, uow: UnitOfWork) -> datetime | None:
        value = uow.session.scalar(
            select(func.min(IntegrationDelivery.due_at))
            .join(IntegrationEndpoint, IntegrationEndpoint.id == IntegrationDelivery.endpoint_id)
            .where(
                IntegrationDelivery.state == DeliveryState.PENDING,
                IntegrationEndpoint.enabled.is_(True),
            )
        )
        return as_utc(value) if value is not None else None

    async def _deliver(self, item: Claimed) -> None:
        try:
            outcome = await self._send(item, self._clock.now())
        except Exception as exc:  # a sender bug must not leave the row sending
            log.exception("integration delivery %s failed unexpectedly", item.id)
            outcome = Outcome(False, f"internal error: {type(exc).__name__}: {exc}"[:250])
        level = logging.INFO if outcome.ok else logging.WARNING
        log.log(level, "delivery %s (%s → %s): %s", item.id, item.type, item.url, outcome.line)
        await self._db.run(lambda uow: self._finish(uow, item, outcome))
        self._on_change()
        self.wake()

    def _finish(self, uow: UnitOfWork, item: Claimed, outcome: Outcome) -> None:
        s = uow.session
        row = s.get(IntegrationDelivery, item.id)
        endpoint = s.get(IntegrationEndpoint, item.endpoint_id)
        if row is None or endpoint is None or row.state != DeliveryState.SENDING:
            return  # removed meanwhile
        now = self._clock.now()
        if outcome.postpone:
            ds.postpone(row, now + NO_SECRET_RETRY, outcome.line)
        elif outcome.ok:
            ds.delivered(row, outcome.code, outcome.line)
            endpoint.failing_since = None
        else:
            if outcome.retry:
                ds.attempt_failed(
                    row, now, outcome.code, outcome.line, retry_after=outcome.retry_after
                )
            else:
                ds.give_up(row, outcome.line)
            endpoint.failing_since = endpoint.failing_since or as_utc(row.first_attempt_at or now)
            if endpoint.enabled and now - as_utc(endpoint.failing_since) >= DISABLE_AFTER:
                endpoint.enabled = False
                endpoint.disabled_at = now
                endpoint.disabled_reason = (
                    f"Turned off: every delivery failed for 24 hours (last: {outcome.line})"
                )[:300]
                records.audit(
                    s, now, "integration.disabled", subject=endpoint.url[:100], reason=outcome.line
                )
                log.error("integration endpoint %s disabled: %s", endpoint.url, outcome.line)
        uow.commit()
