"""The inbox a desk works in all day: bubbles that wrap between words, snippets that fill
their tokens, drafts kept per conversation and across a restart, Send stopped past
Twilio's 1,600 characters, the automation's tags without ×."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtGui import QFont, QFontMetricsF
from pytestqt.qtbot import QtBot

from services.snapshots import MessageItem
from tests.harness import TestApp
from tests.ui.conftest import run
from tests.ui.test_inbox import CALLER, make_page, open_first
from ui import theme
from ui.inbox.composer import Composer
from ui.inbox.drafts import DraftStore
from ui.inbox.page import InboxPage
from ui.inbox.thread import ThreadView, meta_line, wrapped_lines
from ui.widgets.tag_chips import TagChips

OTHER = "+14155550144"
BODY = (
    "Sorry we missed your call! We can book at 9 tomorrow, does that work? "
    "https://book.example.com/a-very-long-link-with-no-spaces-at-all-0123456789abcdef"
)


def test_bubbles_break_lines_between_words_and_only_split_a_word_wider_than_a_line(
    qtbot: QtBot,
) -> None:
    font = QFont()
    fm = QFontMetricsF(font)
    width = fm.horizontalAdvance("Sorry we missed your") + 2
    lines = wrapped_lines(font, BODY, width)
    assert len(lines) > 3
    assert "".join(lines) == BODY
    link = BODY.index("https://")
    at = 0
    for line in lines[:-1]:
        at += len(line)
        # Every break is after a space, except inside the link (wider than a line).
        assert BODY[at - 1] == " " or at > link, (line, lines)
    assert [line.strip() for line in lines[:2]] == ["Sorry we missed your", "call! We can book at"]
    assert all(fm.horizontalAdvance(line.rstrip()) <= width + 0.5 for line in lines)


def message(**changes: Any) -> MessageItem:
    """An inbound text of :data:`BODY` in the thread's snapshot, with ``changes``."""
    item = MessageItem(
        id=1,
        at=datetime.now(UTC),
        direction="in",
        body=BODY,
        status="received",
        kind="inbound",
        error=None,
        media=(),
        author=None,
        segments=None,
    )
    return replace(item, **changes)


def test_a_bubble_is_as_tall_as_its_wrapped_lines(qtbot: QtBot) -> None:
    view = ThreadView()
    qtbot.addWidget(view)
    view.resize(420, 600)
    item = message()
    view.show_items(1, [item, replace(item, id=2, body="Sorry")])
    delegate = view.thread_delegate
    tall = view.sizeHintForIndex(view.thread_model.index(0)).height()
    one = view.sizeHintForIndex(view.thread_model.index(1)).height()
    inner = delegate.bubble_max(view.viewport().width()) - 24
    n = len(wrapped_lines(view.font(), BODY, inner))
    line = QFontMetricsF(view.font()).lineSpacing()
    assert abs((tall - one) - (n - 1) * line) <= n  # rounding, one pixel a line at most


REFUSED = (
    "they opted out of texts from (500) 555-0007 only: they must text START to it (error 21610)"
)


def test_a_failed_texts_reason_wraps_under_its_bubble_and_is_read_in_full(
    qtbot: QtBot,
) -> None:
    """At a 1024 px window's thread width the reason is longer than a line: it wraps (a
    phone number never split) instead of losing its middle, and the row grows with it."""
    view = ThreadView()
    qtbot.addWidget(view)
    view.resize(410, 600)
    failed = message(
        direction="out",
        body="Hi Priya, are you free for a call today?",
        status="failed",
        kind="manual",
        error=REFUSED,
        author="Luis",
    )
    delivered = replace(failed, id=2, status="delivered", error=None)
    view.show_items(1, [failed, delivered])
    delegate = view.thread_delegate
    small = QFontMetricsF(theme.small_font(view.font()))
    rect = view.visualRect(view.thread_model.index(0))
    _bubble, meta, _link, lines = delegate._layout(rect.toRectF(), view.font(), failed)
    assert len(lines) == 2
    assert " ".join(lines).replace("\u00a0", " ") == meta_line(failed)  # nothing elided
    assert not any(line.endswith("(500)") for line in lines)
    assert abs(meta.height() - 2 * small.height()) < 0.01
    tall = view.sizeHintForIndex(view.thread_model.index(0)).height()
    one = view.sizeHintForIndex(view.thread_model.index(1)).height()
    assert abs((tall - one) - small.height()) <= 1
    # A line that is not a failure is still one line, elided in the middle.
    long_ok = replace(delivered, id=3, author="A colleague with a very long name indeed" * 3)
    _b, _m, _l, ok_lines = delegate._layout(rect.toRectF(), view.font(), long_ok)
    assert len(ok_lines) == 1 and "…" in ok_lines[0]


def test_the_contact_panels_buttons_stack_rather_than_lose_their_labels(qtbot: QtBot) -> None:
    from ui.inbox.contact_panel import ContactPanel

    panel = ContactPanel()
    qtbot.addWidget(panel)
    pairs = [
        (panel.pending_button, panel.booked_tag_button),
        (panel.booked_button, panel.callback_button),
    ]
    panel.setMinimumWidth(210)  # as the inbox page sets it
    panel.resize(210, 700)  # its width beside a 1024 px window's thread
    panel.show()

    def stacked() -> bool:
        return all(second.y() > first.y() for first, second in pairs)

    qtbot.waitUntil(lambda: panel.width() == 210 and stacked())
    for first, second in pairs:
        for button in (first, second):
            assert button.width() >= button.sizeHint().width(), button.text()
    # Tagged "pending callback" already: "+ Booked" alone keeps its own width on its row.
    panel.pending_button.hide()
    panel.fit_button_pairs()
    booked = panel.booked_tag_button
    qtbot.waitUntil(lambda: booked.width() == booked.sizeHint().width())
    panel.pending_button.show()
    panel.resize(360, 700)

    def side_by_side() -> bool:
        return all(a.y() == b.y() and b.x() > a.x() + a.width() for a, b in pairs)

    qtbot.waitUntil(side_by_side)


