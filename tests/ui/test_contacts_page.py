"""Contacts page: search, tags and opt-out shown, double-click opens the thread."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from pytestqt.qtbot import QtBot

from services.events import ContactChanged, ConversationChanged, Event
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn
from tests.ui.conftest import sqlite_app, until
from ui.contact_history import HistoryModel
from ui.contacts_page import ContactsModel, ContactsPage


class Bridge(QObject):
    contactChanged = Signal(int)

    def on_event(self, event: Event) -> None:
        if isinstance(event, ContactChanged):
            self.contactChanged.emit(event.contact_id)


def test_search_tags_opt_out_and_open(
    twilio_standin: TwilioStandIn, qtbot: QtBot, run: Any, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with sqlite_app(tmp_path, twilio_standin) as app:
            await app.missed_call("+14155550123")
            await app.missed_call("+14155550188")
            await app.idle()
            calls = await app.inbox.missed_calls()
            maria = next(c.contact_id for c in calls if c.phone == "+14155550123")
            other = next(c.contact_id for c in calls if c.phone == "+14155550188")
            await app.inbox.rename(maria, "Maria Lopez", actor="test")
            await app.reply("+14155550188", "STOP")
            await app.idle()

            bridge = Bridge()
            unsubscribe = app.runtime.bus.subscribe(bridge.on_event)
            page = ContactsPage(app.inbox, bridge)
            page.tasks.quiet = True
            qtbot.addWidget(page)
            page.show()
            await until(lambda: page.model.rowCount() == 2)
            model = page.model
            first = model.contact_at(0)
            assert first is not None and first.id == maria  # named contacts first
            assert model.index(0, ContactsModel.NAME).data() == "Maria Lopez"
            assert "missed call" in model.index(0, ContactsModel.TAGS).data()
            assert model.index(1, ContactsModel.TEXTS).data() == "Opted out"
            assert model.index(0, ContactsModel.TEXTS).data() == "Yes"  # never blank
            why = model.index(1, ContactsModel.TEXTS).data(Qt.ItemDataRole.ToolTipRole)
            assert "Replied STOP" in why
            header = page.table.horizontalHeader()
            for column in (ContactsModel.NAME, ContactsModel.TEXTS, ContactsModel.ASSIGNED):
                title = header.sectionSizeFromContents(column).width()  # its title, whole
                assert header.sectionSize(column) >= title, ContactsModel.COLUMNS[column]

            qtbot.keyClicks(page.search_box, "maria")
            await until(lambda: model.rowCount() == 1)
            assert model.contact_at(0).id == maria  # type: ignore[union-attr]
            page.search_box.setText("0188")
            await until(lambda: model.rowCount() == 1 and model.contact_at(0).id == other)  # type: ignore[union-attr]
            page.search_box.setText("nobody")
            await until(lambda: page.views.currentWidget() is page.empty)
            assert "nobody" in page.empty.text()

            page.search_box.clear()
            await until(lambda: model.rowCount() == 2)
            # A tag added elsewhere shows up live.
            await app.inbox.add_tag(maria, "VIP", actor="test")
            await until(lambda: "VIP" in model.index(0, ContactsModel.TAGS).data())
            # Search finds tags and notes.
            page.search_box.setText("vip")
            await until(lambda: model.rowCount() == 1 and model.contact_at(0).id == maria)  # type: ignore[union-attr]
            await app.inbox.set_notes(other, "Gate code 4411", actor="test")
            page.search_box.setText("4411")
            await until(lambda: model.rowCount() == 1 and model.contact_at(0).id == other)  # type: ignore[union-attr]
            page.search_box.clear()
            await until(lambda: model.rowCount() == 2)

            opened: list[int] = []
            page.openContact.connect(opened.append)
            await asyncio.sleep(0.05)  # laid out
            rect = page.table.visualRect(model.index(0, 0))
            qtbot.mouseClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
            qtbot.mouseDClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
            assert opened == [maria]
            page.table.selectRow(1)
            qtbot.keyClick(page.table, Qt.Key.Key_Return)
            assert opened == [maria, other]
            unsubscribe()
            page.shutdown()

    run(scenario())


class LiveBridge(Bridge):
    conversationChanged = Signal(int, int)
    callChanged = Signal(int)

    def on_event(self, event: Event) -> None:
        super().on_event(event)
        if isinstance(event, ConversationChanged):
            self.conversationChanged.emit(event.conversation_id, event.contact_id)


def test_selecting_a_contact_shows_its_history(
    twilio_standin: TwilioStandIn, qtbot: QtBot, run: Any, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with sqlite_app(tmp_path, twilio_standin) as app:
            await app.missed_call("+14155550123")
            await twilio_standin.wait_for_messages(1)  # the text-back
            await app.reply("+14155550123", "Can you come Tuesday?")
            await app.idle()
            maria = (await app.inbox.missed_calls())[0].contact_id
            await app.inbox.rename(maria, "Maria Lopez", actor="test")
            await app.engine.send_reply(maria, "Yes, 9am.", author="Dana")
            await twilio_standin.wait_for_messages(2)
            await app.idle()

            bridge = LiveBridge()
            unsubscribe = app.runtime.bus.subscribe(bridge.on_event)
            page = ContactsPage(app.inbox, bridge)
            page.tasks.quiet = True
            qtbot.addWidget(page)
            page.resize(1000, 600)
            page.show()
            await until(lambda: page.model.rowCount() == 1)
            panel = page.history
            assert panel.history is None and panel.stack.currentWidget() is panel.hint

            page.table.selectRow(0)
            await until(lambda: panel.history is not None)
            assert panel.title.text() == "Maria Lopez"
            assert panel.figures.text() == "1 call (1 missed) · 1 text in · 2 texts out"
            rows = [
                panel.model.index(r, HistoryModel.WHAT).data()
                for r in range(panel.model.rowCount())
            ]
            assert rows[0] == "Missed call"
            assert rows[2] == "They texted: Can you come Tuesday?"
            assert rows[-1] == "You texted: Yes, 9am."
            assert rows[1].startswith("You texted: ")  # the text-back, between them
            assert panel.last_contact.text().startswith("Last contact: ")
            assert panel.booked.text() == "Not booked yet."

            # Live: a new text and a booking show up in the open history.
            await app.reply("+14155550123", "Great, see you then")
            await until(lambda: "2 texts in" in panel.figures.text())
            assert panel.model.rowCount() == 5
            await app.inbox.mark_booked(maria, 45000, actor="Dana")
            await until(lambda: panel.booked.text() == "Booked: $450.00")

            opened: list[int] = []
            page.openContact.connect(opened.append)
            qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
            assert opened == [maria]

            page.table.clearSelection()
            page.table.setCurrentIndex(page.model.index(-1, 0))
            await until(lambda: panel.history is None)
            unsubscribe()
            page.shutdown()

    run(scenario())
