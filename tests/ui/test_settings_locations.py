"""Settings with several locations (issue 13): add one (its number checked at Twilio
first, the dialog saying why when it cannot be used), edit its own values (the office's
own keys greyed), switch back to the office's values, remove it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from pytestqt.qtbot import QtBot

from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn
from tests.ui.conftest import sqlite_app, until
from ui.settings_page import SettingsPage

NORTH = "+15005550007"


class Bridge(QObject):
    settingsChanged = Signal(list)


def test_a_second_location_from_settings(
    twilio_standin: TwilioStandIn, qtbot: QtBot, run: Any, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with sqlite_app(tmp_path, twilio_standin) as app:
            locations = app.runtime.locations
            page = SettingsPage(app.inbox, Bridge(), actor="test", locations=locations)
            page.tasks.quiet = True
            qtbot.addWidget(page)
            page.resize(1000, 760)
            await page.load()
            bar = page.location_bar
            assert bar is not None
            assert bar.picker.count() == 1 and not bar.remove_button.isEnabled()

            # A number not on the account: refused in the dialog, nothing saved.
            dialog = bar.ask_add()
            dialog.name.setText("North")
            dialog.number.setText(NORTH)
            dialog.ok_button.click()
            await until(
                lambda: "not a phone number on this Twilio account" in dialog.problem.text()
            )
            assert dialog.isVisible() and dialog.ok_button.isEnabled()
            assert not (await locations.locations()).several

            twilio_standin.add_number(NORTH)
            dialog.ok_button.click()
            await until(lambda: bar.dialog is None and bar.current_id() != 1)
            await until(lambda: page._editing != 1)
            north = (await locations.locations()).named("North")
            assert bar.picker.currentText().startswith("North")
            assert page.business.timezone.isEnabled()
            assert not page.team.isEnabled()  # the office's alone: greyed
            assert not page._fields["textback.delay_seconds"].focus.isEnabled()
            assert "apply to North only" in bar.note.text()

            page.business.timezone.setCurrentText("America/Denver")
            page.texts.template_editors["templates.missed_call"].set_text(
                "North here: [Business Phone]"
            )
            assert await page.save()
            got = (await locations.locations()).get(north.id)
            assert got.settings["business.timezone"] == "America/Denver"
            assert got.settings["templates.missed_call"] == "North here: [Business Phone]"
            office = await app.inbox.settings()
            assert office["business.timezone"] != "America/Denver"
            assert office["templates.missed_call"] != got.settings["templates.missed_call"]

            # The note says what North sets itself; "Use Main's…" hands one back.
            await until(
                lambda: "North sets its own time zone and missed-call text" in bar.note.text()
            )
            assert "everything else follows Main" in bar.note.text()
            assert bar.follow.isVisibleTo(page) and bar.follow.text() == "Use Main's…"
            actions = {a.data(): a for a in bar.follow.menu().actions() if a.data()}
            assert set(actions) == {"business.timezone", "templates.missed_call"}
            actions["business.timezone"].trigger()
            await until(lambda: page.business.timezone.currentText() == office["business.timezone"])
            got = (await locations.locations()).get(north.id)
            assert got.inherits("business.timezone")
            assert got.settings["templates.missed_call"] == "North here: [Business Phone]"
            assert "North sets its own missed-call text;" in bar.note.text()

            # Unsaved edits keep the picked location.
            page.business.timezone.setCurrentText("America/Chicago")
            bar.picker.setCurrentIndex(0)
            assert bar.current_id() == north.id and "Save or undo" in page.status.text()
            page.revert()
            bar.picker.setCurrentIndex(0)
            await until(lambda: page._editing == 1)
            await until(lambda: page.business.timezone.currentText() == office["business.timezone"])
            assert page.team.isEnabled()

            bar.picker.setCurrentIndex(1)
            await until(lambda: page._editing == north.id)
            box = bar.ask_remove()
            assert box is not None
            remove = next(b for b in box.buttons() if b.objectName() == "confirmRemoveLocation")
            remove.click()
            await until(lambda: bar.picker.count() == 1 and page._editing == 1)
            assert not (await locations.locations()).several

    run(scenario())


def test_the_note_can_name_every_setting_a_location_sets() -> None:
    from services.locations import LOCATION_KEYS
    from ui.settings.locations_bar import OWN_WORDS

    assert set(OWN_WORDS) == LOCATION_KEYS - {"business.phone_number"}
