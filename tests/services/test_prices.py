"""Twilio's price on messages and calls: parsed at the edge, taken from a status callback
when it carries one, else fetched by the number holder once Twilio has settled it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.clock import ManualClock
from services.price_values import Price, parse_price
from services.storage.database import UnitOfWork
from services.storage.models import Call, Message
from tests.harness import TestApp, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

CALLER = "+14155550123"


@pytest.mark.parametrize(
    ("raw", "unit", "expected"),
    [
        ("-0.00790", "USD", Price(7900, "USD")),
        ("-0.0083", "usd", Price(8300, "USD")),
        ("0.85", "EUR", Price(850000, "EUR")),
        ("-0.0079", "U$", Price(7900, "USD")),  # a unit that is not ISO 4217: USD
        (None, "USD", None),
        ("", "USD", None),
        ("NaN", "USD", None),
        ("-Infinity", "USD", None),
        ("1e9", "USD", None),
        ("-١٢", "USD", None),
        ("-0.0079\x00", "USD", None),
        ("-5000", "USD", None),  # past any believable price of one text or call
        ("-" + "9" * 40, "USD", None),
    ],
)
def test_parse_price(raw: object, unit: object, expected: Price | None) -> None:
    assert parse_price(raw, unit) == expected


async def _message(app: TestApp, sid: str) -> Message:
    def read(uow: UnitOfWork) -> Message:
        row = uow.session.scalar(select(Message).where(Message.sid == sid))
        assert row is not None
        uow.session.expunge(row)
        return row

    result: Message = await app.runtime.db.run(read)
    return result


def test_status_callbacks_with_a_price_fill_it(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        async with running_app(database_url, data_dir, twilio_standin) as app:
            call_sid = await app.missed_call(CALLER)
            sent = await twilio_standin.wait_for_messages(1)
            await app.idle()
            sid = sent[0]["sid"]
            status, _ = await app.post(
                "sms_status", {"MessageSid": sid, "MessageStatus": "sent", "Price": "NaN"}
            )
            assert status == 204  # a hostile price is dropped; the status still applies
            row = await _message(app, sid)
            assert (row.status, row.price_micros) == ("sent", None)
            status, _ = await app.post(
                "sms_status",
                {
                    "MessageSid": sid,
                    "MessageStatus": "delivered",
                    "Price": "-0.00830",
                    "PriceUnit": "USD",
                },
            )
            assert status == 204
            row = await _message(app, sid)
            assert (row.status, row.price_micros, row.price_unit) == ("delivered", 8300, "USD")
            status, _ = await app.post(
                "call_status",
                {
                    "CallSid": call_sid,
                    "From": CALLER,
                    "CallStatus": "completed",
                    "Price": "-0.01700",
                    "PriceUnit": "USD",
                },
            )
            assert status == 204

            def call_price(uow: UnitOfWork) -> Any:
                return uow.session.scalar(select(Call.price_micros).where(Call.sid == call_sid))

            assert await app.runtime.db.run(call_price) == 17000

    asyncio.run(scenario())


def test_the_holder_fetches_prices_once_twilio_has_settled_them(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        async with running_app(database_url, data_dir, twilio_standin, clock=clock) as app:
            prices = app.runtime.prices
            assert prices is not None
            await app.missed_call(CALLER)
            sid = (await twilio_standin.wait_for_messages(1))[0]["sid"]
            await app.idle()
            twilio_standin.release(sid)  # "sent": not final, so Twilio has no price yet

            def fetches() -> int:
                return len(twilio_standin.requests_to(f"/Messages/{sid}.json", "GET"))

            assert await prices.run_once() == 0  # not an hour old: not asked
            assert fetches() == 0
            clock.advance(3700)  # the holder's fetcher wakes and asks

            async def asked() -> bool:
                return fetches() == 1 and (await _message(app, sid)).price_checked_at is not None

            await app.until("the first price fetch", asked)
            assert (await _message(app, sid)).price_micros is None
            twilio_standin.set_message_status(sid, "delivered")
            assert await prices.run_once() == 0  # asked within the hour: not again yet
            assert fetches() == 1
            clock.advance(3700)

            async def priced() -> bool:
                return (await _message(app, sid)).price_micros == 8300

            await app.until("the settled price", priced)
            assert fetches() == 2
            assert (await _message(app, sid)).price_unit == "USD"

    asyncio.run(scenario())


def test_fetches_stop_on_a_busy_twilio_and_skip_gone_messages(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        async with running_app(
            database_url,
            data_dir,
            twilio_standin,
            clock=clock,
            configure=lambda runtime: setattr(runtime, "prices", None),
        ) as app:
            from services.prices import PriceFetcher

            await app.missed_call(CALLER)
            await app.missed_call("+14155550144")
            sent = await twilio_standin.wait_for_messages(2)
            await app.idle()
            for item in sent:
                twilio_standin.set_message_status(item["sid"], "delivered")
            fetcher = PriceFetcher(app.runtime.db, app.runtime.carrier, clock)  # type: ignore[arg-type]
            clock.advance(3700)
            gateway = app.runtime.carrier
            twilio_standin.fail_next("/Messages/SM", 429, times=gateway.max_attempts, method="GET")
            assert await fetcher.run_once() == 0  # Twilio is busy: nothing marked, next round
            for item in sent:
                assert (await _message(app, item["sid"])).price_checked_at is None
            twilio_standin.fail_next(f"/Messages/{sent[0]['sid']}", 404, method="GET")
            assert await fetcher.run_once() == 1
            first = await _message(app, sent[0]["sid"])
            second = await _message(app, sent[1]["sid"])
            assert (first.price_micros, first.price_checked_at is not None) == (None, True)
            assert second.price_micros == 8300

    asyncio.run(scenario())
