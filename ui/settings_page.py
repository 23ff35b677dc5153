"""Settings: templates with a live preview, timing, hours, phones, team, snippets, alerts.

Every field is checked as it is edited with :func:`services.settings.validate` (the same
rules as ``frontdesk settings set``) and a refused value is explained right under the
field. Save sends every changed key in one ``InboxApi.update_settings`` call: all of it
is stored or, when anything is refused, none of it.

The "Twilio account & connection" group is the connection box the composition root
passes in (credentials in the keyring, the public URL / tunnel); the "Office database"
section, when the root passes ``office_database``, is this PC's choice of database
(ui/office_db_box.py), saved by that box, not by Save.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import available_timezones

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from services import phones
from services.api import InboxApi
from services.settings import Settings, SettingsError, validate
from ui import theme
from ui.settings.fields import (
    ErrorLabel,
    HoursEditor,
    ListEditor,
    NumberField,
    QuietHoursEditor,
    SnippetsEditor,
    check_phone,
    display_phone,
    hint_label,
)
from ui.settings.template_editor import TemplateEditor
from ui.widgets.page_parts import page_heading
from ui.widgets.tasks import TaskRunner, sentence

log = logging.getLogger(__name__)


def _sentence(text: str) -> str:
    """A validator's message ("must be ...") as a sentence under the field."""
    text = text.strip()
    if text.startswith("must "):
        text = "This " + text
    return sentence(text)


TEMPLATE_FIELDS = (
    ("templates.missed_call", "Missed call", "Sent a few seconds after a call nobody answered."),
    (
        "templates.after_hours",
        "After hours",
        "Sent instead of the missed-call text when the call came outside business hours.",
    ),
    (
        "templates.follow_up",
        "Follow-up",
        "Sent once if the caller has not replied after the follow-up delay.",
    ),
    (
        "templates.voicemail",
        "After a voicemail",
        "Sent instead of the missed-call text when the caller left a voicemail.",
    ),
    (
        "templates.catch_up",
        "Catch-up",
        "Sent for calls missed while Frontdesk was closed, once it is running again.",
    ),
)


@dataclass
class _Field:
    key: str
    get: Callable[[], Any]
    set: Callable[[Any], None]
    error: ErrorLabel
    section: int
    focus: QWidget
    message: str | None = None
    problem: Callable[[], str | None] | None = None  # the editor's own check, first


