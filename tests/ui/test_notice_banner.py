"""The in-window banner on the real runtime: it says "Text-back is off" exactly while that
is true (turned off in Settings, the number disconnected), and, with no system tray,
shows new missed calls and texts until their conversation is opened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.app import Notifier, Shell
from desktop.health import RuntimeHealth
from services.desk_status import TextbackFacts, missed_call_news, textback_notice
from services.send_state import Shown
from tests.harness import TestApp
from tests.ui.conftest import run
from tests.ui.test_main_window import build
from ui.notice_banner import NoticeBanner

CALLER = "+14155550123"

WORKING = TextbackFacts(
    enabled=True,
    business_number="+15005550006",
    simulated=False,
    holding=True,
    holder="front",
    receiving=True,
    wired=True,
    disconnected=False,
)


def test_the_notice_follows_each_fact() -> None:
    from dataclasses import replace

    assert textback_notice(WORKING) is None
    cases = {
        "turned on in Settings": replace(WORKING, enabled=False),
        "no business number": replace(WORKING, business_number=""),
        "disconnected": replace(WORKING, disconnected=True),
        "not receiving calls": replace(WORKING, receiving=False),
        "does not send its calls": replace(WORKING, wired=False),
        "no computer in the office": replace(WORKING, holding=False, holder=None),
    }
    for words, facts in cases.items():
        notice = textback_notice(facts)
        assert notice is not None and words in notice.headline, words
        assert notice.headline.startswith("Text-back is off")
    assert textback_notice(replace(WORKING, holding=False, holder="desk-2")) is None
    assert textback_notice(replace(WORKING, simulated=True, wired=False)) is None
    assert textback_notice(replace(WORKING, simulated=True, enabled=False)) is not None


def test_missed_call_news_says_what_happens() -> None:
    assert missed_call_news(Shown.SCHEDULED, None) == "Frontdesk is texting them back."
    assert missed_call_news(Shown.SENT, None) == "Frontdesk texted them back."
    assert missed_call_news(Shown.NONE, None) == "No text is going out: call them back."
    skipped = missed_call_news(Shown.SKIPPED, "They opted out.")
    assert skipped == "No text-back: They opted out."


def test_state_line_appears_and_clears_with_the_real_state(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, data_dir: Path
) -> None:
    window = build(qtbot, ui_app, bridge, data_dir)
    banner = Shell._add_notice_banner(window, window.pages["inbox"], ui_app.runtime, bridge)
    qtbot.waitUntil(lambda: not banner._tasks.pending, timeout=3000)
    assert ui_app.runtime.wired  # the harness wires the number at the stand-in
    assert banner.notice is None and not banner.isVisible()

    run(qtbot, ui_app.set(textback__enabled=False))
    qtbot.waitUntil(lambda: banner.isVisible(), timeout=3000)
    assert banner.state.text().startswith("Text-back is off")
    assert "Settings" in banner.state.text()
    qtbot.mouseClick(banner.fix_button, Qt.MouseButton.LeftButton)
    assert window.current_key == "settings"

    run(qtbot, ui_app.set(textback__enabled=True))
    qtbot.waitUntil(lambda: not banner.isVisible(), timeout=3000)

    # Disconnected on the Connection page: no event says so, the next read does.
    run(qtbot, ui_app.runtime.disconnect())
    banner.refresh()
    qtbot.waitUntil(lambda: banner.isVisible(), timeout=3000)
    assert "disconnected" in banner.state.text()
    run(qtbot, ui_app.runtime.connect())
    banner.refresh()
    qtbot.waitUntil(lambda: not banner.isVisible(), timeout=3000)


def test_news_without_a_tray_until_the_thread_is_opened(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, data_dir: Path
) -> None:
    window = build(qtbot, ui_app, bridge, data_dir)
    inbox_page = window.pages["inbox"]
    banner = Shell._add_notice_banner(window, inbox_page, ui_app.runtime, bridge)
    notifier = Notifier(ui_app.runtime, bridge, banner.notify)
    notifier.sound = False
    try:
        run(qtbot, notifier.prime())
        run(qtbot, ui_app.missed_call(CALLER))
        qtbot.waitUntil(lambda: banner.isVisible() and banner.news_titles() != [], timeout=3000)
        assert banner.news_titles() == ["Missed call from (415) 555-0123"]
        # What is true when the news is read: the text-back waiting or already sent (a
        # busy machine may send it before the notice is built).
        said = banner.news[0].label.text()
        assert "texting them back" in said or "texted them back" in said, said

        run(qtbot, ui_app.reply(CALLER, "Are you open Saturday?"))
        qtbot.waitUntil(
            lambda: banner.news_titles() == ["New text from (415) 555-0123"], timeout=3000
        )
        # The text-back going out is not "a new text"; the reply is (and replaced the
        # missed call's news about the same conversation).
        assert "Are you open Saturday?" in banner.news[0].label.text()

        # "Open" opens the conversation in the Inbox; that clears the news and the banner.
        window.show_page("settings")
        qtbot.mouseClick(banner.news[0].open_button, Qt.MouseButton.LeftButton)
        assert window.current_key == "inbox"
        qtbot.waitUntil(lambda: inbox_page.current_contact_id is not None, timeout=3000)
        assert banner.news_titles() == []
        assert not banner.isVisible()

        # Dismissed by hand.
        banner.notify("Missed call from someone", "x", None)
        assert banner.isVisible()
        qtbot.mouseClick(banner.news[0].close_button, Qt.MouseButton.LeftButton)
        assert not banner.isVisible()
    finally:
        notifier.close()


def test_runtime_health_reads_the_facts(qtbot: QtBot, ui_app: TestApp) -> None:
    health = RuntimeHealth(ui_app.runtime)
    assert run(qtbot, health.textback_notice()) is None
    run(qtbot, ui_app.set(business__phone_number=""))
    notice = run(qtbot, health.textback_notice())
    assert notice is not None and "no business number" in notice.headline
    banner = NoticeBanner(health, refresh_seconds=0)
    qtbot.addWidget(banner)
    banner.refresh()
    qtbot.waitUntil(lambda: banner.notice is not None, timeout=3000)
    assert banner.fix_button.text() == "Open Settings"
