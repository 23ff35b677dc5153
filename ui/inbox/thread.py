"""The thread: message bubbles in and out, call events inline, MMS thumbnails.

A :class:`QListView` over :class:`ThreadModel` with :class:`ThreadDelegate` painting each
item (no widget per message), so a 500-item thread lays out in milliseconds. Sizes are
cached per (snapshot, width).
"""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPointF,
    QRectF,
    QSize,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QDesktopServices,
    QFont,
    QFontMetricsF,
    QImage,
    QPainter,
    QPalette,
    QPen,
    QTextLayout,
    QTextOption,
)
from PySide6.QtNetwork import QNetworkAccessManager, QNetworkReply, QNetworkRequest
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QMenu,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from services.send_state import FAILED_DELIVERY, Shown
from services.snapshots import (
    ActivityItem,
    CallbackItem,
    CallItem,
    MessageItem,
    NoteItem,
    ScheduledItem,
)
from ui import theme
from ui.widgets import icons
from ui.widgets.time_format import clock, day_and_clock, format_duration

ItemRole = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex
Item = MessageItem | CallItem | CallbackItem | NoteItem | ActivityItem | ScheduledItem
TRANSCRIPT_WIDTH = 50  # characters per transcript line in a call's box
TRANSCRIPT_LINES = 4

STATUS_WORDS = {
    "sending": "Sending…",
    "retrying": "Sending… (Twilio was busy; trying again)",
    "accepted": "Queued",
    "queued": "Queued",
    "scheduled": "Queued",
    "sent": "Sent",
    "delivered": "Delivered",
    "read": "Read",
    "failed": "Failed",
    "undelivered": "Not delivered",
    "canceled": "Cancelled",
}
FAILED = FAILED_DELIVERY

THUMB_W, THUMB_H = 180, 135
BUBBLE_PAD_X, BUBBLE_PAD_Y = 12, 8
ROW_GAP = 10
SIDE_MARGIN = 14
META_MAX_LINES = 3  # a failed text's reason wraps to this many lines under its bubble


def status_words(item: MessageItem) -> str:
    """Delivery status in words, with the carrier's reason when it failed."""
    word = STATUS_WORDS.get(item.status, item.status.replace("_", " ").capitalize())
    if item.status in FAILED and item.error:
        return f"{word}: {item.error}"
    return word


def meta_line(item: MessageItem, now: datetime | None = None) -> str:
    parts: list[str] = []
    if item.direction == "out":
        if item.automatic:
            parts.append({"follow_up": "Automatic follow-up"}.get(item.kind, "Automatic"))
        elif item.author:
            parts.append(item.author)
    parts.append(day_and_clock(item.at, now))
    if item.direction == "out":
        parts.append(status_words(item))
    return " · ".join(parts)


def call_lines(call: CallItem, now: datetime | None = None) -> list[str]:
    """The call event in words, one line per fact."""
    now = now or datetime.now(UTC)
    when = day_and_clock(call.at, now)
    if call.outcome == "missed":
        head = f"Missed call {when}"
        if call.ring_seconds:
            head += f", rang {format_duration(call.ring_seconds)}"
        if call.after_hours:
            head += " (after hours)"
    elif call.outcome == "answered":
        head = f"Answered call {when}"
    else:
        head = f"Incoming call {when}"
    lines = [head]
    lines += voicemail_lines(call)
    state = call.textback_state
    if state is Shown.SCHEDULED:
        if call.textback_due_at is not None and call.textback_due_at > now:
            left = (call.textback_due_at - now).total_seconds()
            lines.append(f"Auto-text scheduled, sends in {format_duration(left)}")
        else:
            lines.append("Auto-text sending…")
    elif state is Shown.HELD:
        if call.textback_due_at is not None:
            lines.append(f"Auto-text held for quiet hours, sends at {clock(call.textback_due_at)}")
        else:
            lines.append("Auto-text held for quiet hours")
    elif state is Shown.SENDING:
        lines.append("Auto-text sending…")
    elif state is Shown.RETRYING:
        lines.append("Auto-text waiting: Twilio was busy, trying again shortly")
    elif state is Shown.SENT:
        lines.append("Auto-text sent")
    elif state is Shown.SKIPPED:
        lines.append(
            f"No auto-text: {call.textback_reason}" if call.textback_reason else "No auto-text"
        )
    elif state is Shown.CANCELLED:
        lines.append(
            f"Auto-text cancelled: {call.textback_reason}"
            if call.textback_reason
            else "Auto-text cancelled"
        )
    elif state is Shown.FAILED:
        lines.append(
            f"Auto-text failed: {call.textback_reason}"
            if call.textback_reason
            else "Auto-text failed"
        )
    follow = call.followup_state
    if follow is Shown.SCHEDULED and call.followup_due_at is not None:
        left = (call.followup_due_at - now).total_seconds()
        if left > 0:
            lines.append(f"Follow-up scheduled, sends in {format_duration(left)}")
    elif follow is Shown.HELD:
        lines.append("Follow-up held for quiet hours")
    elif follow is Shown.CANCELLED:
        lines.append("Follow-up cancelled: they replied" if call.replied else "Follow-up cancelled")
    elif follow is Shown.SENT:
        lines.append("Follow-up sent")
    elif follow is Shown.FAILED:
        lines.append("Follow-up failed")
    return lines


