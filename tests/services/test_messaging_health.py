"""Messaging health: every text failing for one reason the owner must fix is named in
plain words with the steps and the count, and clears once texts are delivered again.
Delivery statuses arrive as Twilio's signed status callbacks; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from desktop.health import RuntimeHealth
from tests.harness import running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn


async def _status(app, sid: str, status: str, code: str | None = None) -> None:  # type: ignore[no-untyped-def]
    form = {"MessageSid": sid, "MessageStatus": status}
    if code is not None:
        form["ErrorCode"] = code
    assert (await app.post("sms_status", form))[0] == 204


def test_unregistered_number_is_named_with_steps_and_count_then_clears(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        async with running_app(database_url, data_dir, twilio_standin) as app:
            health = RuntimeHealth(app.runtime)
            assert await health.messaging_problem() is None
            for i in range(3):
                await app.missed_call(f"+1415555011{i}")
            sent = await twilio_standin.wait_for_messages(3)
            await app.idle()
            await _status(app, sent[0]["sid"], "undelivered", "30007")
            problem = await health.messaging_problem()
            assert problem is not None and problem.code == 30007
            assert "spam" in problem.title and problem.failed_count == 1
            for message in sent[1:]:
                await _status(app, message["sid"], "undelivered", "30034")
            problem = await health.messaging_problem()
            assert problem is not None
            assert problem.code == 30034 and problem.failed_count == 3
            assert "not registered" in problem.title
            assert any("A2P 10DLC" in step for step in problem.steps)
            snapshot = await health.health()
            assert snapshot.messaging == problem
            # A text delivered after the last failure: fixed, the banner goes away.
            await app.missed_call("+14155550199")
            sent = await twilio_standin.wait_for_messages(4)
            await app.idle()  # the SID is recorded before its status arrives
            await _status(app, sent[3]["sid"], "delivered")
            assert await health.messaging_problem() is None

    asyncio.run(scenario())


def test_opt_outs_in_bulk_are_a_problem_one_is_not(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        async with running_app(database_url, data_dir, twilio_standin) as app:
            health = RuntimeHealth(app.runtime)
            callers = [f"+1415555012{i}" for i in range(5)]
            for caller in callers:
                await app.missed_call(caller)
            sent = await twilio_standin.wait_for_messages(5)
            await app.idle()
            await _status(app, sent[0]["sid"], "failed", "21610")
            assert await health.messaging_problem() is None
            for message in sent[1:]:
                await _status(app, message["sid"], "failed", "21610")
            problem = await health.messaging_problem()
            assert problem is not None and problem.code == 21610 and problem.failed_count == 5

    asyncio.run(scenario())


def test_each_location_number_is_judged_on_its_own(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    """Registration is per number (issue 13): North's texts blocked as unregistered stay
    a problem, named for North, while Main's texts are delivered; North's own delivered
    text clears it."""
    north_number = "+15005550007"

    async def scenario() -> None:
        async with running_app(database_url, data_dir, twilio_standin) as app:
            health = RuntimeHealth(app.runtime)
            await app.add_location("North", north_number, {})
            for i in range(2):
                await app.missed_call(f"+1415555013{i}", to=north_number)
            north_texts = await twilio_standin.wait_for_messages(2)
            await app.idle()
            for message in north_texts:
                await _status(app, message["sid"], "undelivered", "30034")
            await app.missed_call("+14155550140")  # Main's number, delivered afterwards
            main_text = (await twilio_standin.wait_for_messages(3))[2]
            await app.idle()
            assert main_text["from"] != north_number
            await _status(app, main_text["sid"], "delivered")

            problem = await health.messaging_problem()
            assert problem is not None and problem.code == 30034
            assert (problem.location, problem.number, problem.failed_count) == (
                "North",
                north_number,
                2,
            )

            await app.missed_call("+14155550141", to=north_number)
            fixed = (await twilio_standin.wait_for_messages(4))[3]
            await app.idle()
            assert fixed["from"] == north_number
            await _status(app, fixed["sid"], "delivered")
            assert await health.messaging_problem() is None

            # North fails again, then is removed: its failures are not put on Main.
            await app.missed_call("+14155550142", to=north_number)
            again = (await twilio_standin.wait_for_messages(5))[4]
            await app.idle()
            await _status(app, again["sid"], "undelivered", "30034")
            assert (await health.messaging_problem()).location == "North"  # type: ignore[union-attr]
            north = (await app.runtime.locations.locations()).named("North")
            await app.runtime.locations.remove(north.id, actor="test")
            problem = await health.messaging_problem()
            assert problem is not None and problem.location == "A removed location"

    asyncio.run(scenario())
