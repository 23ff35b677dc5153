"""The durable scheduler: jobs are rows; this wakes at the earliest due time and runs them.

Claiming a due job (pending, held, or uncertain and due for its look-up) moves it to
``claimed`` in its own committed transaction (with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so two processes sharing an office database never claim the same job). A job
found ``claimed`` at start-up was claimed by a process that died; the outbox reconciles
it against the carrier's log before anything is sent again
(:meth:`services.outbox.Outbox.recover`). Waiting goes through the injected
:class:`~services.clock.Clock`, so tests move time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select

from services import sends
from services.clock import Clock, as_utc, wait_for_event
from services.storage.database import Database, UnitOfWork
from services.storage.models import Job
from services.tasks import TaskSet

log = logging.getLogger(__name__)

Execute = Callable[[int], Awaitable[None]]


class Scheduler:
    """Runs due jobs through ``execute(job_id)``; ``wake()`` after adding or moving a job.

    Must be started and stopped on the running loop. ``idle_seconds`` bounds how long it
    sleeps with nothing due, so jobs added by another process (shared PostgreSQL, the
    CLI) are picked up within that time.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        batch_size: int = 20,
        max_concurrency: int = 10,
        idle_seconds: float = 5.0,
    ) -> None:
        self._db = db
        self._clock = clock
        self._batch = batch_size
        self._max_concurrency = max_concurrency
        self._idle = idle_seconds
        self._wake: asyncio.Event | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._runs = TaskSet("scheduled job")
        self._slots: asyncio.Semaphore | None = None

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def start(self, execute: Execute) -> None:
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(self._max_concurrency)
        self._loop_task = asyncio.get_running_loop().create_task(
            self._run(execute), name="scheduler"
        )

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        await self._runs.close(grace=5.0)

    async def idle(self) -> None:
        """Wait until no claimed job is still running (tests and shutdown)."""
        await self._runs.drain()

    async def _run(self, execute: Execute) -> None:
        assert self._wake is not None and self._slots is not None
        while True:
            self._wake.clear()
            try:
                claimed, next_due = await self._db.run(self._claim, urgent=True)
            except Exception:
                log.exception("could not read scheduled jobs; retrying")
                claimed, next_due = [], None
                await asyncio.sleep(1.0)
            for job_id in claimed:
                self._runs.spawn(self._guarded(execute, job_id), name=f"job-{job_id}")
            if len(claimed) == self._batch:
                continue  # more may be due right now
            now = self._clock.now()
            deadline = now + timedelta(seconds=self._idle)
            if next_due is not None:
                deadline = min(deadline, next_due)
            if deadline > now:
                await wait_for_event(self._clock, self._wake, deadline)
            elif not claimed:
                # Due but not claimable: another process holds it (SKIP LOCKED). Don't spin.
                await asyncio.sleep(0.05)

    async def _guarded(self, execute: Execute, job_id: int) -> None:
        assert self._slots is not None
        async with self._slots:
            await execute(job_id)

    def _claim(self, uow: UnitOfWork) -> tuple[list[int], datetime | None]:
        session = uow.session
        now = self._clock.now()
        waiting = Job.state.in_([s.value for s in sends.CLAIMABLE])
        query = (
            select(Job)
            .where(waiting, Job.due_at <= now)
            .order_by(Job.due_at, Job.id)
            .limit(self._batch)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        jobs = session.scalars(query).all()
        for job in jobs:
            sends.claim(job, now)
        next_due = session.scalar(select(func.min(Job.due_at)).where(waiting))
        uow.commit()
        return [job.id for job in jobs], as_utc(next_due) if next_due is not None else None
