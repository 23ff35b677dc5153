"""The reply box: Enter sends, Shift+Enter starts a new line; live characters and SMS
segments with a warning that names the characters forcing Unicode; saved snippets, their
tokens filled in for the open conversation; Send off past Twilio's 1,600 characters.
A photo (JPEG, PNG or GIF up to 5 MB, checked when attached, from the Photo button or
dropped on the box) makes the text an MMS; it is shown with a Remove button."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import QDateTime, QSize, Qt, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QImageReader, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from services import attachments, templates
from ui import theme
from ui.widgets import icons
from ui.widgets.time_format import clock


def schedule_choices(now: datetime) -> list[tuple[str, datetime]]:
    """(label, when) for the Later menu, in local time: in an hour, tomorrow 8:00 AM,
    next Monday 8:00 AM."""
    local = now.astimezone()
    tomorrow = (local + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    days_to_monday = (7 - local.weekday()) % 7 or 7
    monday = (local + timedelta(days=days_to_monday)).replace(
        hour=8, minute=0, second=0, microsecond=0
    )
    return [
        ("In 1 hour", now + timedelta(hours=1)),
        (f"Tomorrow, {clock(tomorrow)}", tomorrow.astimezone(UTC)),
        (f"Monday, {clock(monday)}", monday.astimezone(UTC)),
    ]


def _show(ch: str) -> str:
    if ch == "\n":
        return "line break"
    if ch.isspace() or not ch.isprintable():
        return f"U+{ord(ch):04X}"
    return ch


def describe_segments(text: str) -> tuple[str, str]:
    """(counter, warning) for ``text``: "150 characters · 3 segments", and for UCS-2 a
    sentence naming the characters that force it and what to use instead."""
    info = templates.segments(text)
    chars = f"{info.characters} character{'s' if info.characters != 1 else ''}"
    segs = f"{info.segments} segment{'s' if info.segments != 1 else ''}"
    counter = f"{chars} · {segs}"
    if info.encoding == "GSM-7" or not info.non_gsm_chars:
        return counter, ""
    counter += " (Unicode)"
    named = ", ".join(f"“{_show(ch)}”" for ch in info.non_gsm_chars[:8])
    if len(info.non_gsm_chars) > 8:
        named += f" and {len(info.non_gsm_chars) - 8} more"
    warning = f"Unicode characters {named} cut each text part to {info.per_segment} characters."
    fixes = [
        f"{templates.GSM_SUBSTITUTES[ch] or 'nothing'} for “{_show(ch)}”"
        for ch in info.non_gsm_chars
        if ch in templates.GSM_SUBSTITUTES
    ]
    if fixes:
        warning += " Use " + ", ".join(dict.fromkeys(fixes[:4])) + "."
    return counter, warning


def _dropped_file(event: QDragEnterEvent | QDropEvent) -> Path | None:
    """The one local file being dragged, if that is what it is."""
    mime = event.mimeData()
    if not mime.hasUrls():
        return None
    urls = [u for u in mime.urls() if u.isLocalFile()]
    return Path(urls[0].toLocalFile()) if len(urls) == 1 else None


def describe_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    return f"{max(1, round(size / 1024))} KB"


class ComposerEdit(QPlainTextEdit):
    """Enter (or Ctrl+Enter) submits; Shift+Enter inserts a line break; a file dropped on
    it is offered as an attachment (``fileDropped``) instead of pasted as its path."""

    submitted = Signal()
    fileDropped = Signal(object)  # Path

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _dropped_file(event) is not None:
            event.acceptProposedAction()
            return
        super().dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragEnterEvent) -> None:  # type: ignore[override]
        if _dropped_file(event) is not None:
            event.acceptProposedAction()
            return
        super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        path = _dropped_file(event)
        if path is not None:
            event.acceptProposedAction()
            self.fileDropped.emit(path)
            return
        super().dropEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            mods = event.modifiers()
            if mods & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
                return
            if not mods & Qt.KeyboardModifier.AltModifier:
                event.accept()
                self.submitted.emit()
                return
        super().keyPressEvent(event)

    def sizeHint(self) -> QSize:
        fm = self.fontMetrics()
        return QSize(super().sizeHint().width(), fm.lineSpacing() * 3 + 14)


class Composer(QWidget):
    """Emits ``sendRequested(body)``; the page sends (with :attr:`attachment`, when one
    is attached) and calls :meth:`sent` or :meth:`show_error`."""

    sendRequested = Signal(str)
    scheduleRequested = Signal(str, object)  # body, when (UTC-aware datetime)
    noteRequested = Signal(str)  # an internal note (never sent)

    REPLY_HINT = "Type a reply… (Enter sends, Shift+Enter for a new line)"
    NOTE_HINT = "Internal note for your team… never sent to the customer (Enter adds it)"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = ComposerEdit(self)
        self.edit.setPlaceholderText(self.REPLY_HINT)
        self.edit.setAccessibleName("Reply")
        self.edit.setTabChangesFocus(True)
        self.send_button = QPushButton("Send", self)
        self.send_button.setIcon(icons.icon("send"))
        self.send_button.setAccessibleName("Send reply")
        self.send_button.setToolTip("Send (Enter)")
        self.later_button = QToolButton(self)
        self.later_button.setObjectName("sendLater")
        self.later_button.setText("Later")
        self.later_button.setIcon(icons.icon("clock"))
        self.later_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.later_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.later_button.setToolTip("Schedule this text to send later")
        self.later_button.setAccessibleName("Schedule the text for later")
        self.later_menu = QMenu(self.later_button)
        self.later_menu.aboutToShow.connect(self._fill_later_menu)
        self.later_button.setMenu(self.later_menu)
        self.now: datetime | None = None  # tests pin it; else the wall clock
        self.note_button = QToolButton(self)
        self.note_button.setObjectName("noteMode")
        self.note_button.setText("Note")
        self.note_button.setCheckable(True)
        self.note_button.setToolTip("Write an internal note instead of a text (never sent)")
        self.note_button.setAccessibleName("Internal note mode")
        self.note_button.toggled.connect(self._note_mode_changed)
        self.snippets_button = QToolButton(self)
        self.snippets_button.setIcon(icons.icon("snippets"))
        self.snippets_button.setText("Snippets")
        self.snippets_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.snippets_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.snippets_button.setAccessibleName("Insert a saved reply")
        self._menu = QMenu(self.snippets_button)
        self.snippets_button.setMenu(self._menu)
        self.attach_button = QToolButton(self)
        self.attach_button.setObjectName("attachPhoto")
        self.attach_button.setIcon(icons.icon("image"))
        self.attach_button.setText("Photo")
        self.attach_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.attach_button.setToolTip(
            "Attach a photo (JPEG, PNG or GIF, up to 5 MB); you can also drop it on the box"
        )
        self.attach_button.setAccessibleName("Attach a photo")
        self.attach_button.clicked.connect(self.pick_photo)
        self._attachment: Path | None = None
        self.attachment_box = QFrame(self)
        self.attachment_box.setObjectName("attachment")
        self.attachment_box.setFrameShape(QFrame.Shape.StyledPanel)
        self.attachment_thumb = QLabel(self.attachment_box)
        self.attachment_thumb.setFixedSize(44, 44)
        self.attachment_thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.attachment_label = QLabel(self.attachment_box)
        self.attachment_label.setAccessibleName("Attached photo")
        self.attachment_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.remove_attachment = QToolButton(self.attachment_box)
        self.remove_attachment.setText("Remove")
        self.remove_attachment.setAccessibleName("Remove the photo")
        self.remove_attachment.setToolTip("Send without the photo")
        self.remove_attachment.clicked.connect(self.clear_attachment)
        chip = QHBoxLayout(self.attachment_box)
        chip.setContentsMargins(6, 4, 6, 4)
        chip.setSpacing(8)
        chip.addWidget(self.attachment_thumb)
        chip.addWidget(self.attachment_label, 1)
        chip.addWidget(self.remove_attachment)
        self.attachment_box.hide()
        self.edit.fileDropped.connect(self.attach)
        self.counter = QLabel(self)
        self.counter.setAccessibleName("Characters and segments")
        self.counter.setProperty("role", "muted")
        self.warning = QLabel(self)
        self.warning.setWordWrap(True)
        self.warning.setAccessibleName("Unicode warning")
        self.error = QLabel(self)
        self.error.setWordWrap(True)
        self.error.setAccessibleName("Send error")
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.too_long = QLabel(self)
        self.too_long.setWordWrap(True)
        self.too_long.setAccessibleName("Reply too long")
        self.too_long.hide()
        self.context = templates.TemplateContext(None, None, None, None)
        # Which number the text leaves from (the thread's location's).
        self.sender_line = QLabel(self)
        self.sender_line.setObjectName("composerSender")
        self.sender_line.setProperty("role", "muted")
        self.sender_line.setFont(theme.small_font(self.font()))
        self.sender_line.setAccessibleName("Texts leave from")
        self.sender_line.hide()
        self.blocked = QLabel(self)
        self.blocked.setWordWrap(True)
        self.blocked.setAccessibleName("Why replies are off")
        for label in (self.warning, self.error):
            label.hide()
        self.blocked.hide()

        row = QHBoxLayout()
        row.setSpacing(6)
        row.addWidget(self.snippets_button)
        row.addWidget(self.note_button)
        row.addWidget(self.attach_button)
        row.addWidget(self.counter, 1)
        row.addWidget(self.later_button)
        row.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 10)
        layout.setSpacing(4)
        layout.addWidget(self.blocked)
        layout.addWidget(self.sender_line)
        layout.addWidget(self.edit)
        layout.addWidget(self.attachment_box)
        layout.addWidget(self.too_long)
        layout.addWidget(self.warning)
        layout.addWidget(self.error)
        layout.addLayout(row)

        self._busy = False
        self._blocked_reason = ""
        self.edit.textChanged.connect(self._update_counter)
        self.edit.submitted.connect(self.submit)
        self.send_button.clicked.connect(self.submit)
        self.set_snippets([])
        self._apply_palette()
        self._update_counter()

    def _apply_palette(self) -> None:
        pal = self.palette()
        self.warning.setStyleSheet(f"color: {theme.warning(pal).name()};")
        self.error.setStyleSheet(f"color: {theme.danger(pal).name()};")
        self.too_long.setStyleSheet(f"color: {theme.danger(pal).name()};")
        self.blocked.setStyleSheet(f"color: {theme.danger(pal).name()}; font-weight: 600;")

    # ---- state --------------------------------------------------------------------------
    @property
    def text(self) -> str:
        return self.edit.toPlainText()

    def set_text(self, text: str) -> None:
        self.edit.setPlainText(text)
        cursor = self.edit.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        self.edit.setTextCursor(cursor)

    # ---- the photo ------------------------------------------------------------------------
    @property
    def attachment(self) -> Path | None:
        """The photo to send with the text (checked when attached), or None."""
        return self._attachment

    def pick_photo(self) -> None:
        """The file dialog for a photo; the chosen file is checked and attached."""
        path, _filter = QFileDialog.getOpenFileName(
            self,
            "Attach a photo",
            "",
            "Photos (*.jpg *.jpeg *.png *.gif);;All files (*)",
        )
        if path:
            self.attach(Path(path))

    def attach(self, path: Path) -> bool:
        """Attach ``path`` when Twilio can send it as an MMS (JPEG/PNG/GIF, at most 5 MB);
        otherwise say why in place and keep what was attached before."""
        if self.note_mode:
            self.show_error("An internal note cannot carry a photo; switch off Note first.")
            return False
        try:
            photo = attachments.check(path)
        except attachments.PhotoRefused as exc:
            self.show_error(str(exc))
            return False
        self.show_error("")
        self._attachment = path
        kind = photo.content_type.removeprefix("image/").upper().replace("JPEG", "JPEG photo")
        self.attachment_label.setText(f"{path.name}\n{kind} · {describe_size(photo.size)}")
        self.attachment_label.setToolTip(str(path))
        self.attachment_thumb.setPixmap(self._thumbnail(path))
        self.attachment_box.show()
        self._update_counter()
        return True

    def _thumbnail(self, path: Path) -> QPixmap:
        """A small preview, decoded at its shown size (a 5 MB photo decodes quickly)."""
        reader = QImageReader(str(path))
        reader.setAutoTransform(True)
        size = reader.size()
        side = self.attachment_thumb.width() * self.devicePixelRatioF()
        if size.isValid() and size.width() > 0 and size.height() > 0:
            reader.setScaledSize(
                size.scaled(int(side), int(side), Qt.AspectRatioMode.KeepAspectRatio)
            )
        image = reader.read()
        if image.isNull():
            return icons.icon("image").pixmap(32, 32)
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(self.devicePixelRatioF())
        return pixmap

    def clear_attachment(self) -> None:
        self._attachment = None
        self.attachment_thumb.clear()
        self.attachment_label.clear()
        self.attachment_box.hide()
        self._update_counter()

    def set_snippets(self, snippets: Sequence[Mapping[str, str]]) -> None:
        self._menu.clear()
        for snippet in snippets:
            title, body = snippet.get("title", ""), snippet.get("body", "")
            action = QAction(title, self._menu)
            action.setToolTip(body)
            action.triggered.connect(lambda _=False, b=body: self._insert(b))
            self._menu.addAction(action)
        if not snippets:
            empty = QAction("No saved replies yet (add them in Settings)", self._menu)
            empty.setEnabled(False)
            self._menu.addAction(empty)

    def set_context(self, context: templates.TemplateContext) -> None:
        """The values snippets' tokens are filled with (this contact, this business)."""
        self.context = context

    def _insert(self, body: str) -> None:
        """Insert a snippet with its tokens filled in as a template's would be, so what
        is in the box is what the customer gets."""
        self.edit.insertPlainText(templates.render(body, self.context))
        self.edit.setFocus()

    def set_sender(self, text: str) -> None:
        """Say which number replies leave from ("" hides the line)."""
        self.sender_line.setText(text)
        self.sender_line.setVisible(bool(text))

    def set_blocked(self, reason: str) -> None:
        """Turn replies off with ``reason`` shown (empty string turns them back on)."""
        self._blocked_reason = reason
        self.blocked.setText(reason)
        self.blocked.setVisible(bool(reason))
        self._sync_enabled()

    @property
    def blocked_reason(self) -> str:
        return self._blocked_reason

    @property
    def note_mode(self) -> bool:
        return self.note_button.isChecked()

    def _note_mode_changed(self, on: bool) -> None:
        self.edit.setPlaceholderText(self.NOTE_HINT if on else self.REPLY_HINT)
        self.send_button.setText("Add note" if on else "Send")
        self.send_button.setAccessibleName("Add internal note" if on else "Send reply")
        if on:
            bg, fg, edge = theme.note_colors(self.palette())
            self.edit.setStyleSheet(
                f"QPlainTextEdit {{ background: {bg.name()}; color: {fg.name()}; "
                f"border: 1px dashed {edge.name()}; }}"
            )
        else:
            self.edit.setStyleSheet("")
        self._update_counter()

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        idle = "Add note" if self.note_mode else "Send"
        self.send_button.setText("Sending…" if busy else idle)
        self._sync_enabled()

    @property
    def too_long_by(self) -> int:
        """How many characters past Twilio's limit the reply is (0 when it fits)."""
        return max(0, len(self.text) - templates.MAX_BODY_CHARACTERS)

    def _sync_enabled(self) -> None:
        on = not self._blocked_reason or self.note_mode  # a note is fine when opted out
        self.edit.setEnabled(on)
        self.edit.setReadOnly(self._busy)
        self.snippets_button.setEnabled(on)
        self.attach_button.setEnabled(on and not self.note_mode and not self._busy)
        self.remove_attachment.setEnabled(not self._busy)
        fits = not self.too_long_by or self.note_mode
        something = bool(self.text.strip()) or (self._attachment is not None and not self.note_mode)
        self.send_button.setEnabled(on and not self._busy and something and fits)

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def sent(self) -> None:
        self.edit.clear()
        self.clear_attachment()
        self.show_error("")

    def _update_counter(self) -> None:
        if self.note_mode:
            self.counter.setText("Internal note: only your team sees it")
            for label in (self.warning, self.too_long):
                label.hide()
            self._sync_enabled()
            return
        counter, warning = describe_segments(self.text)
        if self._attachment is not None:
            counter = f"{counter} · photo (MMS)" if self.text else "Photo (MMS)"
        self.counter.setText(counter if self.text or self._attachment else "")
        self.warning.setText(warning)
        self.warning.setVisible(bool(warning))
        over = self.too_long_by
        self.too_long.setText(
            f"Too long to send: a text can have at most "
            f"{templates.MAX_BODY_CHARACTERS:,} characters. Remove {over:,} "
            f"character{'s' if over != 1 else ''}, or send it as two texts."
            if over
            else ""
        )
        self.too_long.setVisible(bool(over))
        if not self.error.isHidden() and self.text:
            self.show_error("")
        self._sync_enabled()

    def _fill_later_menu(self) -> None:
        self.later_menu.clear()
        for label, when in schedule_choices(self.now or datetime.now(UTC)):
            action = self.later_menu.addAction(label)
            action.triggered.connect(lambda _=False, w=when: self.schedule(w))
        pick = self.later_menu.addAction("Pick a date and time…")
        pick.triggered.connect(self._pick_time)

    def _pick_time(self) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle("Send later")
        edit = QDateTimeEdit(dialog)
        edit.setCalendarPopup(True)
        start = (self.now or datetime.now(UTC)).astimezone() + timedelta(hours=1)
        start = start.replace(minute=0, second=0, microsecond=0)
        edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(start.timestamp())))
        edit.setMinimumDateTime(QDateTime.currentDateTime())
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, dialog
        )
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        box = QVBoxLayout(dialog)
        box.addWidget(QLabel("Send this text at:", dialog))
        box.addWidget(edit)
        box.addWidget(buttons)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            picked = datetime.fromtimestamp(edit.dateTime().toSecsSinceEpoch(), UTC)
            self.schedule(picked)

    def schedule(self, when: datetime) -> None:
        """Ask for the typed text to be sent at ``when`` (same checks as Send)."""
        body = self.text
        if self._attachment is not None and not self.note_mode:
            self.show_error(
                "A text with a photo cannot be scheduled yet: send it now, or remove the "
                "photo to schedule the words."
            )
            return
        if self._busy or not body.strip() or self.note_mode:
            return
        if self._blocked_reason or self.too_long_by:
            return
        self.scheduleRequested.emit(body, when)

    def submit(self) -> None:
        body = self.text
        photo = self._attachment is not None and not self.note_mode
        if self._busy or not (body.strip() or photo):
            return
        if self.note_mode:
            self.noteRequested.emit(body)
            return
        if self._blocked_reason or self.too_long_by:
            return
        self.sendRequested.emit(body)
