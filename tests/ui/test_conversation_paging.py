"""The conversation list on the shared keyset pager, on the real runtime (SQLite and
PostgreSQL): scrolled to the end page by page while new threads arrive and threads not
loaded yet move to the top, it ends holding every thread exactly once, in order."""

from __future__ import annotations

from collections import Counter
from typing import Any

import shiboken6
from pytestqt.qtbot import QtBot

from tests.harness import TestApp
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.ui.conftest import run
from ui.inbox.conversation_model import ConversationListModel


def _phone(n: int) -> str:
    return f"+1415556{n:04d}"


def test_every_thread_once_while_threads_arrive_and_move_up(
    qtbot: QtBot, ui_app: TestApp, bridge: Any
) -> None:
    for i in range(14):
        run(qtbot, ui_app.reply(_phone(i), f"hello {i}"))
    model = ConversationListModel(ui_app.inbox)
    model.PAGE_SIZE = 3
    bridge.conversationChanged.connect(lambda _conv, contact: model.refresh_contact(contact))

    def settled() -> bool:
        return not model.loading and not model._refreshing

    try:
        model.reload()
        qtbot.waitUntil(settled, timeout=5000)
        assert model.rowCount() == 3
        pages = 1
        while model.canFetchMore():
            # A new caller texts, and the oldest thread (not loaded yet, below the cursor)
            # gets a new text: it moves above the cursor, so the live refresh brings it.
            pages += 1
            run(qtbot, ui_app.reply(_phone(100 + pages), "new here"))
            oldest = run(qtbot, ui_app.inbox.conversations(limit=1000))[-1]
            if model.row_of(oldest.contact_id) < 0:
                run(qtbot, ui_app.reply(oldest.phone, "still waiting"))
            # The change reaches the model through the event bridge (on PostgreSQL after
            # the office bus relays it): wait for the newest thread to be on top.
            newest = run(qtbot, ui_app.inbox.conversations(limit=1))[0].contact_id
            qtbot.waitUntil(lambda n=newest: model.row_of(n) == 0 and settled(), timeout=5000)
            model.fetchMore()
            qtbot.waitUntil(settled, timeout=5000)
        assert pages >= 4
        everything = run(qtbot, ui_app.inbox.conversations(limit=1000))
        shown = [r.contact_id for r in model.rows()]
        assert Counter(shown).most_common(1)[0][1] == 1
        assert shown == [r.contact_id for r in everything]
        assert model.rows() == everything  # the newest snapshots, not a page's older copy
    finally:
        model.shutdown()
        shiboken6.delete(model)
