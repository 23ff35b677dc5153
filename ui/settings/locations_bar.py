"""The Settings page's location bar: which location the page edits, and managing them.

"Settings for: [Main ▾]" picks the location; the page then shows that location's values
(what it sets, and what it takes from the office) and saves changes for it alone. "Add
location…" asks for a name and the Twilio number; the number is checked in the account
(on it, SMS and voice capable) before anything is saved, and the dialog stays open with
the problems in words when it cannot be used. "Rename…" and "Remove…" act on the picked
location (the first is the office itself: it can be renamed, never removed).
For another location, the note under the bar names what it sets itself (everything else
follows the first), and "Use Main's…" hands any of those back to the first location.
Every dialog is window-modal without blocking the loop; tests press their buttons.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from services import phones
from services.api import LocationsApi
from services.locations import FIRST, Location, Locations
from ui import theme
from ui.widgets.tasks import TaskRunner

#: What the note calls each setting a location can set itself, in the order it lists
#: them (its number is always its own, so it is never listed).
OWN_WORDS: dict[str, str] = {
    "business.name": "business name",
    "business.timezone": "time zone",
    "business.hours": "opening hours",
    "business.closed_dates": "closed days",
    "forwarding.numbers": "phones to ring",
    "forwarding.ring_seconds": "ring time",
    "callbacks.desk_phone": "desk phone",
    "voicemail.greeting": "voicemail greeting",
    "quiet_hours": "quiet hours",
    "business.booking_link": "booking link",
    "templates.missed_call": "missed-call text",
    "templates.after_hours": "after-hours text",
    "templates.follow_up": "follow-up text",
    "templates.voicemail": "voicemail text",
    "templates.catch_up": "catch-up text",
    "templates.help": "HELP answer",
}


def own_keys(location: Location) -> list[str]:
    """The settings ``location`` sets itself (its number aside), in :data:`OWN_WORDS`
    order; none for the first location (it is the office)."""
    if location.is_first:
        return []
    return [key for key in OWN_WORDS if key in location.own]


class LocationDialog(QDialog):
    """Add a location (name and number) or rename one (name only)."""

    submitted = Signal(str, str)  # name, number ("" when renaming)

    def __init__(self, parent: QWidget, *, current: Location | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("locationDialog")
        adding = current is None
        self.setWindowTitle("Add location" if current is None else f"Rename {current.name}")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        layout = QVBoxLayout(self)
        if adding:
            intro = QLabel(
                "A second Twilio number, for a branch or a second line. Calls and texts "
                "to it get their own threads, and replies leave from it. Until you change "
                "them, it uses the office's hours, templates and phones."
            )
            intro.setWordWrap(True)
            layout.addWidget(intro)
        form = QFormLayout()
        self.name = QLineEdit(current.name if current is not None else "")
        self.name.setPlaceholderText("North side")
        self.name.setMaxLength(80)
        form.addRow("Name", self.name)
        self.number = QLineEdit()
        self.number.setPlaceholderText("+15551234567")
        if adding:
            form.addRow("Twilio number", self.number)
        layout.addLayout(form)
        self.problem = QLabel()
        self.problem.setObjectName("locationProblem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(theme.error_style())
        self.problem.hide()
        layout.addWidget(self.problem)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = buttons.addButton(
            "Check and add" if adding else "Rename", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.ok_button.setObjectName("locationOk")
        buttons.accepted.connect(self._submit)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)

    def _submit(self) -> None:
        self.busy(True)
        self.submitted.emit(self.name.text(), self.number.text())

    def busy(self, on: bool) -> None:
        self.ok_button.setEnabled(not on)
        if on:
            self.problem.setText("Checking…" if self.number.isVisible() else "")
            self.problem.setStyleSheet("")
            self.problem.setVisible(self.number.isVisible())

    def refuse(self, message: str) -> None:
        """Keep the dialog open and say why."""
        self.busy(False)
        self.problem.setStyleSheet(theme.error_style())
        self.problem.setText(message)
        self.problem.show()


class LocationBar(QWidget):
    """Picks the location the Settings page edits; adds, renames and removes them.

    :attr:`picked` fires when the picked location changes (the page reloads its form),
    :attr:`handed_back` when some of its settings were handed back to the first location
    (its values changed: the page reloads them);
    :attr:`dialog` / :attr:`confirm` are the open dialogs (tests press their buttons).
    """

    picked = Signal()
    handed_back = Signal()

    def __init__(self, api: LocationsApi, tasks: TaskRunner, actor: Callable[[], str]) -> None:
        super().__init__()
        self.setObjectName("locationBar")
        self._api = api
        self._tasks = tasks
        self._actor = actor
        self._locations: Locations | None = None
        self.dialog: LocationDialog | None = None
        self.confirm: QMessageBox | None = None
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 4)
        row = QHBoxLayout()
        column.addLayout(row)
        row.addWidget(QLabel("Settings for"))
        self.picker = QComboBox()
        self.picker.setObjectName("locationPicker")
        self.picker.setMinimumContentsLength(18)
        self.picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.picker.currentIndexChanged.connect(lambda _i: self._picked())
        row.addWidget(self.picker)
        self.add_button = QPushButton("Add location…")
        self.add_button.setObjectName("addLocation")
        self.add_button.clicked.connect(self.ask_add)
        self.rename_button = QPushButton("Rename…")
        self.rename_button.clicked.connect(self.ask_rename)
        self.remove_button = QPushButton("Remove…")
        self.remove_button.clicked.connect(self.ask_remove)
        self.follow = QToolButton()
        self.follow.setObjectName("followFirst")
        self.follow.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.follow.setMenu(QMenu(self.follow))
        self.follow.setToolTip("Stop setting these for this location: use the first's again")
        for button in (self.add_button, self.rename_button, self.remove_button):
            row.addWidget(button)
        row.addWidget(self.follow)
        row.addStretch(1)
        self.note = QLabel()
        self.note.setObjectName("locationNote")
        self.note.setWordWrap(True)
        note_palette = self.note.palette()
        note_palette.setColor(self.note.foregroundRole(), theme.muted_text(note_palette))
        self.note.setPalette(note_palette)
        column.addWidget(self.note)
        self._picked()

    # ---- reading -------------------------------------------------------------------
    @property
    def api(self) -> LocationsApi:
        return self._api

    @property
    def locations(self) -> Locations | None:
        return self._locations

    def current(self) -> Location | None:
        """The picked location (None before the first load)."""
        if self._locations is None:
            return None
        data = self.picker.currentData()
        return self._locations.get(int(data) if data is not None else FIRST)

    def current_id(self) -> int:
        current = self.current()
        return current.id if current is not None else FIRST

    async def refresh(self, select: int | None = None) -> Locations:
        """Reload the locations, keeping the picked one (or picking ``select``)."""
        locations = await self._api.locations()
        self._locations = locations
        wanted = select if select is not None else self.current_id()
        self.picker.blockSignals(True)
        try:
            self.picker.clear()
            for loc in locations:
                number = phones.format_for_display(loc.phone_number) if loc.phone_number else ""
                label = f"{loc.name} · {number}" if number else loc.name
                self.picker.addItem(label, loc.id)
            index = self.picker.findData(wanted)
            self.picker.setCurrentIndex(max(index, 0))
        finally:
            self.picker.blockSignals(False)
        self._show_state()
        return locations

    def _picked(self) -> None:
        self._show_state()
        self.picked.emit()

    def _show_state(self) -> None:
        current = self.current()
        first = current is None or current.is_first
        self.remove_button.setEnabled(not first)
        self.rename_button.setEnabled(current is not None)
        own = own_keys(current) if current is not None else []
        self.follow.setVisible(bool(own))
        if current is None or self._locations is None or not self._locations.several:
            self.note.setText("")
        elif first:
            self.note.setText(
                "The office's values: every location uses them unless it sets its own."
            )
        else:
            main = self._locations.first.name
            sets = (
                f"{current.name} sets its own {_listed([OWN_WORDS[k] for k in own])}; "
                f"everything else follows {main}."
                if own
                else f"{current.name} follows {main} in everything but its number."
            )
            self.note.setText(
                f"Changes here apply to {current.name} only. {sets} Greyed settings are "
                f"the office's: pick {main} to change them."
            )
            self._fill_follow_menu(current, own, main)

    def _fill_follow_menu(self, current: Location, own: list[str], main: str) -> None:
        self.follow.setText(f"Use {main}'s…")
        menu = self.follow.menu()
        menu.clear()
        for key in own:
            action = menu.addAction(OWN_WORDS[key].capitalize())
            action.setData(key)
            action.triggered.connect(lambda _c=False, k=key: self.hand_back(current.id, [k]))
        if len(own) > 1:
            menu.addSeparator()
            every = menu.addAction(f"All of them: {current.name} follows {main}")
            every.triggered.connect(lambda _c=False: self.hand_back(current.id, own))

    def hand_back(self, location_id: int, keys: list[str]) -> None:
        """Let ``location_id`` take ``keys`` from the first location again."""
        self._tasks.spawn(self._hand_back(location_id, keys), what="use the first's settings")

    async def _hand_back(self, location_id: int, keys: list[str]) -> None:
        await self._api.reset(location_id, keys, actor=self._actor())
        await self.refresh()
        self.handed_back.emit()

    # ---- changing ------------------------------------------------------------------
    def ask_add(self) -> LocationDialog:
        dialog = LocationDialog(self.window())
        dialog.submitted.connect(
            lambda name, number: self._tasks.spawn(
                self._add(dialog, name, number), what="add the location"
            )
        )
        return self._open(dialog)

    def ask_rename(self) -> LocationDialog | None:
        current = self.current()
        if current is None:
            return None
        dialog = LocationDialog(self.window(), current=current)
        dialog.submitted.connect(
            lambda name, _n: self._tasks.spawn(
                self._rename(dialog, current.id, name), what="rename the location"
            )
        )
        return self._open(dialog)

    def ask_remove(self) -> QMessageBox | None:
        current = self.current()
        if current is None or current.is_first:
            return None
        box = QMessageBox(self.window())
        box.setObjectName("removeLocationDialog")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Remove location")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(f"Remove {current.name}?")
        box.setInformativeText(
            f"Its threads stay in the inbox. Frontdesk stops answering "
            f"{phones.format_for_display(current.phone_number)}: calls and texts to it get "
            "what the number had before Frontdesk, and any that still arrive land in the "
            "first location's inbox."
        )
        remove = box.addButton("Remove location", QMessageBox.ButtonRole.DestructiveRole)
        remove.setObjectName("confirmRemoveLocation")
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def finished(_result: int) -> None:
            self.confirm = None
            if box.clickedButton() is remove:
                self._tasks.spawn(self._remove(current.id), what="remove the location")

        box.finished.connect(finished)
        self.confirm = box
        box.open()
        return box

    def _open(self, dialog: LocationDialog) -> LocationDialog:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda _r: setattr(self, "dialog", None))
        self.dialog = dialog
        dialog.open()
        return dialog

    async def _add(self, dialog: LocationDialog, name: str, number: str) -> None:
        try:
            added = await self._api.add(name, number, actor=self._actor())
        except ValueError as exc:  # LocationRefused, LocationError, SettingsError
            dialog.refuse(str(exc))
            return
        dialog.accept()
        await self.refresh(select=added.id)
        self.picked.emit()

    async def _rename(self, dialog: LocationDialog, location_id: int, name: str) -> None:
        try:
            await self._api.rename(location_id, name, actor=self._actor())
        except ValueError as exc:
            dialog.refuse(str(exc))
            return
        dialog.accept()
        await self.refresh()

    async def _remove(self, location_id: int) -> None:
        await self._api.remove(location_id, actor=self._actor())
        await self.refresh(select=FIRST)
        self.picked.emit()


def _listed(words: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"
