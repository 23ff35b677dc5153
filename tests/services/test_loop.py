"""The whole loop through real HTTP: missed call → text back → reply → thread."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.harness import BUSINESS, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

CALLER = "+14155550123"


def test_missed_call_texts_back_once_and_reply_joins_thread(
    database_url: str, data_dir: Path, twilio_standin: TwilioStandIn
) -> None:
    async def scenario() -> None:
        async with running_app(database_url, data_dir, twilio_standin) as app:
            sid = await app.missed_call(CALLER)
            await twilio_standin.wait_for_messages(1)
            await app.idle()
            # Twilio retries the Dial result and the status callback: nothing new happens.
            await app.post(
                "dial_result",
                {"CallSid": sid, "From": CALLER, "To": BUSINESS, "DialCallStatus": "no-answer"},
            )
            await app.post(
                "call_status",
                {"CallSid": sid, "From": CALLER, "To": BUSINESS, "CallStatus": "completed"},
            )
            await app.idle()
            await asyncio.sleep(0.2)
            sent = twilio_standin.messages_sent
            assert len(sent) == 1
            assert sent[0]["to"] == CALLER
            assert sent[0]["body"].startswith("Hi there, this is Smith & Sons Plumbing.")
            calls = await app.inbox.missed_calls()
            assert [c.textback_state for c in calls] == ["sent"]
            contact_id = calls[0].contact_id
            await app.reply(CALLER, "Yes please, my sink is leaking")
            rows = await app.inbox.conversations(filter="unread")
            assert [r.contact_id for r in rows] == [contact_id]
            assert "pending callback" in rows[0].tags and "missed call" in rows[0].tags
            thread = await app.inbox.thread(contact_id)
            bodies = [getattr(i, "body", None) for i in thread]
            assert bodies[-1] == "Yes please, my sink is leaking"
            # The follow-up the text-back scheduled is cancelled by the reply.
            calls = await app.inbox.missed_calls()
            assert calls[0].followup_state == "cancelled"
            assert calls[0].replied

    asyncio.run(scenario())
