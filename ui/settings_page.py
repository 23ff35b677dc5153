"""Settings: templates with a live preview, timing, hours, phones, team, snippets, alerts.

The page is the section list, one widget per section (ui/settings/sections.py, each built
from the settings specs) and the Save bar. Every field is checked as it is edited with
:func:`services.settings.validate` (the same rules as ``frontdesk settings set``): a
refused value is explained right under the field, and its section is marked in the
section list (an icon, the danger colour, "2 fields to fix"). Save sends every changed
key in one ``InboxApi.update_settings`` call: all of it is stored or, when anything is
refused, none of it, and the status names the sections that hold the refused fields.
The main window asks :meth:`SettingsPage.unsaved_changes` before closing.

The "Twilio account & connection" group is the connection box the composition root
passes in (credentials in the keyring, the public URL / tunnel); the "Office database"
section, when the root passes ``office_database``, is this PC's choice of database
(ui/office_db_box.py), saved by that box, not by Save; so are the integrations.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QIcon, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QStackedWidget,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from services import phones
from services.api import InboxApi, LocationsApi
from services.locations import FIRST, LOCATION_KEYS
from services.settings import Settings, SettingsError, validate
from ui import theme
from ui.settings.locations_bar import LocationBar
from ui.settings.section import Field, SettingsSection
from ui.settings.sections import (
    AlertsSection,
    BoxSection,
    BusinessSection,
    CallsSection,
    TeamSection,
    TextsSection,
    TimingSection,
    TwilioSection,
)
from ui.widgets.tasks import TaskRunner, sentence

log = logging.getLogger(__name__)

_S = TypeVar("_S", bound=SettingsSection)


def _sentence(text: str) -> str:
    """A validator's message ("must be ...") as a sentence under the field."""
    text = text.strip()
    if text.startswith("must "):
        text = "This " + text
    return sentence(text)


