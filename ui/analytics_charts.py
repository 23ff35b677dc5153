"""The analytics pane's two charts, painted with QPainter (QtCharts is not part of
PySide6-Essentials): the daily trend of missed and recovered calls, and the weekday x
hour heatmap of missed calls. Both only paint the snapshot they are handed, and can be
rendered into an image for the PDF report (:func:`render_image`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from services.analytics_types import WEEKDAYS, DayFigures

_ALIGN_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_ALIGN_CENTER = int(Qt.AlignmentFlag.AlignCenter)
_ALIGN_TOP = int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)


def hour_label(hour: int) -> str:
    if hour == 0:
        return "12a"
    if hour == 12:
        return "12p"
    return f"{hour % 12}{'a' if hour < 12 else 'p'}"


def recovered_colour(palette: QPalette) -> QColor:
    """Recovered calls: green, a little lighter on a dark palette."""
    dark = palette.color(QPalette.ColorRole.Window).lightnessF() < 0.5
    return QColor("#4caf50" if dark else "#2e7d32")


class TrendChart(QWidget):
    """One pair of bars per local day: missed calls, and those of them recovered."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trendChart")
        self._days: tuple[DayFigures, ...] = ()
        self.setMinimumHeight(170)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_days(self, days: tuple[DayFigures, ...]) -> None:
        self._days = tuple(days)
        self.setToolTip(
            "\n".join(
                f"{d.day:%a %b} {d.day.day}: {d.missed_calls} missed, {d.recovered_calls} recovered"
                for d in self._days
                if d.missed_calls
            )
            or "No missed calls in this period"
        )
        self.update()

    def days(self) -> tuple[DayFigures, ...]:
        return self._days

    def sizeHint(self) -> QSize:
        return QSize(520, 220)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            paint_trend(painter, self.rect().toRectF(), self.palette(), self._days)
        finally:
            painter.end()


