"""The one place a delivery changes state.

::

    pending ──claim──▶ sending ──2xx──────────▶ delivered
       ▲                 │  ├──failure, < 24 h──▶ pending (due after the backoff)
       │                 │  └──failure, ≥ 24 h──▶ failed
       └──replay / recover (a crash left it sending)──┘   (failed, delivered ──replay──▶ pending)

Backoff: 5 s, then doubling, at most 1 h between attempts, for 24 h from the first
attempt; a receiver's Retry-After (HubSpot's 429) moves the next attempt later, never
earlier. An endpoint whose deliveries have failed for 24 h in a row is disabled.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from services.clock import as_utc
from services.storage.models import IntegrationDelivery

RETRY_FOR = timedelta(hours=24)
FIRST_BACKOFF = timedelta(seconds=5)
MAX_BACKOFF = timedelta(hours=1)
MAX_RESULT = 300


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


class BadTransition(RuntimeError):
    pass


def _expect(row: IntegrationDelivery, *states: DeliveryState) -> None:
    if row.state not in states:
        raise BadTransition(f"delivery {row.id} is {row.state}, not {'/'.join(states)}")


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt (1-based)."""
    seconds = FIRST_BACKOFF.total_seconds() * 2 ** max(0, attempts - 1)
    return min(MAX_BACKOFF, timedelta(seconds=seconds))


def claim(row: IntegrationDelivery, now: datetime) -> None:
    _expect(row, DeliveryState.PENDING)
    row.state = DeliveryState.SENDING
    row.attempts += 1
    row.first_attempt_at = row.first_attempt_at or now
    row.last_attempt_at = now


def delivered(row: IntegrationDelivery, code: int | None, result: str) -> None:
    _expect(row, DeliveryState.SENDING)
    row.state = DeliveryState.DELIVERED
    row.response_code = code
    row.result = result[:MAX_RESULT]


def attempt_failed(
    row: IntegrationDelivery,
    now: datetime,
    code: int | None,
    result: str,
    *,
    retry_after: timedelta | None = None,
) -> bool:
    """Record a failed attempt; True when it will be tried again, False when given up."""
    _expect(row, DeliveryState.SENDING)
    row.response_code = code
    first = as_utc(row.first_attempt_at or now)
    wait = backoff(row.attempts)
    if retry_after is not None:
        wait = max(wait, retry_after)
    if now + wait - first > RETRY_FOR:
        row.state = DeliveryState.FAILED
        row.result = f"{result} (gave up after {row.attempts} attempts over 24 h)"[:MAX_RESULT]
        return False
    row.state = DeliveryState.PENDING
    row.due_at = now + wait
    row.result = result[:MAX_RESULT]
    return True


def give_up(row: IntegrationDelivery, result: str) -> None:
    """Failed without more attempts (the endpoint is gone or disabled)."""
    _expect(row, DeliveryState.SENDING, DeliveryState.PENDING)
    row.state = DeliveryState.FAILED
    row.result = result[:MAX_RESULT]


def postpone(row: IntegrationDelivery, due: datetime, result: str) -> None:
    """Back to pending without counting an attempt (no secret on this PC yet)."""
    _expect(row, DeliveryState.SENDING)
    row.state = DeliveryState.PENDING
    row.attempts = max(0, row.attempts - 1)
    row.due_at = due
    row.result = result[:MAX_RESULT]


def replay(row: IntegrationDelivery, now: datetime) -> None:
    """The owner's Replay: once more from the start (same webhook-id)."""
    _expect(row, DeliveryState.DELIVERED, DeliveryState.FAILED, DeliveryState.PENDING)
    row.state = DeliveryState.PENDING
    row.attempts = 0
    row.first_attempt_at = None
    row.due_at = now
    row.result = "replay requested"


def recover(row: IntegrationDelivery, now: datetime) -> None:
    """A delivery left ``sending`` by a process that died: try it again (at least once)."""
    _expect(row, DeliveryState.SENDING)
    row.state = DeliveryState.PENDING
    row.due_at = now
