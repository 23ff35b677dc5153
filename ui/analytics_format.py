"""How the analytics pane and its PDF write a figure and its change since the period before."""

from __future__ import annotations

from services.analytics_export import Headline
from services.analytics_types import Figures
from ui.widgets.time_format import format_duration, money

GOOD, BAD = "#2e7d32", "#c62828"
ON_DARK = {GOOD: "#66bb6a", BAD: "#ef6f6c"}


def format_value(value: float | None, kind: str, unit: str = "USD") -> str:
    """A figure as the pane writes it ("–" when there is none)."""
    if value is None:
        return "–"
    if kind == "rate":
        return f"{round(value * 100)}%"
    if kind == "seconds":
        return format_duration(value)
    if kind == "cents":
        return money(int(value))
    if kind == "micros":
        prefix = "$" if unit == "USD" else f"{unit} "
        return f"{prefix}{value / 1_000_000:,.2f}"
    return f"{int(value):,}"


def format_delta(h: Headline, now: Figures, before: Figures, unit: str = "USD") -> tuple[str, str]:
    """``(text, colour)`` of the change since the previous period: an arrow and the
    difference, green when it is good news, red when bad, plain when flat or unknown."""
    a, b = h.read(now), h.read(before)
    if a is None or b is None:
        return "no earlier figure", ""
    diff = a - b
    if abs(diff) < 1e-9:
        return "= same as before", ""
    arrow = "▲" if diff > 0 else "▼"
    if h.kind == "rate":
        amount = f"{abs(diff) * 100:.0f} pts"
    else:
        amount = format_value(abs(diff), h.kind, unit)
    good = (diff > 0) == h.higher_is_better
    return f"{arrow} {amount} vs before", GOOD if good else BAD
