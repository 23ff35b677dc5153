"""Crisp SVG icons at any scale, tinted from the palette.

Monochrome icons in ``resources/icons`` draw with ``currentColor``; :func:`icon` swaps in
a colour (by default the palette's text colour) and returns a :class:`QIcon` whose engine
re-renders the SVG at whatever size and device pixel ratio is asked for, so nothing is a
scaled bitmap at 200%.
"""

from __future__ import annotations

import functools
from importlib import resources

from PySide6.QtCore import QByteArray, QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QIcon,
    QIconEngine,
    QImage,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtSvg import QSvgRenderer


@functools.cache
def svg_source(name: str) -> str:
    return (resources.files("resources") / "icons" / f"{name}.svg").read_text(encoding="utf-8")


class SvgIconEngine(QIconEngine):
    """Paints an SVG (with ``currentColor`` replaced) at the requested size."""

    def __init__(self, svg: str, color: QColor | None, disabled: QColor | None = None) -> None:
        super().__init__()
        self._svg = svg
        self._color = color
        self._disabled = disabled
        self._renderers: dict[bool, QSvgRenderer] = {}

    def _renderer(self, mode: QIcon.Mode) -> QSvgRenderer:
        off = mode == QIcon.Mode.Disabled and self._disabled is not None
        renderer = self._renderers.get(off)
        if renderer is None:
            color = self._disabled if off else self._color
            text = self._svg
            if color is not None:
                text = text.replace("currentColor", color.name(QColor.NameFormat.HexRgb))
            renderer = QSvgRenderer(QByteArray(text.encode("utf-8")))
            self._renderers[off] = renderer
        return renderer

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        renderer = self._renderer(mode)
        box = renderer.viewBoxF()
        target = QRectF(rect)
        if box.width() > 0 and box.height() > 0:
            scale = min(target.width() / box.width(), target.height() / box.height())
            w, h = box.width() * scale, box.height() * scale
            target = QRectF(
                target.x() + (target.width() - w) / 2, target.y() + (target.height() - h) / 2, w, h
            )
        renderer.render(painter, target)

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.paint(painter, QRect(QPoint(0, 0), size), mode, state)
        painter.end()
        return QPixmap.fromImage(image)

    def scaledPixmap(
        self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float
    ) -> QPixmap:
        device = QSize(max(1, round(size.width() * scale)), max(1, round(size.height() * scale)))
        pm = self.pixmap(device, mode, state)
        pm.setDevicePixelRatio(scale)
        return pm

    def clone(self) -> QIconEngine:
        return SvgIconEngine(self._svg, self._color, self._disabled)


def icon(name: str, color: QColor | None = None, palette: QPalette | None = None) -> QIcon:
    """The named icon tinted ``color`` (default: the palette's window text colour)."""
    svg = svg_source(name)
    pal = palette or QGuiApplication.palette()
    tint = color
    if tint is None and "currentColor" in svg:
        tint = pal.color(QPalette.ColorRole.WindowText)
    disabled = pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
    return QIcon(SvgIconEngine(svg, tint, disabled))


def app_icon() -> QIcon:
    return QIcon(SvgIconEngine(svg_source("app"), None))


def render(name: str, painter: QPainter, rect: QRectF, color: QColor) -> None:
    """Draw the named icon straight into ``rect`` (delegates use this: vector, no bitmap)."""
    text = svg_source(name).replace("currentColor", color.name(QColor.NameFormat.HexRgb))
    renderer = _cached_renderer(text)
    renderer.render(painter, rect)


@functools.lru_cache(maxsize=64)
def _cached_renderer(text: str) -> QSvgRenderer:
    return QSvgRenderer(QByteArray(text.encode("utf-8")))
