"""Two PCs, one customer: "Dana is replying…" on the other PC (through PostgreSQL
NOTIFY), gone 10 s after the typing stops; a reply right after a colleague's asks first.

Two real runtimes on one PostgreSQL database, a real Inbox page on each.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from tests.harness import TestApp, running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn
from tests.ui.conftest import until
from ui.event_bridge import EventBridge
from ui.inbox.page import InboxPage

CALLER = "+14155550123"


@pytest.fixture
def office_url() -> Iterator[str]:
    from tests.conftest import _fresh_postgres_database

    yield from _fresh_postgres_database()


def _pc(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "this-pc.json").write_text(json.dumps({"pc_name": name}))
    return folder


def _page(qtbot: QtBot, app: TestApp, bridges: list[EventBridge]) -> InboxPage:
    bridge = EventBridge(app.runtime.bus)
    bridges.append(bridge)
    page = InboxPage(
        app.inbox,
        app.engine,
        bridge,
        presence=app.runtime.presence,
        now=app.runtime.clock.now,
    )
    page.tasks.quiet = True
    qtbot.addWidget(page)
    page.resize(1100, 700)
    page.show()
    page.start()
    return page


def _button(box: QMessageBox, text: str) -> Any:
    return next(b for b in box.buttons() if b.text() == text)


@pytest.mark.postgres
def test_replying_shows_on_the_other_pc_and_a_quick_second_reply_asks_first(
    office_url: str, tmp_path: Path, twilio_standin: TwilioStandIn, qtbot: QtBot, run: Any
) -> None:
    bridges: list[EventBridge] = []

    async def scenario() -> None:
        async with (
            running_app(office_url, _pc(tmp_path, "front"), twilio_standin) as a,
            running_app(office_url, _pc(tmp_path, "back"), twilio_standin) as b,
        ):
            await a.set(team__members=["Dana", "Luis"], team__me="Dana")
            await b.set(team__me="Luis")
            await a.missed_call(CALLER)
            await a.reply(CALLER, "Can someone come today?")
            await a.idle()
            dana, luis = _page(qtbot, a, bridges), _page(qtbot, b, bridges)
            await until(lambda: dana.model.rowCount() == 1 and luis.model.rowCount() == 1)
            await until(lambda: dana.me == "Dana" and luis.me == "Luis")
            contact_id = dana.model.rows()[0].contact_id
            dana.open_contact(contact_id)
            luis.open_contact(contact_id)
            clock = [1000.0]
            luis.collisions.monotonic = lambda: clock[0]
            assert not luis.collisions.label.isVisible()

            # Dana types on the front PC: the back PC shows it within a second.
            qtbot.keyClicks(dana.composer.edit, "We can be there at 3")
            await until(lambda: luis.collisions.label.text() == "Dana is replying…", 1.0)
            assert luis.collisions.label.isVisible()
            assert not dana.collisions.label.isVisible()  # not to herself

            # Dana stops typing: 10 s later (driven, not slept) the line is gone.
            clock[0] += 9.5
            luis.collisions.refresh()
            assert luis.collisions.label.isVisible()
            clock[0] += 0.6
            luis.collisions.refresh()
            assert not luis.collisions.label.isVisible()

            # She types again and sends: the line goes at once, without waiting 10 s.
            clock[0] += 5  # past the 3 s repeat
            a.runtime.presence._last.clear()  # (her PC's throttle: a new burst of typing)
            qtbot.keyClicks(dana.composer.edit, ", ok?")
            await until(lambda: luis.collisions.label.isVisible(), 1.0)
            sent_before = len(twilio_standin.messages_sent)
            dana.send_current()
            await until(lambda: len(twilio_standin.messages_sent) == sent_before + 1, 5.0)
            assert dana.collisions.box is None  # her own send: nothing to ask
            await until(lambda: not luis.collisions.label.isVisible(), 1.0)

            # Luis answers too, seconds later: asked first; "Don't send" keeps his text.
            await until(lambda: len(luis.thread_view.thread_model.items()) == 4, 2.0)
            qtbot.keyClicks(luis.composer.edit, "I can come at 4 instead")
            luis.send_current()
            await until(lambda: luis.collisions.box is not None, 3.0)
            box = luis.collisions.box
            assert box is not None
            assert box.text().startswith("Dana replied to ")
            assert "We can be there at 3, ok?" in box.informativeText()
            _button(box, "Don't send").click()
            await until(lambda: luis.collisions.box is None)
            assert luis.composer.text == "I can come at 4 instead"
            await a.idle()
            assert len(twilio_standin.messages_sent) == sent_before + 1

            # Asked again, "Send anyway" sends it.
            luis.send_current()
            await until(lambda: luis.collisions.box is not None, 3.0)
            box = luis.collisions.box
            assert box is not None
            _button(box, "Send anyway").click()
            await until(lambda: len(twilio_standin.messages_sent) == sent_before + 2, 5.0)
            assert twilio_standin.messages_sent[-1]["body"] == "I can come at 4 instead"
            await until(lambda: luis.composer.text == "")

            # More than 30 s after Luis's reply, Dana's next one goes without a question.
            qtbot.keyClicks(dana.composer.edit, "See you then")
            later = a.runtime.clock.now() + timedelta(seconds=31)
            dana.collisions.now = lambda: later
            dana.send_current()
            await until(lambda: len(twilio_standin.messages_sent) == sent_before + 3, 5.0)
            assert dana.collisions.box is None
            for page in (dana, luis):
                page.shutdown()

    try:
        run(scenario())
    finally:
        for bridge in bridges:
            bridge.detach()
            shiboken6.delete(bridge)