class SettingsPage(QWidget):
    """The Settings screen.

    ``inbox`` gives and stores settings; ``events`` is any QObject with a
    ``settingsChanged(list)`` signal (the UI's event bridge), used to pick up changes made
    elsewhere while nothing here is being edited. ``actor`` names who saves (default: the
    "this PC is used by" name, else "owner"). The sections are attributes (``texts``,
    ``timing``, ``business``, ``calls``, ``team``, ``alerts``, ``twilio``).
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
        locations: LocationsApi | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsPage")
        self._inbox = inbox
        self._connection = connection
        self._office_database = office_database
        self._actor = actor
        self.tasks = TaskRunner(self)
        self._fields: dict[str, Field] = {}
        self._sections: list[SettingsSection] = []
        self._loaded: dict[str, Any] = {}
        self._settings: Settings | None = None
        self._saving = False
        self._load_requested = False

        outer = QVBoxLayout(self)
        # With ``locations``, the page edits the picked location's values (ui/settings/
        # locations_bar.py); the first location's are the office's settings.
        self.location_bar: LocationBar | None = None
        if locations is not None:
            self.location_bar = LocationBar(locations, self.tasks, self._actor_name)
            self.location_bar.picked.connect(self._location_picked)
            self.location_bar.handed_back.connect(lambda: self._settings_changed_elsewhere([]))
            outer.addWidget(self.location_bar)
        self._editing = FIRST
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

        self.texts = self._add(TextsSection())
        self.timing = self._add(TimingSection())
        self.business = self._add(BusinessSection())
        self.calls = self._add(CallsSection(self._region))
        self.team = self._add(TeamSection())
        self.alerts = self._add(AlertsSection())
        self.twilio = self._add(TwilioSection(connection))
        if office_database is not None:
            # This PC's own choice (its data dir and keyring), saved by the box itself.
            self._add(BoxSection("Office database", office_database, grow=False))
        if integrations is not None:
            # Endpoints and the token are stored as they are added (not by Save).
            self._add(BoxSection("Integrations", integrations, grow=True))
        self.nav.setCurrentRow(0)
        # As wide as the longest section name, not a fixed width the forms need at 1024
        # (a section's error mark may elide its name meanwhile; the tooltip says it whole).
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

    def _add(self, section: _S) -> _S:
        self._sections.append(section)
        self._fields.update(section.fields)
        section.edited.connect(self._edited)
        self.stack.addWidget(section)
        self.nav.addItem(section.title)
        return section

    # ---- values --------------------------------------------------------------------
    def _region(self) -> str:
        return str(self._settings["business.default_region"]) if self._settings else "US"

    def _context_changed(self) -> None:
        phone = self._settings["business.phone_number"] if self._settings else ""
        self.texts.set_context(
            self.business.business_name.text().strip(),
            phones.format_for_display(phone) if phone else "",
            self.business.booking_link.text().strip(),
        )

    def _check(self, key: str) -> Any:
        """Validate one field, show or clear its error in place, and mark its section."""
        field = self._fields[key]
        value = self._validate(field)
        field.error.show_error(field.message)
        self._mark(field.section)
        return value

    @staticmethod
    def _validate(field: Field) -> Any:
        problem = field.problem() if field.problem is not None else None
        if problem:
            field.message = problem
            return None
        try:
            value = validate(field.key, field.get())
        except SettingsError as exc:
            field.message = _sentence(str(exc).removeprefix(f"{field.key}: "))
            return None
        field.message = None
        return value

    def _mark(self, section: SettingsSection) -> None:
        """Mark ``section`` in the section list while any of its fields is refused."""
        item = self.nav.item(self._sections.index(section))
        wrong = sum(1 for f in section.fields.values() if f.message)
        if wrong:
            fix = "1 field to fix" if wrong == 1 else f"{wrong} fields to fix"
            item.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning))
            item.setForeground(theme.danger(self.nav.palette()))
            item.setToolTip(f"{section.title}: {fix}")
            item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{section.title}, {fix}")
        else:
            item.setIcon(QIcon())
            item.setData(Qt.ItemDataRole.ForegroundRole, None)
            item.setToolTip("")
            item.setData(Qt.ItemDataRole.AccessibleTextRole, section.title)

    def section_errors(self) -> dict[str, int]:
        """How many refused fields each section holds (only those with any), in list order."""
        counts = {
            section.title: sum(1 for f in section.fields.values() if f.message)
            for section in self._sections
        }
        return {title: n for title, n in counts.items() if n}

    def _edited(self, key: str) -> None:
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
        for section in self._sections:
            section.filling = True
        try:
            for section in self._sections:
                section.before_fill(settings)
            for key, field in self._fields.items():
                field.set(settings[key])
        finally:
            for section in self._sections:
                section.filling = False
        self._context_changed()
        for key in self._fields:
            self._check(key)
        self._update_buttons()

    # ---- loading and saving --------------------------------------------------------
    async def load(self) -> None:
        """Fill the form from the stored settings (throwing away unsaved edits): the
        picked location's values over the office's."""
        office = await self._inbox.settings()
        bar = self.location_bar
        if bar is None:
            self._fill(office)
            return
        await bar.refresh()
        location = bar.current()
        self._editing = location.id if location is not None else FIRST
        if location is None or location.is_first:
            self._fill(office)
        else:
            own = {key: location.settings[key] for key in LOCATION_KEYS}
            self._fill(office.with_changes(own))
        self._lock_office_keys()

    def _lock_office_keys(self) -> None:
        """While another location is edited, the office's own keys are shown, greyed."""
        office_only = self._editing != FIRST
        for key, field in self._fields.items():
            field.focus.setEnabled(not (office_only and key not in LOCATION_KEYS))
        for section in self._sections:
            if section.fields and not any(k in LOCATION_KEYS for k in section.fields):
                section.setEnabled(not office_only)

    def _location_picked(self) -> None:
        bar = self.location_bar
        if bar is None or bar.current_id() == self._editing:
            return
        if self.unsaved_changes():
            # Keep the edits: go back to the location they belong to.
            bar.picker.blockSignals(True)
            bar.picker.setCurrentIndex(bar.picker.findData(self._editing))
            bar.picker.blockSignals(False)
            self._set_status("Save or undo your changes before picking another location.")
            return
        self.status.setText("")
        self.tasks.spawn(self.load(), what="load the location's settings")

    def _actor_name(self) -> str:
        return self._actor or (self._settings["team.me"] if self._settings else "") or "owner"

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
            self.nav.setCurrentRow(self._sections.index(field.section))
            field.focus.setFocus()
            self._set_status(self._errors_summary(errors), error=True)
            return False
        changes = self.changes()
        if not changes:
            self._set_status("Nothing to save.")
            return True
        actor = self._actor_name()
        self._saving = True
        self._update_buttons()
        try:
            bar = self.location_bar
            if bar is not None and self._editing != FIRST:
                api = bar.api
                stored = await api.update(self._editing, changes, actor=actor)
            else:
                stored = await self._inbox.update_settings(changes, actor=actor)
        except ValueError as exc:  # SettingsError, LocationError, LocationRefused
            self._set_status(f"Not saved: {exc}", error=True)
            return False
        finally:
            self._saving = False
            self._update_buttons()
        await self.load()
        self._set_status("Saved.")
        self.saved.emit(sorted(stored))
        return True

    def _errors_summary(self, errors: dict[str, str]) -> str:
        """ "Not saved: fix the 2 marked fields first (Timing: 1, Business: 1)." naming the
        sections that hold them, in the order of the section list."""
        count = len(errors)
        where = ", ".join(f"{title}: {n}" for title, n in self.section_errors().items())
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
