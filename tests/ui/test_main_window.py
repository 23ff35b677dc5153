"""The main window: sidebar counts from InboxApi.counts(), pages, shortcuts, saved state."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot

from tests.harness import TestApp
from tests.ui.conftest import run
from ui.inbox.page import InboxPage
from ui.main_window import MainWindow

CALLER = "+14155550123"


PageSource = QWidget | Callable[[], QWidget]


def build(
    qtbot: QtBot,
    ui_app: TestApp,
    bridge: Any,
    data_dir: Path,
    page: Callable[[str, str], PageSource] = lambda _key, title: QLabel(title),
) -> MainWindow:
    """The Inbox and four more pages, ``page(key, title)`` (a widget, or what builds it)."""
    inbox_page = InboxPage(ui_app.inbox, ui_app.engine, bridge)
    inbox_page.tasks.quiet = True
    pages: list[tuple[str, str, PageSource]] = [("inbox", "Inbox", inbox_page)]
    pages += [
        (key, title, page(key, title))
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
    quits: list[bool] = []
    window.quitRequested.connect(lambda: quits.append(True))
    window.close()
    # No tray: closing quits, so it says first that text-backs stop.
    box = window.close_box
    assert box is not None and box.isVisible()
    assert "no text-back" in box.informativeText()
    keep = next(b for b in box.buttons() if b.text() == "Keep running")
    keep.click()
    assert quits == []
    window.close()
    box = window.close_box
    assert box is not None
    with qtbot.waitSignal(window.quitRequested, timeout=1000):
        next(b for b in box.buttons() if b.text() == "Quit").click()


def test_closing_with_unsaved_settings_asks(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, data_dir: Path
) -> None:
    from ui.settings_page import SettingsPage

    settings = SettingsPage(ui_app.inbox, bridge)
    settings.tasks.quiet = True
    store = QSettings(str(data_dir / "window.ini"), QSettings.Format.IniFormat)
    window = MainWindow(
        [("inbox", "Inbox", QLabel("inbox")), ("settings", "Settings", settings)],
        ui_app.inbox,
        bridge,
        store,
    )
    window.tasks.quiet = True
    qtbot.addWidget(window)
    window.close_to_tray = True
    window.show()
    window.show_page("settings")
    qtbot.waitUntil(lambda: bool(settings._loaded), timeout=3000)
    settings.business.business_name.setText("Renamed Plumbing")

    window.close()
    box = window.close_box
    assert box is not None and "Save your changes in Settings?" in box.text()
    next(b for b in box.buttons() if b.text() == "Cancel").click()
    assert window.isVisible()
    assert settings.business.business_name.text() == "Renamed Plumbing"

    window.close()
    box = window.close_box
    assert box is not None
    next(b for b in box.buttons() if b.text() == "Save").click()
    qtbot.waitUntil(window.isHidden, timeout=3000)
    stored = run(qtbot, ui_app.inbox.settings())
    assert stored["business.name"] == "Renamed Plumbing"


def test_closing_with_a_tray_hides(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, data_dir: Path
) -> None:
    window = build(qtbot, ui_app, bridge, data_dir)
    window.close_to_tray = True
    window.close()
    assert window.isHidden()


def test_a_new_missed_call_bumps_the_inbox_and_missed_calls_badges(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, data_dir: Path
) -> None:
    window = build(qtbot, ui_app, bridge, data_dir)
    qtbot.waitUntil(lambda: window.counts is not None, timeout=2000)
    run(qtbot, ui_app.missed_call(CALLER))
    qtbot.waitUntil(
        lambda: (window.badge("inbox"), window.badge("missed_calls")) == (1, 1), timeout=3000
    )
    # A text that is not a missed call bumps the Inbox only.
    run(qtbot, ui_app.reply("+14155550144", "Hello?"))
    qtbot.waitUntil(
        lambda: (window.badge("inbox"), window.badge("missed_calls")) == (2, 1), timeout=3000
    )
    # Opening the missed caller's thread attends to the call.
    inbox_page = window.pages["inbox"]
    qtbot.waitUntil(lambda: inbox_page.model.rowCount() == 2, timeout=3000)
    caller = next(r.contact_id for r in inbox_page.model.rows() if r.phone == CALLER)
    window.open_conversation(caller)
    qtbot.waitUntil(
        lambda: (window.badge("inbox"), window.badge("missed_calls")) == (1, 0), timeout=3000
    )


def test_the_default_window_fits_a_small_screen_and_the_thread_keeps_its_width(
    qtbot: QtBot, ui_app: TestApp, bridge: Any
) -> None:
    from PySide6.QtCore import QSize

    from ui.main_window import default_size

    # 1366x768 at 200%: 683x384 device-independent pixels (less the taskbar).
    assert default_size(QSize(683, 354)) == QSize(643, 314)
    assert default_size(QSize(1920, 1040)) == QSize(1280, 800)

    page = InboxPage(ui_app.inbox, ui_app.engine, bridge)
    page.tasks.quiet = True
    qtbot.addWidget(page)
    page.resize(824, 660)  # the inbox of a 1024x700 window beside the sidebar
    page.show()
    page.right.setCurrentIndex(1)
    qtbot.wait(300)
    qtbot.waitUntil(lambda: page.thread_view.width() >= InboxPage.THREAD_MIN, timeout=2000)


def test_switching_to_dark_while_running_restyles_the_filter_chips(qtbot: QtBot) -> None:
    from PySide6.QtGui import QColor, QPalette
    from PySide6.QtWidgets import QApplication, QToolButton

    from ui import theme

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    before_palette, before_sheet = app.palette(), app.styleSheet()
    theme.apply(app)
    try:
        button = QToolButton()
        button.setObjectName("filterButton")
        button.setText("Unread chats")
        button.setCheckable(True)
        button.setChecked(True)
        qtbot.addWidget(button)
        button.show()
        dark = QPalette(before_palette)
        dark.setColor(QPalette.ColorRole.Highlight, QColor("#c00000"))
        dark.setColor(QPalette.ColorRole.Window, QColor("#1f2226"))
        app.setPalette(dark)

        def chip_colour() -> QColor:
            image = button.grab().toImage()
            return image.pixelColor(image.width() // 2, 3)

        # The checked chip's background follows the new palette's highlight.
        qtbot.waitUntil(lambda: chip_colour().red() > 150 > chip_colour().green(), timeout=2000)
    finally:
        app.setPalette(before_palette)
        app.setStyleSheet(before_sheet)


class _LazyPage(QLabel):
    """A page MainWindow builds on first show: counts its starts, can open a thread."""

    openContact = Signal(int)

    def __init__(self, title: str) -> None:
        super().__init__(title)
        self.starts = 0

    def start(self) -> None:
        self.starts += 1


def build_lazy(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, data_dir: Path, built: list[str]
) -> MainWindow:
    """:func:`build` with the pages after the Inbox built on first show (noted in ``built``)."""

    def lazy(key: str, title: str) -> Callable[[], QWidget]:
        def make() -> QWidget:
            built.append(key)
            return _LazyPage(title)

        return make

    return build(qtbot, ui_app, bridge, data_dir, lazy)


def test_lazy_pages_are_built_on_first_show_and_badges_count_before(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, data_dir: Path
) -> None:
    built: list[str] = []
    window = build_lazy(qtbot, ui_app, bridge, data_dir, built)
    assert window.current_key == "inbox" and built == []
    assert list(window.pages) == ["inbox"]
    assert window.stack.count() == 5  # a placeholder holds each lazy page's place

    # The counts come from the inbox service: both badges work with no page built.
    run(qtbot, ui_app.missed_call(CALLER))
    run(qtbot, ui_app.reply(CALLER, "Hello?"))
    qtbot.waitUntil(
        lambda: window.badge("inbox") == 1 and window.badge("missed_calls") == 1, timeout=3000
    )
    assert built == []

    window.show_page("contacts")
    assert built == ["contacts"]
    contacts = window.pages["contacts"]
    assert isinstance(contacts, _LazyPage)
    assert window.stack.currentWidget() is contacts and contacts.isVisible()
    assert contacts.starts == 1  # the window had started: so is the page, once
    assert window.stack.count() == 5 and window.stack.indexOf(contacts) == 2
    assert window.windowTitle() == "Contacts – Frontdesk"

    window.show_page("inbox")
    window.show_page("contacts")
    assert built == ["contacts"] and contacts.starts == 1

    # Its open-a-thread signal is connected once it exists: it opens the Inbox.
    contact_id = run(qtbot, ui_app.inbox.conversations())[0].contact_id
    contacts.openContact.emit(contact_id)
    assert window.current_key == "inbox"

    # page() builds without showing; the sidebar order is kept in ``pages``.
    settings = window.page("settings")
    assert built == ["contacts", "settings"] and window.current_key == "inbox"
    assert list(window.pages) == ["inbox", "contacts", "settings"]  # sidebar order
    assert window.page("settings") is settings
    with pytest.raises(KeyError):
        window.page("nowhere")

    # Reopened on a lazy page: that page is built at once, the others still are not.
    window.show_page("missed_calls")
    window.shutdown()
    again: list[str] = []
    window = build_lazy(qtbot, ui_app, bridge, data_dir, again)
    assert window.current_key == "missed_calls" and again == ["missed_calls"]
    assert window.stack.currentWidget() is window.pages["missed_calls"]
    assert window.pages["missed_calls"].starts == 1  # type: ignore[attr-defined]
