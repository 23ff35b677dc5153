"""The main window: sidebar counts from InboxApi.counts(), pages, shortcuts, saved state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from tests.harness import TestApp
from tests.ui.conftest import run
from ui.inbox.page import InboxPage
from ui.main_window import MainWindow

CALLER = "+14155550123"


def build(qtbot: QtBot, ui_app: TestApp, bridge: Any, data_dir: Path) -> MainWindow:
    inbox_page = InboxPage(ui_app.inbox, ui_app.engine, bridge)
    inbox_page.tasks.quiet = True
    pages = [("inbox", "Inbox", inbox_page)] + [
        (key, title, QLabel(title))
        for key, title in (
            ("missed_calls", "Missed calls"),
            ("contacts", "Contacts"),
            ("analytics", "Analytics"),
            ("settings", "Settings"),
        )
    ]
    store = QSettings(str(data_dir / "window.ini"), QSettings.Format.IniFormat)
    window = MainWindow(pages, ui_app.inbox, bridge, store, version="9.9.9")
    window.tasks.quiet = True
    qtbot.addWidget(window)
    window.show()
    window.start()
    return window


def test_counts_pages_and_saved_state(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, data_dir: Path
) -> None:
    window = build(qtbot, ui_app, bridge, data_dir)
    qtbot.waitUntil(lambda: window.counts is not None, timeout=2000)
    assert window.badge("inbox") == 0

    run(qtbot, ui_app.reply(CALLER, "Hello?"))
    qtbot.waitUntil(lambda: window.badge("inbox") == 1, timeout=2000)

    window.show_page("settings")
    assert window.current_key == "settings"
    window.sidebar.setCurrentRow(1)
    assert window.current_key == "missed_calls"

    # Ctrl+J: the next unread conversation opens in the Inbox, which marks it read
    # (once the list shows it: the badge and the list are refreshed separately).
    inbox_page = window.pages["inbox"]
    qtbot.waitUntil(lambda: any(r.unread for r in inbox_page.model.rows()), timeout=3000)
    window.next_unread()
    assert window.current_key == "inbox"
    qtbot.waitUntil(lambda: window.badge("inbox") == 0, timeout=3000)

    window.show_page("analytics")
    window.resize(1300, 760)
    window.shutdown()

    again = build(qtbot, ui_app, bridge, data_dir)
    assert again.current_key == "analytics"
    assert again.height() == 760  # (offscreen clamps the width to its virtual screen)

    again.show_about()
    assert "9.9.9" in again.about_box.text()
    again.about_box.close()


def test_closing_without_a_tray_quits(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, data_dir: Path
) -> None:
    window = build(qtbot, ui_app, bridge, data_dir)
    window.close_to_tray = False
    with qtbot.waitSignal(window.quitRequested, timeout=1000):
        window.close()


def test_closing_with_a_tray_hides(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, data_dir: Path
) -> None:
    window = build(qtbot, ui_app, bridge, data_dir)
    window.close_to_tray = True
    window.close()
    assert window.isHidden()
