"""The Inbox screen on the real runtime: the whole loop through the UI."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from tests.harness import TestApp
from tests.twilio_standin import TwilioStandIn
from tests.ui.conftest import run
from ui.inbox.page import InboxPage

CALLER = "+14155550123"


def make_page(qtbot: QtBot, ui_app: TestApp, bridge: Any) -> InboxPage:
    page = InboxPage(ui_app.inbox, ui_app.engine, bridge)
    page.tasks.quiet = True
    page.resize(1200, 800)
    qtbot.addWidget(page)
    page.show()
    page.start()
    qtbot.waitUntil(lambda: not page.model.loading, timeout=5000)
    return page


def test_loop_through_the_ui(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, twilio_standin: TwilioStandIn
) -> None:
    page = make_page(qtbot, ui_app, bridge)
    assert page.model.rowCount() == 0

    run(qtbot, ui_app.missed_call(CALLER))
    seen = time.monotonic()
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=2000)
    assert time.monotonic() - seen < 0.2
    row = page.model.rows()[0]
    assert row.phone == CALLER

    page.list.setCurrentIndex(page.model.index(0))
    qtbot.waitUntil(lambda: page.panel.contact is not None, timeout=2000)
    run(qtbot, twilio_standin.wait_for_messages(1))

    page.composer.edit.setFocus()
    qtbot.keyClicks(page.composer.edit, "On our way at 3")
    qtbot.keyClick(page.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(twilio_standin.messages_sent) == 2, timeout=5000)
    sent = twilio_standin.messages_sent[-1]
    assert sent["body"] == "On our way at 3"
    assert sent["to"] == CALLER
    qtbot.waitUntil(lambda: page.composer.text == "", timeout=2000)

    run(qtbot, ui_app.post("sms_status", {"MessageSid": sent["sid"], "MessageStatus": "delivered"}))

    def delivered() -> bool:
        items = page.thread_view.thread_model.items()
        return any(
            getattr(i, "body", "") == "On our way at 3" and i.status == "delivered" for i in items
        )

    qtbot.waitUntil(delivered, timeout=2000)
