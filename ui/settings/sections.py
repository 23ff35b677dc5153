"""The sections of the Settings page, one widget each, in the order of the section list.

Each is a :class:`~ui.settings.section.SettingsSection`: plain keys are rows built from
their specs (:class:`~ui.settings.section.Row`), the rest use the editors of
ui/settings/fields.py and ui/settings/template_editor.py. The page
(ui/settings_page.py) checks, marks and saves what they register.
"""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import available_timezones

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from services.settings import SPECS, Settings, SettingsError
from ui.settings.fields import (
    HoursEditor,
    ListEditor,
    NumberField,
    QuietHoursEditor,
    SnippetsEditor,
    check_phone,
    display_phone,
    hint_label,
)
from ui.settings.section import Row, SettingsSection
from ui.settings.template_editor import TemplateEditor

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


class TextsSection(SettingsSection):
    """The auto-reply texts, each with tokens and a live preview."""

    TITLE = "Auto-reply texts"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.body.addWidget(
            hint_label(
                "Write the texts callers get. Click a token to insert it where the cursor is; "
                "the preview shows the text as a caller named Maria would see it."
            )
        )
        self.template_editors: dict[str, TemplateEditor] = {}
        for key, title, help_text in TEMPLATE_FIELDS:
            editor = TemplateEditor(key, title, help_text)
            self.template_editors[key] = editor
            self.register(key, editor.text, editor.set_text, editor.editor, editor.error_label)
            editor.changed.connect(lambda k=key: self.changed(k))
            self.body.addWidget(editor)
        self.body.addStretch(1)

    def set_context(self, business_name: str, business_phone: str, booking_link: str) -> None:
        """What the previews fill [Business Name], [Business Phone] and [Booking Link] with."""
        for editor in self.template_editors.values():
            editor.set_context(business_name, business_phone, booking_link)


