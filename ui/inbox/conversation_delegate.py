"""Paints one conversation row: name or number, preview, relative time, unread badge,
tag chips, assignment, an after-hours moon and (with several locations) which location
the thread is at."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QFontMetricsF, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from services.snapshots import ConversationRow
from ui import theme
from ui.inbox.conversation_model import RowRole
from ui.widgets import icons
from ui.widgets.tag_chips import paint_chips
from ui.widgets.time_format import relative

PAD_X = 12
PAD_Y = 8
GAP = 3


class ConversationDelegate(QStyledItemDelegate):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.now: datetime | None = None  # tests pin "now"
        self.show_locations = False  # the office has more than one location

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        fm = QFontMetricsF(option.font)
        small = QFontMetricsF(theme.small_font(option.font))
        height = PAD_Y * 2 + fm.height() * 2 + small.height() + 4 + GAP * 2
        return QSize(240, int(height + 0.5))

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        row = index.data(RowRole)
        if not isinstance(row, ConversationRow):
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        rect = QRectF(opt.rect)
        palette: QPalette = opt.palette
        state = opt.state
        selected = bool(state & QStyle.StateFlag.State_Selected)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)

        # background: the style's own selection/hover panel, then a divider
        style = opt.widget.style() if opt.widget is not None else None
        opt.text = ""
        if style is not None:
            style.drawPrimitive(
                QStyle.PrimitiveElement.PE_PanelItemViewItem, opt, painter, opt.widget
            )
        painter.setPen(
            theme.blend(
                palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text), 0.12
            )
        )
        painter.drawLine(rect.bottomLeft() + QPointF(PAD_X, 0), rect.bottomRight())

        text_color = palette.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        )
        muted = text_color if selected else theme.muted_text(palette)
        base_font = opt.font
        title_font = theme.bold(base_font) if row.unread else base_font
        small_font = theme.small_font(base_font)
        fm = QFontMetricsF(base_font)
        tfm = QFontMetricsF(title_font)
        sfm = QFontMetricsF(small_font)

        left = rect.left() + PAD_X
        right = rect.right() - PAD_X
        y = rect.top() + PAD_Y

        # line 1: title, moon, time
        when = relative(row.last_at, self.now or datetime.now(UTC))
        time_font = theme.bold(small_font) if row.unread else small_font
        time_w = QFontMetricsF(time_font).horizontalAdvance(when) + 2
        painter.setFont(time_font)
        painter.setPen(theme.accent(palette) if row.unread and not selected else muted)
        painter.drawText(
            QRectF(right - time_w, y, time_w, fm.height()),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            when,
        )
        moon_w = fm.height() * 0.8 + 4 if row.after_hours else 0.0
        title_room = right - time_w - 8 - left - moon_w
        title = tfm.elidedText(row.title, Qt.TextElideMode.ElideRight, max(0.0, title_room))
        painter.setFont(title_font)
        painter.setPen(text_color)
        painter.drawText(
            QRectF(left, y, title_room, fm.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            title,
        )
        if row.after_hours:
            size = fm.height() * 0.8
            x = left + tfm.horizontalAdvance(title) + 5
            icons.render(
                "moon",
                painter,
                QRectF(x, y + (fm.height() - size) / 2, size, size),
                muted if selected else theme.warning(palette),
            )
        y += fm.height() + GAP

        # line 2: preview and unread badge
        badge_w = 0.0
        if row.unread:
            label = str(row.unread) if row.unread < 100 else "99+"
            bfont = theme.bold(small_font)
            bfm = QFontMetricsF(bfont)
            bh = bfm.height() + 2
            badge_w = max(bh, bfm.horizontalAdvance(label) + 10)
            badge = QRectF(right - badge_w, y + (fm.height() - bh) / 2, badge_w, bh)
            bg, fg = theme.badge_colors(palette)
            if selected:
                bg, fg = fg, bg
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(bg)
            painter.drawRoundedRect(badge, bh / 2, bh / 2)
            painter.setFont(bfont)
            painter.setPen(fg)
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, label)
        preview = " ".join(row.preview.split()) or "No messages yet"
        if row.opted_out:
            preview = "Opted out · " + preview
        room = right - left - (badge_w + 8 if badge_w else 0)
        painter.setFont(base_font)
        painter.setPen(text_color if row.unread else muted)
        painter.drawText(
            QRectF(left, y, room, fm.height()),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            fm.elidedText(preview, Qt.TextElideMode.ElideRight, max(0.0, room)),
        )
        y += fm.height() + GAP

        # line 3: location, tags and assignment
        if self.show_locations and row.location_name:
            place = sfm.elidedText(
                row.location_name, Qt.TextElideMode.ElideRight, (right - left) * 0.4
            )
            place_w = sfm.horizontalAdvance(place) + 12
            badge = QRectF(left, y + 1, place_w, sfm.height() + 2)
            painter.setPen(muted if selected else theme.accent(palette))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(badge, 3, 3)
            painter.setFont(small_font)
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, place)
            left += place_w + 6
        assigned = f"→ {row.assigned_to}" if row.assigned_to else ""
        assigned_w = sfm.horizontalAdvance(assigned) + 6 if assigned else 0.0
        if assigned:
            painter.setFont(small_font)
            painter.setPen(muted)
            painter.drawText(
                QRectF(right - assigned_w, y, assigned_w, sfm.height() + 4),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                assigned,
            )
        if row.tags:
            paint_chips(
                painter,
                QRectF(left, y, right - left - assigned_w - 6, sfm.height() + 4),
                row.tags,
                palette,
                small_font,
            )
        painter.restore()
