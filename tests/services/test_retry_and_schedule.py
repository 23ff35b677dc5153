"""The desk's second tries and later texts: Retry on a failed text sends a new reply
(the failed one stays); a text scheduled for later is sent by the scheduler when the
injected clock reaches its time, and can be cancelled until then. SQLite and PostgreSQL,
over real HTTP to the Twilio stand-in."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.api import ReplyRefused
from services.clock import ManualClock
from services.send_state import Shown
from services.snapshots import MessageItem, ScheduledItem
from tests.harness import TestApp, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

MARIA = "+14155550123"


@pytest.fixture
def env(database_url: str, data_dir: Path, twilio_standin: TwilioStandIn) -> Any:
    clock = ManualClock()

    def go(scenario: Any) -> None:
        async def main() -> None:
            async with running_app(database_url, data_dir, twilio_standin, clock=clock) as app:
                await scenario(app, clock)

        asyncio.run(main())

    return go


async def _maria(app: TestApp) -> int:
    await app.reply(MARIA, "Hi, is anyone there?")
    rows = await app.inbox.conversations()
    return next(r.contact_id for r in rows if r.phone == MARIA)


async def _texts_to_maria(app: TestApp) -> list[str]:
    return [m["body"] for m in app.standin.messages_sent if m["to"] == MARIA]


def test_retry_sends_a_new_reply_and_keeps_the_failed_one(env: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        maria = await _maria(app)
        app.standin.fail_next("Messages.json", 400, 21606, "From is not SMS capable", method="POST")
        failed_id = await app.engine.send_reply(maria, "We can come at 3pm", author="Dana")
        await app.idle()
        thread = await app.inbox.thread(maria)
        failed = next(i for i in thread if isinstance(i, MessageItem) and i.id == failed_id)
        assert failed.status == "failed"
        assert await _texts_to_maria(app) == []

        new_id = await app.engine.retry_text(failed_id, author="Luis")
        assert new_id != failed_id
        await app.idle()
        outs = [
            i
            for i in await app.inbox.thread(maria)
            if isinstance(i, MessageItem) and i.direction == "out"
        ]
        assert [(m.id, m.status, m.author) for m in outs] == [
            (failed_id, "failed", "Dana"),
            (new_id, "queued", "Luis"),
        ]
        assert outs[1].body == "We can come at 3pm" and outs[1].kind == "manual"
        assert await _texts_to_maria(app) == ["We can come at 3pm"]

        # Only a failed outbound text can be retried: not the sent one, not an inbound.
        with pytest.raises(ReplyRefused, match="Only a text that failed"):
            await app.engine.retry_text(new_id, author="Luis")
        inbound = next(
            i
            for i in outs[:0] + list(await app.inbox.thread(maria))
            if isinstance(i, MessageItem) and i.direction == "in"
        )
        with pytest.raises(ReplyRefused):
            await app.engine.retry_text(inbound.id, author="Luis")
        assert await _texts_to_maria(app) == ["We can come at 3pm"]

    env(scenario)


def test_retry_is_refused_once_the_contact_opted_out(env: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        maria = await _maria(app)
        app.standin.fail_next("Messages.json", 400, 21606, method="POST")
        failed_id = await app.engine.send_reply(maria, "Your quote is ready", author="Dana")
        await app.idle()
        await app.reply(MARIA, "STOP")
        await app.idle()
        before = len(await app.outbound())
        with pytest.raises(ReplyRefused, match="opted out"):
            await app.engine.retry_text(failed_id, author="Dana")
        assert len(await app.outbound()) == before  # nothing stored

    env(scenario)


def test_a_scheduled_text_is_sent_when_its_time_comes(env: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        maria = await _maria(app)
        due = clock.now() + timedelta(hours=15)
        body = "Reminder: the plumber comes at 9 \N{SPARKLES}"
        job_id = await app.engine.schedule_reply(maria, body, due, author="Dana")
        await app.idle()
        scheduled = [i for i in await app.inbox.thread(maria) if isinstance(i, ScheduledItem)]
        assert [(s.id, s.at, s.body, s.author, s.shown) for s in scheduled] == [
            (job_id, due, body, "Dana", Shown.SCHEDULED)
        ]
        assert scheduled[0].cancellable
        outs_before = len(await app.outbound())

        clock.advance(timedelta(hours=14, minutes=59).total_seconds())
        await app.idle()
        assert await _texts_to_maria(app) == []
        assert len(await app.outbound()) == outs_before  # no message row yet

        clock.advance(60)

        async def sent() -> bool:
            return await _texts_to_maria(app) == [body]

        await app.until("the scheduled text is sent", sent)
        thread = await app.inbox.thread(maria)
        assert not any(isinstance(i, ScheduledItem) for i in thread)
        message = [i for i in thread if isinstance(i, MessageItem) and i.direction == "out"]
        assert [(m.body, m.author, m.kind, m.at) for m in message] == [
            (body, "Dana", "manual", due)
        ]
        assert not await app.engine.cancel_scheduled(job_id, actor="Dana")  # too late

    env(scenario)


def test_a_scheduled_text_can_be_cancelled_and_is_never_sent(env: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        maria = await _maria(app)
        job_id = await app.engine.schedule_reply(
            maria, "See you tomorrow", clock.now() + timedelta(hours=1), author="Dana"
        )
        assert await app.engine.cancel_scheduled(job_id, actor="Luis")
        assert not await app.engine.cancel_scheduled(job_id, actor="Luis")
        assert not any(isinstance(i, ScheduledItem) for i in await app.inbox.thread(maria))
        clock.advance(7200)
        await app.idle()
        await asyncio.sleep(0.05)
        await app.idle()
        assert await _texts_to_maria(app) == []

    env(scenario)


def test_a_scheduled_text_to_someone_who_opts_out_meanwhile_is_not_sent(env: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        maria = await _maria(app)
        await app.engine.schedule_reply(
            maria, "See you tomorrow", clock.now() + timedelta(hours=1), author="Dana"
        )
        await app.reply(MARIA, "STOP")
        await app.idle()
        clock.advance(3600)

        async def ended() -> bool:
            items = await app.inbox.thread(maria)
            return any(
                isinstance(i, ScheduledItem) and i.shown is not Shown.SCHEDULED for i in items
            ) or not any(isinstance(i, ScheduledItem) for i in items)

        await app.until("the scheduled text ends", ended)
        assert await _texts_to_maria(app) == []

    env(scenario)


def test_bad_schedules_are_refused_and_store_nothing(env: Any) -> None:
    async def scenario(app: TestApp, clock: ManualClock) -> None:
        maria = await _maria(app)
        later = clock.now() + timedelta(hours=1)
        with pytest.raises(ReplyRefused, match="future"):
            await app.engine.schedule_reply(maria, "Hi", clock.now(), author="Dana")
        with pytest.raises(ReplyRefused, match="Type a message"):
            await app.engine.schedule_reply(maria, "   ", later, author="Dana")
        with pytest.raises(ReplyRefused, match="1,600"):
            await app.engine.schedule_reply(maria, "x" * 1601, later, author="Dana")
        # PostgreSQL refuses NUL in text; both databases get the same clear refusal.
        with pytest.raises(ReplyRefused, match="NUL"):
            await app.engine.schedule_reply(maria, "a\x00b", later, author="Dana")
        with pytest.raises(ReplyRefused, match="NUL"):
            await app.engine.send_reply(maria, "a\x00b", author="Dana")
        assert not any(isinstance(i, ScheduledItem) for i in await app.inbox.thread(maria))
        # A full-length body with emoji and the longest author name fits on both.
        job = await app.engine.schedule_reply(maria, "\N{SPARKLES}" * 1600, later, author="D" * 100)
        items = [i for i in await app.inbox.thread(maria) if isinstance(i, ScheduledItem)]
        assert [i.id for i in items] == [job]

    env(scenario)
