"""EverythingChanged (the office connection came back; notifications may have been
missed): every open view reloads what it shows.

The pages are the real ones over the real runtime. Changes are made while the bridge is
detached, as changes on another PC are while this PC's office channel is down: no event
reaches the views, which stay stale, until the one EverythingChanged the channel
publishes on reconnecting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from services.analytics import Analytics
from services.events import ContactChanged, ConversationChanged, EverythingChanged
from tests.harness import TestApp
from tests.ui.conftest import run
from ui.analytics_page import AnalyticsPage
from ui.contacts_page import ContactsPage
from ui.event_bridge import EventBridge
from ui.inbox.page import InboxPage
from ui.main_window import MainWindow
from ui.missed_calls_page import MissedCallsPage
from ui.settings_page import SettingsPage

FIRST = "+14155550123"
SECOND = "+14155550177"


def test_every_open_view_reloads_on_everything_changed(
    qtbot: QtBot, ui_app: TestApp, bridge: EventBridge, data_dir: Path
) -> None:
    rt = ui_app.runtime
    run(qtbot, ui_app.missed_call(FIRST))
    run(qtbot, ui_app.reply(FIRST, "Is Tuesday possible?"))
    run(qtbot, ui_app.idle())

    inbox_page = InboxPage(ui_app.inbox, ui_app.engine, bridge)
    missed = MissedCallsPage(ui_app.inbox, ui_app.engine, bridge, actor="Dana")
    contacts = ContactsPage(ui_app.inbox, bridge)
    analytics = AnalyticsPage(Analytics(rt.db, rt.clock), bridge)
    settings = SettingsPage(ui_app.inbox, bridge, actor="Dana")
    store = QSettings(str(data_dir / "window.ini"), QSettings.Format.IniFormat)
    window = MainWindow([("inbox", "Inbox", inbox_page)], ui_app.inbox, bridge, store)
    for page in (inbox_page, missed, contacts, analytics, settings):
        page.tasks.quiet = True
    window.tasks.quiet = True
    qtbot.addWidget(window)
    for page in (missed, contacts, analytics, settings):
        qtbot.addWidget(page)
        page.resize(900, 600)
        page.show()
    window.show()
    window.start()

    qtbot.waitUntil(lambda: inbox_page.model.rowCount() == 1, timeout=3000)
    contact_id = inbox_page.model.rows()[0].contact_id
    inbox_page.open_contact(contact_id)
    qtbot.waitUntil(lambda: inbox_page.panel.contact is not None, timeout=3000)
    thread = inbox_page.thread_view.thread_model
    qtbot.waitUntil(lambda: len(thread.items()) == 3, timeout=3000)  # call, text-back, reply
    qtbot.waitUntil(lambda: missed.model.rowCount() == 1, timeout=3000)
    qtbot.waitUntil(lambda: contacts.model.rowCount() == 1, timeout=3000)
    qtbot.waitUntil(lambda: analytics.report is not None, timeout=3000)
    qtbot.waitUntil(lambda: settings._settings is not None, timeout=3000)
    qtbot.waitUntil(lambda: window.counts is not None and window.counts.unread == 0, timeout=3000)
    assert analytics.report is not None and analytics.report.current.missed_calls == 1

    # Let every refresh already on its way land first (else it would read the changes
    # below, and the views would look live for the wrong reason).
    bridge.flush()
    runners = [p.tasks for p in (inbox_page, missed, contacts, analytics, settings)]
    runners += [window.tasks, inbox_page.model.tasks, missed.model.tasks, contacts.model.tasks]
    qtbot.waitUntil(
        lambda: not any(r.pending for r in runners) and not analytics._refresh_timer.isActive(),
        timeout=5000,
    )
    qtbot.waitUntil(lambda: not any(r.pending for r in runners), timeout=5000)

    # The connection is down: changes land in the database, no event reaches the views.
    bridge.detach()
    run(qtbot, ui_app.missed_call(SECOND))
    run(qtbot, ui_app.reply(SECOND, "Called you, no answer"))
    run(qtbot, ui_app.reply(FIRST, "Or Wednesday"))
    run(qtbot, ui_app.inbox.rename(contact_id, "Maria Lopez", actor="Sam"))
    run(qtbot, ui_app.inbox.update_settings({"business.name": "Smith & Sons"}, actor="Sam"))
    run(qtbot, ui_app.idle())
    bridge.flush()
    qtbot.wait(200)
    assert inbox_page.model.rowCount() == 1
    assert len(thread.items()) == 3
    assert inbox_page.panel.name.text() == ""
    assert missed.model.rowCount() == 1
    assert contacts.model.rowCount() == 1
    assert analytics.report.current.missed_calls == 1
    assert settings.business.business_name.text() != "Smith & Sons"
    assert window.counts.unread == 0

    # Back: the channel publishes EverythingChanged, and every view catches up.
    bridge.attach(rt.bus)
    rt.bus.publish(EverythingChanged())
    qtbot.waitUntil(lambda: inbox_page.model.rowCount() == 2, timeout=3000)
    qtbot.waitUntil(lambda: len(thread.items()) == 4, timeout=3000)
    qtbot.waitUntil(lambda: inbox_page.panel.name.text() == "Maria Lopez", timeout=3000)
    assert inbox_page.model.row_of(contact_id) >= 0
    assert inbox_page.list.currentIndex().row() == inbox_page.model.row_of(contact_id)
    qtbot.waitUntil(lambda: missed.model.rowCount() == 2, timeout=3000)
    qtbot.waitUntil(lambda: contacts.model.rowCount() == 2, timeout=3000)
    qtbot.waitUntil(lambda: analytics.report.current.missed_calls == 2, timeout=5000)  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: settings.business.business_name.text() == "Smith & Sons", timeout=3000)
    unread = run(qtbot, ui_app.inbox.counts()).unread
    assert unread >= 1
    qtbot.waitUntil(lambda: window.counts.unread == unread, timeout=3000)  # type: ignore[union-attr]
    assert inbox_page.me is None  # the settings were re-read too (no "me" set)
    for page in (inbox_page, missed, contacts, analytics, settings):
        page.shutdown()
    window.shutdown()


def test_bridge_emits_everything_changed_once_instead_of_the_rows(
    qtbot: QtBot, ui_app: TestApp, bridge: EventBridge
) -> None:
    """A batch with EverythingChanged emits ``everythingChanged`` once, not row refreshes
    that would race the reloads."""
    seen: list[Any] = []
    bridge.everythingChanged.connect(lambda: seen.append("everything"))
    bridge.conversationChanged.connect(lambda *a: seen.append(("conversation", *a)))
    bridge.contactChanged.connect(lambda *a: seen.append(("contact", *a)))
    bus = ui_app.runtime.bus
    # One burst (published back to back, as a reconnect after other events would be).
    bus.publish(ConversationChanged(7, 3))
    bus.publish(ContactChanged(3))
    bus.publish(EverythingChanged())
    bus.publish(EverythingChanged())
    with qtbot.waitSignal(bridge.flushed, timeout=2000):
        pass
    assert seen == ["everything"]