def voicemail_lines(call: CallItem) -> list[str]:
    """ "Left a voicemail" with its length, how to play it and the transcript (wrapped)."""
    vm = call.voicemail
    if vm is None:
        return []
    head = "Left a voicemail"
    if vm.duration_seconds:
        head += f" ({format_duration(vm.duration_seconds)})"
    if vm.playable:
        head += " · double-click to play"
    elif vm.removed:
        head += " · recording deleted (retention)"
    else:
        head += " · recording…"
    lines = [head]
    if vm.transcript:
        wrapped = textwrap.wrap(f"“{vm.transcript}”", TRANSCRIPT_WIDTH)
        if len(wrapped) > TRANSCRIPT_LINES:
            wrapped = [*wrapped[: TRANSCRIPT_LINES - 1], wrapped[TRANSCRIPT_LINES - 1] + " …"]
        lines += wrapped
    return lines


def callback_lines(item: CallbackItem, now: datetime | None = None) -> list[str]:
    """A callback in words: who called back, when, and how it went."""
    now = now or datetime.now(UTC)
    who = f" by {item.actor}" if item.actor else ""
    how = item.words
    if item.state == "connected" and item.duration_seconds:
        how = f"talked {format_duration(item.duration_seconds)}"
    lines = [f"Called back{who} {day_and_clock(item.at, now)} · {how}"]
    if item.source == "log":
        lines.append("Found in Twilio's call log (made outside Frontdesk)")
    return lines


def has_countdown(call: CallItem, now: datetime) -> bool:
    due = [
        call.textback_due_at if call.textback_state is Shown.SCHEDULED else None,
        call.followup_due_at if call.followup_state is Shown.SCHEDULED else None,
    ]
    return any(d is not None and (d - now).total_seconds() > -2 for d in due)