class SettingsPage(QWidget):
    """The Settings screen.

    ``inbox`` gives and stores settings; ``events`` is any QObject with a
    ``settingsChanged(list)`` signal (the UI's event bridge), used to pick up changes made
    elsewhere while nothing here is being edited. ``actor`` names who saves (default: the
    "this PC is used by" name, else "owner").
    """

    saved = Signal(list)  # the keys stored

    def __init__(
        self,
        inbox: InboxApi,
        events: QObject | None = None,
        *,
        actor: str | None = None,
        connection: QWidget | None = None,
        office_database: QWidget | None = None,
        integrations: QWidget | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsPage")
        self._inbox = inbox
        self._connection = connection
        self._office_database = office_database
        self._integrations = integrations
        self._actor = actor
        self.tasks = TaskRunner(self)
        self._fields: dict[str, _Field] = {}
        self._loaded: dict[str, Any] = {}
        self._settings: Settings | None = None
        self._filling = False
        self._saving = False
        self._load_requested = False

        outer = QVBoxLayout(self)
        body = QHBoxLayout()
        outer.addLayout(body, 1)
        self.nav = QListWidget()
        self.nav.setObjectName("settingsNav")
        self.nav.setStyleSheet(
            "QListWidget#settingsNav { font-size: 11pt; }"
            "QListWidget#settingsNav::item { padding: 9px 12px; }"
        )
        self.stack = QStackedWidget()
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)
        body.addWidget(self.nav)
        body.addWidget(self.stack, 1)

        self._build_texts()
        self._build_timing()
        self._build_business()
        self._build_calls()
        self._build_team()
        self._build_alerts()
        self._build_twilio()
        if office_database is not None:
            # This PC's own choice (its data dir and keyring), saved by the box itself,
            # not by Save: a separate section.
            section = self._section("Office database")
            section.addWidget(office_database)
            section.addStretch(1)
        if integrations is not None:
            self._build_integrations(integrations)
        self.nav.setCurrentRow(0)
        # As wide as the longest section name, not a fixed 210 px the forms need at 1024.
        self.nav.setFixedWidth(self.nav.sizeHintForColumn(0) + 2 * self.nav.frameWidth() + 8)

        bar = QHBoxLayout()
        self.status = QLabel()
        self.status.setObjectName("saveStatus")
        self.status.setWordWrap(True)
        self.revert_button = QPushButton("Undo changes")
        self.revert_button.clicked.connect(self.revert)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("saveSettings")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(
            lambda: self.tasks.spawn(self.save(), what="save settings")
        )
        bar.addWidget(self.status, 1)
        bar.addWidget(self.revert_button)
        bar.addWidget(self.save_button)
        outer.addLayout(bar)
        self._update_buttons()

        signal = getattr(events, "settingsChanged", None)
        if signal is not None:
            signal.connect(self._settings_changed_elsewhere)
        everything = getattr(events, "everythingChanged", None)
        if everything is not None:
            everything.connect(lambda: self._settings_changed_elsewhere([]))

    # ---- building ------------------------------------------------------------------
    def _section(self, title: str) -> QVBoxLayout:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(16, 8, 16, 16)
        layout.setSpacing(14)
        layout.addWidget(page_heading(title))
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(page)
        self.stack.addWidget(scroll)
        self.nav.addItem(title)
        return layout

    def _register(
        self,
        key: str,
        get: Callable[[], Any],
        set_: Callable[[Any], None],
        focus: QWidget,
        error: ErrorLabel | None = None,
        problem: Callable[[], str | None] | None = None,
    ) -> ErrorLabel:
        label = error or ErrorLabel()
        self._fields[key] = _Field(
            key, get, set_, label, self.stack.count() - 1, focus, problem=problem
        )
        return label

    def _number(self, key: str, low: int, high: int, unit: str) -> NumberField:
        field = NumberField(low, high, unit)
        self._register(key, field.value, field.set_value, field.line, problem=field.problem)
        field.changed.connect(lambda: self._edited(key))
        return field

    def _row(
        self, form: QFormLayout, label: str, widget: QWidget, key: str, hint: str = ""
    ) -> None:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        grows = widget.sizePolicy().horizontalPolicy() in (
            QSizePolicy.Policy.Expanding,
            QSizePolicy.Policy.MinimumExpanding,
        )
        if grows:
            column.addWidget(widget)
        else:
            column.addWidget(widget, 0, Qt.AlignmentFlag.AlignLeft)
        if hint:
            column.addWidget(hint_label(hint))
        column.addWidget(self._fields[key].error)
        form.addRow(label, box)

    def _form(self, layout: QVBoxLayout, title: str | None = None) -> QFormLayout:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        # A narrow window puts a long label above its field instead of scrolling sideways.
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        form.setVerticalSpacing(10)
        if title is None:
            layout.addLayout(form)
        else:
            group = QGroupBox(title)
            group.setLayout(form)
            layout.addWidget(group)
        return form

    def _build_texts(self) -> None:
        layout = self._section("Auto-reply texts")
        layout.addWidget(
            hint_label(
                "Write the texts callers get. Click a token to insert it where the cursor is; "
                "the preview shows the text as a caller named Maria would see it."
            )
        )
        self.template_editors: dict[str, TemplateEditor] = {}
        for key, title, help_text in TEMPLATE_FIELDS:
            editor = TemplateEditor(key, title, help_text)
            self.template_editors[key] = editor
            self._register(key, editor.text, editor.set_text, editor.editor, editor.error_label)
            editor.changed.connect(lambda k=key: self._edited(k))
            layout.addWidget(editor)
        layout.addStretch(1)

    def _build_timing(self) -> None:
        layout = self._section("Timing")
        form = self._form(layout)
        self.textback_enabled = QCheckBox("Text callers back automatically after a missed call")
        self._register(
            "textback.enabled",
            self.textback_enabled.isChecked,
            self.textback_enabled.setChecked,
            self.textback_enabled,
        )
        self.textback_enabled.toggled.connect(lambda _: self._edited("textback.enabled"))
        self._row(form, "", self.textback_enabled, "textback.enabled")

        self.delay = self._number("textback.delay_seconds", 0, 3600, "seconds")
        self.delay.setObjectName("delaySeconds")
        self._row(
            form,
            "Send the text after",
            self.delay,
            "textback.delay_seconds",
            "How long to wait after the call ends (0 = at once). A short wait lets you "
            "call back first and cancel the text.",
        )

        self.repeat = self._number("textback.repeat_window_minutes", 0, 43200, "minutes")
        self._row(
            form,
            "Don't text the same caller again within",
            self.repeat,
            "textback.repeat_window_minutes",
        )

        # Follow-up: on/off and a delay in minutes (the key stores seconds; a stored
        # value that is not whole minutes is kept as it is until the owner edits it).
        follow = QWidget()
        column = QVBoxLayout(follow)
        column.setContentsMargins(0, 0, 0, 0)
        self.followup_on = QCheckBox("Send one follow-up if they have not replied after")
        self.followup_minutes = NumberField(1, 43200, "minutes")
        self.followup_minutes.setObjectName("followupMinutes")
        column.addWidget(self.followup_on)
        column.addWidget(self.followup_minutes)
        self._followup_seconds = 86400
        self._followup_touched = False

        def get_followup() -> int | str:
            if not self.followup_on.isChecked():
                return 0
            if not self._followup_touched and self._followup_seconds > 0:
                return self._followup_seconds
            minutes = self.followup_minutes.value()
            return minutes * 60 if isinstance(minutes, int) else minutes

        def set_followup(seconds: int) -> None:
            self._followup_seconds = seconds
            self._followup_touched = False
            self.followup_on.setChecked(seconds > 0)
            self.followup_minutes.set_value(max(1, round(seconds / 60)) if seconds else 1440)
            self.followup_minutes.setEnabled(seconds > 0)

        def followup_problem() -> str | None:
            return self.followup_minutes.problem() if self.followup_on.isChecked() else None

        def follow_edited() -> None:
            if not self._filling:
                self._followup_touched = True
            self.followup_minutes.setEnabled(self.followup_on.isChecked())
            self._edited("followup.delay_seconds")

        self.followup_on.toggled.connect(lambda _: follow_edited())
        self.followup_minutes.changed.connect(follow_edited)
        self._register(
            "followup.delay_seconds",
            get_followup,
            set_followup,
            self.followup_minutes.line,
            problem=followup_problem,
        )
        self._row(form, "Follow-up", follow, "followup.delay_seconds")

        self.quiet = QuietHoursEditor()
        self._register("quiet_hours", self.quiet.value, self.quiet.set_value, self.quiet.enabled)
        self.quiet.changed.connect(lambda: self._edited("quiet_hours"))
        self._row(
            form,
            "Quiet hours",
            self.quiet,
            "quiet_hours",
            "Optional. Texts due in these hours wait until they end.",
        )
        layout.addStretch(1)

    def _build_business(self) -> None:
        layout = self._section("Business")
        form = self._form(layout)
        self.business_name = QLineEdit()
        self.business_name.setObjectName("businessName")
        self.business_name.setPlaceholderText("e.g. Smith & Sons Plumbing")
        self._register(
            "business.name", self.business_name.text, self.business_name.setText, self.business_name
        )
        self.business_name.textChanged.connect(lambda _: self._edited("business.name"))
        self._row(form, "Business name", self.business_name, "business.name", "As callers know it.")

        self.business_phone = QLineEdit()
        self.business_phone.setObjectName("businessPhone")
        self.business_phone.setPlaceholderText("+15551234567")
        self._register(
            "business.phone_number",
            self.business_phone.text,
            self.business_phone.setText,
            self.business_phone,
        )
        self.business_phone.textChanged.connect(lambda _: self._edited("business.phone_number"))
        self._row(
            form,
            "Twilio number",
            self.business_phone,
            "business.phone_number",
            "The number callers dial, as Twilio shows it. Frontdesk points it here on start.",
        )

        self.booking_link = QLineEdit()
        self.booking_link.setPlaceholderText("https://…")
        self._register(
            "business.booking_link",
            self.booking_link.text,
            self.booking_link.setText,
            self.booking_link,
        )
        self.booking_link.textChanged.connect(lambda _: self._edited("business.booking_link"))
        self._row(
            form,
            "Booking link",
            self.booking_link,
            "business.booking_link",
            "Your online booking page, for [Booking Link]. Leave empty if you have none.",
        )

        self.timezone = QComboBox()
        self.timezone.setObjectName("timezone")
        self.timezone.setEditable(True)
        self.timezone.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.timezone.addItems(sorted(available_timezones()))
        self.timezone.setMinimumWidth(260)
        completer = QCompleter(self.timezone.model(), self.timezone)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.timezone.setCompleter(completer)
        self._register(
            "business.timezone",
            lambda: self.timezone.currentText().strip(),
            self.timezone.setCurrentText,
            self.timezone,
        )
        self.timezone.currentTextChanged.connect(lambda _: self._edited("business.timezone"))
        self._row(
            form,
            "Time zone",
            self.timezone,
            "business.timezone",
            "Type to search, e.g. Chicago or London.",
        )

        self.hours = HoursEditor()
        self._register("business.hours", self.hours.value, self.hours.set_value, self.hours)
        self.hours.changed.connect(lambda: self._edited("business.hours"))
        self._row(
            form,
            "Business hours",
            self.hours,
            "business.hours",
            "Calls outside these hours get the after-hours text.",
        )
        layout.addStretch(1)

    def _build_calls(self) -> None:
        layout = self._section("Calls")
        form = self._form(layout)
        self.ring_phones = ListEditor(
            "+15551234567",
            lambda text: check_phone(text, self._region),
            display=display_phone,
        )
        self.ring_phones.setObjectName("ringPhones")
        self._register(
            "forwarding.numbers",
            self.ring_phones.value,
            self.ring_phones.set_value,
            self.ring_phones.line,
            self.ring_phones.error_label,
        )
        self.ring_phones.changed.connect(lambda: self._edited("forwarding.numbers"))
        self._row(
            form,
            "Phones to ring",
            self.ring_phones,
            "forwarding.numbers",
            "Up to 10 office or mobile phones rung at once. None: your carrier forwards "
            "unanswered calls to the Twilio number instead.",
        )
        self.ring_seconds = self._number("forwarding.ring_seconds", 5, 60, "seconds")
        self._row(form, "Ring for", self.ring_seconds, "forwarding.ring_seconds")

        self.greeting = QPlainTextEdit()
        self.greeting.setTabChangesFocus(True)
        self.greeting.setMaximumHeight(70)
        self._register(
            "voicemail.greeting",
            self.greeting.toPlainText,
            self.greeting.setPlainText,
            self.greeting,
        )
        self.greeting.textChanged.connect(lambda: self._edited("voicemail.greeting"))
        self._row(
            form,
            "Voicemail greeting",
            self.greeting,
            "voicemail.greeting",
            "What callers hear when nobody answers. Empty: just hang up.",
        )
        self.record = QCheckBox("Let callers leave a voicemail after the greeting")
        self._register(
            "voicemail.record", self.record.isChecked, self.record.setChecked, self.record
        )
        self.record.toggled.connect(lambda _: self._edited("voicemail.record"))
        self._row(form, "", self.record, "voicemail.record")
        self.retention = self._number("voicemail.retention_days", 0, 3650, "days")
        self._row(
            form,
            "Keep voicemails",
            self.retention,
            "voicemail.retention_days",
            "Recordings older than this are deleted from this PC. 0: keep them.",
        )
        self.lookup = QCheckBox("Check a new caller's line type and name before texting")
        self._register("lookup.enabled", self.lookup.isChecked, self.lookup.setChecked, self.lookup)
        self.lookup.toggled.connect(lambda _: self._edited("lookup.enabled"))
        self._row(
            form,
            "",
            self.lookup,
            "lookup.enabled",
            "Twilio Lookup, about 1 cent per new number: landlines get no text (call them "
            "back), and the caller's name fills [First Name].",
        )
        self.closed_dates = QLineEdit()
        self.closed_dates.setPlaceholderText("2025-12-25, 2026-01-01")
        self._register(
            "business.closed_dates",
            lambda: [d.strip() for d in self.closed_dates.text().split(",") if d.strip()],
            lambda dates: self.closed_dates.setText(", ".join(dates)),
            self.closed_dates,
        )
        self.closed_dates.textEdited.connect(lambda _: self._edited("business.closed_dates"))
        self._row(
            form,
            "Closed days",
            self.closed_dates,
            "business.closed_dates",
            "Holidays and closures (YYYY-MM-DD, comma between): callers get the after-hours "
            "text all day.",
        )
        self._build_offline(layout)
        layout.addStretch(1)

    def _build_offline(self, layout: QVBoxLayout) -> None:
        """What callers get while this PC is off, and how far back catch-up texts."""
        form = self._form(layout, "While Frontdesk is closed")
        self.offline_mode = QComboBox()
        self.offline_mode.setObjectName("offlineMode")
        for label, value in (
            ("Forward calls to a phone, then voicemail", "forward"),
            ("Use my own TwiML Bin", "twiml_url"),
            ("Leave the number as it was before Frontdesk", "none"),
        ):
            self.offline_mode.addItem(label, value)
        self._register(
            "offline.mode",
            self.offline_mode.currentData,
            lambda v: self.offline_mode.setCurrentIndex(max(0, self.offline_mode.findData(v))),
            self.offline_mode,
        )
        self.offline_mode.currentIndexChanged.connect(lambda _: self._edited("offline.mode"))
        self._row(
            form,
            "Callers get",
            self.offline_mode,
            "offline.mode",
            "Twilio answers for you while Frontdesk is closed or this PC is offline; "
            "missed calls are texted as soon as Frontdesk is back.",
        )
        for attr, key, label, placeholder, hint in (
            (
                "offline_forward",
                "offline.forward_to",
                "Forward to",
                "+15551234567",
                "A mobile that rings while the office is closed. Empty: straight to voicemail.",
            ),
            (
                "offline_email",
                "offline.voicemail_email",
                "Voicemails to",
                "owner@example.com",
                "Twilio emails voicemails here. Empty: callers hear the greeting only.",
            ),
            (
                "offline_twiml",
                "offline.twiml_url",
                "TwiML Bin URL",
                "https://handler.twilio.com/twiml/EH…",
                "Only for “Use my own TwiML Bin”.",
            ),
        ):
            field = QLineEdit()
            field.setPlaceholderText(placeholder)
            setattr(self, attr, field)
            self._register(key, field.text, field.setText, field)
            field.textChanged.connect(lambda _, k=key: self._edited(k))
            self._row(form, label, field, key, hint)
        self.catchup_hours = self._number("catchup.max_age_hours", 0, 168, "hours")
        self._row(
            form,
            "Catch-up limit",
            self.catchup_hours,
            "catchup.max_age_hours",
            "Calls missed while Frontdesk was closed get the catch-up text when it starts "
            "again, if they are at most this old.",
        )

    def _build_team(self) -> None:
        layout = self._section("Team & snippets")
        form = self._form(layout)
        self.members = ListEditor("A name, e.g. Dana", self._check_name)
        self._register(
            "team.members",
            self.members.value,
            self.members.set_value,
            self.members.line,
            self.members.error_label,
        )
        self.members.changed.connect(lambda: self._edited("team.members"))
        self.members.changed.connect(self._refresh_me_choices)
        self._row(
            form, "Team members", self.members, "team.members", "People threads can be assigned to."
        )
        self.me = QComboBox()
        self.me.setEditable(True)
        self.me.setMinimumWidth(220)
        self._register(
            "team.me", lambda: self.me.currentText().strip(), self.me.setCurrentText, self.me
        )
        self.me.currentTextChanged.connect(lambda _: self._edited("team.me"))
        self._row(
            form,
            "This PC is used by",
            self.me,
            "team.me",
            "For the “Assigned to me” filter and to sign replies sent from this PC.",
        )
        self.snippets = SnippetsEditor()
        self._register(
            "snippets",
            self.snippets.value,
            self.snippets.set_value,
            self.snippets.title,
            self.snippets.error_label,
        )
        self.snippets.changed.connect(lambda: self._edited("snippets"))
        group = QGroupBox("Snippets (saved replies)")
        column = QVBoxLayout(group)
        column.addWidget(self.snippets)
        layout.addWidget(group)
        layout.addStretch(1)

    def _build_alerts(self) -> None:
        layout = self._section("Notifications")
        form = self._form(layout)
        self.notify = QCheckBox("Show a desktop notification for new texts and missed calls")
        self._register(
            "notifications.enabled", self.notify.isChecked, self.notify.setChecked, self.notify
        )
        self.notify.toggled.connect(lambda _: self._edited("notifications.enabled"))
        self._row(form, "", self.notify, "notifications.enabled")
        self.sound = QCheckBox("Play a sound when a reply arrives")
        self._register(
            "notifications.sound", self.sound.isChecked, self.sound.setChecked, self.sound
        )
        self.sound.toggled.connect(lambda _: self._edited("notifications.sound"))
        self._row(form, "", self.sound, "notifications.sound")
        layout.addStretch(1)

    def _build_twilio(self) -> None:
        layout = self._section("Twilio & connection")
        self.twilio_group: QWidget
        if self._connection is not None:
            # Credentials go to the OS keyring through the connection box, never here.
            self.twilio_group = self._connection
        else:
            self.twilio_group = QGroupBox("Twilio account && connection")
            column = QVBoxLayout(self.twilio_group)
            column.addWidget(hint_label("The Twilio account is managed by the app shell."))
        self.twilio_group.setObjectName("twilioConnectionGroup")
        layout.addWidget(self.twilio_group)
        form = self._form(layout, "Tunnel")
        self.ngrok_path = QLineEdit()
        self.ngrok_path.setPlaceholderText("Empty: ngrok on the PATH")
        self._register(
            "tunnel.ngrok_path", self.ngrok_path.text, self.ngrok_path.setText, self.ngrok_path
        )
        self.ngrok_path.textChanged.connect(lambda _: self._edited("tunnel.ngrok_path"))
        self._row(
            form,
            "ngrok program",
            self.ngrok_path,
            "tunnel.ngrok_path",
            "Where ngrok is installed, if it is not on the PATH (needed unless you set a "
            "fixed public URL above).",
        )
        layout.addStretch(1)

    def _build_integrations(self, box: QWidget) -> None:
        # Endpoints and the token are stored as they are added (not by Save): the box
        # talks to the integrations service itself.
        layout = self._section("Integrations")
        layout.addWidget(box, 1)

    # ---- values --------------------------------------------------------------------
    @property
    def _region(self) -> str:
        return str(self._settings["business.default_region"]) if self._settings else "US"

    @staticmethod
    def _check_name(text: str) -> str:
        name = " ".join(text.split())
        if not name:
            raise SettingsError("A name cannot be empty")
        if len(name) > 100:
            raise SettingsError("A name can be at most 100 characters")
        return name

    def _refresh_me_choices(self) -> None:
        current = self.me.currentText()
        blocked = self.me.blockSignals(True)
        try:
            self.me.clear()
            self.me.addItems(self.members.value())
            self.me.setCurrentText(current)
        finally:
            self.me.blockSignals(blocked)

    def _context_changed(self) -> None:
        phone = self._settings["business.phone_number"] if self._settings else ""
        for editor in self.template_editors.values():
            editor.set_context(
                self.business_name.text().strip(),
                phones.format_for_display(phone) if phone else "",
                self.booking_link.text().strip(),
            )

    def _check(self, key: str) -> Any:
        field = self._fields[key]
        problem = field.problem() if field.problem is not None else None
        if problem:
            field.message = problem
            field.error.show_error(problem)
            return None
        try:
            value = validate(key, field.get())
        except SettingsError as exc:
            field.message = _sentence(str(exc).removeprefix(f"{key}: "))
            field.error.show_error(field.message)
            return None
        field.message = None
        field.error.show_error(None)
        return value

    def _edited(self, key: str) -> None:
        if self._filling:
            return
        if key in ("business.name", "business.booking_link"):
            self._context_changed()
        self._check(key)
        self.status.setText("")
        self._update_buttons()

    def changes(self) -> dict[str, Any]:
        """Every field that differs from what is stored (normalised; invalid ones raw)."""
        result: dict[str, Any] = {}
        for key, field in self._fields.items():
            raw = field.get()
            try:
                value = validate(key, raw)
            except SettingsError:
                value = raw
            if value != self._loaded.get(key):
                result[key] = value
        return result

    def errors(self) -> dict[str, str]:
        return {k: f.message for k, f in self._fields.items() if f.message}

    def _update_buttons(self) -> None:
        dirty = bool(self._loaded) and bool(self.changes())
        self.save_button.setEnabled(dirty and not self._saving)
        self.revert_button.setEnabled(dirty and not self._saving)

    def _fill(self, settings: Settings) -> None:
        self._settings = settings
        self._loaded = settings.as_dict()
        self._filling = True
        try:
            members = list(settings["team.members"])
            self.me.clear()
            self.me.addItems(members)
            for key, field in self._fields.items():
                field.set(settings[key])
        finally:
            self._filling = False
        self._context_changed()
        for key in self._fields:
            self._check(key)
        self._update_buttons()

    # ---- loading and saving --------------------------------------------------------
    async def load(self) -> None:
        """Fill the form from the stored settings (throwing away unsaved edits)."""
        self._fill(await self._inbox.settings())

    def revert(self) -> None:
        if self._settings is not None:
            self._fill(self._settings)
            self.status.setText("Changes undone.")

    async def save(self) -> bool:
        """Store every change in one call; False (nothing stored) when anything is refused."""
        for key in self._fields:
            self._check(key)
        errors = self.errors()
        if errors:
            first = next(iter(errors))
            field = self._fields[first]
            self.nav.setCurrentRow(field.section)
            field.focus.setFocus()
            self._set_status(self._errors_summary(errors), error=True)
            return False
        changes = self.changes()
        if not changes:
            self._set_status("Nothing to save.")
            return True
        actor = self._actor or (self._settings["team.me"] if self._settings else "") or "owner"
        self._saving = True
        self._update_buttons()
        try:
            stored = await self._inbox.update_settings(changes, actor=actor)
        except SettingsError as exc:
            self._set_status(f"Not saved: {exc}", error=True)
            return False
        finally:
            self._saving = False
            self._update_buttons()
        self._fill(await self._inbox.settings())
        self._set_status("Saved.")
        self.saved.emit(sorted(stored))
        return True

    def _errors_summary(self, errors: dict[str, str]) -> str:
        """ "Not saved: fix the 2 marked fields first (Timing: 1, Business: 1)." naming the
        sections that hold them, in the order of the section list."""
        count = len(errors)
        per_section: dict[int, int] = {}
        for key in errors:
            section = self._fields[key].section
            per_section[section] = per_section.get(section, 0) + 1
        where = ", ".join(
            f"{self.nav.item(section).text()}: {n}" for section, n in sorted(per_section.items())
        )
        what = "the marked field" if count == 1 else f"the {count} marked fields"
        return f"Not saved: fix {what} first ({where})."

    # ---- closing with edits (the main window asks) ------------------------------------
    def unsaved_changes(self) -> bool:
        return bool(self._loaded) and bool(self.changes())

    def save_changes(self, then: Callable[[bool], None]) -> None:
        """Save, then call ``then(stored)``; a refused value shows its error as Save does."""
        self.tasks.spawn(self.save(), what="save settings", done=then)

    def discard_changes(self) -> None:
        if self._settings is not None:
            self._fill(self._settings)

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(theme.error_style() if error else "")

    def _settings_changed_elsewhere(self, _keys: list[str]) -> None:
        if self._saving or not self._loaded:
            return
        if self.changes():
            self._set_status("Settings were changed elsewhere; saving keeps your edits.")
            return
        self.tasks.spawn(self.load(), what="reload the settings")

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._load_requested and not self._loaded:
            self._load_requested = True
            self.tasks.spawn(self.load(), what="load the settings")
            load = getattr(self._office_database, "load", None)
            if callable(load):
                load()

    def shutdown(self) -> None:
        self.tasks.cancel_all()
        for part in (self._connection, self._office_database):
            hook = getattr(part, "shutdown", None)
            if callable(hook):
                hook()
