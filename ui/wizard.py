"""First run: the few answers Frontdesk cannot work without, then out of the way.

Business name (and time zone), "Connect my Twilio number" (Account SID, auth token,
number) or "Try the demo", the phones to ring, and the two main texts prefilled from
the defaults. With an :class:`~services.api.OfficeDatabaseApi` it also offers "This
office shares a database": a new PC joins the office's PostgreSQL database (tested on
the spot; the URL stored for this PC, the password in its keyring) and, when that
office is set up already, skips the business questions (only this PC's Twilio details
remain). Every page is checked in place before Next. The wizard only collects:
:meth:`FirstRunWizard.result` returns a :class:`WizardResult` and the caller stores the
settings (one ``update_settings`` call) and the credentials (the OS keyring).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from zoneinfo import available_timezones

from PySide6.QtCore import Qt, QTimeZone
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from services import templates
from services.api import OfficeDatabaseApi
from services.health import OfficeBusiness
from services.settings import SettingsError, validate
from ui.office_db_box import OfficeDatabaseBox
from ui.settings.fields import ErrorLabel, ListEditor, check_phone, display_phone, hint_label
from ui.settings.template_editor import TemplateEditor

ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
AUTH_TOKEN = re.compile(r"^[0-9a-zA-Z]{32}$")


@dataclass(frozen=True)
class WizardResult:
    """What the first-run wizard collected. ``settings`` are validated, normalised
    setting changes for one ``update_settings`` call; the Twilio fields are ``None`` in
    demo mode."""

    mode: Literal["live", "demo"]
    settings: dict[str, Any] = field(default_factory=dict)
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_number: str | None = None
    ngrok_authtoken: str | None = None
    joined_office: bool = False  # this PC joined the office's database (this-pc.json)


def system_timezone() -> str:
    name = bytes(QTimeZone.systemTimeZoneId().data()).decode(errors="ignore")
    try:
        return str(validate("business.timezone", name))
    except SettingsError:
        return "America/New_York"


def _error_text(exc: SettingsError, key: str) -> str:
    return str(exc).removeprefix(f"{key}: ")


class BusinessPage(QWizardPage):
    """The business's name and time zone; on the first page (``modes``) also how to
    start, and with ``office`` the "This office shares a database" choice."""

    def __init__(self, *, modes: bool = True, office: bool = False) -> None:
        super().__init__()
        if modes:
            self.setTitle("Welcome to Frontdesk")
            self.setSubTitle(
                "When a call goes unanswered, Frontdesk texts the caller back within "
                "seconds and their reply lands here. First, a few questions."
            )
        else:
            self.setTitle("Your business")
            self.setSubTitle(
                "The office's database is new: these answers are shared by every PC of the office."
            )
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.name = QLineEdit()
        self.name.setObjectName("wizardBusinessName")
        self.name.setPlaceholderText("e.g. Smith & Sons Plumbing")
        self.name.textChanged.connect(lambda _: self.completeChanged.emit())
        self.name_error = ErrorLabel()
        column = QVBoxLayout()
        column.setSpacing(2)
        column.addWidget(self.name)
        column.addWidget(hint_label("As callers know it; it goes into your texts."))
        column.addWidget(self.name_error)
        form.addRow("Business name", column)

        self.timezone = QComboBox()
        self.timezone.setEditable(True)
        self.timezone.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.timezone.addItems(sorted(available_timezones()))
        completer = QCompleter(self.timezone.model(), self.timezone)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.timezone.setCompleter(completer)
        self.timezone.setCurrentText(system_timezone())
        self.timezone_error = ErrorLabel()
        tz_column = QVBoxLayout()
        tz_column.setSpacing(2)
        tz_column.addWidget(self.timezone)
        tz_column.addWidget(self.timezone_error)
        form.addRow("Time zone", tz_column)

        # Parented at once: a choice not offered stays a hidden child, never a loose widget.
        self.live = QRadioButton("Connect my Twilio number", self)
        self.live.setObjectName("modeLive")
        self.demo = QRadioButton("Try the demo (a simulated phone line, nothing is sent)", self)
        self.demo.setObjectName("modeDemo")
        self.office = QRadioButton(
            "This office shares a database: join it (another PC of the office is set up)", self
        )
        self.office.setObjectName("modeOffice")
        self.live.setChecked(True)
        for radio in (self.live, self.demo, self.office):
            radio.toggled.connect(lambda _: self._mode_changed())
        if not modes:
            for radio in (self.live, self.demo, self.office):
                radio.hide()
            return
        form.addRow(QLabel(""))
        form.addRow(QLabel("<b>How do you want to start?</b>"))
        form.addRow(self.live)
        form.addRow(
            hint_label(
                "You need a Twilio account and a phone number on it; Frontdesk uses your "
                "own account, so texts are billed by Twilio at their rates."
            )
        )
        form.addRow(self.demo)
        if office:
            form.addRow(self.office)
            form.addRow(
                hint_label(
                    "Several PCs work on the same customers through one PostgreSQL "
                    "database; the business questions are then answered already."
                )
            )
        else:
            self.office.hide()

    def _mode_changed(self) -> None:
        joining = self.office.isChecked()
        self.name.setEnabled(not joining)
        self.timezone.setEnabled(not joining)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.office.isChecked() or bool(self.name.text().strip())

    def validatePage(self) -> bool:
        if self.office.isChecked():
            return True  # the office's database has (or asks for) the answers
        ok = True
        try:
            validate("business.name", self.name.text())
            self.name_error.show_error(None)
        except SettingsError as exc:
            self.name_error.show_error(_error_text(exc, "business.name"))
            ok = False
        try:
            validate("business.timezone", self.timezone.currentText().strip())
            self.timezone_error.show_error(None)
        except SettingsError as exc:
            self.timezone_error.show_error(_error_text(exc, "business.timezone"))
            ok = False
        return ok

    def nextId(self) -> int:
        if self.office.isChecked():
            return FirstRunWizard.OFFICE
        if self.demo.isChecked():
            return FirstRunWizard.PHONES
        return FirstRunWizard.TWILIO


class OfficePage(QWizardPage):
    """Join the office's database: tested on the spot, stored for this PC; then reads
    whether that office is set up already (:attr:`business`)."""

    def __init__(self, api: OfficeDatabaseApi) -> None:
        super().__init__()
        self.setTitle("Join the office's database")
        self.setSubTitle(
            "The address and password of the office's PostgreSQL database: whoever set "
            "up the first PC or the office server has them."
        )
        self._api = api
        self.box = OfficeDatabaseBox(api, first_run=True)
        self.box.joined.connect(lambda _check: self._read_business())
        self.box.left.connect(self._left)
        self.status = QLabel("")
        self.status.setObjectName("officeStatus")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.box)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.checked = False  # joined, and the office's settings read
        self.business: OfficeBusiness | None = None

    def initializePage(self) -> None:
        self.box.load()

    def _read_business(self) -> None:
        self.checked = False
        self.status.setText("Reading the office's settings…")
        self.completeChanged.emit()

        def found(business: OfficeBusiness | None) -> None:
            self.business = business
            self.checked = True
            if business is not None:
                self.status.setText(
                    f"Joined {business.name or business.phone_number}: the business "
                    "questions are answered already. Next: this PC's Twilio details."
                )
            else:
                self.status.setText(
                    "Joined. The office's database is new: next, the business questions "
                    "(every PC of the office shares the answers)."
                )
            self.completeChanged.emit()

        def failed(exc: BaseException) -> bool:
            self.status.setText(f"Could not read the office's settings: {exc}")
            return True

        self.box.tasks.spawn(
            self._api.office_business(),
            what="read the office's settings",
            done=found,
            failed=failed,
        )

    def _left(self) -> None:
        self.checked = False
        self.business = None
        self.status.setText("")
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.checked

    def nextId(self) -> int:
        if self.business is not None:
            return FirstRunWizard.TWILIO
        return FirstRunWizard.OFFICE_BUSINESS

    def cleanupPage(self) -> None:
        self.box.shutdown()


class TwilioPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Connect your Twilio number")
        self.setSubTitle(
            "Find these in the Twilio Console: Account SID and Auth Token on the account "
            "dashboard, your number under Phone Numbers. They are kept in this PC's "
            "password store, never in a file."
        )
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self.sid = QLineEdit()
        self.sid.setObjectName("accountSid")
        self.sid.setPlaceholderText("AC followed by 32 letters and digits")
        self.token = QLineEdit()
        self.token.setObjectName("authToken")
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("32 letters and digits")
        self.number = QLineEdit()
        self.number.setObjectName("twilioNumber")
        self.number.setPlaceholderText("+15551234567")
        # How Twilio reaches this PC: an ngrok tunnel (the usual office) or a public URL.
        self.ngrok = QLineEdit()
        self.ngrok.setObjectName("ngrokToken")
        self.ngrok.setEchoMode(QLineEdit.EchoMode.Password)
        self.ngrok.setPlaceholderText("From dashboard.ngrok.com (free account)")
        self.public_url = QLineEdit()
        self.public_url.setObjectName("publicUrl")
        self.public_url.setPlaceholderText("Or, if IT set one up: https://frontdesk.example.com")
        self.errors: dict[str, ErrorLabel] = {}
        for label, edit, key in (
            ("Account SID", self.sid, "sid"),
            ("Auth token", self.token, "token"),
            ("Twilio number", self.number, "number"),
            ("ngrok authtoken", self.ngrok, "ngrok"),
            ("Public URL", self.public_url, "public_url"),
        ):
            edit.textChanged.connect(lambda _: self.completeChanged.emit())
            column = QVBoxLayout()
            column.setSpacing(2)
            column.addWidget(edit)
            self.errors[key] = ErrorLabel()
            column.addWidget(self.errors[key])
            form.addRow(label, column)

    def isComplete(self) -> bool:
        return all(e.text().strip() for e in (self.sid, self.token, self.number))

    def normalised_number(self) -> str:
        return str(validate("business.phone_number", self.number.text().strip()))

    def validatePage(self) -> bool:
        ok = True
        sid = self.sid.text().strip()
        if not ACCOUNT_SID.match(sid):
            self.errors["sid"].show_error(
                "An Account SID starts with AC and has 32 more letters and digits."
            )
            ok = False
        else:
            self.errors["sid"].show_error(None)
        if not AUTH_TOKEN.match(self.token.text().strip()):
            self.errors["token"].show_error("An auth token is 32 letters and digits.")
            ok = False
        else:
            self.errors["token"].show_error(None)
        try:
            number = self.normalised_number()
            if not number:
                raise SettingsError("enter the Twilio number, e.g. +15551234567")
            self.errors["number"].show_error(None)
        except SettingsError as exc:
            self.errors["number"].show_error(_error_text(exc, "business.phone_number"))
            ok = False
        try:
            url = self.normalised_public_url()
            if not url and not self.ngrok.text().strip() and not self._office_set_up():
                raise SettingsError(
                    "Twilio must reach this PC: paste an ngrok authtoken, or a public URL"
                )
            self.errors["ngrok"].show_error(None)
            self.errors["public_url"].show_error(None)
        except SettingsError as exc:
            key = "public_url" if self.public_url.text().strip() else "ngrok"
            self.errors[key].show_error(_error_text(exc, "tunnel.public_url"))
            ok = False
        return ok

    def normalised_public_url(self) -> str:
        return str(validate("tunnel.public_url", self.public_url.text().strip()))

    def _office_set_up(self) -> bool:
        wizard = self.wizard()
        return isinstance(wizard, FirstRunWizard) and wizard.office_set_up

    def initializePage(self) -> None:
        wizard = cast("FirstRunWizard", self.wizard())
        office = wizard.office.business if wizard.office is not None else None
        if wizard.office_set_up and office is not None and not self.number.text().strip():
            self.number.setText(office.phone_number)
            self.ngrok.setPlaceholderText(
                "Optional: the PC holding the number receives the calls and texts"
            )

    def nextId(self) -> int:
        return -1 if self._office_set_up() else FirstRunWizard.PHONES


class PhonesPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Which phones should ring?")
        self.setSubTitle(
            "Calls to your Twilio number ring these phones at once (office lines or "
            "mobiles). If nobody answers, the caller gets your text."
        )
        layout = QVBoxLayout(self)
        self.phones = ListEditor("+15551234567", check_phone, display=display_phone)
        self.phones.setObjectName("wizardPhones")
        layout.addWidget(self.phones)
        layout.addWidget(
            hint_label(
                "No phones? Leave this empty and set your carrier to forward unanswered "
                "calls to the Twilio number; every call that arrives is then a missed call."
            )
        )
        self.error = ErrorLabel()
        layout.addWidget(self.error)
        layout.addStretch(1)

    def validatePage(self) -> bool:
        if self.phones.line.text().strip() and not self.phones.add_current():
            return False  # a number typed but not added: add it, or say why not
        try:
            validate("forwarding.numbers", self.phones.value())
        except SettingsError as exc:
            self.error.show_error(_error_text(exc, "forwarding.numbers"))
            return False
        self.error.show_error(None)
        return True

    def nextId(self) -> int:
        return FirstRunWizard.TEXTS


class TextsPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("What should callers get?")
        self.setSubTitle("Ready to use as they are; you can change them any time in Settings.")
        layout = QVBoxLayout(self)
        self.editors = {
            key: TemplateEditor(key, title, help_text)
            for key, title, help_text in (
                ("templates.missed_call", "Missed call", "Sent after a call nobody answered."),
                (
                    "templates.after_hours",
                    "After hours",
                    "Sent for calls outside business hours (weekdays 8:00–17:00 to start "
                    "with; change them in Settings).",
                ),
            )
        }
        for key, editor in self.editors.items():
            editor.set_text(templates.DEFAULT_TEMPLATES[key])
            editor.changed.connect(self.completeChanged.emit)
            layout.addWidget(editor)
        layout.addStretch(1)

    def validatePage(self) -> bool:
        return all(editor.error is None for editor in self.editors.values())

    def nextId(self) -> int:
        return -1  # the last page


class FirstRunWizard(QWizard):
    """The first-run wizard. ``exec()`` it, then read :meth:`result`."""

    BUSINESS, TWILIO, PHONES, TEXTS, OFFICE, OFFICE_BUSINESS = range(6)

    def __init__(
        self, parent: QWidget | None = None, *, office: OfficeDatabaseApi | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("firstRunWizard")
        self.setWindowTitle("Set up Frontdesk")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setMinimumSize(760, 620)
        self.business = BusinessPage(office=office is not None)
        self.twilio = TwilioPage()
        self.phones = PhonesPage()
        self.texts = TextsPage()
        self.setPage(self.BUSINESS, self.business)
        self.setPage(self.TWILIO, self.twilio)
        self.setPage(self.PHONES, self.phones)
        self.setPage(self.TEXTS, self.texts)
        self.office: OfficePage | None = None
        self.office_business = BusinessPage(modes=False)
        self.setPage(self.OFFICE_BUSINESS, self.office_business)  # reached from OFFICE only
        if office is not None:
            self.office = OfficePage(office)
            self.setPage(self.OFFICE, self.office)
        self.setStartId(self.BUSINESS)
        self.currentIdChanged.connect(self._page_shown)

    def _page_shown(self, page_id: int) -> None:
        if page_id == self.TEXTS:
            number = self.twilio.number.text().strip() if self.mode == "live" else ""
            try:
                phone = str(validate("business.phone_number", number)) if number else ""
            except SettingsError:
                phone = ""
            for editor in self.texts.editors.values():
                editor.set_context(self._business_page().name.text().strip(), phone, "")

    @property
    def joining_office(self) -> bool:
        """This PC joins the office's shared database."""
        return self.office is not None and self.business.office.isChecked()

    @property
    def office_set_up(self) -> bool:
        """Joining an office whose database has its business settings already."""
        return self.joining_office and self.office is not None and self.office.business is not None

    def _business_page(self) -> BusinessPage:
        return self.office_business if self.joining_office else self.business

    @property
    def mode(self) -> Literal["live", "demo"]:
        return "demo" if self.business.demo.isChecked() else "live"

    def wizard_result(self) -> WizardResult:
        """The answers (call after ``exec()`` returned Accepted)."""
        settings: dict[str, Any] = {}
        if not self.office_set_up:  # else the office's settings stand as they are
            business = self._business_page()
            settings = {
                "business.name": validate("business.name", business.name.text()),
                "business.timezone": validate(
                    "business.timezone", business.timezone.currentText().strip()
                ),
                "forwarding.numbers": validate("forwarding.numbers", self.phones.phones.value()),
            }
            for key, editor in self.texts.editors.items():
                settings[key] = validate(key, editor.text())
        if self.mode == "demo":
            return WizardResult("demo", settings)
        number = self.twilio.normalised_number()
        public_url = self.twilio.normalised_public_url()
        if not self.office_set_up:
            settings["business.phone_number"] = number
            if public_url:
                settings["tunnel.public_url"] = public_url
        return WizardResult(
            "live",
            settings,
            twilio_account_sid=self.twilio.sid.text().strip(),
            twilio_auth_token=self.twilio.token.text().strip(),
            twilio_number=number,
            ngrok_authtoken=self.twilio.ngrok.text().strip() or None,
            joined_office=self.joining_office,
        )
