"""Missed calls page: a scheduled text counts down live, Cancel auto-text stops it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt, Signal
from pytestqt.qtbot import QtBot

from services.cursors import CallsAfter
from services.events import CallChanged, Event
from services.send_state import Shown
from services.snapshots import CallItem
from tests.harness import OFFICE_PHONE
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn
from tests.ui.conftest import sqlite_app, until
from ui.missed_calls_page import MissedCallsModel, MissedCallsPage, automation_text

CALLER = "+14155550123"


class Bridge(QObject):
    callChanged = Signal(int)

    def on_event(self, event: Event) -> None:
        if isinstance(event, CallChanged):
            self.callChanged.emit(event.call_id)


def test_countdown_then_cancel_auto_text(
    twilio_standin: TwilioStandIn, qtbot: QtBot, run: Any, tmp_path: Path
) -> None:
    async def scenario() -> None:
        settings = {"textback.delay_seconds": 45}
        async with sqlite_app(tmp_path, twilio_standin, settings=settings) as app:
            bridge = Bridge()
            unsubscribe = app.runtime.bus.subscribe(bridge.on_event)
            page = MissedCallsPage(app.inbox, app.engine, bridge, actor="Dana")
            page.tasks.quiet = True
            qtbot.addWidget(page)
            page.resize(900, 400)
            page.show()
            await page.load()
            assert page.model.rowCount() == 0
            assert page.views.currentWidget() is page.empty

            await app.missed_call(CALLER)  # arrives live, through callChanged
            model = page.model
            cell = model.index(0, MissedCallsModel.AUTOMATION)
            await until(lambda: model.rowCount() == 1 and "Sends in" in str(cell.data()))
            first = str(model.index(0, MissedCallsModel.AUTOMATION).data())
            assert re.fullmatch(r"Sends in \d+ s", first), first
            seconds = int(first.split()[2])
            assert 40 <= seconds <= 45
            await until(
                lambda: str(model.index(0, MissedCallsModel.AUTOMATION).data()) != first,
                timeout=3,
            )  # the countdown ticks by itself

            page.select_call(model.call_at(0).id)  # type: ignore[union-attr]
            assert page.cancel_button.isEnabled()
            qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
            await until(
                lambda: str(model.index(0, MissedCallsModel.AUTOMATION).data()).startswith(
                    "Auto-text cancelled"
                )
            )
            assert "cancelled" in page.status.text()
            assert not page.cancel_button.isEnabled()
            assert (await app.inbox.missed_calls())[0].textback_state == "cancelled"
            await app.idle()
            assert twilio_standin.messages_sent == []

            # Call back through Twilio: the desk's phone rings first, the caller second.
            assert page.call_button.isEnabled()
            qtbot.mouseClick(page.call_button, Qt.MouseButton.LeftButton)
            await until(lambda: len(twilio_standin.calls_created) == 1)
            form = twilio_standin.calls_created[0]["_form"]
            assert form["To"] == OFFICE_PHONE and CALLER in form["Twiml"]
            await until(lambda: "desk phone is ringing" in page.status.text())
            unsubscribe()
            page.shutdown()

    run(scenario())


def _call(**changes: Any) -> CallItem:
    base: dict[str, Any] = {
        "id": 1,
        "sid": "CA1",
        "at": datetime(2025, 1, 1, 12, tzinfo=UTC),
        "from_raw": CALLER,
        "phone": CALLER,
        "display_phone": "(415) 555-0123",
        "contact_id": 1,
        "name": None,
        "outcome": "missed",
        "after_hours": False,
        "ring_seconds": 20,
        "textback_state": Shown.SCHEDULED,
        "textback_reason": None,
        "textback_due_at": datetime(2025, 1, 1, 12, 0, 28, tzinfo=UTC),
        "textback_status": None,
        "replied": False,
        "followup_state": None,
        "followup_due_at": None,
        "source": "live",
    }
    base.update(changes)
    return CallItem(**base)


def test_automation_words() -> None:
    now = datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert automation_text(_call(), now) == "Sends in 28 s"
    assert automation_text(_call(textback_state=Shown.HELD), now).startswith("Held for quiet hours")
    sent = _call(textback_state=Shown.SENT, textback_status="delivered", textback_due_at=None)
    assert automation_text(sent, now) == "Text delivered"
    skipped = _call(textback_state=Shown.SKIPPED, textback_reason="they opted out")
    assert automation_text(skipped, now) == "Not texted: they opted out"


def test_model_bounds_and_roles(qtbot: QtBot, run: Any) -> None:
    class Inbox:
        async def missed_calls(
            self, *, after: CallsAfter | None = None, limit: int = 200
        ) -> list[CallItem]:
            # 250 calls, ids 250 down to 1, newest first; a page starts after the cursor.
            first = after.call_id - 1 if after is not None else 250
            return [_call(id=i) for i in range(first, max(first - limit, 0), -1)]

    async def scenario() -> None:
        model = MissedCallsModel(Inbox(), now=lambda: datetime(2025, 1, 1, 12, tzinfo=UTC))  # type: ignore[arg-type]
        await model.reload()
        assert model.rowCount() == 100
        assert model.canFetchMore(QModelIndex())
        model.fetchMore(QModelIndex())
        await until(lambda: model.rowCount() == 200)
        model.fetchMore(QModelIndex())
        await until(lambda: model.rowCount() == 250)
        assert not model.canFetchMore(QModelIndex())
        assert model.data(model.index(0, 0), Qt.ItemDataRole.DecorationRole) is None
        assert model.data(model.index(250, 0)) is None
        assert model.data(model.createIndex(0, 9)) is None
        assert isinstance(model.data(model.index(3, 0), MissedCallsModel.CallRole), CallItem)
        model.shutdown()

    run(scenario())
