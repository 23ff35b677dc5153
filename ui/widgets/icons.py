"""Crisp SVG icons at any scale, tinted from the palette.

Monochrome icons in ``resources/icons`` draw with ``currentColor``; :func:`icon` swaps in
a colour (by default the palette's text colour) and returns a :class:`QIcon` backed by
Qt's SVG icon engine, which re-renders the SVG at whatever size and device pixel ratio
is asked for, so nothing is a scaled bitmap at 200%. Delegates draw with :func:`render`.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QIcon,
    QPainter,
    QPalette,
)
from PySide6.QtSvg import QSvgRenderer


@functools.cache
def svg_source(name: str) -> str:
    return (resources.files("resources") / "icons" / f"{name}.svg").read_text(encoding="utf-8")


_tinted_dir: Path | None = None


def _tinted_file(name: str, color: QColor | None) -> str:
    """A file holding the named SVG with ``currentColor`` replaced (Qt's own SVG icon
    engine then renders it at every size and scale; no Python icon engine to outlive)."""
    global _tinted_dir
    if _tinted_dir is None:
        _tinted_dir = Path(tempfile.mkdtemp(prefix="frontdesk-icons-"))
        atexit.register(shutil.rmtree, _tinted_dir, True)
    hexcolor = color.name(QColor.NameFormat.HexRgb) if color is not None else "none"
    path = _tinted_dir / f"{name}-{hexcolor.lstrip('#')}.svg"
    if not path.exists():
        text = svg_source(name)
        if color is not None:
            text = text.replace("currentColor", hexcolor)
        path.write_text(text, encoding="utf-8")
    return str(path)


def icon(name: str, color: QColor | None = None, palette: QPalette | None = None) -> QIcon:
    """The named icon tinted ``color`` (default: the palette's window text colour)."""
    pal = palette or QGuiApplication.palette()
    svg = svg_source(name)
    if "currentColor" not in svg:
        return QIcon(_tinted_file(name, None))
    tint = color or pal.color(QPalette.ColorRole.WindowText)
    disabled = pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
    result = QIcon(_tinted_file(name, tint))
    for size in (16, 20, 24, 32):
        result.addFile(_tinted_file(name, disabled), QSize(size, size), QIcon.Mode.Disabled)
    return result


def app_icon() -> QIcon:
    return QIcon(_tinted_file("app", None))


def render(name: str, painter: QPainter, rect: QRectF, color: QColor) -> None:
    """Draw the named icon straight into ``rect`` (delegates use this: vector, no bitmap)."""
    text = svg_source(name).replace("currentColor", color.name(QColor.NameFormat.HexRgb))
    renderer = _cached_renderer(text)
    renderer.render(painter, rect)


@functools.lru_cache(maxsize=64)
def _cached_renderer(text: str) -> QSvgRenderer:
    return QSvgRenderer(QByteArray(text.encode("utf-8")))
