"""What one delivery attempt came to, whichever way it went out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Outcome:
    """``ok``: delivered. Otherwise ``retry`` says whether trying again can help (a 5xx,
    a timeout) or not (a refused URL); ``retry_after`` is the receiver's own wait;
    ``postpone`` means nothing was attempted (no secret on this PC). ``line`` is the
    sentence the delivery log shows."""

    ok: bool
    line: str
    code: int | None = None
    retry: bool = True
    retry_after: timedelta | None = None
    postpone: bool = False


def retry_after_header(value: str | None, cap: timedelta = timedelta(hours=1)) -> timedelta | None:
    """A Retry-After of whole seconds (bounded); None when absent or not a number."""
    if not value:
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        return None
    return min(cap, timedelta(seconds=int(text)))
