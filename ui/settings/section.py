"""One section of the Settings page: a scrolling form whose editors are built from the
settings specs (:data:`services.settings.SPECS`).

A :class:`SettingsSection` registers a :class:`Field` per settings key it edits (how to read
and write the editor, where its error goes, what to focus) and emits :attr:`edited` with
the key whenever the owner changes one. It neither checks nor saves: the page
(ui/settings_page.py) validates every field with the same rules as the CLI, marks the
section in its list when one of its fields is refused, and saves all sections together.

:meth:`SettingsSection.add` builds the editor for a plain key from its spec: a checkbox
for a true/false key, a :class:`~ui.settings.fields.NumberField` with the spec's range for
a whole-number key, a line edit for text. Keys with their own editors (templates, hours,
lists) are built by the section and registered with :meth:`SettingsSection.register`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from services.settings import SPECS, Settings
from ui.settings.fields import ErrorLabel, NumberField, hint_label
from ui.widgets.page_parts import page_heading


@dataclass
class Field:
    """How the page reads, writes and checks one settings key's editor."""

    key: str
    get: Callable[[], Any]
    set: Callable[[Any], None]
    error: ErrorLabel
    section: SettingsSection
    focus: QWidget
    message: str | None = None
    problem: Callable[[], str | None] | None = None  # the editor's own check, first


@dataclass(frozen=True)
class Row:
    """A plain key's row: ``label`` beside it (a checkbox's ``text`` is its own label),
    ``hint`` under it, ``placeholder`` in an empty line edit, ``name`` as the editor's
    object name."""

    key: str
    label: str = ""
    hint: str = ""
    text: str = ""
    placeholder: str = ""
    name: str = ""


def number_field(key: str) -> NumberField:
    """A number editor with the range and unit the key's spec states."""
    spec = SPECS[key]
    if spec.low is None or spec.high is None:
        raise ValueError(f"{key} is not a whole-number setting")
    return NumberField(spec.low, spec.high, spec.unit)


class SettingsSection(QScrollArea):
    """A titled, scrolling form of settings fields (one entry of the section list)."""

    TITLE = ""
    edited = Signal(str)  # the key the owner changed

    def __init__(self, parent: QWidget | None = None, *, title: str = "") -> None:
        super().__init__(parent)
        self.title = title or self.TITLE
        self.fields: dict[str, Field] = {}
        self.filling = False  # the page is writing stored values, not the owner typing
        page = QWidget()
        self.body = QVBoxLayout(page)
        self.body.setContentsMargins(16, 8, 16, 16)
        self.body.setSpacing(14)
        self.body.addWidget(page_heading(self.title))
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setWidget(page)

    # ---- building ------------------------------------------------------------------
    def register(
        self,
        key: str,
        get: Callable[[], Any],
        set_: Callable[[Any], None],
        focus: QWidget,
        error: ErrorLabel | None = None,
        problem: Callable[[], str | None] | None = None,
    ) -> ErrorLabel:
        if key not in SPECS:
            raise KeyError(f"no setting {key!r}")
        label = error or ErrorLabel()
        self.fields[key] = Field(key, get, set_, label, self, focus, problem=problem)
        return label

    def form(self, title: str | None = None) -> QFormLayout:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        # A narrow window puts a long label above its field instead of scrolling sideways.
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        form.setVerticalSpacing(10)
        if title is None:
            self.body.addLayout(form)
        else:
            group = QGroupBox(title)
            group.setLayout(form)
            self.body.addWidget(group)
        return form

    def row(self, form: QFormLayout, label: str, widget: QWidget, key: str, hint: str = "") -> None:
        """``widget`` (the key's editor) beside ``label``, its hint and error under it."""
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
        column.addWidget(self.fields[key].error)
        form.addRow(label, box)

    def number(self, key: str) -> NumberField:
        """A registered number editor for ``key``, ranged by its spec."""
        field = number_field(key)
        self.register(key, field.value, field.set_value, field.line, problem=field.problem)
        field.changed.connect(lambda: self.changed(key))
        return field

    def add(self, form: QFormLayout, row: Row) -> QWidget:
        """Build, register and lay out the editor the spec of ``row.key`` calls for."""
        spec = SPECS[row.key]
        editor: QWidget
        if isinstance(spec.default, bool):
            box = QCheckBox(row.text)
            self.register(row.key, box.isChecked, box.setChecked, box)
            box.toggled.connect(lambda _on: self.changed(row.key))
            editor = box
        elif spec.low is not None:
            editor = self.number(row.key)
        elif isinstance(spec.default, str):
            line = QLineEdit()
            line.setPlaceholderText(row.placeholder)
            self.register(row.key, line.text, line.setText, line)
            line.textChanged.connect(lambda _t: self.changed(row.key))
            editor = line
        else:
            raise TypeError(f"{row.key} needs its own editor")
        if row.name:
            editor.setObjectName(row.name)
        self.row(form, row.label, editor, row.key, row.hint)
        return editor

    # ---- the page's hooks ----------------------------------------------------------
    def changed(self, key: str) -> None:
        """An editor of ``key`` changed: tell the page, unless it is filling the form."""
        if not self.filling:
            self.edited.emit(key)

    def before_fill(self, settings: Settings) -> None:
        """Called before the stored values are written into the fields."""