def wrap_body(font: QFont, text: str, width: float) -> QTextLayout:
    """``text`` laid out in lines at most ``width`` wide, broken between words; a word
    longer than a whole line (a long link) is the only thing broken inside.

    Sizing and painting both use this layout, so a bubble is exactly as tall as the
    lines painted in it.
    """
    layout = QTextLayout(text, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    layout.beginLayout()
    y = 0.0
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        line.setPosition(QPointF(0, y))
        y += line.height()
    layout.endLayout()
    return layout


def wrapped_lines(font: QFont, text: str, width: float) -> list[str]:
    """The lines of :func:`wrap_body`, as text (what a reader sees on each line)."""
    layout = wrap_body(font, text, width)
    return [
        text[line.textStart() : line.textStart() + line.textLength()]
        for line in (layout.lineAt(i) for i in range(layout.lineCount()))
    ]


_ONE_LINE_PHONE = re.compile(r"\((\d{3})\) (\d{3}-\d{4})")


def meta_lines(font: QFont, meta: str, room: float, *, wraps: bool) -> list[str]:
    """The line(s) under a bubble, at most ``room`` wide. A failed text's line (``wraps``)
    breaks between words onto up to :data:`META_MAX_LINES` lines, so the reason it failed
    is read in full; any other line is elided in the middle (its time and status stay)."""
    fm = QFontMetricsF(font)
    if not wraps or fm.horizontalAdvance(meta) + 2 <= room:
        return [fm.elidedText(meta, Qt.TextElideMode.ElideMiddle, room)]
    meta = _ONE_LINE_PHONE.sub("(\\1)\u00a0\\2", meta)  # "(500) 555-0001" is never split
    lines = [line.rstrip() for line in wrapped_lines(font, meta, room)]
    if len(lines) > META_MAX_LINES:
        rest = " ".join(lines[META_MAX_LINES - 1 :])
        lines = [
            *lines[: META_MAX_LINES - 1],
            fm.elidedText(rest, Qt.TextElideMode.ElideRight, room),
        ]
    return lines


def _meta_wraps(item: MessageItem | ScheduledItem) -> bool:
    if isinstance(item, ScheduledItem):
        return item.shown is Shown.FAILED
    return item.direction == "out" and item.status in FAILED


def _key(item: Item) -> tuple[str, int]:
    kind = {
        CallItem: "c",
        CallbackItem: "b",
        MessageItem: "m",
        NoteItem: "n",
        ActivityItem: "a",
        ScheduledItem: "s",
    }[type(item)]
    return (kind, item.id)


def activity_line(item: ActivityItem, now: datetime | None = None) -> str:
    """ "Luis · Assigned to Dana · 2:01 PM" (a snooze says until when)."""
    text = item.text
    if item.until is not None:
        text += f" until {day_and_clock(item.until, now)}"
    return f"{item.actor} · {text} · {day_and_clock(item.at, now)}"


def scheduled_meta(item: ScheduledItem, now: datetime | None = None) -> str:
    """ "Dana · Scheduled for Thu 8:00 AM" (or why it was never sent)."""
    local, today = item.at.astimezone(), (now or datetime.now(UTC)).astimezone().date()
    ahead = (local.date() - today).days
    if ahead == 0:
        when = f"today {clock(item.at)}"
    elif 0 < ahead < 7:
        when = f"{local.strftime('%a')} {clock(item.at)}"  # "Thu 8:00 AM"
    else:
        when = day_and_clock(item.at, now)
    match item.shown:
        case Shown.SCHEDULED | Shown.RETRYING | Shown.HELD:
            state = f"Scheduled for {when}"
        case Shown.SENDING:
            state = "Sending…"
        case _:
            state = f"Not sent: {item.reason or item.shown.value}"
    return " · ".join(p for p in (item.author, state) if p)


def action_label(item: Item) -> str | None:
    """The link under a bubble: Retry on a failed text, Cancel on a scheduled one."""
    if isinstance(item, MessageItem) and item.direction == "out" and item.status in FAILED:
        return "Retry"
    if isinstance(item, ScheduledItem) and item.cancellable:
        return "Cancel"
    return None


def note_meta(item: NoteItem, now: datetime | None = None) -> str:
    return f"Internal note · {item.author} · {day_and_clock(item.at, now)} · not sent"


class MediaCache(QObject):
    """Thumbnails of MMS media: fetched with QNetworkAccessManager for http(s) URLs and
    the local files of photos sent from this PC; any other scheme is not loaded."""

    loaded = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._images: dict[str, QImage | None] = {}  # None: loading or failed
        self._failed: set[str] = set()
        self._nam: QNetworkAccessManager | None = None

    def image(self, url: str) -> QImage | None:
        if url in self._images:
            return self._images[url]
        self._images[url] = None
        # http(s): an MMS's media at Twilio; file: a photo this PC sent (kept in its data
        # dir). Both read asynchronously by QNetworkAccessManager.
        if url.lower().startswith(("http://", "https://", "file:///")):
            self._fetch(url)
        else:
            self._failed.add(url)
        return None

    def failed(self, url: str) -> bool:
        return url in self._failed

    def _fetch(self, url: str) -> None:
        if self._nam is None:
            self._nam = QNetworkAccessManager(self)
        request = QNetworkRequest(QUrl(url))
        request.setAttribute(
            QNetworkRequest.Attribute.RedirectPolicyAttribute,
            QNetworkRequest.RedirectPolicy.NoLessSafeRedirectPolicy,
        )
        request.setTransferTimeout(15000)
        reply = self._nam.get(request)
        reply.finished.connect(lambda: self._done(url, reply))

    def _done(self, url: str, reply: QNetworkReply) -> None:
        try:
            if reply.error() != QNetworkReply.NetworkError.NoError:
                self._failed.add(url)
                return
            data = reply.read(20_000_000)
            image = QImage.fromData(data.data())
            if image.isNull():
                self._failed.add(url)
                return
            self._images[url] = image.scaled(
                THUMB_W * 2,
                THUMB_H * 2,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        finally:
            reply.deleteLater()
            self.loaded.emit(url)


class ThreadModel(QAbstractListModel):
    """Snapshots of one thread, oldest first."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._items: list[Item] = []
        self.contact_id: int | None = None

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == ItemRole:
            return item
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            if isinstance(item, CallItem):
                return ". ".join(call_lines(item))
            if isinstance(item, ActivityItem):
                return activity_line(item)
            if isinstance(item, NoteItem):
                return f"{note_meta(item)}: {item.body}"
            if isinstance(item, ScheduledItem):
                return f"You (scheduled): {item.body}. {scheduled_meta(item)}"
            if isinstance(item, CallbackItem):
                return ". ".join(callback_lines(item))
            who = "You" if item.direction == "out" else "They"
            media = f" ({len(item.media)} attachment(s))" if item.media else ""
            return f"{who}: {item.body}{media}. {meta_line(item)}"
        return None

    def items(self) -> list[Item]:
        return list(self._items)

    def clear(self) -> None:
        self.set_items(None, [])

    def set_items(self, contact_id: int | None, items: list[Item]) -> None:
        """Show ``items``; when it is the same thread grown or changed in place, only the
        changed and appended rows are announced (the scroll position survives)."""
        old_keys = [_key(i) for i in self._items]
        new_keys = [_key(i) for i in items]
        same_prefix = (
            contact_id == self.contact_id
            and len(new_keys) >= len(old_keys)
            and new_keys[: len(old_keys)] == old_keys
        )
        if not same_prefix:
            self.beginResetModel()
            self.contact_id = contact_id
            self._items = list(items)
            self.endResetModel()
            return
        for i, (old, new) in enumerate(zip(self._items, items, strict=False)):
            if old != new:
                self._items[i] = new
                idx = self.index(i)
                self.dataChanged.emit(idx, idx)
        if len(items) > len(self._items):
            first = len(self._items)
            self.beginInsertRows(QModelIndex(), first, len(items) - 1)
            self._items.extend(items[first:])
            self.endInsertRows()

    def row_of_media(self, url: str) -> list[int]:
        return [
            i
            for i, item in enumerate(self._items)
            if isinstance(item, MessageItem) and any(u == url for u, _t in item.media)
        ]


class ThreadDelegate(QStyledItemDelegate):
    def __init__(self, media: MediaCache, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.media = media
        self.now: datetime | None = None
        self._sizes: dict[tuple[Item, int], QSize] = {}

    # ---- geometry ---------------------------------------------------------------------
    @staticmethod
    def bubble_max(width: int) -> float:
        return max(160.0, min(width * 0.68, 560.0))

    @staticmethod
    def _text_rect(font: QFont, text: str, max_w: float) -> QRectF:
        """The size of ``text`` wrapped by :func:`wrap_body`: widest line by all lines."""
        if not text:
            return QRectF(0, 0, 0, 0)
        layout = wrap_body(font, text, max_w)
        width = max(layout.lineAt(i).naturalTextWidth() for i in range(layout.lineCount()))
        return QRectF(0, 0, min(max_w, width + 1), layout.boundingRect().height())

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        item = index.data(ItemRole)
        width = option.rect.width() or (option.widget.width() if option.widget else 600)
        if item is None:
            return QSize(width, 0)
        cached = self._sizes.get((item, width))
        if cached is not None:
            return cached
        sfm = QFontMetricsF(theme.small_font(option.font))
        if isinstance(item, CallItem | CallbackItem):
            lines = max(1, len(self._lines(item)))
            height = lines * sfm.height() + 2 * 6 + ROW_GAP
        elif isinstance(item, ActivityItem):
            height = sfm.height() + ROW_GAP
        elif isinstance(item, NoteItem):
            inner = self.note_width(width) - 2 * BUBBLE_PAD_X
            text = self._text_rect(option.font, item.body, inner)
            height = text.height() + 2 * BUBBLE_PAD_Y + sfm.height() + 4 + ROW_GAP
        else:
            _bubble, meta, _link = self.meta_rects(QRectF(0, 0, width, 0), option.font, item)
            height = meta.bottom() + 2 + ROW_GAP / 2
        size = QSize(width, int(height + 0.999))
        if len(self._sizes) > 4000:
            self._sizes.clear()
        self._sizes[(item, width)] = size
        return size

    # ---- painting ---------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        item = index.data(ItemRole)
        if item is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        if isinstance(item, CallItem | CallbackItem):
            self._paint_call(painter, option, item)
        elif isinstance(item, ActivityItem):
            self._paint_activity(painter, option, item)
        elif isinstance(item, NoteItem):
            self._paint_note(painter, option, item)
        elif isinstance(item, ScheduledItem):
            self._paint_scheduled(painter, option, item)
        else:
            self._paint_message(painter, option, item)
        painter.restore()

    def note_width(self, width: int) -> float:
        return max(200.0, min(width - 2 * SIDE_MARGIN - 40, 620.0))

    def _paint_activity(
        self, painter: QPainter, option: QStyleOptionViewItem, item: ActivityItem
    ) -> None:
        """A quiet centred line: who did what, when (not a message)."""
        rect = QRectF(option.rect)
        font = theme.small_font(option.font)
        font.setItalic(True)
        sfm = QFontMetricsF(font)
        painter.setFont(font)
        painter.setPen(theme.muted_text(option.palette))
        line = activity_line(item, self.now)
        box = QRectF(rect.left() + SIDE_MARGIN, rect.top() + ROW_GAP / 2, 0, sfm.height())
        box.setRight(rect.right() - SIDE_MARGIN)
        painter.drawText(
            box,
            int(Qt.AlignmentFlag.AlignCenter),
            sfm.elidedText(line, Qt.TextElideMode.ElideMiddle, box.width()),
        )

    def _paint_note(self, painter: QPainter, option: QStyleOptionViewItem, item: NoteItem) -> None:
        """An internal note: a pale yellow card with a dashed edge across the thread,
        visibly not a text bubble (never sent)."""
        palette: QPalette = option.palette
        rect = QRectF(option.rect)
        small = theme.small_font(option.font)
        sfm = QFontMetricsF(small)
        note_w = self.note_width(int(rect.width()))
        inner = note_w - 2 * BUBBLE_PAD_X
        text_rect = self._text_rect(option.font, item.body, inner)
        card = QRectF(0, rect.top() + ROW_GAP / 2, note_w, text_rect.height() + 2 * BUBBLE_PAD_Y)
        card.moveLeft(rect.center().x() - note_w / 2)
        bg, fg, edge = theme.note_colors(palette)
        pen = QPen(edge)
        pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(bg)
        painter.drawRoundedRect(card, 6, 6)
        painter.setPen(fg)
        wrap_body(option.font, item.body, inner).draw(
            painter, QPointF(card.left() + BUBBLE_PAD_X, card.top() + BUBBLE_PAD_Y)
        )
        painter.setFont(small)
        painter.setPen(theme.muted_text(palette))
        meta = QRectF(card.left(), card.bottom() + 2, card.width(), sfm.height())
        painter.drawText(
            meta,
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            sfm.elidedText(note_meta(item, self.now), Qt.TextElideMode.ElideRight, meta.width()),
        )

    def _lines(self, item: CallItem | CallbackItem) -> list[str]:
        if isinstance(item, CallbackItem):
            return callback_lines(item, self.now)
        return call_lines(item, self.now)

    def _paint_call(
        self, painter: QPainter, option: QStyleOptionViewItem, call: CallItem | CallbackItem
    ) -> None:
        palette: QPalette = option.palette
        rect = QRectF(option.rect)
        font = theme.small_font(option.font)
        sfm = QFontMetricsF(font)
        lines = self._lines(call)
        widest = max(sfm.horizontalAdvance(line) for line in lines)
        icon_size = sfm.height()
        box_w = min(rect.width() - 2 * SIDE_MARGIN, widest + icon_size + 6 + 24)
        box = QRectF(
            rect.center().x() - box_w / 2,
            rect.top() + ROW_GAP / 2,
            box_w,
            len(lines) * sfm.height() + 12,
        )
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        painter.setPen(theme.blend(base, text, 0.22))
        painter.setBrush(theme.blend(base, text, 0.04))
        painter.drawRoundedRect(box, 8, 8)
        missed = isinstance(call, CallItem) and call.outcome == "missed"
        glyph = "missed_call" if missed else "phone"
        color = theme.danger(palette) if missed else theme.muted_text(palette)
        icons.render(
            glyph, painter, QRectF(box.left() + 10, box.top() + 6, icon_size, icon_size), color
        )
        painter.setFont(font)
        y = box.top() + 6
        for i, line in enumerate(lines):
            painter.setPen(text if i == 0 else theme.muted_text(palette))
            painter.drawText(
                QRectF(box.left() + 14 + icon_size, y, box.width() - icon_size - 20, sfm.height()),
                int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                sfm.elidedText(line, Qt.TextElideMode.ElideRight, box.width() - icon_size - 20),
            )
            y += sfm.height()

    def meta_rects(
        self, rect: QRectF, font: QFont, item: MessageItem | ScheduledItem
    ) -> tuple[QRectF, QRectF, QRectF | None]:
        """(bubble, meta line(s), action link or None) of a text's row at ``rect``; the
        view hit-tests the link with the same geometry the painter draws it with."""
        bubble, meta_rect, link, _lines = self._layout(rect, font, item)
        return bubble, meta_rect, link

    def _layout(
        self, rect: QRectF, font: QFont, item: MessageItem | ScheduledItem
    ) -> tuple[QRectF, QRectF, QRectF | None, list[str]]:
        sfm = QFontMetricsF(theme.small_font(font))
        out = isinstance(item, ScheduledItem) or item.direction == "out"
        media = item.media if isinstance(item, MessageItem) else ()
        inner_max = self.bubble_max(int(rect.width())) - 2 * BUBBLE_PAD_X
        text_rect = self._text_rect(font, item.body, inner_max)
        content_w = max(text_rect.width(), THUMB_W if media else 0, 24.0)
        bubble = QRectF(
            0,
            rect.top() + ROW_GAP / 2,
            content_w + 2 * BUBBLE_PAD_X,
            text_rect.height() + len(media) * (THUMB_H + 6) + 2 * BUBBLE_PAD_Y,
        )
        if out:
            bubble.moveRight(rect.right() - SIDE_MARGIN)
        else:
            bubble.moveLeft(rect.left() + SIDE_MARGIN)
        meta = (
            scheduled_meta(item, self.now)
            if isinstance(item, ScheduledItem)
            else meta_line(item, self.now)
        )
        label = action_label(item)
        link_w = sfm.horizontalAdvance(label) + 4 if label is not None else 0.0
        bolt = sfm.height() + 3 if isinstance(item, MessageItem) and item.automatic else 0
        room = rect.width() - 2 * SIDE_MARGIN - (link_w + 12 + bolt if label else 0)
        lines = meta_lines(theme.small_font(font), meta, room, wraps=_meta_wraps(item))
        meta_w = min(max(sfm.horizontalAdvance(line) for line in lines) + 2, room)
        meta_rect = QRectF(0, bubble.bottom() + 2, meta_w, len(lines) * sfm.height())
        if out:
            meta_rect.moveRight(bubble.right())
        else:
            meta_rect.moveLeft(bubble.left())
        link = None
        if label is not None:
            left = meta_rect.left() - bolt - 12 - link_w
            link = QRectF(left, meta_rect.top(), link_w, sfm.height())
        return bubble, meta_rect, link, lines

    def _paint_link(
        self, painter: QPainter, option: QStyleOptionViewItem, item: Item, link: QRectF | None
    ) -> None:
        label = action_label(item)
        if link is None or label is None:
            return
        font = theme.small_font(option.font)
        font.setUnderline(True)
        painter.setFont(font)
        painter.setPen(theme.accent(option.palette))
        painter.drawText(link, int(Qt.AlignmentFlag.AlignCenter), label)

    def _paint_scheduled(
        self, painter: QPainter, option: QStyleOptionViewItem, item: ScheduledItem
    ) -> None:
        palette: QPalette = option.palette
        bubble, meta_rect, link, lines = self._layout(QRectF(option.rect), option.font, item)
        bg, _fg = theme.bubble_colors(palette, True)
        pen = QPen(
            theme.muted_text(palette) if item.shown is not Shown.FAILED else theme.danger(palette)
        )
        pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(theme.blend(palette.color(QPalette.ColorRole.Base), bg, 0.45))
        painter.drawRoundedRect(bubble, 12, 12)
        if item.body:
            painter.setPen(palette.color(QPalette.ColorRole.Text))
            inner_max = self.bubble_max(int(option.rect.width())) - 2 * BUBBLE_PAD_X
            wrap_body(option.font, item.body, inner_max).draw(
                painter, QPointF(bubble.left() + BUBBLE_PAD_X, bubble.top() + BUBBLE_PAD_Y)
            )
        painter.setFont(theme.small_font(option.font))
        painter.setPen(theme.muted_text(palette))
        self._paint_meta(painter, option, meta_rect, lines, True)
        self._paint_link(painter, option, item, link)

    @staticmethod
    def _paint_meta(
        painter: QPainter,
        option: QStyleOptionViewItem,
        meta_rect: QRectF,
        lines: list[str],
        out: bool,
    ) -> None:
        """The line(s) under a bubble, as :meth:`_layout` measured them (font and pen
        already set)."""
        height = QFontMetricsF(theme.small_font(option.font)).height()
        align = Qt.AlignmentFlag.AlignRight if out else Qt.AlignmentFlag.AlignLeft
        for i, line in enumerate(lines):
            painter.drawText(
                QRectF(meta_rect.left(), meta_rect.top() + i * height, meta_rect.width(), height),
                int(Qt.AlignmentFlag.AlignVCenter | align),
                line,
            )

    def _paint_message(
        self, painter: QPainter, option: QStyleOptionViewItem, msg: MessageItem
    ) -> None:
        palette: QPalette = option.palette
        rect = QRectF(option.rect)
        small = theme.small_font(option.font)
        sfm = QFontMetricsF(small)
        out = msg.direction == "out"
        inner_max = self.bubble_max(int(rect.width())) - 2 * BUBBLE_PAD_X
        bubble, meta_rect, link, lines = self._layout(rect, option.font, msg)
        bg, fg = theme.bubble_colors(palette, out)
        failed = out and msg.status in FAILED
        painter.setPen(theme.danger(palette) if failed else Qt.PenStyle.NoPen)
        painter.setBrush(bg)
        painter.drawRoundedRect(bubble, 12, 12)
        y = bubble.top() + BUBBLE_PAD_Y
        for url, _ctype in msg.media:
            thumb = QRectF(bubble.left() + BUBBLE_PAD_X, y, THUMB_W, THUMB_H)
            self._paint_media(painter, thumb, url, fg, palette)
            y += THUMB_H + 6
        if msg.body:
            painter.setPen(fg)
            wrap_body(option.font, msg.body, inner_max).draw(
                painter, QPointF(bubble.left() + BUBBLE_PAD_X, y)
            )
        painter.setFont(small)
        painter.setPen(theme.danger(palette) if failed else theme.muted_text(palette))
        if msg.automatic and out:
            bolt = sfm.height() * 0.8
            icons.render(
                "bolt",
                painter,
                QRectF(
                    meta_rect.left() - bolt - 3,
                    meta_rect.top() + (sfm.height() - bolt) / 2,
                    bolt,
                    bolt,
                ),
                theme.muted_text(palette),
            )
        self._paint_meta(painter, option, meta_rect, lines, out)
        self._paint_link(painter, option, msg, link)

    def _paint_media(
        self, painter: QPainter, rect: QRectF, url: str, fg: Any, palette: QPalette
    ) -> None:
        image = self.media.image(url)
        if image is not None:
            scaled = image.size().scaled(rect.size().toSize(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRectF(QPointF(0, 0), scaled.toSizeF())
            target.moveCenter(rect.center())
            painter.drawImage(target, image)
            return
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme.blend(palette.color(QPalette.ColorRole.Base), fg, 0.12))
        painter.drawRoundedRect(rect, 6, 6)
        side = min(rect.width(), rect.height()) * 0.35
        icons.render(
            "image",
            painter,
            QRectF(rect.center().x() - side / 2, rect.center().y() - side / 2 - 8, side, side),
            fg,
        )
        painter.setPen(fg)
        painter.setFont(theme.small_font(painter.font()))
        label = "Photo (could not load)" if self.media.failed(url) else "Photo"
        painter.drawText(
            QRectF(rect.left(), rect.center().y() + side / 2 - 4, rect.width(), 20),
            int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop),
            label,
        )


class ThreadView(QListView):
    """The list of bubbles; keeps to the bottom as messages arrive; ticks countdowns.

    A click on a failed text's "Retry" link emits :attr:`retryRequested` (message id); on
    a scheduled text's "Cancel", :attr:`cancelScheduledRequested` (job id). The same
    actions are in the bubble's context menu (keyboard: the menu key).
    Double-clicking a voicemail asks for it to be played (``playVoicemail(id)``).
    """

    retryRequested = Signal(int)
    cancelScheduledRequested = Signal(int)
    playVoicemail = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thread_model = ThreadModel(self)
        self.media = MediaCache(self)
        self.thread_delegate = ThreadDelegate(self.media, self)
        self.setModel(self.thread_model)
        self.setItemDelegate(self.thread_delegate)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Messages")
        self.verticalScrollBar().setSingleStep(24)
        self.media.loaded.connect(self._media_loaded)
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._on_tick)
        self.doubleClicked.connect(self._open_media)

    def show_items(self, contact_id: int | None, items: list[Item]) -> None:
        bar = self.verticalScrollBar()
        switching = contact_id != self.thread_model.contact_id
        at_bottom = switching or bar.value() >= bar.maximum() - 8
        self.thread_model.set_items(contact_id, items)
        if at_bottom:
            self.scrollToBottom()
            QTimer.singleShot(0, self, self.scrollToBottom)  # dropped if self is deleted
        self._update_ticker()

    def _update_ticker(self) -> None:
        now = datetime.now(UTC)
        live = any(
            isinstance(i, CallItem) and has_countdown(i, now) for i in self.thread_model.items()
        )
        if live and not self._tick.isActive():
            self._tick.start()
        elif not live:
            self._tick.stop()

    def _on_tick(self) -> None:
        self.viewport().update()
        self._update_ticker()

    def _media_loaded(self, url: str) -> None:
        for row in self.thread_model.row_of_media(url):
            idx = self.thread_model.index(row)
            self.thread_model.dataChanged.emit(idx, idx)

    def link_rect(self, index: QModelIndex) -> QRectF | None:
        """Where the row's Retry / Cancel link is drawn, in viewport coordinates."""
        item = index.data(ItemRole)
        if not isinstance(item, MessageItem | ScheduledItem) or action_label(item) is None:
            return None
        _b, _m, link = self.thread_delegate.meta_rects(
            QRectF(self.visualRect(index)), self.font(), item
        )
        return link

    def _act(self, item: Any) -> None:
        if isinstance(item, MessageItem) and action_label(item) == "Retry":
            self.retryRequested.emit(item.id)
        elif isinstance(item, ScheduledItem) and item.cancellable:
            self.cancelScheduledRequested.emit(item.id)

    def mouseReleaseEvent(self, event: Any) -> None:
        index = self.indexAt(event.position().toPoint())
        link = self.link_rect(index) if index.isValid() else None
        if link is not None and link.adjusted(-4, -4, 4, 4).contains(event.position()):
            self._act(index.data(ItemRole))
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def contextMenuEvent(self, event: Any) -> None:
        index = self.indexAt(event.pos()) if event.reason() == event.Reason.Mouse else None
        if index is None or not index.isValid():
            index = self.currentIndex()
        item = index.data(ItemRole) if index.isValid() else None
        label = action_label(item) if item is not None else None
        if label is None:
            return
        menu = QMenu(self)
        action = menu.addAction("Retry sending" if label == "Retry" else "Cancel scheduled text")
        action.triggered.connect(lambda: self._act(item))
        menu.exec(event.globalPos())

    def _open_media(self, index: QModelIndex) -> None:
        item = index.data(ItemRole)
        if isinstance(item, CallItem) and item.voicemail is not None and item.voicemail.playable:
            self.playVoicemail.emit(item.voicemail.id)
            return
        if isinstance(item, MessageItem):
            for url, _ctype in item.media:
                if url.lower().startswith(("http://", "https://")):
                    QDesktopServices.openUrl(QUrl(url))
                    return
