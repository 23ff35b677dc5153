"""A crash mid-send: on restart the carrier's log decides, so a text is never sent twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from services.clock import ManualClock
from services.send_state import Shown
from services.storage.database import Database, UnitOfWork
from services.storage.models import Conversation, Job, Message
from tests.harness import BUSINESS, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

CALLER = "+14155550123"
BODY = "Hi there, sorry we missed you!"


def _crash_mid_send(database_url: str) -> None:
    """Leave the database as a process killed between writing the text and recording its
    SID would: job claimed ('sending'), message row written without a SID."""
    db = Database(database_url)

    def work(uow: UnitOfWork) -> None:
        s = uow.session
        job = s.scalars(select(Job).where(Job.kind == "textback")).one()
        conversation = s.scalars(select(Conversation)).one()
        message = Message(
            conversation_id=conversation.id,
            direction="out",
            body=BODY,
            status="sending",
            kind="textback",
            created_at=datetime.now(UTC),
        )
        s.add(message)
        s.flush()
        job.state = "claimed"
        job.message_id = message.id
        job.claimed_at = job.maybe_sent_since = datetime.now(UTC)
        uow.commit()

    try:
        db.run_sync(work)
    finally:
        db.close()


def _scenario(database_url: str, data_dir: Path, standin: TwilioStandIn, left: bool) -> None:
    settings = {"textback.delay_seconds": 3600, "templates.missed_call": BODY}

    async def first_run() -> None:
        async with running_app(database_url, data_dir, standin, settings=settings) as app:
            await app.missed_call(CALLER)

    async def second_run() -> None:
        clock = ManualClock()
        async with running_app(
            database_url, data_dir, standin, settings=settings, clock=clock
        ) as app:
            (call,) = await app.inbox.missed_calls()
            assert call.textback_state == Shown.SENDING  # uncertain: nothing sent blind
            await asyncio.sleep(0.2)
            await app.idle()
            assert standin.requests_to("/Messages.json", "POST") == []  # settle period first
            clock.advance(app.engine.outbox.settle_seconds + 1)
            for _ in range(100):
                await asyncio.sleep(0.02)
                await app.idle()
                (call,) = await app.inbox.missed_calls()
                if call.textback_state == Shown.SENT:
                    break
            (call,) = await app.inbox.missed_calls()
            assert call.textback_state == Shown.SENT
            thread = await app.inbox.thread(call.contact_id)
            outbound = [i for i in thread if getattr(i, "direction", None) == "out"]
            assert len(outbound) == 1  # the same row, not a second one

    asyncio.run(first_run())
    _crash_mid_send(database_url)
    if left:
        # Still queued at Twilio (long-code throughput): no DateSent yet, found all the same.
        standin.seed_message(
            from_=BUSINESS, to=CALLER, body=BODY, direction="outbound-api", status="queued"
        )
    asyncio.run(second_run())


def test_text_that_left_before_the_crash_is_recorded_not_resent(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    _scenario(database_url, data_dir, twilio_standin, left=True)
    assert twilio_standin.messages_sent == []  # nothing sent by us after the restart


def test_text_that_never_left_is_sent_exactly_once_after_restart(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    _scenario(database_url, data_dir, twilio_standin, left=False)
    assert [m["body"] for m in twilio_standin.messages_sent] == [BODY]


def test_a_claim_cut_short_before_the_text_was_written_sends_at_once_after_restart(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    """Killed between claiming the job and writing its message row: nothing can have
    reached Twilio, so the restart sends it at once (no settle period), exactly once."""
    settings = {"textback.delay_seconds": 3600, "templates.missed_call": BODY}

    async def first_run() -> None:
        async with running_app(database_url, data_dir, twilio_standin, settings=settings) as app:
            await app.missed_call(CALLER)

    def claim_only(uow: UnitOfWork) -> None:
        job = uow.session.scalars(select(Job).where(Job.kind == "textback")).one()
        job.state = "claimed"
        job.claimed_at = datetime.now(UTC)
        uow.commit()

    async def second_run() -> None:
        clock = ManualClock()
        async with running_app(
            database_url, data_dir, twilio_standin, settings=settings, clock=clock
        ) as app:
            await app.until("the text", lambda: _sent(app))
            assert [m["body"] for m in twilio_standin.messages_sent] == [BODY]

    async def _sent(app: object) -> bool:
        return len(twilio_standin.messages_sent) >= 1

    asyncio.run(first_run())
    db = Database(database_url)
    try:
        db.run_sync(claim_only)
    finally:
        db.close()
    asyncio.run(second_run())