class TimingSection(SettingsSection):
    """When texts go: the text-back and its delay, the repeat window, follow-up, quiet hours."""

    TITLE = "Timing"
    FOLLOWUP = "followup.delay_seconds"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = self.form()
        self.textback_enabled = self.add(
            form,
            Row("textback.enabled", text="Text callers back automatically after a missed call"),
        )
        self.delay = self.add(
            form,
            Row(
                "textback.delay_seconds",
                "Send the text after",
                "How long to wait after the call ends (0 = at once). A short wait lets you "
                "call back first and cancel the text.",
                name="delaySeconds",
            ),
        )
        self.repeat = self.add(
            form, Row("textback.repeat_window_minutes", "Don't text the same caller again within")
        )
        self._build_followup(form)
        self.quiet = QuietHoursEditor()
        self.register("quiet_hours", self.quiet.value, self.quiet.set_value, self.quiet.enabled)
        self.quiet.changed.connect(lambda: self.changed("quiet_hours"))
        self.row(
            form,
            "Quiet hours",
            self.quiet,
            "quiet_hours",
            "Optional. Texts due in these hours wait until they end.",
        )
        self.body.addStretch(1)

    def _build_followup(self, form: QFormLayout) -> None:
        # On/off and a delay in minutes (the key stores seconds, up to its spec's maximum;
        # a stored value that is not whole minutes is kept as it is until it is edited).
        follow = QWidget()
        column = QVBoxLayout(follow)
        column.setContentsMargins(0, 0, 0, 0)
        self.followup_on = QCheckBox("Send one follow-up if they have not replied after")
        most = SPECS[self.FOLLOWUP].high or 0
        self.followup_minutes = NumberField(1, most // 60, "minutes")
        self.followup_minutes.setObjectName("followupMinutes")
        column.addWidget(self.followup_on)
        column.addWidget(self.followup_minutes)
        self._followup_seconds = 86400
        self._followup_touched = False
        self.followup_on.toggled.connect(lambda _on: self._follow_edited())
        self.followup_minutes.changed.connect(self._follow_edited)
        self.register(
            self.FOLLOWUP,
            self._get_followup,
            self._set_followup,
            self.followup_minutes.line,
            problem=self._followup_problem,
        )
        self.row(form, "Follow-up", follow, self.FOLLOWUP)

    def _get_followup(self) -> int | str:
        if not self.followup_on.isChecked():
            return 0
        if not self._followup_touched and self._followup_seconds > 0:
            return self._followup_seconds
        minutes = self.followup_minutes.value()
        return minutes * 60 if isinstance(minutes, int) else minutes

    def _set_followup(self, seconds: int) -> None:
        self._followup_seconds = seconds
        self._followup_touched = False
        self.followup_on.setChecked(seconds > 0)
        self.followup_minutes.set_value(max(1, round(seconds / 60)) if seconds else 1440)
        self.followup_minutes.setEnabled(seconds > 0)

    def _followup_problem(self) -> str | None:
        return self.followup_minutes.problem() if self.followup_on.isChecked() else None

    def _follow_edited(self) -> None:
        if not self.filling:
            self._followup_touched = True
        self.followup_minutes.setEnabled(self.followup_on.isChecked())
        self.changed(self.FOLLOWUP)


class BusinessSection(SettingsSection):
    """Who the business is: name, Twilio number, booking link, time zone, hours."""

    TITLE = "Business"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = self.form()
        self.business_name = self._line(
            form,
            Row(
                "business.name",
                "Business name",
                "As callers know it.",
                placeholder="e.g. Smith & Sons Plumbing",
                name="businessName",
            ),
        )
        self.business_phone = self._line(
            form,
            Row(
                "business.phone_number",
                "Twilio number",
                "The number callers dial, as Twilio shows it. Frontdesk points it here on start.",
                placeholder="+15551234567",
                name="businessPhone",
            ),
        )
        self.booking_link = self._line(
            form,
            Row(
                "business.booking_link",
                "Booking link",
                "Your online booking page, for [Booking Link]. Leave empty if you have none.",
                placeholder="https://…",
            ),
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
        self.register(
            "business.timezone",
            lambda: self.timezone.currentText().strip(),
            self.timezone.setCurrentText,
            self.timezone,
        )
        self.timezone.currentTextChanged.connect(lambda _t: self.changed("business.timezone"))
        self.row(
            form,
            "Time zone",
            self.timezone,
            "business.timezone",
            "Type to search, e.g. Chicago or London.",
        )
        self.hours = HoursEditor()
        self.register("business.hours", self.hours.value, self.hours.set_value, self.hours)
        self.hours.changed.connect(lambda: self.changed("business.hours"))
        self.row(
            form,
            "Business hours",
            self.hours,
            "business.hours",
            "Calls outside these hours get the after-hours text.",
        )
        self.body.addStretch(1)

    def _line(self, form: QFormLayout, row: Row) -> QLineEdit:
        editor = self.add(form, row)
        assert isinstance(editor, QLineEdit)
        return editor


class CallsSection(SettingsSection):
    """What a call does: phones to ring, voicemail, Lookup, closed days, and what callers
    get while Frontdesk is closed. ``region`` gives the country for numbers typed
    without +."""

    TITLE = "Calls"

    def __init__(self, region: Callable[[], str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = self.form()
        self.ring_phones = ListEditor(
            "+15551234567", lambda text: check_phone(text, region()), display=display_phone
        )
        self.ring_phones.setObjectName("ringPhones")
        self.register(
            "forwarding.numbers",
            self.ring_phones.value,
            self.ring_phones.set_value,
            self.ring_phones.line,
            self.ring_phones.error_label,
        )
        self.ring_phones.changed.connect(lambda: self.changed("forwarding.numbers"))
        self.row(
            form,
            "Phones to ring",
            self.ring_phones,
            "forwarding.numbers",
            "Up to 10 office or mobile phones rung at once. None: your carrier forwards "
            "unanswered calls to the Twilio number instead.",
        )
        self.ring_seconds = self.add(form, Row("forwarding.ring_seconds", "Ring for"))
        self.greeting = QPlainTextEdit()
        self.greeting.setTabChangesFocus(True)
        self.greeting.setMaximumHeight(70)
        self.register(
            "voicemail.greeting",
            self.greeting.toPlainText,
            self.greeting.setPlainText,
            self.greeting,
        )
        self.greeting.textChanged.connect(lambda: self.changed("voicemail.greeting"))
        self.row(
            form,
            "Voicemail greeting",
            self.greeting,
            "voicemail.greeting",
            "What callers hear when nobody answers. Empty: just hang up.",
        )
        self.record = self.add(
            form, Row("voicemail.record", text="Let callers leave a voicemail after the greeting")
        )
        self.retention = self.add(
            form,
            Row(
                "voicemail.retention_days",
                "Keep voicemails",
                "Recordings older than this are deleted from this PC. 0: keep them.",
            ),
        )
        self.lookup = self.add(
            form,
            Row(
                "lookup.enabled",
                hint="Twilio Lookup, about 1 cent per new number: landlines get no text (call "
                "them back), and the caller's name fills [First Name].",
                text="Check a new caller's line type and name before texting",
            ),
        )
        self.closed_dates = QLineEdit()
        self.closed_dates.setPlaceholderText("2025-12-25, 2026-01-01")
        self.register(
            "business.closed_dates",
            lambda: [d.strip() for d in self.closed_dates.text().split(",") if d.strip()],
            lambda dates: self.closed_dates.setText(", ".join(dates)),
            self.closed_dates,
        )
        self.closed_dates.textEdited.connect(lambda _t: self.changed("business.closed_dates"))
        self.row(
            form,
            "Closed days",
            self.closed_dates,
            "business.closed_dates",
            "Holidays and closures (YYYY-MM-DD, comma between): callers get the after-hours "
            "text all day.",
        )
        self._build_offline()
        self.body.addStretch(1)

    def _build_offline(self) -> None:
        """What callers get while this PC is off, and how far back catch-up texts."""
        form = self.form("While Frontdesk is closed")
        self.offline_mode = QComboBox()
        self.offline_mode.setObjectName("offlineMode")
        for label, value in (
            ("Forward calls to a phone, then voicemail", "forward"),
            ("Use my own TwiML Bin", "twiml_url"),
            ("Leave the number as it was before Frontdesk", "none"),
        ):
            self.offline_mode.addItem(label, value)
        self.register(
            "offline.mode",
            self.offline_mode.currentData,
            lambda v: self.offline_mode.setCurrentIndex(max(0, self.offline_mode.findData(v))),
            self.offline_mode,
        )
        self.offline_mode.currentIndexChanged.connect(lambda _i: self.changed("offline.mode"))
        self.row(
            form,
            "Callers get",
            self.offline_mode,
            "offline.mode",
            "Twilio answers for you while Frontdesk is closed or this PC is offline; "
            "missed calls are texted as soon as Frontdesk is back.",
        )
        self.offline_forward = self.add(
            form,
            Row(
                "offline.forward_to",
                "Forward to",
                "A mobile that rings while the office is closed. Empty: straight to voicemail.",
                placeholder="+15551234567",
            ),
        )
        self.offline_email = self.add(
            form,
            Row(
                "offline.voicemail_email",
                "Voicemails to",
                "Twilio emails voicemails here. Empty: callers hear the greeting only.",
                placeholder="owner@example.com",
            ),
        )
        self.offline_twiml = self.add(
            form,
            Row(
                "offline.twiml_url",
                "TwiML Bin URL",
                "Only for “Use my own TwiML Bin”.",
                placeholder="https://handler.twilio.com/twiml/EH…",
            ),
        )
        self.catchup_hours = self.add(
            form,
            Row(
                "catchup.max_age_hours",
                "Catch-up limit",
                "Calls missed while Frontdesk was closed get the catch-up text when it starts "
                "again, if they are at most this old.",
            ),
        )


class TeamSection(SettingsSection):
    """Who works the desk, who uses this PC, and the saved replies."""

    TITLE = "Team & snippets"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = self.form()
        self.members = ListEditor("A name, e.g. Dana", check_name)
        self.register(
            "team.members",
            self.members.value,
            self.members.set_value,
            self.members.line,
            self.members.error_label,
        )
        self.members.changed.connect(lambda: self.changed("team.members"))
        self.members.changed.connect(self._refresh_me_choices)
        self.row(
            form, "Team members", self.members, "team.members", "People threads can be assigned to."
        )
        self.me = QComboBox()
        self.me.setEditable(True)
        self.me.setMinimumWidth(220)
        self.register(
            "team.me", lambda: self.me.currentText().strip(), self.me.setCurrentText, self.me
        )
        self.me.currentTextChanged.connect(lambda _t: self.changed("team.me"))
        self.row(
            form,
            "This PC is used by",
            self.me,
            "team.me",
            "For the “Assigned to me” filter and to sign replies sent from this PC.",
        )
        self.snippets = SnippetsEditor()
        self.register(
            "snippets",
            self.snippets.value,
            self.snippets.set_value,
            self.snippets.title,
            self.snippets.error_label,
        )
        self.snippets.changed.connect(lambda: self.changed("snippets"))
        group = QGroupBox("Snippets (saved replies)")
        column = QVBoxLayout(group)
        column.addWidget(self.snippets)
        self.body.addWidget(group)
        self.body.addStretch(1)

    def before_fill(self, settings: Settings) -> None:
        self.me.clear()
        self.me.addItems(list(settings["team.members"]))

    def _refresh_me_choices(self) -> None:
        current = self.me.currentText()
        blocked = self.me.blockSignals(True)
        try:
            self.me.clear()
            self.me.addItems(self.members.value())
            self.me.setCurrentText(current)
        finally:
            self.me.blockSignals(blocked)


def check_name(text: str) -> str:
    """A team member's name, spaces tidied; refused when empty or past 100 characters."""
    name = " ".join(text.split())
    if not name:
        raise SettingsError("A name cannot be empty")
    if len(name) > 100:
        raise SettingsError("A name can be at most 100 characters")
    return name


class AlertsSection(SettingsSection):
    """Desktop notifications and the reply sound."""

    TITLE = "Notifications"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = self.form()
        self.notify = self.add(
            form,
            Row(
                "notifications.enabled",
                text="Show a desktop notification for new texts and missed calls",
            ),
        )
        self.sound = self.add(
            form, Row("notifications.sound", text="Play a sound when a reply arrives")
        )
        self.body.addStretch(1)


class TwilioSection(SettingsSection):
    """The Twilio account and connection box the app shell hands in (credentials go to the
    OS keyring through it, never through Save), and where ngrok is."""

    TITLE = "Twilio & connection"

    def __init__(self, connection: QWidget | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.twilio_group: QWidget
        if connection is not None:
            self.twilio_group = connection
        else:
            self.twilio_group = QGroupBox("Twilio account && connection")
            column = QVBoxLayout(self.twilio_group)
            column.addWidget(hint_label("The Twilio account is managed by the app shell."))
        self.twilio_group.setObjectName("twilioConnectionGroup")
        self.body.addWidget(self.twilio_group)
        form = self.form("Tunnel")
        self.ngrok_path = self.add(
            form,
            Row(
                "tunnel.ngrok_path",
                "ngrok program",
                "Where ngrok is installed, if it is not on the PATH (needed unless you set a "
                "fixed public URL above).",
                placeholder="Empty: ngrok on the PATH",
            ),
        )
        self.body.addStretch(1)


class BoxSection(SettingsSection):
    """A section that is one box storing its own changes (not by Save): the office
    database choice of this PC, the integrations."""

    def __init__(
        self, title: str, box: QWidget, *, grow: bool, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent, title=title)
        self.body.addWidget(box, 1 if grow else 0)
        if not grow:
            self.body.addStretch(1)
