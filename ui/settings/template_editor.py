"""A template editor: token buttons, the text, a live preview, the SMS count and GSM hints.

The preview is the template rendered with sample data (a caller called Maria, the
business name, phone and booking link from the form); the character and segment count
is the preview's, since that is what goes over the air. Characters outside the GSM
alphabet get a warning with the cost in segments and a one-click "Fix"
(:func:`services.templates.suggest_gsm`).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontMetrics, QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from services import templates
from services.settings import SettingsError, validate
from ui import theme
from ui.settings.fields import ErrorLabel, hint_label

SAMPLE_FIRST_NAME = "Maria"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def gsm_warning(text: str) -> tuple[str, bool]:
    """The warning for ``text`` (already rendered) and whether a Fix can help.

    Empty when every character is in the GSM alphabet.
    """
    info = templates.segments(text)
    if not info.non_gsm_chars:
        return "", False
    fixable = [ch for ch in info.non_gsm_chars if ch in templates.GSM_SUBSTITUTES]
    others = [ch for ch in info.non_gsm_chars if ch not in templates.GSM_SUBSTITUTES]

    def show(ch: str) -> str:
        if ch.isspace() or not ch.isprintable() or ch in "\u00ad\u200b\u2060\ufeff":
            return f"U+{ord(ch):04X} (an invisible character)"
        return ch

    # What the text would cost if every offending character were plain GSM.
    plain = templates.suggest_gsm(text)
    plain = "".join("?" if ch in others else ch for ch in plain)
    gsm_count = templates.segments(plain).segments
    named = [show(ch) for ch in info.non_gsm_chars]
    verb = "is" if len(named) == 1 else "are"
    message = f"{_join(named)} {verb} not in the GSM alphabet: "
    if info.segments != gsm_count:
        message += f"this text is {_plural(info.segments, 'segment')} instead of {gsm_count}"
    else:
        message += "each part holds 70 characters instead of 160"
    if fixable:
        uses = []
        for ch in fixable:
            sub = templates.GSM_SUBSTITUTES[ch]
            if sub == "":
                uses.append(f"remove {show(ch)}")
            elif sub.isspace() and sub != "\n":
                uses.append(f"use a plain space for {show(ch)}")
            elif sub == "\n":
                uses.append(f"use a line break for {show(ch)}")
            else:
                uses.append(
                    f"use {sub} instead of {show(ch)}" if len(fixable) > 1 else f"use {sub} instead"
                )
        message += " — " + "; ".join(dict.fromkeys(uses))
    if others:
        message += f". {_join([show(c) for c in others])} cannot be replaced automatically"
    return message, bool(fixable)


class TemplateEditor(QWidget):
    """One template: tokens, text, preview, count, warnings. ``changed`` on every edit."""

    changed = Signal()

    def __init__(self, key: str, title: str, help_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.setObjectName(f"template:{key}")
        self._business_name = ""
        self._business_phone = ""
        self._booking_link = ""
        self._error: str | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        heading = QLabel(f"<b>{title}</b>")
        layout.addWidget(heading)
        layout.addWidget(hint_label(help_text))

        tokens = QHBoxLayout()
        tokens.setSpacing(6)
        tokens.addWidget(QLabel("Insert:"))
        self.token_buttons: dict[str, QPushButton] = {}
        for token in templates.TOKENS:
            button = QPushButton(token)
            button.setObjectName(f"token:{token}")
            button.setToolTip(f"Insert {token} at the cursor")
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            button.clicked.connect(lambda _=False, t=token: self.insert_token(t))
            tokens.addWidget(button)
            self.token_buttons[token] = button
        tokens.addStretch(1)
        layout.addLayout(tokens)

        self.editor = QPlainTextEdit()
        self.editor.setObjectName("templateText")
        self.editor.setTabChangesFocus(True)
        metrics = QFontMetrics(self.editor.font())
        self.editor.setFixedHeight(metrics.lineSpacing() * 4 + 14)
        self.editor.textChanged.connect(self._on_text_changed)
        layout.addWidget(self.editor)

        self.error_label = ErrorLabel()
        layout.addWidget(self.error_label)

        preview_box = QFrame()
        preview_box.setObjectName("previewBox")
        preview_box.setFrameShape(QFrame.Shape.StyledPanel)
        preview_box.setStyleSheet(
            "#previewBox { background: palette(alternate-base); border-radius: 8px; }"
        )
        preview_layout = QVBoxLayout(preview_box)
        preview_layout.setContentsMargins(10, 8, 10, 8)
        caption = QLabel(f"Preview — what a caller named {SAMPLE_FIRST_NAME} would get:")
        caption.setStyleSheet("color: palette(placeholder-text);")
        preview_layout.addWidget(caption)
        self.preview = QLabel()
        self.preview.setObjectName("preview")
        self.preview.setWordWrap(True)
        self.preview.setTextFormat(Qt.TextFormat.PlainText)
        self.preview.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        preview_layout.addWidget(self.preview)
        self.count_label = QLabel()
        self.count_label.setObjectName("count")
        self.count_label.setStyleSheet("color: palette(placeholder-text);")
        preview_layout.addWidget(self.count_label)
        layout.addWidget(preview_box)

        warning_row = QHBoxLayout()
        self.warning_label = QLabel()
        self.warning_label.setObjectName("gsmWarning")
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet(theme.warning_style())
        self.fix_button = QPushButton("Fix")
        self.fix_button.setObjectName("fixGsm")
        self.fix_button.setToolTip("Replace curly quotes, dashes and similar with plain ones")
        self.fix_button.clicked.connect(self.fix_gsm)
        warning_row.addWidget(self.warning_label, 1)
        warning_row.addWidget(self.fix_button, 0, Qt.AlignmentFlag.AlignTop)
        self.warning_label.hide()
        self.fix_button.hide()
        layout.addLayout(warning_row)

    # ---- values ------------------------------------------------------------------
    def text(self) -> str:
        return self.editor.toPlainText()

    def set_text(self, text: str) -> None:
        self.editor.setPlainText(text)

    def set_context(self, business_name: str, business_phone: str, booking_link: str) -> None:
        self._business_name = business_name
        self._business_phone = business_phone
        self._booking_link = booking_link
        self._refresh()

    @property
    def error(self) -> str | None:
        return self._error

    # ---- actions -----------------------------------------------------------------
    def insert_token(self, token: str) -> None:
        cursor = self.editor.textCursor()
        before = self.editor.toPlainText()[: cursor.position()]
        prefix = " " if before and not before[-1].isspace() and before[-1] not in "([" else ""
        cursor.insertText(prefix + token)
        self.editor.setTextCursor(cursor)
        self.editor.setFocus()

    def fix_gsm(self) -> None:
        cursor = self.editor.textCursor()
        position = cursor.position()
        fixed = templates.suggest_gsm(self.text())
        if fixed == self.text():
            return
        # One undoable edit that keeps the cursor near where it was.
        cursor.beginEditBlock()
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(fixed)
        cursor.endEditBlock()
        cursor.setPosition(min(position, len(fixed)))
        self.editor.setTextCursor(cursor)

    # ---- internals ---------------------------------------------------------------
    def preview_text(self) -> str:
        ctx = templates.TemplateContext(
            first_name=SAMPLE_FIRST_NAME,
            business_name=self._business_name or None,
            business_phone=self._business_phone or None,
            booking_link=self._booking_link or None,
        )
        return templates.render(self.text(), ctx)

    def _on_text_changed(self) -> None:
        self._refresh()
        self.changed.emit()

    def _refresh(self) -> None:
        text = self.text()
        try:
            validate(self.key, text)
        except SettingsError as exc:
            self._error = str(exc).removeprefix(f"{self.key}: ")
        else:
            self._error = None
        self.error_label.show_error(self._error)
        preview = self.preview_text() if text.strip() else ""
        self.preview.setText(preview or "(empty)")
        info = templates.segments(preview)
        count = (
            f"{_plural(info.characters, 'character')} · {_plural(info.segments, 'SMS segment')}"
            f" ({info.encoding})"
        )
        if templates.BOOKING_LINK in text and not self._booking_link:
            count += " · no booking link is set, so that part is left out"
        self.count_label.setText(count)
        warning, fixable = gsm_warning(preview)
        if not warning:
            # A character in the template itself (e.g. inside a token's neighbourhood).
            warning, fixable = gsm_warning(text)
        self.warning_label.setText(warning)
        self.warning_label.setVisible(bool(warning))
        self.fix_button.setVisible(fixable)
