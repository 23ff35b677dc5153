"""The analytics report as CSV, and the headline rows shared with the PDF (ui/).

One CSV for a spreadsheet: columns ``section,item,value,previous``; sections
``period`` (bounds and time zone), ``figures`` (each headline figure, this period and the
previous one; money in the currency's units, durations in seconds, blank when unknown),
``day`` (missed and recovered calls per local day: ``value`` = missed, ``previous`` =
recovered), ``heatmap`` (item ``Mon 09``: missed calls that weekday and hour),
``person`` (item = name: ``value`` = replies, ``previous`` = "callbacks/bookings") and
``location`` (item = number: ``value`` = missed callers, ``previous`` = recovered).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

from services.analytics_types import WEEKDAYS, AnalyticsReport, Figures

__all__ = ["HEADLINE", "Headline", "report_csv"]


@dataclass(frozen=True, slots=True)
class Headline:
    """One compared figure: its label, how to read it off :class:`Figures`, and whether
    a rise is good news (the pane colours the delta by it)."""

    key: str
    label: str
    read: Callable[[Figures], float | None]
    higher_is_better: bool
    kind: str  # "count" | "rate" | "seconds" | "cents" | "micros"


HEADLINE: tuple[Headline, ...] = (
    Headline("missed_calls", "Missed calls", lambda f: f.missed_calls, False, "count"),
    Headline(
        "recovered_callers", "Recovered callers", lambda f: f.recovered_callers, True, "count"
    ),
    Headline("recovery_rate", "Recovery rate", lambda f: f.recovery_rate, True, "rate"),
    Headline(
        "recovered_value", "Recovered value", lambda f: f.recovered_value_cents, True, "cents"
    ),
    Headline("texts_sent", "Automatic texts sent", lambda f: f.texts_sent, True, "count"),
    Headline("reply_rate", "Reply rate", lambda f: f.reply_rate, True, "rate"),
    Headline(
        "median_to_human",
        "First human reply (median)",
        lambda f: f.median_seconds_to_human,
        False,
        "seconds",
    ),
    Headline(
        "p90_to_human",
        "First human reply (p90)",
        lambda f: f.p90_seconds_to_human,
        False,
        "seconds",
    ),
    Headline(
        "median_to_text",
        "Time to text-back (median)",
        lambda f: f.median_seconds_to_text,
        False,
        "seconds",
    ),
    Headline("textback_cost", "Text-back cost", lambda f: f.textback_cost_micros, False, "micros"),
    Headline("twilio_cost", "Twilio cost, all", lambda f: f.total_cost_micros, False, "micros"),
)


def _plain(value: float | None, kind: str) -> str:
    if value is None:
        return ""
    if kind == "cents":
        return f"{value / 100:.2f}"
    if kind == "micros":
        return f"{value / 1_000_000:.4f}"
    if kind == "rate":
        return f"{value:.4f}"
    if kind == "seconds":
        return f"{value:.0f}"
    return str(int(value))


def report_csv(report: AnalyticsReport) -> str:
    """The whole report as CSV text (see the module docstring for the layout)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["section", "item", "value", "previous"])
    w.writerow(["period", "start", report.start.isoformat(), report.previous_start.isoformat()])
    w.writerow(["period", "end", report.end.isoformat(), report.start.isoformat()])
    w.writerow(["period", "timezone", report.timezone, ""])
    w.writerow(["period", "location", report.location or "all", ""])
    w.writerow(["period", "currency", report.current.cost_unit, ""])
    for h in HEADLINE:
        w.writerow(
            [
                "figures",
                h.key,
                _plain(h.read(report.current), h.kind),
                _plain(h.read(report.previous), h.kind),
            ]
        )
    for day in report.days:
        w.writerow(["day", day.day.isoformat(), day.missed_calls, day.recovered_calls])
    for weekday, row in enumerate(report.heatmap):
        for hour, count in enumerate(row):
            if count:
                w.writerow(["heatmap", f"{WEEKDAYS[weekday]} {hour:02d}", count, ""])
    for p in report.people:
        w.writerow(["person", p.name or "(unattributed)", p.replies, f"{p.callbacks}/{p.bookings}"])
    for loc in report.locations:
        w.writerow(["location", loc.number, loc.missed_callers, loc.recovered_callers])
    return out.getvalue()
