"""'Call back' from the Inbox (the thread header and the contact panel), driven through
the real Inbox screen on the real runtime: the Twilio stand-in behind the SDK, the
callback's webhooks signed as Twilio signs them, on SQLite and PostgreSQL.

Pressing it rings the desk's phone first with TwiML that then dials the caller with the
business number as caller ID; the waiting auto-text is cancelled, "pending callback"
cleared, and the call shows in the thread with its outcome and duration."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from services.clock import ManualClock
from services.records import PENDING_CALLBACK
from services.snapshots import CallbackItem
from tests.harness import BUSINESS, OFFICE_PHONE, TestApp, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn
from tests.ui.conftest import until
from ui.event_bridge import EventBridge
from ui.inbox.page import InboxPage
from ui.inbox.thread import callback_lines

CALLER = "+14155550123"


def _callbacks(page: InboxPage) -> list[CallbackItem]:
    return [i for i in page.thread_view.thread_model.items() if isinstance(i, CallbackItem)]


def _desk_call(form: dict[str, str]) -> ET.Element:
    """The placed call rings the desk's phone from the business number; its TwiML dials
    the caller with the business number as caller ID. Returns the <Dial>."""
    assert form["To"] == OFFICE_PHONE and form["From"] == BUSINESS
    dial = ET.fromstring(form["Twiml"]).find("Dial")
    assert dial is not None and dial.get("callerId") == BUSINESS
    assert [n.text for n in dial.findall("Number")] == [CALLER]
    return dial


async def _press(qtbot: QtBot, button: QPushButton) -> None:
    await until(button.isVisible)
    await until(button.isEnabled)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


async def _connected(app: TestApp, sid: str, seconds: int) -> None:
    """Twilio's webhooks for a callback the desk answered and talked ``seconds`` on."""
    base = {"CallSid": sid, "From": BUSINESS, "To": OFFICE_PHONE}
    assert (await app.post("callback_status", {**base, "CallStatus": "in-progress"}))[0] == 204
    status, _ = await app.post(
        "callback_dial",
        {**base, "DialCallStatus": "completed", "DialCallDuration": str(seconds)},
    )
    assert status == 200
    assert (await app.post("callback_status", {**base, "CallStatus": "completed"}))[0] == 204


def test_call_back_from_the_thread_header_and_the_contact_panel(
    twilio_standin: TwilioStandIn,
    qtbot: QtBot,
    run: Any,
    database_url: str,
    data_dir: Path,
) -> None:
    clock = ManualClock()

    async def scenario() -> None:
        settings = {"textback.delay_seconds": 120}
        async with running_app(
            database_url, data_dir, twilio_standin, clock=clock, settings=settings
        ) as app:
            bridge = EventBridge(app.runtime.bus)
            page = InboxPage(app.inbox, app.engine, bridge)
            try:
                page.tasks.quiet = True
                page.resize(1200, 800)
                qtbot.addWidget(page)
                page.show()
                page.start()
                await app.missed_call(CALLER)
                await app.idle()
                (missed,) = await app.inbox.missed_calls()
                assert missed.textback_state == "scheduled"
                contact_id = missed.contact_id
                await app.inbox.add_tag(contact_id, PENDING_CALLBACK, actor="test")
                await until(lambda: page.model.rowCount() == 1)
                page.list.setCurrentIndex(page.model.index(0, 0))
                await until(
                    lambda: (
                        page.panel.contact is not None
                        and PENDING_CALLBACK in page.panel.contact.tags
                    )
                )

                # The thread header's Call back.
                await _press(qtbot, page.thread_actions.call_back_button)
                await until(lambda: len(twilio_standin.calls_created) == 1)
                first = twilio_standin.calls_created[0]
                dial = _desk_call(first["_form"])
                assert dial.get("action", "").endswith("/twilio/voice/callback-dial")
                # It counts: the auto-text is cancelled, "pending callback" cleared (on
                # screen too), and the callback shows in the thread while it rings.
                await until(
                    lambda: (
                        page.panel.contact is not None
                        and PENDING_CALLBACK not in page.panel.contact.tags
                    )
                )
                await until(lambda: [c.state for c in _callbacks(page)] == ["ringing_desk"])
                (missed,) = await app.inbox.missed_calls()
                assert missed.textback_state == "cancelled"
                await _connected(app, first["sid"], 95)
                await until(
                    lambda: (
                        [(c.state, c.duration_seconds) for c in _callbacks(page)]
                        == [("connected", 95)]
                    )
                )
                assert "talked 1 min 35 s" in callback_lines(_callbacks(page)[0])[0]
                clock.advance(600)
                app.runtime.scheduler.wake()
                await app.idle()
                assert twilio_standin.messages_sent == []

                # The contact panel's Call back places another, through the same service.
                await _press(qtbot, page.panel.call_back_button)
                await until(lambda: len(twilio_standin.calls_created) == 2)
                second = twilio_standin.calls_created[1]
                _desk_call(second["_form"])
                await until(lambda: len(_callbacks(page)) == 2)
                base = {"CallSid": second["sid"], "From": BUSINESS, "To": OFFICE_PHONE}
                await app.post("callback_status", {**base, "CallStatus": "no-answer"})
                await until(
                    lambda: (
                        sorted(c.state for c in _callbacks(page)) == ["connected", "desk_missed"]
                    )
                )
            finally:
                page.shutdown()
                bridge.detach()

    run(scenario())
