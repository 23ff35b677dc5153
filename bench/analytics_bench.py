"""How long each figure of the analytics pane takes at 50,000 contacts / 1,000,000 messages.

    .venv/bin/python -m bench.fill_db --data-dir /tmp/big
    .venv/bin/python -m bench.fill_db --database-url postgresql+psycopg://HOST/BIG
    .venv/bin/python -m bench.analytics_bench --sqlite /tmp/big/frontdesk.db \\
        --postgres postgresql+psycopg://HOST/BIG

Every query the pane runs (:data:`services.analytics.FIGURES` for this period and the one
before, the calendar, people and numbers) is timed on its own for each period, best of
``--repeat`` runs after one warm-up (the pane's database is warm: it is in use all day),
and once more limited to one number. The budget is 300 ms a figure; the table goes to
stdout and to bench/out/analytics.txt, and the exit code is 1 when a figure is over.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from services import analytics_queries as q
from services import location_store
from services.analytics import FIGURES, compute, period_bounds
from services.analytics_queries import Scope
from services.analytics_types import PERIODS
from services.storage.database import Database

BUDGET_MS = 300.0
OUT = Path(__file__).resolve().parent / "out" / "analytics.txt"


def _figures() -> dict[str, Callable[[Session, str, Scope], Any]]:
    found: dict[str, Callable[[Session, str, Scope], Any]] = dict(FIGURES)
    found |= {"calendar": q.calendar, "people": q.people, "locations": q.locations}
    return found


def bench(url: str, label: str, repeat: int, now: datetime, tz: ZoneInfo) -> list[str]:
    db = Database(url)
    lines: list[str] = []
    try:
        with Session(db.engine) as s:
            dialect = db.dialect
            known = location_store.load(s)
            for location in (None, "+15005550002"):
                # One number: its calls, and its location's texts (as the pane asks).
                location_id = None if location is None else known.for_number(location).id
                for period in PERIODS:
                    start, end = period_bounds(period, now, tz)
                    scope = Scope(start, end, tz, location, location_id)
                    for name, run in _figures().items():
                        run(s, dialect, scope)  # warm-up
                        best = float("inf")
                        for _ in range(repeat):
                            t0 = time.perf_counter()
                            run(s, dialect, scope)
                            best = min(best, time.perf_counter() - t0)
                        ms = best * 1000
                        where = location or "all"
                        flag = "ok" if ms <= BUDGET_MS else "OVER"
                        lines.append(
                            f"{label:<10} {period:<6} {where:<13} {name:<12} {ms:8.1f} ms  {flag}"
                        )
                        print(lines[-1], flush=True)
            # The whole pane (both periods and every figure) in one go, 30 days.
            t0 = time.perf_counter()
            compute(s, dialect, "30d", now, tz)
            total = (time.perf_counter() - t0) * 1000
            lines.append(f"{label:<10} 30d    all           whole pane   {total:8.1f} ms  (sum)")
            print(lines[-1], flush=True)
    finally:
        db.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sqlite", help="a filled SQLite database file")
    parser.add_argument("--postgres", help="a filled PostgreSQL URL")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--timezone", default="America/Chicago")
    args = parser.parse_args()
    tz = ZoneInfo(args.timezone)
    now = datetime.now(UTC)
    lines = [
        f"analytics bench, {now:%Y-%m-%d %H:%M} UTC, budget {BUDGET_MS:.0f} ms a figure, "
        f"best of {args.repeat}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
        f"{'database':<10} {'period':<6} {'number':<13} {'figure':<12} {'time':>11}",
    ]
    print("\n".join(lines))
    if args.sqlite:
        lines += bench(f"sqlite:///{args.sqlite}", "sqlite", args.repeat, now, tz)
    if args.postgres:
        lines += bench(args.postgres, "postgresql", args.repeat, now, tz)
    over = [line for line in lines if line.endswith("OVER")]
    lines.append(f"{len(over)} figure(s) over budget; load average now {os.getloadavg()[0]:.1f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(lines[-1])
    raise SystemExit(1 if over else 0)


if __name__ == "__main__":
    main()
