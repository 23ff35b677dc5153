"""SQL functions SQLite lacks and the queries need, registered on every connection.

PostgreSQL has ordered-set aggregates (``percentile_cont``, ``percentile_disc``); the
SQLite that Python ships has none (its ``percentile`` extension is not built in). The
analytics' median and p90 are one aggregate here: ``frontdesk_quantiles(v)`` reads the
values inside the query, as any aggregate does, so only its one result row leaves SQL.
Without it SQLite had to number every value with two window functions, which copy each
row into a buffer (bench.analytics_bench measures what that cost).
"""

from __future__ import annotations

import json
from typing import Any

#: ``frontdesk_quantiles(v)``: ``[count, median, p90]`` as JSON text, NULL for no rows.
QUANTILES = "frontdesk_quantiles"


class Quantiles:
    """Count, median (mean of the middle two) and p90 (nearest rank) of the non-NULL
    values; a negative value counts as 0 (a wait cannot be shorter than nothing)."""

    def __init__(self) -> None:
        self._values: list[float] = []

    def step(self, value: float | int | None) -> None:
        if value is not None:
            self._values.append(max(0.0, float(value)))

    def finalize(self) -> str | None:
        values = self._values
        if not values:
            return None
        values.sort()
        n = len(values)
        median = (values[(n + 1) // 2 - 1] + values[(n + 2) // 2 - 1]) / 2
        return json.dumps([n, median, values[(n * 9 + 9) // 10 - 1]])


def register(dbapi_connection: Any) -> None:
    """Register the functions on one sqlite3 connection."""
    dbapi_connection.create_aggregate(QUANTILES, 1, Quantiles)
