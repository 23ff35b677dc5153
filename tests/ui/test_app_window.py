"""The composition root's window (``Shell.build_window``) over the real runtime: only the
Inbox is built at start; every other page is built, with its services and its wiring to
the Inbox, the first time it is shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from desktop.app import Shell
from desktop.config import AppConfig
from services.credentials import CredentialStore
from tests.harness import TestApp
from tests.services.test_credentials import MemoryKeyring
from tests.ui.conftest import run
from ui.analytics_page import AnalyticsPage
from ui.contacts_page import ContactsPage
from ui.health_page import HealthPage
from ui.missed_calls_page import MissedCallsPage
from ui.settings_page import SettingsPage

CALLER = "+14155550123"
LAZY: dict[str, type[QWidget]] = {
    "missed_calls": MissedCallsPage,
    "contacts": ContactsPage,
    "analytics": AnalyticsPage,
    "connection": HealthPage,
    "settings": SettingsPage,
}


def test_only_the_inbox_is_built_at_start_and_each_page_on_first_show(
    qtbot: QtBot, qapp: QApplication, ui_app: TestApp, bridge: Any, data_dir: Path
) -> None:
    config = AppConfig(
        data_dir=data_dir,
        database_url="sqlite://",  # not opened: the window runs on ui_app's runtime
        host="127.0.0.1",
        port=0,
        public_url=None,
        twilio_base_url=None,
    )
    shell = Shell(qapp, config, demo=False)
    shell.credentials = CredentialStore(keyring_backend=MemoryKeyring(), environ={})
    shell.bridge = bridge
    run(qtbot, ui_app.missed_call(CALLER))
    run(qtbot, ui_app.reply(CALLER, "Are you open Saturday?"))
    shell.build_window(ui_app.runtime, None)
    window = shell.window
    try:
        window.tasks.quiet = True
        assert window.isVisible() and window.current_key == "inbox"
        assert list(window.pages) == ["inbox"]
        for kind in LAZY.values():
            assert window.findChildren(kind) == [], kind
        # The badges are counted at start all the same (from the inbox service).
        qtbot.waitUntil(lambda: window.badge("inbox") == 1, timeout=3000)
        assert window.badge("missed_calls") == 1

        inbox_page = window.pages["inbox"]
        qtbot.waitUntil(lambda: inbox_page.model.rowCount() == 1, timeout=3000)
        contact_id = inbox_page.model.rows()[0].contact_id

        for key, kind in LAZY.items():
            window.show_page(key)
            (page,) = window.findChildren(kind)
            assert page is window.pages[key], key
            assert window.stack.currentWidget() is page and page.isVisible(), key
        settings = window.pages["settings"]
        qtbot.waitUntil(lambda: bool(settings._loaded), timeout=5000)
        assert settings.business.business_name.text()

        # The Contacts page, built late, is still wired to the Inbox: a contact deleted
        # there leaves the Inbox's list.
        window.pages["contacts"].contactDeleted.emit(contact_id)
        assert inbox_page.model.row_of(contact_id) < 0
    finally:
        shell.bridge = None  # the fixture detaches it
        run(qtbot, shell._shutdown())
        window.deleteLater()
