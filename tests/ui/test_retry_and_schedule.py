"""Retry and Later through the real Inbox screen: a failed text's Retry link sends it
again as a new bubble (the failed one stays); a text scheduled from the composer's Later
menu shows "Scheduled for …" with Cancel, and a click on Cancel withdraws it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from services.clock import ManualClock
from services.snapshots import MessageItem, ScheduledItem
from tests.harness import running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn
from tests.ui.conftest import until
from ui.event_bridge import EventBridge
from ui.inbox.page import InboxPage
from ui.inbox.thread import scheduled_meta

CALLER = "+14155550123"
REPLY = "On our way at 3"


def _click_link(qtbot: QtBot, page: InboxPage, item: Any) -> None:
    view = page.thread_view
    row = view.thread_model.items().index(item)
    index = view.thread_model.index(row)
    view.scrollTo(index)
    link = view.link_rect(index)
    assert link is not None
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=link.center().toPoint())


def test_retry_link_and_a_scheduled_text_with_cancel(
    twilio_standin: TwilioStandIn, qtbot: QtBot, run: Any, database_url: str, data_dir: Path
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
            try:
                page = InboxPage(app.inbox, app.engine, bridge)
                page.tasks.quiet = True
                page.resize(1024, 700)
                qtbot.addWidget(page)
                page.show()
                page.start()
                await app.reply(CALLER, "Anyone there? Water everywhere")
                await until(lambda: page.model.rowCount() == 1)
                page.list.setCurrentIndex(page.model.index(0, 0))
                await until(lambda: page.panel.contact is not None)

                def outs() -> list[MessageItem]:
                    return [
                        i
                        for i in page.thread_view.thread_model.items()
                        if isinstance(i, MessageItem) and i.direction == "out"
                    ]

                twilio_standin.fail_next("Messages.json", 400, 21606, method="POST")
                qtbot.keyClicks(page.composer.edit, REPLY)
                qtbot.keyClick(page.composer.edit, Qt.Key.Key_Return)
                await until(lambda: [m.status for m in outs()] == ["failed"])
                assert (
                    page.thread_view.link_rect(
                        page.thread_view.thread_model.index(
                            page.thread_view.thread_model.items().index(outs()[0])
                        )
                    )
                    is not None
                )
                _click_link(qtbot, page, outs()[0])
                await until(lambda: [m.status for m in outs()] == ["failed", "queued"])
                assert [m.body for m in outs()] == [REPLY, REPLY]
                assert [m["body"] for m in twilio_standin.messages_sent] == [REPLY]

                # Later: tomorrow morning, from the composer's menu.
                qtbot.keyClicks(page.composer.edit, "Reminder for tomorrow")
                page.composer.now = clock.now()
                page.composer._fill_later_menu()
                choice = page.composer.later_menu.actions()[1]
                assert choice.text().startswith("Tomorrow, 8:00 AM")
                choice.trigger()

                def scheduled() -> list[ScheduledItem]:
                    return [
                        i
                        for i in page.thread_view.thread_model.items()
                        if isinstance(i, ScheduledItem)
                    ]

                await until(lambda: len(scheduled()) == 1)
                await until(lambda: page.composer.text == "")
                item = scheduled()[0]
                assert item.body == "Reminder for tomorrow" and item.at > clock.now()
                assert "Scheduled for" in scheduled_meta(item)
                assert "Reminder for tomorrow" in (
                    page.thread_view.thread_model.index(
                        page.thread_view.thread_model.items().index(item)
                    ).data(Qt.ItemDataRole.AccessibleTextRole)
                )
                _click_link(qtbot, page, item)
                await until(lambda: scheduled() == [])
                clock.advance(timedelta(days=4).total_seconds())
                await app.idle()
                assert [m["body"] for m in twilio_standin.messages_sent] == [REPLY]
                # Its debounce timers must not fire once this loop is gone (seen under load).
                page.shutdown()
            finally:
                bridge.detach()

    run(scenario())
