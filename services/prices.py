"""What Twilio charged for each message and call: parsing its ``price``, and the fetcher.

Twilio puts its own price on every Message and Call resource (``"price": "-0.00790"``,
``"price_unit": "USD"``), but only once the resource is final, and rarely in a status
callback. So a price is taken from a status callback when one carries it
(:func:`apply`, called by the engine), and otherwise :class:`PriceFetcher` (run by the
number holder) reads ``GET Messages/{Sid}.json`` / ``GET Calls/{Sid}.json`` for rows
still lacking one an hour after they were created, asking each at most once an hour and
for a week at most.

Stored as a positive cost in millionths of the unit (``price_micros``): exact, an
integer on both databases, and summed in SQL by the analytics pane.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from services.clock import Clock
from services.ports import CarrierError
from services.price_values import Price, parse_price
from services.storage.database import Database, UnitOfWork
from services.storage.models import Call, Message

__all__ = ["Price", "PriceFetcher", "PriceSource", "apply", "parse_price"]

log = logging.getLogger(__name__)


def apply(row: Message | Call, price: Price | None) -> bool:
    """Put ``price`` on the row (a status callback carried one); True when it changed."""
    if price is None or (row.price_micros == price.micros and row.price_unit == price.unit):
        return False
    row.price_micros = price.micros
    row.price_unit = price.unit
    return True


@runtime_checkable
class PriceSource(Protocol):
    """Reads one resource's price at the carrier (:class:`services.gateway.TwilioGateway`).

    Each returns None while the carrier has no price yet; raises
    :class:`~services.ports.CarrierError` (404 when the resource is gone).
    """

    async def fetch_message_price(self, sid: str) -> Price | None: ...

    async def fetch_call_price(self, sid: str) -> Price | None: ...


@dataclass(frozen=True, slots=True)
class _Due:
    table: str  # "messages" | "calls"
    id: int
    sid: str


class PriceFetcher:
    """Fills in prices Twilio settled after the fact; the number holder runs it.

    A row is due once ``settle`` has passed since it was created, while it is younger
    than ``give_up_after``, and when it was not asked about in the last ``settle``.
    :meth:`run_once` handles at most ``batch`` rows, one request at a time (Twilio's
    rate limits are per account, and the texts matter more); :meth:`run` repeats it
    every ``interval`` until cancelled.
    """

    def __init__(
        self,
        db: Database,
        source: PriceSource,
        clock: Clock,
        *,
        settle: timedelta = timedelta(hours=1),
        give_up_after: timedelta = timedelta(days=7),
        interval: timedelta = timedelta(minutes=10),
        batch: int = 100,
    ) -> None:
        self._db = db
        self._source = source
        self._clock = clock
        self.settle = settle
        self.give_up_after = give_up_after
        self.interval = interval
        self.batch = batch

    def _due(self, s: Session, now: datetime) -> list[_Due]:
        oldest, newest = now - self.give_up_after, now - self.settle
        not_recently = or_(Message.price_checked_at.is_(None), Message.price_checked_at < newest)
        messages = s.execute(
            select(Message.id, Message.sid)
            .where(
                Message.sid.is_not(None),
                Message.price_micros.is_(None),
                Message.created_at >= oldest,
                Message.created_at < newest,
                not_recently,
            )
            .order_by(Message.created_at)
            .limit(self.batch)
        ).all()
        due = [_Due("messages", int(i), str(sid)) for i, sid in messages]
        calls = s.execute(
            select(Call.id, Call.sid)
            .where(
                Call.price_micros.is_(None),
                Call.ended_at.is_not(None),
                Call.source != "demo",
                Call.started_at >= oldest,
                Call.started_at < newest,
                or_(Call.price_checked_at.is_(None), Call.price_checked_at < newest),
            )
            .order_by(Call.started_at)
            .limit(max(0, self.batch - len(due)))
        ).all()
        return due + [_Due("calls", int(i), str(sid)) for i, sid in calls]

    async def run_once(self) -> int:
        """Ask Twilio about the rows due now; returns how many got a price."""
        now = self._clock.now()
        due = await self._db.run(lambda uow: self._due(uow.session, now))
        found: list[tuple[_Due, Price | None]] = []
        for row in due:
            try:
                if row.table == "messages":
                    price = await self._source.fetch_message_price(row.sid)
                else:
                    price = await self._source.fetch_call_price(row.sid)
            except CarrierError as exc:
                if exc.retryable:  # Twilio is busy or unreachable: the next round retries
                    log.info("price fetch paused: %s", exc)
                    break
                price = None  # gone (404) or refused: asked, and asked again in an hour
            found.append((row, price))
        if not found:
            return 0

        def store(uow: UnitOfWork) -> int:
            priced = 0
            for row, price in found:
                model: type[Message] | type[Call] = Message if row.table == "messages" else Call
                values: dict[str, object] = {"price_checked_at": now}
                if price is not None:
                    values |= {"price_micros": price.micros, "price_unit": price.unit}
                    priced += 1
                uow.session.execute(
                    update(model)
                    .where(and_(model.id == row.id, model.price_micros.is_(None)))
                    .values(**values)
                )
            uow.commit()
            return priced

        return await self._db.run(store)

    async def run(self) -> None:
        """:meth:`run_once`, then again every ``interval``, until cancelled."""
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: the next round tries again
                log.exception("price fetch failed")
            await self._clock.sleep_until(self._clock.now() + self.interval)
