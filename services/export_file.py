"""Export to a file from the app (File → Export…): the same JSON / CSV as
``frontdesk export``, off the event loop, with progress.

Reading runs on the database's worker thread, formatting and writing on another; the
file is written beside its target and renamed over it, so a cancelled or failed export
never leaves half a file under the chosen name.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from services import export
from services.storage.database import Database

STEPS = 3
Progress = Callable[[int, int, str], None]


def format_for(path: str) -> str:
    """``csv`` for a .csv file name, else ``json``."""
    return "csv" if path.lower().endswith(".csv") else "json"


async def export_to(db: Database, path: str, fmt: str, progress: Progress) -> int:
    """Write the export to ``path``; the number of bytes written."""
    if fmt not in ("json", "csv"):
        raise ValueError(f"unknown export format {fmt!r} (json or csv)")
    progress(0, STEPS, "Reading contacts, calls and messages…")
    data = await db.run(lambda uow: export.collect(uow.session))
    progress(1, STEPS, "Formatting…")
    text = await asyncio.to_thread(export.to_json if fmt == "json" else export.to_csv, data)
    progress(2, STEPS, "Writing the file…")
    size = await asyncio.to_thread(_write, Path(path), text)
    progress(STEPS, STEPS, "Done.")
    return size


def _write(target: Path, text: str) -> int:
    tmp = target.with_name(target.name + ".part")
    raw = text.encode("utf-8")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return len(raw)
