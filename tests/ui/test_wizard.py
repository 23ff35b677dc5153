"""First-run wizard: filled in, validated page by page, returns what it collected."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard
from pytestqt.qtbot import QtBot

from services import templates
from ui.wizard import FirstRunWizard, WizardResult

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "f" * 32


def _wizard(qtbot: QtBot) -> FirstRunWizard:
    wizard = FirstRunWizard()
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def _next(qtbot: QtBot, wizard: FirstRunWizard) -> None:
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)


def test_live_setup(qtbot: QtBot) -> None:
    wizard = _wizard(qtbot)
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()  # name first
    qtbot.keyClicks(wizard.business.name, "Bright Smiles Dental")
    wizard.business.timezone.setCurrentText("America/Chicago")
    _next(qtbot, wizard)
    assert wizard.currentId() == FirstRunWizard.TWILIO

    wizard.twilio.sid.setText(SID)
    wizard.twilio.token.setText(TOKEN)
    wizard.twilio.number.setText("555-12")  # not a number
    _next(qtbot, wizard)
    assert wizard.currentId() == FirstRunWizard.TWILIO
    assert "not a valid phone number" in wizard.twilio.errors["number"].text()
    wizard.twilio.number.setText("+1 (415) 555-0100")
    _next(qtbot, wizard)  # Twilio cannot reach this PC yet: refused
    assert wizard.currentId() == FirstRunWizard.TWILIO
    assert "ngrok authtoken, or a public URL" in wizard.twilio.errors["ngrok"].text()
    wizard.twilio.public_url.setText("ftp://office")
    _next(qtbot, wizard)
    assert "is not a web address" in wizard.twilio.errors["public_url"].text()
    wizard.twilio.public_url.setText("")
    wizard.twilio.ngrok.setText("2abcNGROKtoken_123")
    _next(qtbot, wizard)
    assert wizard.currentId() == FirstRunWizard.PHONES

    wizard.phones.phones.line.setText("12")  # typed but refused: stays on the page
    _next(qtbot, wizard)
    assert wizard.currentId() == FirstRunWizard.PHONES
    assert "not a valid phone number" in wizard.phones.phones.error_label.text()
    wizard.phones.phones.line.setText("4155550101")
    _next(qtbot, wizard)  # the typed number is added on Next
    assert wizard.currentId() == FirstRunWizard.TEXTS
    editor = wizard.texts.editors["templates.missed_call"]
    assert editor.text() == templates.DEFAULT_TEMPLATES["templates.missed_call"]
    assert editor.preview.text().startswith("Hi Maria, this is Bright Smiles Dental.")

    qtbot.mouseClick(wizard.button(QWizard.WizardButton.FinishButton), Qt.MouseButton.LeftButton)
    assert wizard.result() == QWizard.DialogCode.Accepted
    result = wizard.wizard_result()
    assert result == WizardResult(
        "live",
        {
            "business.name": "Bright Smiles Dental",
            "business.timezone": "America/Chicago",
            "forwarding.numbers": ["+14155550101"],
            "templates.missed_call": templates.DEFAULT_TEMPLATES["templates.missed_call"],
            "templates.after_hours": templates.DEFAULT_TEMPLATES["templates.after_hours"],
            "business.phone_number": "+14155550100",
        },
        twilio_account_sid=SID,
        twilio_auth_token=TOKEN,
        twilio_number="+14155550100",
        ngrok_authtoken="2abcNGROKtoken_123",
    )


def test_demo_skips_twilio_and_bad_credentials_are_refused(qtbot: QtBot) -> None:
    wizard = _wizard(qtbot)
    wizard.business.name.setText("Acme")
    _next(qtbot, wizard)
    wizard.twilio.sid.setText("SK123")
    wizard.twilio.token.setText("short")
    wizard.twilio.number.setText("+14155550100")
    _next(qtbot, wizard)
    assert wizard.currentId() == FirstRunWizard.TWILIO
    assert wizard.twilio.errors["sid"].text().startswith("An Account SID starts with AC")
    assert "32" in wizard.twilio.errors["token"].text()
    wizard.back()
    wizard.business.demo.setChecked(True)
    _next(qtbot, wizard)
    assert wizard.currentId() == FirstRunWizard.PHONES
    _next(qtbot, wizard)
    editor = wizard.texts.editors["templates.after_hours"]
    editor.set_text("Closed now, [Name]!")
    assert not wizard.texts.validatePage()
    assert "[First Name]" in editor.error_label.text()
    editor.set_text("Closed now, [First Name]!")
    wizard.accept()
    result = wizard.wizard_result()
    assert result.mode == "demo"
    assert result.twilio_account_sid is None and result.twilio_number is None
    assert result.settings["forwarding.numbers"] == []
    assert "business.phone_number" not in result.settings
