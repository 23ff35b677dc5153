"""Inbox → New conversation on real widgets, the real runtime and the Twilio stand-in,
on SQLite and PostgreSQL: a new number gets exactly one text, a known number reuses its
contact, an opted-out number is refused with the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from pytestqt.qtbot import QtBot

from tests.harness import TestApp
from tests.twilio_standin import TwilioStandIn
from tests.ui.conftest import run
from tests.ui.test_inbox import make_page
from tests.ui.test_main_window import build
from ui.inbox.page import InboxPage

CALLER = "+14155550123"


def start(qtbot: QtBot, page: InboxPage, number: str, name: str = "") -> Any:
    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    dialog = page.new_dialog
    assert dialog is not None and dialog.isVisible()
    assert "agreed to hear from you by text" in dialog.consent.text()
    qtbot.keyClicks(dialog.number, number)
    if name:
        qtbot.keyClicks(dialog.name, name)
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    return dialog


def test_new_number_gets_exactly_one_text(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, twilio_standin: TwilioStandIn
) -> None:
    page = make_page(qtbot, ui_app, bridge)
    start(qtbot, page, "+44 7400 123456", "Ana Silva")
    qtbot.waitUntil(lambda: page.current_contact_id is not None, timeout=3000)
    qtbot.waitUntil(lambda: page.new_dialog is None, timeout=2000)  # closed and freed
    qtbot.waitUntil(lambda: page.panel.contact is not None, timeout=3000)
    assert page.panel.contact is not None
    assert page.panel.contact.phone == "+447400123456"
    assert page.header_title.text() == "Ana Silva"
    assert page.focusWidget() is page.composer.edit  # ready to type
    # The contact panel edits the new contact (name, notes, tags) like any other.
    assert page.panel.isVisible() and page.panel.isEnabled()

    qtbot.keyClicks(page.composer.edit, "Hi Ana, your parts arrived.")
    qtbot.keyClick(page.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(twilio_standin.messages_sent) == 1, timeout=5000)
    qtbot.wait(300)  # nothing else follows
    sent = twilio_standin.messages_sent
    assert [(m["to"], m["body"]) for m in sent] == [
        ("+447400123456", "Hi Ana, your parts arrived.")
    ]
    # It is in the list now, and the thread says who started it.
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=3000)
    texts = [getattr(i, "text", "") for i in page.thread_view.thread_model.items()]
    assert "Started the conversation" in texts


def test_known_number_opens_the_same_contact(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, twilio_standin: TwilioStandIn
) -> None:
    page = make_page(qtbot, ui_app, bridge)
    run(qtbot, ui_app.missed_call(CALLER))
    run(qtbot, twilio_standin.wait_for_messages(1))  # the text-back
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=3000)
    known = page.model.rows()[0].contact_id
    before = run(qtbot, ui_app.inbox.contacts())

    start(qtbot, page, "(415) 555-0123")
    qtbot.waitUntil(lambda: page.current_contact_id == known, timeout=3000)
    assert run(qtbot, ui_app.inbox.contacts()) == before  # no duplicate, nothing renamed
    assert page.model.rowCount() == 1
    qtbot.keyClicks(page.composer.edit, "Following up")
    qtbot.keyClick(page.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(twilio_standin.messages_sent) == 2, timeout=5000)
    assert twilio_standin.messages_sent[-1]["to"] == CALLER


def test_opted_out_and_bad_numbers_are_refused_in_place(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, twilio_standin: TwilioStandIn
) -> None:
    page = make_page(qtbot, ui_app, bridge)
    run(qtbot, ui_app.reply(CALLER, "STOP"))
    run(qtbot, ui_app.idle())
    sent_before = len(twilio_standin.messages_sent)
    contacts_before = run(qtbot, ui_app.inbox.contacts())

    dialog = start(qtbot, page, "4155550123", "New Name")
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=3000)
    assert "opted out" in dialog.error.text()
    assert "START" in dialog.error.text()
    assert dialog.isVisible() and page.current_contact_id is None
    assert run(qtbot, ui_app.inbox.contacts()) == contacts_before
    assert len(twilio_standin.messages_sent) == sent_before

    # A number that is not one: the reason, in place; typing again clears it.
    dialog.number.clear()
    qtbot.keyClicks(dialog.number, "12345")
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=3000)
    assert "short code" in dialog.error.text()
    qtbot.keyClicks(dialog.number, "6")
    assert not dialog.error.isVisible()
    dialog.number.clear()
    assert not dialog.start_button.isEnabled()  # nothing typed: nothing to start
    qtbot.keyClicks(dialog.number, "0044 20 7946 0958")
    assert "+44 20 7946 0958" in dialog.number_hint.text()
    dialog.reject()


def test_ctrl_n_opens_it_from_any_page(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, data_dir: Path
) -> None:
    window = build(qtbot, ui_app, bridge, data_dir)
    inbox_page = window.pages["inbox"]
    assert isinstance(inbox_page, InboxPage)
    window.show_page("settings")
    (shortcut,) = [s for s in window.findChildren(QShortcut) if s.key() == QKeySequence("Ctrl+N")]
    shortcut.activated.emit()
    assert window.current_key == "inbox"
    assert inbox_page.new_dialog is not None and inbox_page.new_dialog.isVisible()
    inbox_page.new_dialog.reject()
