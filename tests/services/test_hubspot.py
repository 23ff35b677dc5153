"""HubSpot through its official client, over real HTTP to a strict HubSpot stand-in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from desktop.runtime import Runtime
from services.clock import ManualClock
from services.integrations.api import DeliveryView
from tests.harness import TestApp, running_app
from tests.hubspot_standin import HubSpotStandIn
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

CALLER = "+14155550123"
Scenario = Callable[[TestApp, ManualClock, HubSpotStandIn, int], Awaitable[None]]


@pytest.fixture
def run(database_url: str, data_dir: Path, twilio_standin: TwilioStandIn) -> Any:
    def go(scenario: Scenario) -> None:
        clock = ManualClock()

        async def main() -> None:
            hubspot = HubSpotStandIn()
            await hubspot.start()

            def configure(runtime: Runtime) -> None:
                runtime.integrations.hubspot_host = hubspot.base_url
                runtime.integrations.request_timeout = 2.0

            try:
                async with running_app(
                    database_url, data_dir, twilio_standin, clock=clock, configure=configure
                ) as app:
                    view = await app.runtime.integrations.set_hubspot_token(hubspot.token)
                    await scenario(app, clock, hubspot, view.id)
            finally:
                await hubspot.close()

        asyncio.run(main())

    return go


async def wait_log(
    app: TestApp, endpoint_id: int, check: Callable[[list[DeliveryView]], bool], what: str
) -> list[DeliveryView]:
    deadline = time.monotonic() + 10
    while True:
        await app.idle()
        await app.runtime.integrations.idle()
        rows = await app.runtime.integrations.deliveries(endpoint_id)
        if check(rows):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {rows}")
        await asyncio.sleep(0.02)


def all_delivered(count: int) -> Callable[[list[DeliveryView]], bool]:
    return lambda rows: len(rows) == count and all(r.state == "delivered" for r in rows)


def test_missed_call_texts_and_booking_reach_the_contact_timeline(run: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock, hs: HubSpotStandIn, hub: int) -> None:
        await app.missed_call(CALLER)
        await app.standin.wait_for_messages(1)
        await app.reply(CALLER, "Can you come Tuesday?")
        await wait_log(app, hub, all_delivered(3), "call, text, reply")
        (contact,) = hs.contacts.values()
        assert contact["properties"]["phone"] == CALLER
        (call,) = hs.posted("calls")
        assert call["properties"]["hs_call_status"] == "NO_ANSWER"
        assert call["properties"]["hs_call_direction"] == "INBOUND"
        assert call["associations"][0]["to"]["id"] == contact["id"]
        bodies = [c["properties"]["hs_communication_body"] for c in hs.posted("communications")]
        assert sorted(bodies) == sorted(
            [app.standin.messages_sent[0]["body"], "Can you come Tuesday?"]
        )
        contact_id = (await app.inbox.missed_calls())[0].contact_id
        await app.inbox.rename(contact_id, "Maria Lopez", actor="Dana")
        await app.inbox.mark_booked(contact_id, 25000, actor="Dana")
        await wait_log(app, hub, all_delivered(5), "rename and booking")
        assert contact["properties"]["firstname"] == "Maria"
        assert contact["properties"]["lastname"] == "Lopez"
        (deal,) = hs.posted("deals")
        assert deal["properties"]["amount"] == "250.00"
        assert deal["properties"]["dealstage"] == "closedwon"
        assert deal["properties"]["dealname"] == "Booked: Maria Lopez"
        assert len(hs.contacts) == 1, "found by phone each time, never created twice"

    run(scenario)


def test_the_name_comes_back_from_hubspot_unless_the_desk_typed_one(run: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock, hs: HubSpotStandIn, hub: int) -> None:
        hs.add_contact(phone=CALLER, firstname="Ana", lastname="Ruiz")
        hs.add_contact(phone="+14155550999", firstname="Bo", lastname="Chen")
        await app.missed_call(CALLER)
        await wait_log(
            app, hub, lambda r: len(r) >= 2 and all(x.state == "delivered" for x in r), "first call"
        )
        (detail,) = await app.inbox.missed_calls()
        assert (await app.inbox.contact(detail.contact_id)).name == "Ana Ruiz"
        # A name the desk typed is never replaced.
        await app.missed_call("+14155550999")
        await app.standin.wait_for_messages(2)
        other = next(c for c in await app.inbox.missed_calls() if c.contact_id != detail.contact_id)
        await app.inbox.rename(other.contact_id, "Robert Chen", actor="Dana")
        await wait_log(
            app,
            hub,
            lambda r: len(r) >= 5 and all(x.state == "delivered" for x in r),
            "second call",
        )
        assert (await app.inbox.contact(other.contact_id)).name == "Robert Chen"

    run(scenario)


def test_a_429_waits_the_retry_after_on_the_clock(run: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock, hs: HubSpotStandIn, hub: int) -> None:
        hs.rate_limit(1, retry_after=30)
        await app.missed_call(CALLER)
        await app.standin.wait_for_messages(1)
        rows = await wait_log(app, hub, lambda r: any(x.response_code == 429 for x in r), "the 429")
        limited = next(x for x in rows if x.response_code == 429)
        assert limited.state == "pending"
        assert limited.result == "HubSpot rate limit (429): waiting as asked"
        assert (limited.due_at - clock.now()).total_seconds() == pytest.approx(30, abs=1)
        asked = len(hs.requests)
        clock.advance(25)
        await app.runtime.integrations.idle()
        await asyncio.sleep(0.05)
        (again,) = [x for x in await app.runtime.integrations.deliveries(hub) if x.id == limited.id]
        assert again.state == "pending" and again.attempts == 1, "not before Retry-After"
        clock.advance(6)
        await wait_log(app, hub, all_delivered(2), "after Retry-After")
        assert len(hs.requests) > asked

    run(scenario)


def test_hubspot_down_never_delays_the_textback(run: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock, hs: HubSpotStandIn, hub: int) -> None:
        hs.down = True
        hs.hold = asyncio.Event()  # HubSpot answers nothing until released
        await app.missed_call(CALLER)
        await app.standin.wait_for_messages(1)
        # The text reached Twilio while HubSpot still held its requests (an order, not a
        # stopwatch: behind them it could only come after their 2 s time-out was written).
        assert not any(x.result for x in await app.runtime.integrations.deliveries(hub))
        hs.hold.set()
        # Each tried and back to waiting (a row mid-attempt has no result yet).
        rows = await wait_log(
            app,
            hub,
            lambda r: len(r) == 2 and all(x.attempts and x.state == "pending" for x in r),
            "503s",
        )
        assert all(x.result == "HubSpot is having trouble (503)" for x in rows)
        assert all(x.state == "pending" for x in rows)
        hs.down = False
        clock.advance(5)
        await wait_log(app, hub, all_delivered(2), "HubSpot back")

    run(scenario)
