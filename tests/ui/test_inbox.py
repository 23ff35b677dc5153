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


def open_first(qtbot: QtBot, page: InboxPage) -> int:
    qtbot.waitUntil(lambda: page.model.rowCount() >= 1, timeout=2000)
    page.list.setCurrentIndex(page.model.index(0))
    qtbot.waitUntil(lambda: page.panel.contact is not None, timeout=2000)
    assert page.current_contact_id is not None
    return page.current_contact_id


def test_contact_edits_persist(qtbot: QtBot, ui_app: TestApp, bridge: Any) -> None:
    run(qtbot, ui_app.set(team__members=["Dana", "Luis"], team__me="Dana"))
    page = make_page(qtbot, ui_app, bridge)
    run(qtbot, ui_app.missed_call(CALLER))
    cid = open_first(qtbot, page)
    panel = page.panel

    panel.name.setText("Maria Lopez")
    panel.name.editingFinished.emit()
    panel.pending_button.click()
    panel.new_tag.setText("VIP")
    panel.new_tag.returnPressed.emit()
    qtbot.waitUntil(lambda: panel.assign.count() == 3, timeout=2000)
    panel.assign.setCurrentIndex(panel.assign.findData("Luis"))
    panel.assign.activated.emit(panel.assign.currentIndex())

    def saved() -> bool:
        c = run(qtbot, ui_app.inbox.contact(cid))
        return (
            c.name == "Maria Lopez"
            and c.assigned_to == "Luis"
            and {
                "pending callback",
                "VIP",
            }
            <= set(c.tags)
        )

    qtbot.waitUntil(saved, timeout=3000)
    # The list row follows without a reload. Each edit's row refresh lands after its
    # commit: wait for the row to show all of them (the title alone can come from an
    # earlier refresh that read the row before the assignment committed).
    qtbot.waitUntil(
        lambda: (
            (page.model.rows()[0].title, page.model.rows()[0].assigned_to)
            == ("Maria Lopez", "Luis")
        ),
        timeout=2000,
    )

    panel.tags.removeRequested.emit("VIP")
    # The panel follows the stored contact (tags saved above) without a reload.
    qtbot.waitUntil(panel.callback_button.isEnabled, timeout=2000)
    panel.callback_button.click()
    qtbot.waitUntil(
        lambda: not {"VIP", "pending callback"} & set(run(qtbot, ui_app.inbox.contact(cid)).tags),
        timeout=3000,
    )

    panel.notes.setPlainText("Gate code 4411")
    panel.flush_notes()
    qtbot.waitUntil(
        lambda: run(qtbot, ui_app.inbox.contact(cid)).notes == "Gate code 4411", timeout=3000
    )


def test_opted_out_contact_disables_the_composer(
    qtbot: QtBot, ui_app: TestApp, bridge: Any
) -> None:
    page = make_page(qtbot, ui_app, bridge)
    run(qtbot, ui_app.reply(CALLER, "STOP"))
    open_first(qtbot, page)
    qtbot.waitUntil(lambda: bool(page.composer.blocked_reason), timeout=2000)
    assert "opted out" in page.composer.blocked.text()
    assert not page.composer.edit.isEnabled()
    assert not page.composer.send_button.isEnabled()


def test_segment_counter_names_the_unicode_character(qtbot: QtBot) -> None:
    from ui.inbox.composer import Composer

    composer = Composer()
    qtbot.addWidget(composer)
    text = ("We’ll be there soon " * 8)[:150]
    assert len(text) == 150
    composer.set_text(text)
    assert "3 segments" in composer.counter.text()
    assert "’" in composer.warning.text()
    assert not composer.warning.isHidden()
    composer.set_text("Plain text")
    assert "1 segment" in composer.counter.text()
    assert composer.warning.isHidden()


