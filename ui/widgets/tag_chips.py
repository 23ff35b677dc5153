"""Tag chips: painted in list rows (:func:`paint_chips`) and editable in the contact panel
(:class:`TagChips`, each chip a button with × that removes it)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QFont, QFontMetricsF, QPainter, QPalette
from PySide6.QtWidgets import QLayout, QLayoutItem, QToolButton, QWidget

from ui import theme


def chip_width(fm: QFontMetricsF, tag: str) -> float:
    return fm.horizontalAdvance(tag) + 12


def paint_chips(
    painter: QPainter,
    rect: QRectF,
    tags: Sequence[str],
    palette: QPalette,
    font: QFont,
) -> float:
    """Paint chips left to right inside ``rect`` (skipping what does not fit, with "+N");
    returns the width used."""
    fm = QFontMetricsF(font)
    height = min(rect.height(), fm.height() + 4)
    x = rect.left()
    painter.save()
    painter.setFont(font)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    for i, tag in enumerate(tags):
        w = chip_width(fm, tag)
        rest = len(tags) - i
        reserve = fm.horizontalAdvance(f"+{rest - 1}") + 8 if rest > 1 else 0
        if x + w + reserve > rect.right():
            more = f"+{rest}"
            painter.setPen(theme.muted_text(palette))
            painter.drawText(
                QRectF(x, rect.top(), fm.horizontalAdvance(more) + 6, height),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                more,
            )
            x += fm.horizontalAdvance(more) + 6
            break
        bg, fg = theme.tag_colors(tag, palette)
        chip = QRectF(x, rect.top() + (rect.height() - height) / 2, w, height)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(bg)
        painter.drawRoundedRect(chip, height / 2, height / 2)
        painter.setPen(fg)
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, tag)
        x += w + 4
    painter.restore()
    return x - rect.left()


class FlowLayout(QLayout):
    """Lays children out left to right, wrapping to new lines."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 4) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._do_layout(0, width, apply=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._do_layout(rect.y(), rect.width(), apply=True, left=rect.x())

    def sizeHint(self) -> QSize:
        return self.minimumSize()

    def minimumSize(self) -> QSize:
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        return size

    def _do_layout(self, top: int, width: int, *, apply: bool, left: int = 0) -> int:
        x, y, line = left, top, 0
        for item in self._items:
            hint = item.sizeHint()
            if x + hint.width() > left + width and line > 0:
                x, y, line = left, y + line + self._spacing, 0
            if apply:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self._spacing
            line = max(line, hint.height())
        return y + line - top


# Tags the automation sets and clears through its own actions ("Callback done", "Mark
# booked"): shown as chips without × (services.records.SYSTEM_TAGS; the service refuses
# removing them too).
SYSTEM_TAGS = ("missed call", "pending callback", "booked")


class TagChips(QWidget):
    """Editable chips; emits ``removeRequested(tag)`` when a chip's × is clicked. The
    automation's tags (:data:`SYSTEM_TAGS`) are plain labels with no ×."""

    removeRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = FlowLayout(self)
        self._tags: tuple[str, ...] = ()
        self.setAccessibleName("Tags")

    @property
    def tags(self) -> tuple[str, ...]:
        return self._tags

    def set_tags(self, tags: Sequence[str]) -> None:
        if tuple(tags) == self._tags:
            return
        self._tags = tuple(tags)
        while self._layout.count():
            item = self._layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for tag in self._tags:
            button = QToolButton(self)
            button.setObjectName("tagChip")
            button.setAutoRaise(False)
            if tag in SYSTEM_TAGS:
                button.setText(tag)
                button.setToolTip(f"“{tag}” is set by Frontdesk")
                button.setAccessibleName(f"Tag {tag}")
                button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            else:
                button.setText(f"{tag}  ×")
                button.setToolTip(f"Remove the tag “{tag}”")
                button.setAccessibleName(f"Remove tag {tag}")
                button.clicked.connect(lambda _=False, t=tag: self.removeRequested.emit(t))
            bg, fg = theme.tag_colors(tag, self.palette())
            button.setStyleSheet(
                f"QToolButton {{ background: {bg.name()}; color: {fg.name()}; border: none;"
                " border-radius: 9px; padding: 2px 8px; }"
            )
            self._layout.addWidget(button)
        self.updateGeometry()
