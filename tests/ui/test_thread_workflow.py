"""The desk's workflow in the inbox: chips with counts, Close (and a reply reopens),
Snooze, Mark unread, a tag filter, internal notes (never sent) and activity lines."""

from __future__ import annotations

from typing import Any

from pytestqt.qtbot import QtBot

from services.snapshots import ActivityItem, NoteItem
from services.thread_state import ThreadState
from tests.harness import TestApp
from tests.ui.conftest import run
from tests.ui.test_inbox import CALLER, make_page
from ui.inbox.thread_actions import snooze_choices

OTHER = "+14155550144"


def _phones(page: Any) -> set[str]:
    return {r.phone for r in page.model.rows()}


def test_close_snooze_unread_and_the_counts_on_the_chips(
    qtbot: QtBot, ui_app: TestApp, bridge: Any
) -> None:
    run(qtbot, ui_app.set(team__members=["Dana", "Luis"], team__me="Dana"))
    page = make_page(qtbot, ui_app, bridge)
    run(qtbot, ui_app.reply(CALLER, "Is Tuesday ok?"))
    run(qtbot, ui_app.reply(OTHER, "Hello?"))
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=3000)
    chips = page.filter_bar.buttons
    qtbot.waitUntil(lambda: chips["open"].text() == "Open 2", timeout=3000)
    assert chips["all"].text() == "All 2" and chips["closed"].text() == "Closed"

    page.set_filter("open")
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=3000)
    rows = {r.phone: r.contact_id for r in page.model.rows()}
    page.open_contact(rows[CALLER])
    actions = page.thread_actions
    qtbot.waitUntil(lambda: actions.isVisible(), timeout=3000)
    assert actions.close_button.text() == "Close"
    actions.close_button.click()
    # Closed: it leaves the Open list, the chips recount, the button offers Reopen.
    qtbot.waitUntil(lambda: _phones(page) == {OTHER}, timeout=3000)
    qtbot.waitUntil(lambda: chips["closed"].text() == "Closed 1", timeout=3000)
    assert chips["open"].text() == "Open 1"
    assert actions.close_button.text() == "Reopen"
    assert "Closed" in actions.state_label.text()

    # A new text reopens it: back in the Open list.
    run(qtbot, ui_app.reply(CALLER, "Actually Wednesday"))
    qtbot.waitUntil(lambda: _phones(page) == {CALLER, OTHER}, timeout=3000)
    qtbot.waitUntil(lambda: chips["closed"].text() == "Closed", timeout=3000)

    # Snooze from the menu: the first choice is an hour from now.
    page.open_contact(rows[OTHER])
    qtbot.waitUntil(lambda: page.current_contact_id == rows[OTHER], timeout=3000)
    actions.snooze_menu.aboutToShow.emit()
    first = actions.snooze_menu.actions()[0]
    assert first.text() == "For 1 hour"
    first.trigger()
    qtbot.waitUntil(lambda: _phones(page) == {CALLER}, timeout=3000)
    qtbot.waitUntil(lambda: chips["snoozed"].text() == "Snoozed 1", timeout=3000)
    row = run(qtbot, ui_app.inbox.conversation(rows[OTHER]))
    assert row.state is ThreadState.SNOOZED

    # Mark unread: the thread is left, bold again, counted.
    page.open_contact(rows[CALLER])
    qtbot.waitUntil(lambda: page.model.rows()[0].unread == 0, timeout=3000)
    qtbot.waitUntil(lambda: actions.unread_button.isEnabled(), timeout=3000)
    actions.unread_button.click()
    qtbot.waitUntil(lambda: page.current_contact_id is None, timeout=3000)
    qtbot.waitUntil(lambda: chips["unread"].text() == "Unread 1", timeout=3000)
    assert run(qtbot, ui_app.inbox.conversation(rows[CALLER])).unread == 1


def test_tag_filter_with_counts(qtbot: QtBot, ui_app: TestApp, bridge: Any) -> None:
    page = make_page(qtbot, ui_app, bridge)
    run(qtbot, ui_app.reply(CALLER, "Hi"))
    run(qtbot, ui_app.reply(OTHER, "Hi"))
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=3000)
    rows = {r.phone: r.contact_id for r in page.model.rows()}
    run(qtbot, ui_app.inbox.add_tag(rows[OTHER], "VIP", actor="Dana"))
    combo = page.filter_bar.tag
    qtbot.waitUntil(lambda: combo.findData("VIP") >= 0, timeout=3000)
    assert combo.itemText(combo.findData("VIP")) == "VIP (1)"
    combo.setCurrentIndex(combo.findData("VIP"))
    combo.activated.emit(combo.currentIndex())
    qtbot.waitUntil(lambda: _phones(page) == {OTHER}, timeout=3000)
    combo.setCurrentIndex(0)
    combo.activated.emit(0)
    qtbot.waitUntil(lambda: _phones(page) == {CALLER, OTHER}, timeout=3000)


def test_an_internal_note_is_added_never_sent_and_shown_apart(
    qtbot: QtBot, ui_app: TestApp, bridge: Any
) -> None:
    run(qtbot, ui_app.set(team__members=["Dana"], team__me="Dana"))
    page = make_page(qtbot, ui_app, bridge)
    run(qtbot, ui_app.reply(CALLER, "Can you come Friday?"))
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=3000)
    contact_id = page.model.rows()[0].contact_id
    page.open_contact(contact_id)
    sent_before = len(ui_app.standin.messages_sent)
    page.composer.note_button.setChecked(True)
    assert page.composer.send_button.text() == "Add note"
    page.composer.set_text("Prefers mornings; gate code 4411")
    page.composer.submit()
    qtbot.waitUntil(
        lambda: any(isinstance(i, NoteItem) for i in page.thread_view.thread_model.items()),
        timeout=3000,
    )
    note = next(i for i in page.thread_view.thread_model.items() if isinstance(i, NoteItem))
    assert (note.author, note.body) == ("Dana", "Prefers mornings; gate code 4411")
    assert page.composer.text == ""
    assert len(ui_app.standin.messages_sent) == sent_before
    index = page.thread_view.thread_model.index(page.thread_view.thread_model.items().index(note))
    assert "Internal note · Dana" in index.data()
    assert "not sent" in index.data()

    # An activity line says who did what.
    run(qtbot, ui_app.inbox.assign(contact_id, "Luis", actor="Dana"))
    qtbot.waitUntil(
        lambda: any(isinstance(i, ActivityItem) for i in page.thread_view.thread_model.items()),
        timeout=3000,
    )
    line = next(i for i in page.thread_view.thread_model.items() if isinstance(i, ActivityItem))
    assert (line.actor, line.text) == ("Dana", "Assigned to Luis")


def test_snooze_choices_are_in_the_future_and_in_order() -> None:
    from datetime import UTC, datetime

    now = datetime(2024, 5, 3, 16, 30, tzinfo=UTC)  # a Friday
    choices = snooze_choices(now)
    assert choices[0][0] == "For 1 hour"
    assert all(until > now for _, until in choices)
    assert [u for _, u in choices] == sorted(u for _, u in choices)
