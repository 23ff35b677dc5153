"""The database worker gives way to a busy event loop (services/loop_idle and
services/storage/workers): work that is not urgent waits for the loop to be idle,
urgent work never does."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

import pytest

from services.loop_idle import idle_aware_loop
from services.storage import workers
from services.storage.workers import PriorityWorkers


def test_the_loop_is_idle_only_while_it_waits_for_io() -> None:
    loop, idle = idle_aware_loop()

    async def main() -> tuple[bool, bool]:
        busy = idle.is_set()  # running this coroutine: not idle
        # While a thread waits for the loop to go idle, the loop has nothing to run
        # but to wait for that thread: it blocks in select, and says so.
        went_idle = await asyncio.to_thread(idle.wait, 10.0)
        return busy, went_idle

    try:
        busy, went_idle = loop.run_until_complete(main())
    finally:
        loop.close()
    assert not busy
    assert went_idle


@pytest.fixture
def pool(monkeypatch: pytest.MonkeyPatch) -> PriorityWorkers:
    # Patience far beyond the test: anything that ran did not wait for it to run out.
    monkeypatch.setattr(workers, "LOOP_PATIENCE", 600.0)
    return PriorityWorkers(1, "test-db")


def test_work_that_is_not_urgent_waits_for_the_idle_loop_urgent_work_does_not(
    pool: PriorityWorkers,
) -> None:
    loop_idle = threading.Event()  # the loop is busy until set
    pool.give_way_to(loop_idle)
    ran: list[str] = []
    try:
        later = pool.submit(lambda: ran.append("not urgent"))
        now = pool.submit(lambda: ran.append("urgent"), urgent=True)
        now.result(timeout=10)
        assert ran == ["urgent"] and not later.done()
        loop_idle.set()
        later.result(timeout=10)
        assert ran == ["urgent", "not urgent"]
    finally:
        loop_idle.set()
        pool.shutdown()


def test_without_a_loop_to_give_way_to_work_runs_at_once(pool: PriorityWorkers) -> None:
    try:
        done: Future[int] = pool.submit(lambda: 42)
        assert done.result(timeout=10) == 42
    finally:
        pool.shutdown()
