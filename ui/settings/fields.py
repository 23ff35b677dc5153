"""Field editors for the Settings page: inline error labels, list editors, hours, snippets.

Each editor has ``value()`` / ``set_value(v)`` in the settings key's own shape (what
:func:`services.settings.validate` takes) and a ``changed`` signal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTime, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from services import phones, templates
from services.settings import WEEKDAYS, SettingsError
from ui import theme
from ui.widgets.time_format import format_duration

DAY_NAMES = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}


def hint_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


class ErrorLabel(QLabel):
    """A red sentence under a field; hidden when there is nothing wrong."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("fieldError")
        self.setWordWrap(True)
        self.setStyleSheet(theme.error_style())
        self.hide()

    def show_error(self, message: str | None) -> None:
        self.setText(message or "")
        self.setVisible(bool(message))


UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600}


class NumberField(QWidget):
    """A whole number in ``low..high`` ``unit``: what is typed stays as typed, and a value
    out of range is refused in place with the range (a spin box would silently clamp
    7200 to its maximum). The range is always shown; a duration is read back in the
    app's one duration format ("= 2 h").

    :meth:`value` is the int typed, or the raw text when it is not a whole number
    (the settings validator then refuses it); :meth:`problem` says what is wrong.
    """

    changed = Signal()

    def __init__(self, low: int, high: int, unit: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.low, self.high, self.unit = low, high, unit
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.line = QLineEdit()
        self.line.setMaxLength(12)
        self.line.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.line.setFixedWidth(self.line.fontMetrics().horizontalAdvance("0000000") + 16)
        self.line.setAccessibleDescription(self.range_text())
        self.unit_label = QLabel(unit)
        self.readout = QLabel()
        self.readout.setStyleSheet("color: palette(placeholder-text);")
        row.addWidget(self.line)
        row.addWidget(self.unit_label)
        row.addWidget(self.readout)
        row.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.line.textChanged.connect(self._edited)

    def range_text(self) -> str:
        return f"{self.low:,} to {self.high:,} {self.unit}"

    def set_value(self, value: int) -> None:
        self.line.setText(str(value))

    def value(self) -> int | str:
        text = self.line.text().strip()
        digits = text.removeprefix("-")
        if digits and digits.isascii() and digits.isdigit():
            return int(text)
        return text

    def problem(self) -> str | None:
        value = self.value()
        if isinstance(value, int) and self.low <= value <= self.high:
            return None
        shown = f"{value:,}" if isinstance(value, int) else f"“{value}”" if value else "nothing"
        return f"Enter a whole number from {self.range_text()} (you typed {shown})."

    def _edited(self) -> None:
        value = self.value()
        seconds = UNIT_SECONDS.get(self.unit)
        ok = self.problem() is None
        if ok and seconds and isinstance(value, int) and value * seconds >= 60:
            self.readout.setText(f"= {format_duration(value * seconds)}  ({self.range_text()})")
        else:
            self.readout.setText(f"({self.range_text()})")
        self.changed.emit()


def _time(text: str) -> QTime:
    return QTime.fromString(text, "HH:mm")


def _text(t: QTime) -> str:
    return t.toString("HH:mm")


class ListEditor(QWidget):
    """A list of short strings: a line to type in, Add, and Remove for the selected row.

    ``check(text)`` returns the normalised entry or raises SettingsError; a refused
    entry stays in the line with the reason under it.
    """

    changed = Signal()

    def __init__(
        self,
        placeholder: str,
        check: Callable[[str], str],
        *,
        display: Callable[[str], str] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._check = check
        self._display = display or (lambda s: s)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.list = QListWidget()
        self.list.setMaximumHeight(110)
        layout.addWidget(self.list)
        row = QHBoxLayout()
        self.line = QLineEdit()
        self.line.setPlaceholderText(placeholder)
        self.line.returnPressed.connect(self.add_current)
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(self.add_current)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.remove_button.setEnabled(False)
        self.list.currentRowChanged.connect(lambda r: self.remove_button.setEnabled(r >= 0))
        row.addWidget(self.line, 1)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        layout.addLayout(row)
        self.error_label = ErrorLabel()
        layout.addWidget(self.error_label)

    def value(self) -> list[str]:
        return [str(self.list.item(i).data(256)) for i in range(self.list.count())]

    def set_value(self, values: list[str]) -> None:
        self.list.clear()
        for value in values:
            self._append(value)
        self.error_label.show_error(None)

    def _append(self, value: str) -> None:
        item = QListWidgetItem(self._display(value))
        item.setData(256, value)
        self.list.addItem(item)

    def add_current(self) -> bool:
        text = self.line.text().strip()
        if not text:
            return False
        try:
            value = self._check(text)
        except SettingsError as exc:
            self.error_label.show_error(str(exc))
            return False
        if value in self.value():
            self.error_label.show_error(f"{self._display(value)} is already in the list")
            return False
        self._append(value)
        self.line.clear()
        self.error_label.show_error(None)
        self.changed.emit()
        return True

    def remove_selected(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.list.takeItem(row)
            self.changed.emit()


def check_phone(text: str, region: str = "US") -> str:
    normalized = phones.normalize(text, region)
    if normalized is None:
        raise SettingsError(
            f"{text!r} is not a valid phone number (use +country code, e.g. +15551234567)"
        )
    return normalized


def display_phone(e164: str) -> str:
    return f"{phones.format_for_display(e164)}   ({e164})"


class HoursEditor(QWidget):
    """Opening hours: per weekday Open + from/to. A day with split hours (set elsewhere)
    keeps its ranges until the owner changes that day."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        self.open: dict[str, QCheckBox] = {}
        self.start: dict[str, QTimeEdit] = {}
        self.end: dict[str, QTimeEdit] = {}
        self._kept: dict[str, list[list[str]]] = {}
        self._notes: dict[str, QLabel] = {}
        for row, day in enumerate(WEEKDAYS):
            box = QCheckBox(DAY_NAMES[day])
            box.setObjectName(f"open:{day}")
            start, end = QTimeEdit(), QTimeEdit()
            for edit in (start, end):
                edit.setDisplayFormat("HH:mm")
                edit.timeChanged.connect(lambda _t, d=day: self._edited(d))
            start.setObjectName(f"from:{day}")
            end.setObjectName(f"to:{day}")
            box.toggled.connect(lambda _on, d=day: self._edited(d))
            note = QLabel()
            note.setStyleSheet("color: palette(placeholder-text);")
            grid.addWidget(box, row, 0)
            grid.addWidget(QLabel("from"), row, 1)
            grid.addWidget(start, row, 2)
            grid.addWidget(QLabel("to"), row, 3)
            grid.addWidget(end, row, 4)
            grid.addWidget(note, row, 5)
            self.open[day], self.start[day], self.end[day], self._notes[day] = box, start, end, note
        grid.setColumnStretch(5, 1)
        self._loading = False

    def _edited(self, day: str) -> None:
        is_open = self.open[day].isChecked()
        self.start[day].setEnabled(is_open)
        self.end[day].setEnabled(is_open)
        if self._loading:
            return
        self._kept.pop(day, None)
        self._notes[day].clear()
        self.changed.emit()

    def set_value(self, hours: dict[str, list[list[str]]]) -> None:
        self._loading = True
        try:
            self._kept.clear()
            for day in WEEKDAYS:
                ranges = hours.get(day) or []
                self.open[day].setChecked(bool(ranges))
                self.start[day].setTime(_time(ranges[0][0] if ranges else "08:00"))
                self.end[day].setTime(_time(ranges[-1][1] if ranges else "17:00"))
                self._notes[day].clear()
                if len(ranges) > 1:
                    self._kept[day] = [list(r) for r in ranges]
                    self._notes[day].setText("split: " + ", ".join(f"{a}–{b}" for a, b in ranges))
                self._edited(day)
        finally:
            self._loading = False

    def value(self) -> dict[str, list[list[str]]]:
        result: dict[str, list[list[str]]] = {}
        for day in WEEKDAYS:
            if day in self._kept:
                result[day] = self._kept[day]
            elif self.open[day].isChecked():
                result[day] = [[_text(self.start[day].time()), _text(self.end[day].time())]]
        return result


class QuietHoursEditor(QWidget):
    """Optional quiet hours: a checkbox and from/to times (may wrap past midnight)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.enabled = QCheckBox("Hold texts between")
        self.enabled.setObjectName("quietEnabled")
        self.start, self.end = QTimeEdit(_time("21:00")), QTimeEdit(_time("08:00"))
        for edit in (self.start, self.end):
            edit.setDisplayFormat("HH:mm")
            edit.timeChanged.connect(lambda _t: self.changed.emit())
        self.enabled.toggled.connect(self._toggled)
        row.addWidget(self.enabled)
        row.addWidget(self.start)
        row.addWidget(QLabel("and"))
        row.addWidget(self.end)
        row.addStretch(1)
        self._toggled(False)

    def _toggled(self, on: bool) -> None:
        self.start.setEnabled(on)
        self.end.setEnabled(on)
        self.changed.emit()

    def set_value(self, value: dict[str, str] | None) -> None:
        self.enabled.setChecked(value is not None)
        if value is not None:
            self.start.setTime(_time(value["start"]))
            self.end.setTime(_time(value["end"]))
        self._toggled(value is not None)

    def value(self) -> dict[str, str] | None:
        if not self.enabled.isChecked():
            return None
        return {"start": _text(self.start.time()), "end": _text(self.end.time())}


class SnippetsEditor(QWidget):
    """Saved replies: a list of titles and the selected one's title and body."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: list[dict[str, str]] = []
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        left = QVBoxLayout()
        self.list = QListWidget()
        self.list.setMaximumWidth(220)
        self.list.setMinimumHeight(140)
        self.list.currentRowChanged.connect(self._select)
        left.addWidget(self.list)
        buttons = QHBoxLayout()
        self.add_button = QPushButton("New snippet")
        self.add_button.clicked.connect(self.add)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        left.addLayout(buttons)
        layout.addLayout(left)
        right = QVBoxLayout()
        right.setSpacing(4)
        self.title = QLineEdit()
        self.title.setPlaceholderText("Title, e.g. Opening hours")
        self.body = QPlainTextEdit()
        self.body.setPlaceholderText("The text to insert into a reply")
        self.body.setTabChangesFocus(True)
        self.body.setMaximumHeight(110)
        self.title.textEdited.connect(self._edited)
        self.body.textChanged.connect(self._edited)
        right.addWidget(QLabel("Title"))
        right.addWidget(self.title)
        right.addSpacing(6)
        right.addWidget(QLabel("Text"))
        right.addWidget(self.body)
        self.error_label = ErrorLabel()
        right.addWidget(self.error_label)
        self.warning_label = QLabel()
        self.warning_label.setObjectName("snippetWarning")
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet(theme.warning_style())
        self.warning_label.hide()
        right.addWidget(self.warning_label)
        right.addWidget(
            hint_label(
                "Tokens are filled in when you insert the snippet: "
                + ", ".join(templates.TOKENS)
                + "."
            )
        )
        right.addStretch(1)
        layout.addLayout(right, 1)
        self._loading = False
        self._select(-1)

    def set_value(self, snippets: list[dict[str, str]]) -> None:
        self._items = [dict(s) for s in snippets]
        self._loading = True
        try:
            self.list.clear()
            for item in self._items:
                self.list.addItem(item["title"])
        finally:
            self._loading = False
        self.list.setCurrentRow(0 if self._items else -1)
        self._select(self.list.currentRow())

    def value(self) -> list[dict[str, str]]:
        return [dict(s) for s in self._items]

    def add(self) -> None:
        self._items.append({"title": "New snippet", "body": ""})
        self.list.addItem("New snippet")
        self.list.setCurrentRow(len(self._items) - 1)
        self.title.selectAll()
        self.title.setFocus()
        self.changed.emit()

    def remove(self) -> None:
        row = self.list.currentRow()
        if row < 0:
            return
        del self._items[row]
        self.list.takeItem(row)
        self.changed.emit()

    def _select(self, row: int) -> None:
        has = 0 <= row < len(self._items)
        self._loading = True
        try:
            self.title.setText(self._items[row]["title"] if has else "")
            self.body.setPlainText(self._items[row]["body"] if has else "")
        finally:
            self._loading = False
        for w in (self.title, self.body, self.remove_button):
            w.setEnabled(has)
        self._check_tokens()

    def _check_tokens(self) -> None:
        """Warn (while typing) about a ``[Token]`` that would reach the customer as written."""
        body = self.body.toPlainText()
        message = ""
        if body.strip():
            try:
                templates.validate(body)
            except templates.TemplateError as exc:
                message = str(exc).replace("This template has", "This snippet has", 1)
        self.warning_label.setText(message)
        self.warning_label.setVisible(bool(message))

    def _edited(self, *_: Any) -> None:
        row = self.list.currentRow()
        if self._loading or not 0 <= row < len(self._items):
            return
        self._check_tokens()
        self._items[row] = {"title": self.title.text(), "body": self.body.toPlainText()}
        item = self.list.item(row)
        if item is not None:
            item.setText(self.title.text() or "(untitled)")
        self.changed.emit()