def test_filters_and_search(qtbot: QtBot, ui_app: TestApp, bridge: Any) -> None:
    page = make_page(qtbot, ui_app, bridge)
    other = "+14155550144"
    run(qtbot, ui_app.missed_call(CALLER))
    run(qtbot, ui_app.reply(other, "Do you fix water heaters?"))
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=2000)
    caller = next(r.contact_id for r in page.model.rows() if r.phone == CALLER)
    run(qtbot, ui_app.inbox.mark_read(caller))  # the missed call was looked at

    page.set_filter("unread")
    qtbot.waitUntil(
        lambda: not page.model.loading and [r.phone for r in page.model.rows()] == [other],
        timeout=2000,
    )
    page.set_filter("opted_out")
    qtbot.waitUntil(lambda: not page.model.loading and page.model.rowCount() == 0, timeout=2000)
    page.set_filter("all")
    qtbot.waitUntil(lambda: not page.model.loading and page.model.rowCount() == 2, timeout=2000)

    page.search.setText("heaters")
    qtbot.waitUntil(
        lambda: not page.model.loading and [r.phone for r in page.model.rows()] == [other],
        timeout=2000,
    )
    page.search.setText("0123")
    qtbot.waitUntil(
        lambda: not page.model.loading and [r.phone for r in page.model.rows()] == [CALLER],
        timeout=2000,
    )


def test_model_data_out_of_range_is_none(qtbot: QtBot, ui_app: TestApp, bridge: Any) -> None:
    page = make_page(qtbot, ui_app, bridge)
    run(qtbot, ui_app.missed_call(CALLER))
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=2000)
    model = page.model
    assert model.data(model.index(0)) is not None
    assert model.data(model.index(5)) is None
    assert model.data(model.createIndex(7, 0)) is None
    assert model.data(model.createIndex(-1, 0)) is None
    assert model.data(model.index(0), Qt.ItemDataRole.DecorationRole) is None
    assert model.data(model.index(0), 9999) is None


def test_staff_calling_back_cancel_the_waiting_auto_text_from_the_thread(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, twilio_standin: TwilioStandIn
) -> None:
    run(qtbot, ui_app.set(textback__delay_seconds=60))
    page = make_page(qtbot, ui_app, bridge)
    run(qtbot, ui_app.missed_call(CALLER))
    open_first(qtbot, page)
    button = page.panel.cancel_textback_button
    qtbot.waitUntil(lambda: not button.isHidden(), timeout=2000)

    button.click()
    qtbot.waitUntil(button.isHidden, timeout=3000)  # the thread reloads: nothing waits
    (call,) = run(qtbot, ui_app.inbox.missed_calls())
    assert call.textback_state == "cancelled"
    assert call.textback_reason == "cancelled by desk"
    assert twilio_standin.messages_sent == []


def test_a_change_committed_while_the_list_loads_is_not_lost(
    qtbot: QtBot, ui_app: TestApp, bridge: Any
) -> None:
    """The page's snapshot is read, then a change commits and its row refresh lands
    before the page does: the row must show the change, not the older snapshot."""
    import asyncio

    from ui.inbox.conversation_model import ConversationListModel

    run(qtbot, ui_app.missed_call(CALLER))
    cid = run(qtbot, ui_app.inbox.conversations())[0].contact_id
    release = asyncio.Event()
    read = asyncio.Event()
    refreshed: list[Any] = []

    class SlowPage:
        """The real inbox, except that a page is handed over only once released."""

        def __getattr__(self, name: str) -> Any:
            return getattr(ui_app.inbox, name)

        async def conversations(self, **kwargs: Any) -> Any:
            rows = await ui_app.inbox.conversations(**kwargs)
            read.set()
            await release.wait()
            return rows

        async def conversation(self, contact_id: int) -> Any:
            row = await ui_app.inbox.conversation(contact_id)
            refreshed.append(row)
            return row

    model = ConversationListModel(SlowPage())  # type: ignore[arg-type]
    bridge.contactChanged.connect(model.refresh_contact)
    model.reload()
    qtbot.waitUntil(read.is_set, timeout=5000)
    run(qtbot, ui_app.inbox.assign(cid, "Luis", actor="Dana"))
    # The row refresh the assignment caused has read the new row and landed.
    qtbot.waitUntil(lambda: any(r.assigned_to == "Luis" for r in refreshed), timeout=3000)
    qtbot.waitUntil(lambda: not model._refreshing, timeout=3000)
    release.set()
    qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=3000)
    assert model.rows()[0].assigned_to == "Luis"