def test_snippets_fill_their_tokens_for_the_open_conversation(
    qtbot: QtBot, ui_app: TestApp, bridge: Any
) -> None:
    snippet = "Hi [First Name], [Business Name] is open 8-5. Call [Business Phone]."
    run(qtbot, ui_app.set(snippets=[{"title": "Hours", "body": snippet}]))
    page = make_page(qtbot, ui_app, bridge)
    run(qtbot, ui_app.missed_call(CALLER))
    cid = open_first(qtbot, page)
    run(qtbot, ui_app.inbox.rename(cid, "Maria Lopez", actor="Dana"))
    qtbot.waitUntil(
        lambda: page.panel.contact is not None and page.panel.contact.name is not None,
        timeout=3000,
    )
    qtbot.waitUntil(lambda: page.composer._menu.actions()[0].text() == "Hours", timeout=3000)
    settings = run(qtbot, ui_app.inbox.settings())
    page.composer._menu.actions()[0].trigger()
    text = page.composer.text
    assert "[" not in text and "]" not in text
    assert text.startswith("Hi Maria, ")
    assert settings["business.name"] in text


def test_snippet_editor_warns_about_unknown_tokens_while_editing(qtbot: QtBot) -> None:
    from ui.settings.fields import SnippetsEditor

    editor = SnippetsEditor()
    qtbot.addWidget(editor)
    editor.set_value([{"title": "Hours", "body": "Hi [First Name]"}])
    assert editor.warning_label.isHidden()
    editor.body.setPlainText("Hi [Name], we open at 8")
    assert not editor.warning_label.isHidden()
    assert "[Name]" in editor.warning_label.text()
    assert "[First Name]" in editor.warning_label.text()
    editor.body.setPlainText("Hi [First Name], we open at 8")
    assert editor.warning_label.isHidden()


def test_drafts_are_kept_per_conversation_and_across_a_restart(
    qtbot: QtBot, ui_app: TestApp, bridge: Any, tmp_path: Path
) -> None:
    ini = str(tmp_path / "window.ini")
    store = QSettings(ini, QSettings.Format.IniFormat)
    page = InboxPage(ui_app.inbox, ui_app.engine, bridge, drafts=DraftStore(store))
    page.tasks.quiet = True
    qtbot.addWidget(page)
    page.show()
    page.start()
    run(qtbot, ui_app.missed_call(CALLER))
    run(qtbot, ui_app.missed_call(OTHER))
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=3000)
    rows = {r.phone: r.contact_id for r in page.model.rows()}

    page.open_contact(rows[CALLER])
    qtbot.keyClicks(page.composer.edit, "Half-typed for Maria")
    page.open_contact(rows[OTHER])
    assert page.composer.text == ""
    qtbot.keyClicks(page.composer.edit, "For James")
    page.open_contact(rows[CALLER])
    assert page.composer.text == "Half-typed for Maria"
    page.open_contact(rows[OTHER])
    assert page.composer.text == "For James"
    page.shutdown()

    # A restart: a new page over the same per-PC file.
    again = InboxPage(
        ui_app.inbox,
        ui_app.engine,
        bridge,
        drafts=DraftStore(QSettings(ini, QSettings.Format.IniFormat)),
    )
    again.tasks.quiet = True
    qtbot.addWidget(again)
    again.show()
    again.start()
    qtbot.waitUntil(lambda: again.model.rowCount() == 2, timeout=3000)
    again.open_contact(rows[CALLER])
    assert again.composer.text == "Half-typed for Maria"
    # Sending clears the draft.
    again.composer.submit()
    qtbot.waitUntil(lambda: again.composer.text == "", timeout=5000)
    again.shutdown()
    assert DraftStore(QSettings(ini, QSettings.Format.IniFormat)).get(CALLER) == ""
    assert DraftStore(QSettings(ini, QSettings.Format.IniFormat)).get(OTHER) == "For James"


def test_send_is_off_past_1600_characters_with_the_reason(qtbot: QtBot) -> None:
    composer = Composer()
    qtbot.addWidget(composer)
    composer.set_text("a" * 1600)
    assert composer.send_button.isEnabled()
    assert composer.too_long.isHidden()
    composer.set_text("a" * 2000)
    assert not composer.send_button.isEnabled()
    assert not composer.too_long.isHidden()
    assert re.search(r"at most 1,600 characters\. Remove 400 characters", composer.too_long.text())
    sent: list[str] = []
    composer.sendRequested.connect(sent.append)
    composer.submit()
    assert sent == []


def test_the_automations_tags_have_no_remove_button(qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QToolButton

    chips = TagChips()
    qtbot.addWidget(chips)
    chips.set_tags(["missed call", "booked", "VIP"])
    removed: list[str] = []
    chips.removeRequested.connect(removed.append)
    buttons = {b.text().replace("  ×", ""): b for b in chips.findChildren(QToolButton)}
    assert buttons["VIP"].text().endswith("×")
    assert not buttons["missed call"].text().endswith("×")
    for button in buttons.values():
        button.click()
    assert removed == ["VIP"]


def test_a_new_missed_call_makes_its_row_unread(qtbot: QtBot, ui_app: TestApp, bridge: Any) -> None:
    page = make_page(qtbot, ui_app, bridge)
    run(qtbot, ui_app.missed_call(CALLER))
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=2000)
    qtbot.waitUntil(lambda: page.model.rows()[0].unread > 0, timeout=2000)
