"""Scrolling the whole conversation list: offset paging (a commit before) against keyset
paging (this tree), in the same run, on the same database.

    .venv/bin/python -m bench.paging_bench                      # 50,000 conversations
    .venv/bin/python -m bench.paging_bench --before eb119f6 --contacts 50000 --messages 100000
    .venv/bin/python -m bench.paging_bench --database-url postgresql+psycopg://HOST/EMPTY_DB

Fills a SQLite database (``bench.fill_db``: 50,000 contacts, one thread each) once, then
for each tree (``--before``: the source of that commit, exported with ``git archive``;
and this working tree) runs a child process that builds that tree's own
``services.inbox.Inbox`` and ``ui.inbox.conversation_model.ConversationListModel``
offscreen on a qasync loop and pages the list to its end through ``fetchMore``, as the
view does when scrolled to the bottom, timing each page from ``fetchMore`` until its rows
are in the model. The before run reads the database at the before commit's schema; the
after run reads it migrated to this tree's head (with its index): on SQLite a copy of the
file, on PostgreSQL (``--database-url``, an empty database) the same database.

Printed (and appended to bench/out/paging.txt): pages, rows, the whole walk, and the mean
time per page over the first 10 and the last 10 pages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
RESULT = "PAGINGBENCH_RESULT "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="eb119f6", help="the commit with offset paging")
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--work", type=Path, help="where the database and trees go")
    parser.add_argument(
        "--database-url",
        help="an EMPTY PostgreSQL database to fill and walk (default: SQLite files in --work)",
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        sys.exit(child(args.child, args.url))
    work = args.work or Path(tempfile.mkdtemp(prefix="paging-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    before_tree = export(args.before, work / "tree-before")
    if args.database_url:
        # One database: filled at the before commit's schema, walked, then migrated to
        # this tree's head (its index) and walked again.
        fill(before_tree, ["--database-url", args.database_url], args)
        before_url = after_url = args.database_url
        kind = "PostgreSQL"
    else:
        before_db = work / "before" / "frontdesk.db"
        after_db = work / "after" / "frontdesk.db"
        if not before_db.exists():
            fill(before_tree, ["--data-dir", str(before_db.parent)], args)
        if not after_db.exists():
            after_db.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(before_db, after_db)
        before_url, after_url = f"sqlite:///{before_db}", f"sqlite:///{after_db}"
        kind = "SQLite"
    head = git("rev-parse", "--short", "HEAD")
    dirty = " + uncommitted changes" if git("status", "--porcelain", "--", "services", "ui") else ""
    figures = {f"before ({args.before}, offset paging)": run_child(before_tree, before_url)}
    migrate_to_head(after_url)
    figures[f"after ({head}{dirty}, keyset paging)"] = run_child(ROOT, after_url)
    lines = [
        f"Full walk of the conversation list, {args.contacts:,} threads, {kind}, "
        f"{time.strftime('%Y-%m-%d')}:"
    ]
    for name, f in figures.items():
        lines.append(
            f"  {name}: {f['rows']:,} rows in {f['pages']} pages, {f['seconds']:.1f} s; "
            f"per page: first 10 mean {f['first_ms']:.1f} ms, last 10 mean {f['last_ms']:.1f} ms, "
            f"max {f['max_ms']:.1f} ms"
        )
    text = "\n".join(lines)
    print(text)
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "paging.txt").open("a", encoding="utf-8") as out:
        out.write(text + "\n")


def fill(tree: Path, where: list[str], args: argparse.Namespace) -> None:
    from sqlalchemy.engine import make_url

    shown = [make_url(w).render_as_string() if "://" in w else w for w in where]
    print(f"filling {' '.join(shown)} ...", flush=True)  # (the password masked)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.fill_db",
            *where,
            "--contacts",
            str(args.contacts),
            "--messages",
            str(args.messages),
        ],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        check=True,
    )


def git(*argv: str) -> str:
    return subprocess.run(
        ["git", *argv], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()


def export(commit: str, into: Path) -> Path:
    """The source of ``commit`` (services, ui, bench) in ``into``, once."""
    if not (into / "services").exists():
        into.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", commit, "services", "ui", "bench"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def migrate_to_head(url: str) -> None:
    from services.storage import migrate
    from services.storage.database import Database

    database = Database(url)
    try:
        migrate.upgrade(database.engine)
    finally:
        database.close()


def run_child(tree: Path, url: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "QT_QPA_PLATFORM": "offscreen",
    }
    done = subprocess.run(
        [sys.executable, str(Path(__file__)), "--child", str(tree), "--url", url],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith(RESULT))
    return dict(json.loads(line[len(RESULT) :]))


# ---- the child: one tree's Inbox and list model, paged to the end -----------------------
def child(tree: Path, url: str | None) -> int:
    sys.path.insert(0, str(tree))
    assert url is not None
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["paging-bench"])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        figures = loop.run_until_complete(walk(url))
    finally:
        loop.close()
    print(RESULT + json.dumps(figures), flush=True)
    return 0


async def walk(url: str) -> dict[str, Any]:
    from services.clock import SystemClock
    from services.events import EventBus
    from services.inbox import Inbox
    from services.storage.database import Database
    from ui.inbox.conversation_model import ConversationListModel

    database = Database(url)
    inbox = Inbox(database, EventBus(), SystemClock())
    model = ConversationListModel(inbox)
    landed: list[asyncio.Future[None]] = []

    def on_loading(on: bool) -> None:
        if not on and landed and not landed[-1].done():
            landed[-1].set_result(None)

    model.loadingChanged.connect(on_loading)
    times: list[float] = []
    t_all = time.perf_counter()
    first = True
    while first or model.canFetchMore():
        landed.append(asyncio.get_running_loop().create_future())
        t0 = time.perf_counter()
        if first:
            model.reload()
            first = False
        else:
            model.fetchMore()
        await asyncio.wait_for(landed[-1], 60)
        times.append((time.perf_counter() - t0) * 1000)
    seconds = time.perf_counter() - t_all
    rows = model.rowCount()
    database.close()
    return {
        "rows": rows,
        "pages": len(times),
        "seconds": seconds,
        "first_ms": statistics.mean(times[:10]),
        "last_ms": statistics.mean(times[-10:]),
        "max_ms": max(times),
    }


if __name__ == "__main__":
    main()