def paint_trend(
    painter: QPainter, area: QRectF, palette: QPalette, days: tuple[DayFigures, ...]
) -> None:
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    text = palette.color(QPalette.ColorRole.WindowText)
    faint = QColor(text)
    faint.setAlphaF(0.15)
    missed = palette.color(QPalette.ColorRole.Highlight)
    missed.setAlphaF(0.55)
    recovered = recovered_colour(palette)
    metrics = painter.fontMetrics()
    line = metrics.height()
    top = area.top() + line + 6
    bottom = area.bottom() - line - 6
    left = area.left() + metrics.horizontalAdvance("000") + 8
    right = area.right() - 6
    height = max(1.0, bottom - top)
    peak = max((d.missed_calls for d in days), default=0)
    scale = max(1, peak)
    # Legend.
    x = left
    for colour, label in ((missed, "Missed"), (recovered, "Recovered")):
        painter.fillRect(QRectF(x, area.top() + 3, line * 0.7, line * 0.7), colour)
        painter.setPen(text)
        width = metrics.horizontalAdvance(label) + 6
        painter.drawText(QRectF(x + line, area.top(), width, line), _ALIGN_RIGHT, label)
        x += line + width + 14
    painter.setPen(faint)
    painter.drawLine(int(left), int(bottom), int(right), int(bottom))
    painter.drawLine(int(left), int(top), int(right), int(top))
    painter.setPen(text)
    painter.drawText(
        QRectF(area.left(), top - line / 2, left - area.left() - 6, line), _ALIGN_RIGHT, str(scale)
    )
    painter.drawText(
        QRectF(area.left(), bottom - line / 2, left - area.left() - 6, line), _ALIGN_RIGHT, "0"
    )
    if not days:
        return
    slot = (right - left) / len(days)
    gap = max(1.0, slot * 0.2)
    label_every = max(1, int((metrics.horizontalAdvance("Jun 30") + 10) // max(1.0, slot)) + 1)
    for i, day in enumerate(days):
        x0 = left + i * slot
        if day.missed_calls:
            h = height * day.missed_calls / scale
            painter.fillRect(QRectF(x0 + gap / 2, bottom - h, slot - gap, h), missed)
        if day.recovered_calls:
            h = height * day.recovered_calls / scale
            inner = (slot - gap) * 0.5
            painter.fillRect(QRectF(x0 + (slot - inner) / 2, bottom - h, inner, h), recovered)
        if i % label_every == 0 or len(days) == 1:
            painter.setPen(text)
            label = f"{day.day:%b} {day.day.day}"
            painter.drawText(QRectF(x0 - 40 + slot / 2, bottom + 3, 80, line), _ALIGN_TOP, label)
    if peak == 0:
        painter.setPen(text)
        painter.drawText(
            QRectF(left, top, right - left, height), _ALIGN_CENTER, "No missed calls in this period"
        )


class Heatmap(QWidget):
    """Missed calls by local weekday (rows, Monday first) and hour (columns)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("heatmap")
        self._cells: tuple[tuple[int, ...], ...] = tuple((0,) * 24 for _ in range(7))
        self.setMinimumHeight(170)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_cells(self, cells: tuple[tuple[int, ...], ...]) -> None:
        self._cells = tuple(tuple(row) for row in cells)
        busiest = sorted(
            ((n, d, h) for d, row in enumerate(self._cells) for h, n in enumerate(row) if n),
            reverse=True,
        )[:5]
        self.setToolTip(
            "Busiest: " + ", ".join(f"{WEEKDAYS[d]} {hour_label(h)} ({n})" for n, d, h in busiest)
            if busiest
            else "No missed calls in this period"
        )
        self.update()

    def cells(self) -> tuple[tuple[int, ...], ...]:
        return self._cells

    def sizeHint(self) -> QSize:
        return QSize(520, 220)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            paint_heatmap(painter, self.rect().toRectF(), self.palette(), self._cells)
        finally:
            painter.end()


def paint_heatmap(
    painter: QPainter, area: QRectF, palette: QPalette, cells: tuple[tuple[int, ...], ...]
) -> None:
    text = palette.color(QPalette.ColorRole.WindowText)
    base = palette.color(QPalette.ColorRole.Base)
    hot = palette.color(QPalette.ColorRole.Highlight)
    metrics = painter.fontMetrics()
    line = metrics.height()
    left = area.left() + metrics.horizontalAdvance("Wed") + 10
    top = area.top() + line + 4
    width = max(1.0, area.right() - left - 2)
    height = max(1.0, area.bottom() - top - 2)
    cw, ch = width / 24, height / 7
    peak = max((n for row in cells for n in row), default=0)
    painter.setPen(text)
    for h in range(0, 24, 3):
        painter.drawText(
            QRectF(left + h * cw - cw, area.top(), cw * 3, line), _ALIGN_TOP, hour_label(h)
        )
    for d, row in enumerate(cells):
        y = top + d * ch
        painter.setPen(text)
        painter.drawText(
            QRectF(area.left(), y, left - area.left() - 6, ch), _ALIGN_RIGHT, WEEKDAYS[d]
        )
        for h, n in enumerate(row):
            # Empty hours are a faint tint, so the grid reads on any background.
            share = 0.07 + 0.93 * n / peak if peak and n else 0.07
            colour = QColor(
                round(base.red() + (hot.red() - base.red()) * share),
                round(base.green() + (hot.green() - base.green()) * share),
                round(base.blue() + (hot.blue() - base.blue()) * share),
            )
            painter.fillRect(QRectF(left + h * cw + 1, y + 1, cw - 2, ch - 2), colour)
            if n and cw > metrics.horizontalAdvance(str(n)) + 2 and ch > line * 0.9:
                painter.setPen(
                    palette.color(QPalette.ColorRole.HighlightedText) if share > 0.5 else text
                )
                painter.drawText(QRectF(left + h * cw, y, cw, ch), _ALIGN_CENTER, str(n))


def chart_image(
    paint: Callable[[QPainter, QRectF, QPalette, Any], None],
    data: Any,
    palette: QPalette,
    size: QSize,
    scale: float = 3.0,
) -> QImage:
    """A chart painted into an image of ``size`` (logical pixels) at ``scale`` (the PDF)."""
    image = QImage(
        int(size.width() * scale), int(size.height() * scale), QImage.Format.Format_ARGB32
    )
    image.setDevicePixelRatio(scale)
    image.fill(palette.color(QPalette.ColorRole.Base))
    painter = QPainter(image)
    try:
        paint(painter, QRectF(0, 0, size.width(), size.height()), palette, data)
    finally:
        painter.end()
    return image
