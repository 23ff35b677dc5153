"""A desk reply whose answer Twilio loses, driven through the real Inbox screen: one
bubble at once ("Sending…"), then sent with Twilio's SID, never a second bubble."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from services.clock import ManualClock
from tests.harness import TestApp, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn
from tests.ui.conftest import until
from ui.event_bridge import EventBridge
from ui.inbox.page import InboxPage

CALLER = "+14155550123"
REPLY = "On our way at 3"


async def open_the_callers_thread(
    qtbot: QtBot, app: TestApp, page: InboxPage
) -> Callable[[], list[Any]]:
    """Show ``page``, let the caller text in, open their thread; returns a reader of the
    bubbles holding :data:`REPLY`."""
    page.tasks.quiet = True
    page.resize(1200, 800)
    qtbot.addWidget(page)
    page.show()
    page.start()
    await app.reply(CALLER, "Anyone there? Water everywhere")
    await until(lambda: page.model.rowCount() == 1)
    page.list.setCurrentIndex(page.model.index(0, 0))
    await until(lambda: page.panel.contact is not None)

    def mine() -> list[Any]:
        return [
            i for i in page.thread_view.thread_model.items() if getattr(i, "body", None) == REPLY
        ]

    return mine


@pytest.mark.parametrize("fault", ["drop", "500"])
def test_a_reply_whose_answer_is_lost_is_one_bubble_then_sent(
    twilio_standin: TwilioStandIn,
    qtbot: QtBot,
    run: Any,
    database_url: str,
    data_dir: Path,
    fault: str,
) -> None:
    clock = ManualClock()

    async def scenario() -> None:
        async with running_app(
            database_url,
            data_dir,
            twilio_standin,
            clock=clock,
            settings={"textback.enabled": False},
        ) as app:
            bridge = EventBridge(app.runtime.bus)
            page = InboxPage(app.inbox, app.engine, bridge)
            try:
                mine = await open_the_callers_thread(qtbot, app, page)

                twilio_standin.fail_after_create(fault)
                page.composer.edit.setFocus()
                qtbot.keyClicks(page.composer.edit, REPLY)
                qtbot.keyClick(page.composer.edit, Qt.Key.Key_Return)
                await until(lambda: len(mine()) == 1)
                assert mine()[0].status == "sending"
                await until(lambda: page.composer.text == "")
                assert len(twilio_standin.messages_sent) == 1  # Twilio has it; we don't know

                await app.idle()
                clock.advance(app.engine.outbox.settle_seconds + 1)
                await until(lambda: len(mine()) == 1 and mine()[0].status == "queued", 10)
                ((sid, _body, _status, _kind, _error),) = [
                    m for m in await app.outbound() if m[1] == REPLY
                ]
                assert sid == twilio_standin.messages_sent[0]["sid"]
                assert len(twilio_standin.messages_sent) == 1
                assert len(mine()) == 1
            finally:
                page.shutdown()
                bridge.detach()

    run(scenario())


@pytest.mark.parametrize("fault", ["timeout", "429", "503", "21610", "30007"])
def test_every_carrier_fault_on_a_reply_ends_in_one_bubble_and_at_most_one_text(
    twilio_standin: TwilioStandIn,
    qtbot: QtBot,
    run: Any,
    database_url: str,
    data_dir: Path,
    fault: str,
) -> None:
    """Each fault the issue lists, through the composer: the thread ends with one bubble,
    sent with Twilio's SID (or failed in words when Twilio refused: 21610, 30007), and
    the stand-in holds at most one text."""
    clock = ManualClock()

    async def scenario() -> None:
        async with running_app(
            database_url,
            data_dir,
            twilio_standin,
            clock=clock,
            gateway_timeout=0.5,
            settings={"textback.enabled": False},
        ) as app:
            bridge = EventBridge(app.runtime.bus)
            page = InboxPage(app.inbox, app.engine, bridge)
            try:
                mine = await open_the_callers_thread(qtbot, app, page)

                if fault == "timeout":
                    twilio_standin.fail_after_create("hang", hang_seconds=1.5)
                elif fault in ("429", "503"):
                    twilio_standin.fail_next("Messages.json", int(fault), method="POST")
                elif fault == "21610":
                    twilio_standin.fail_next("Messages.json", 400, 21610, method="POST")
                qtbot.keyClicks(page.composer.edit, REPLY)
                qtbot.keyClick(page.composer.edit, Qt.Key.Key_Return)
                await until(lambda: len(mine()) == 1)

                if fault == "21610":
                    await until(lambda: mine()[0].status == "failed", 10)
                    assert "21610" in (mine()[0].error or "")
                    assert twilio_standin.messages_sent == []
                    assert len(mine()) == 1
                    return
                if fault in ("timeout", "503"):
                    for _ in range(500):  # the client gives up after 0.5 s, then records it
                        if ("reply", "uncertain") in await app.jobs():
                            break
                        await asyncio.sleep(0.02)
                    assert ("reply", "uncertain") in await app.jobs()
                    clock.advance(app.engine.outbox.settle_seconds + 1)
                elif fault == "429":
                    await until(lambda: mine()[0].status == "retrying", 10)
                    clock.advance(app.engine.retry_base_seconds + 1)
                await until(lambda: mine()[0].status == "queued", 10)
                (created,) = twilio_standin.messages_sent
                ((sid, *_rest),) = [m for m in await app.outbound() if m[1] == REPLY]
                assert sid == created["sid"]
                if fault == "30007":
                    twilio_standin.set_message_status(sid, "undelivered", error_code=30007)
                    status, _ = await app.post(
                        "sms_status",
                        {
                            "MessageSid": sid,
                            "MessageStatus": "undelivered",
                            "ErrorCode": "30007",
                            "AccountSid": twilio_standin.account_sid,
                        },
                    )
                    assert status == 204
                    await until(lambda: mine()[0].status == "undelivered", 10)
                    assert "30007" in (mine()[0].error or "")
                assert len(mine()) == 1
                assert len(twilio_standin.messages_sent) == 1
            finally:
                page.shutdown()
                bridge.detach()

    run(scenario())
