"""Settings page: refused input in place (nothing saved), good changes saved, GSM Fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from pytestqt.qtbot import QtBot

from services.settings import Settings, SettingsError
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn
from tests.ui.conftest import sqlite_app, until
from ui.settings_page import SettingsPage


class Bridge(QObject):
    settingsChanged = Signal(list)


def _page(qtbot: QtBot, inbox: Any) -> SettingsPage:
    page = SettingsPage(inbox, Bridge(), actor="test")
    page.tasks.quiet = True
    qtbot.addWidget(page)
    page.resize(1000, 760)
    return page


async def _loaded_page(qtbot: QtBot, inbox: Any) -> SettingsPage:
    page = _page(qtbot, inbox)
    await page.load()
    return page


class StoredSettings:
    """An inbox that only reads the settings: ``values`` over the defaults."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    async def settings(self) -> Settings:
        return Settings(self.values)


def test_refused_input_in_place_and_nothing_saved(
    twilio_standin: TwilioStandIn, qtbot: QtBot, run: Any, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with sqlite_app(tmp_path, twilio_standin) as app:
            page = await _loaded_page(qtbot, app.inbox)
            before = (await app.inbox.settings()).as_dict()

            # A bad time zone: refused under the field.
            page.business.timezone.setCurrentText("Mars/Olympus_Mons")
            error = page._fields["business.timezone"].error
            assert not error.isHidden()
            assert "not a time zone" in error.text()

            # A bad phone: not added, the reason shown next to the list.
            page.calls.ring_phones.line.setText("555-12")
            qtbot.keyClick(page.calls.ring_phones.line, Qt.Key.Key_Return)
            assert page.calls.ring_phones.value() == ["+15005550002"]
            assert "not a valid phone number" in page.calls.ring_phones.error_label.text()

            # An unknown template token: refused with the right spelling suggested.
            editor = page.texts.template_editors["templates.missed_call"]
            editor.set_text("Hi [first name], call us back!")
            assert "[First Name]" in editor.error_label.text()
            assert not editor.error_label.isHidden()

            # Also a good change pending: still nothing is stored.
            page.timing.delay.set_value(45)
            assert not await page.save()
            assert "fix the 2 marked fields" in page.status.text()
            # ... and says which sections hold them.
            assert "(Auto-reply texts: 1, Business: 1)" in page.status.text()
            assert (await app.inbox.settings()).as_dict() == before

    run(scenario())


def test_good_change_saved_in_one_call(
    twilio_standin: TwilioStandIn, qtbot: QtBot, run: Any, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with sqlite_app(tmp_path, twilio_standin) as app:
            page = await _loaded_page(qtbot, app.inbox)
            assert not page.save_button.isEnabled()
            page.timing.delay.set_value(45)
            page.business.timezone.setCurrentText("Europe/London")
            page.calls.ring_phones.line.setText("(415) 555-0199")
            assert page.calls.ring_phones.add_current()
            page.business.hours.open["sun"].setChecked(False)
            page.timing.quiet.set_value({"start": "21:00", "end": "07:30"})
            page.timing.quiet.changed.emit()
            assert page.save_button.isEnabled()
            qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
            await until(lambda: page.status.text() == "Saved.")
            stored = await app.inbox.settings()
            assert stored["textback.delay_seconds"] == 45
            assert stored["business.timezone"] == "Europe/London"
            assert stored["forwarding.numbers"] == ["+15005550002", "+14155550199"]
            assert "sun" not in stored["business.hours"]
            assert stored["business.hours"]["sat"] == [["00:00", "23:59"]]
            assert stored["quiet_hours"] == {"start": "21:00", "end": "07:30"}
            assert not page.save_button.isEnabled()

    run(scenario())


def test_service_refusal_is_shown_and_nothing_saved(qtbot: QtBot, run: Any) -> None:
    class RefusingInbox(StoredSettings):
        def __init__(self) -> None:
            super().__init__({})
            self.calls: list[dict[str, Any]] = []

        async def update_settings(self, changes: Any, *, actor: str) -> dict[str, Any]:
            self.calls.append(dict(changes))
            raise SettingsError("offline.mode is twiml_url but offline.twiml_url is empty")

    async def scenario() -> None:
        inbox = RefusingInbox()
        page = await _loaded_page(qtbot, inbox)
        page.business.business_name.setText("Acme Dental")
        assert not await page.save()
        assert len(inbox.calls) == 1 and inbox.calls[0] == {"business.name": "Acme Dental"}
        assert page.status.text().startswith("Not saved: offline.mode")
        assert page.save_button.isEnabled()  # the edit is still there to fix and retry

    run(scenario())


def test_curly_quote_warning_and_fix(qtbot: QtBot, run: Any) -> None:
    inbox = StoredSettings({"business.name": "Smith & Sons"})

    async def scenario() -> None:
        page = await _loaded_page(qtbot, inbox)
        editor = page.texts.template_editors["templates.missed_call"]
        text = "Hi [First Name], it’s [Business Name]. " + "We will call you back shortly. " * 4
        editor.set_text(text)
        assert not editor.warning_label.isHidden()
        warning = editor.warning_label.text()
        assert warning.startswith(
            "’ is not in the GSM alphabet: this text is 3 segments instead of 1"
        )
        assert warning.endswith("use ' instead")
        assert "Hi Maria, it’s Smith & Sons." in editor.preview.text()
        assert not editor.fix_button.isHidden()
        qtbot.mouseClick(editor.fix_button, Qt.MouseButton.LeftButton)
        assert "it's [Business Name]" in editor.text()
        assert editor.warning_label.isHidden()
        assert "1 SMS segment (GSM-7)" in editor.count_label.text()

    run(scenario())


def test_token_buttons_insert_at_cursor(qtbot: QtBot, run: Any) -> None:
    inbox = StoredSettings({"business.name": "Acme"})

    async def scenario() -> None:
        page = await _loaded_page(qtbot, inbox)
        page.business.business_name.setText("Bright Smiles")
        editor = page.texts.template_editors["templates.follow_up"]
        editor.set_text("Hello, from !")
        cursor = editor.editor.textCursor()
        cursor.setPosition(len("Hello, from "))
        editor.editor.setTextCursor(cursor)
        qtbot.mouseClick(editor.token_buttons["[Business Name]"], Qt.MouseButton.LeftButton)
        assert editor.text() == "Hello, from [Business Name]!"
        assert editor.preview.text() == "Hello, from Bright Smiles!"

    run(scenario())


def test_offline_answer_and_twilio_number_are_saved_and_checked_together(
    twilio_standin: TwilioStandIn, qtbot: QtBot, run: Any, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with sqlite_app(tmp_path, twilio_standin) as app:
            page = await _loaded_page(qtbot, app.inbox)
            assert page.business.business_phone.text() == "+15005550001"
            # "Use my own TwiML Bin" with no URL: refused by the service, nothing stored.
            page.calls.offline_mode.setCurrentIndex(page.calls.offline_mode.findData("twiml_url"))
            page.calls.offline_forward.setText("(415) 555-0100")
            assert not await page.save()
            assert "offline.twiml_url is empty" in page.status.text()
            assert (await app.inbox.settings())["offline.forward_to"] == ""
            page.calls.offline_twiml.setText("https://handler.twilio.com/twiml/EH123")
            page.calls.catchup_hours.set_value(6)
            assert await page.save()
            stored = await app.inbox.settings()
            assert stored["offline.mode"] == "twiml_url"
            assert stored["offline.forward_to"] == "+14155550100"
            assert stored["offline.twiml_url"] == "https://handler.twilio.com/twiml/EH123"
            assert stored["catchup.max_age_hours"] == 6

    run(scenario())


def test_number_fields_refuse_out_of_range_values_in_place_with_the_range(
    twilio_standin: TwilioStandIn, qtbot: QtBot, run: Any, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with sqlite_app(tmp_path, twilio_standin) as app:
            page = await _loaded_page(qtbot, app.inbox)
            before = (await app.inbox.settings()).as_dict()
            page.nav.setCurrentRow(1)  # Timing
            for typed in ("7200", "-5", "99999", "１２"):
                page.timing.delay.line.clear()
                if typed.isascii():
                    qtbot.keyClicks(page.timing.delay.line, typed)
                else:  # (QTest types ASCII only)
                    page.timing.delay.line.setText(typed)
                assert page.timing.delay.line.text() == typed  # what was typed stays
                error = page._fields["textback.delay_seconds"].error
                assert not error.isHidden()
                assert "from 0 to 3,600 seconds" in error.text()
            assert not await page.save()
            assert "(Timing: 1)" in page.status.text()
            assert (await app.inbox.settings()).as_dict() == before
            # The section list marks the section holding it, and only that one.
            timing = page.nav.item(1)
            assert timing.toolTip() == "Timing: 1 field to fix"
            assert not timing.icon().isNull()
            assert timing.data(Qt.ItemDataRole.AccessibleTextRole) == "Timing, 1 field to fix"
            assert page.section_errors() == {"Timing": 1}
            assert all(page.nav.item(i).icon().isNull() for i in range(page.nav.count()) if i != 1)

            page.timing.delay.set_value(600)
            assert timing.icon().isNull() and timing.toolTip() == ""
            assert page.section_errors() == {}
            assert page.timing.delay.readout.text().startswith("= 10 min")
            # The follow-up reads back in the same words as the Missed calls page.
            page.timing.followup_on.setChecked(True)
            page.timing.followup_minutes.set_value(2)
            assert page.timing.followup_minutes.readout.text().startswith("= 2 min")
            assert await page.save()
            stored = await app.inbox.settings()
            assert stored["textback.delay_seconds"] == 600
            assert stored["followup.delay_seconds"] == 120

    run(scenario())


def test_one_duration_format_everywhere() -> None:
    from datetime import UTC, datetime, timedelta

    from ui.missed_calls_page import automation_text
    from ui.widgets.time_format import format_duration

    assert format_duration(120) == "2 min"
    assert format_duration(7200) == "2 h"
    assert format_duration(86400 + 3600) == "1 day 1 h"
    now = datetime.now(UTC)
    from services.send_state import Shown
    from tests.ui.test_missed_calls import _call

    call = _call(textback_state=Shown.SCHEDULED, textback_due_at=now + timedelta(seconds=120))
    assert automation_text(call, now) == f"Sends in {format_duration(120)}"


def test_every_section_fits_a_1024_window_without_scrolling_sideways(
    qtbot: QtBot, run: Any
) -> None:
    """Issue 10, bug 9: at 1024x700 Settings → Timing scrolled sideways and cut its text."""

    async def scenario() -> None:
        page = SettingsPage(StoredSettings({}), Bridge(), actor="test")  # type: ignore[arg-type]
        page.tasks.quiet = True
        qtbot.addWidget(page)
        await page.load()
        page.resize(824, 660)  # the settings page of a 1024x700 window beside the sidebar
        page.show()
        qtbot.waitExposed(page)
        for row in range(page.nav.count()):
            page.nav.setCurrentRow(row)
            scroll = page.stack.currentWidget()
            qtbot.wait(10)
            bar = scroll.horizontalScrollBar()  # type: ignore[attr-defined]
            assert bar.maximum() == 0, f"{page.nav.item(row).text()} scrolls sideways"

    run(scenario())
