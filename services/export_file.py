"""Export to a file from the app (File → Export…): the same JSON / CSV as
``frontdesk export``, off the event loop, with real progress and a way to stop.

Progress is counted in records (contacts, calls and messages): first as they are read
(on the database's worker thread), then as they are written (on another thread), so a
large inbox moves the bar steadily. ``progress(done, total, text)`` is always called on
the event loop.

The file is written beside its target (``<name>.part``) and renamed over it only when
complete: cancelling (the task is cancelled) or failing stops the threads at the next
batch of rows, deletes the partial file and leaves any earlier file under the chosen
name untouched. The coroutine returns (or raises) only once its threads have stopped.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from services import export
from services.storage.database import Database

Progress = Callable[[int, int, str], None]
T = TypeVar("T")
#: Written per system call: big enough to be quick, small enough to stop soon.
WRITE_CHUNK = 256 * 1024


class ExportStopped(Exception):
    """Raised inside the export's threads when the export was cancelled."""


def format_for(path: str) -> str:
    """``csv`` for a .csv file name, else ``json``."""
    return "csv" if path.lower().endswith(".csv") else "json"


class _Counter:
    """Counts records from a worker thread; reports to the loop at most every batch."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, progress: Progress, stop: threading.Event
    ) -> None:
        self._loop = loop
        self._progress = progress
        self._stop = stop
        self.total = 0
        self.done = 0
        self.label = ""
        self._reported = 0

    def stage(self, label: str) -> None:
        self.done = 0
        self._reported = 0
        self.label = label
        self._report()

    def tick(self, n: int) -> None:
        if self._stop.is_set():
            raise ExportStopped
        self.done += n
        if self.done - self._reported >= export.TICK_ROWS or self.done >= self.total:
            self._reported = self.done
            self._report()

    def _report(self) -> None:
        done, total = min(self.done, self.total), self.total
        text = f"{self.label}: {done:,} of {total:,} records…"
        self._loop.call_soon_threadsafe(self._progress, done, total, text)


async def _stoppable(work: Awaitable[T], stop: threading.Event) -> T:
    """Await ``work`` (running in a thread); when cancelled, tell the thread to stop and
    wait until it has, then re-raise the cancellation."""
    future = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        stop.set()
        await asyncio.wait([future])
        if not future.cancelled():
            future.exception()  # retrieved (ExportStopped): the caller hears of the cancel
        raise


async def export_to(db: Database, path: str, fmt: str, progress: Progress) -> int:
    """Write the export to ``path``; the number of bytes written."""
    if fmt not in ("json", "csv"):
        raise ValueError(f"unknown export format {fmt!r} (json or csv)")
    loop = asyncio.get_running_loop()
    stop = threading.Event()
    counter = _Counter(loop, progress, stop)
    progress(0, 0, "Counting contacts, calls and messages…")

    def read(uow: Any) -> dict[str, Any]:
        counter.total = export.count_rows(uow.session)
        counter.stage("Reading")
        return export.collect(uow.session, counter.tick)

    data = await _stoppable(db.run(read), stop)
    pieces: Callable[..., Iterator[str]] = (
        export.json_pieces if fmt == "json" else export.csv_pieces
    )

    def write() -> int:
        counter.stage("Writing")
        return _write(Path(path), pieces(data, counter.tick), stop)

    size = await _stoppable(asyncio.to_thread(write), stop)
    progress(counter.total, counter.total, f"Exported {counter.total:,} records.")
    return size


def _write(target: Path, pieces: Iterator[str], stop: threading.Event) -> int:
    """Write ``pieces`` to ``<target>.part`` (0600), then rename it over ``target``;
    the partial file is deleted whatever stops it."""
    tmp = target.with_name(target.name + ".part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            buffer: list[bytes] = []
            pending = 0
            for piece in pieces:
                raw = piece.encode("utf-8")
                buffer.append(raw)
                pending += len(raw)
                if pending >= WRITE_CHUNK:
                    out.write(b"".join(buffer))
                    size += pending
                    buffer, pending = [], 0
            if stop.is_set():
                raise ExportStopped
            out.write(b"".join(buffer))
            size += pending
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return size
