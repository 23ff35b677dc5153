"""Palette-aware styling: every colour is derived from the system palette's roles, so the
app follows light and dark mode and high-contrast themes without hard-coded backgrounds.
"""

from __future__ import annotations

import zlib

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

Role = QPalette.ColorRole


def is_dark(palette: QPalette) -> bool:
    return palette.color(Role.Window).lightnessF() < 0.5


def blend(a: QColor, b: QColor, t: float) -> QColor:
    """``a`` moved ``t`` (0..1) of the way towards ``b``."""
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * t,
        a.greenF() + (b.greenF() - a.greenF()) * t,
        a.blueF() + (b.blueF() - a.blueF()) * t,
        1.0,
    )


def accent(palette: QPalette) -> QColor:
    return palette.color(Role.Highlight)


def muted_text(palette: QPalette) -> QColor:
    """Secondary text: between text and base, still readable (≥ 4.5:1 on typical themes)."""
    return blend(palette.color(Role.Text), palette.color(Role.Base), 0.38)


def bubble_colors(palette: QPalette, outgoing: bool) -> tuple[QColor, QColor]:
    """(background, text) for a message bubble."""
    if outgoing:
        return palette.color(Role.Highlight), palette.color(Role.HighlightedText)
    base, text = palette.color(Role.Base), palette.color(Role.Text)
    return blend(base, text, 0.10 if not is_dark(palette) else 0.16), text


def note_colors(palette: QPalette) -> tuple[QColor, QColor, QColor]:
    """(background, text, dashed edge) for an internal note: amber, never a bubble's blue
    or grey, so a note cannot be mistaken for a text that was sent."""
    if is_dark(palette):
        return QColor("#3b3212"), QColor("#fde68a"), QColor("#a16207")
    return QColor("#fef3c7"), QColor("#422006"), QColor("#d97706")


def danger(palette: QPalette) -> QColor:
    return QColor("#f87171") if is_dark(palette) else QColor("#b91c1c")


def error_style() -> str:
    """A style sheet colouring a label's text as an error, for the current palette."""
    return f"color: {danger(QApplication.palette()).name()};"


def warning_style() -> str:
    return f"color: {warning(QApplication.palette()).name()};"


def warning(palette: QPalette) -> QColor:
    return QColor("#fbbf24") if is_dark(palette) else QColor("#92400e")


def success(palette: QPalette) -> QColor:
    return QColor("#4ade80") if is_dark(palette) else QColor("#166534")


_TAG_HUES = {"missed call": 0, "pending callback": 32, "booked": 140}


def tag_colors(tag: str, palette: QPalette) -> tuple[QColor, QColor]:
    """(background, text) for a tag chip; a stable hue per tag name."""
    hue = _TAG_HUES.get(tag, zlib.crc32(tag.encode("utf-8")) % 360)
    if is_dark(palette):
        return QColor.fromHsl(hue, 90, 60), QColor.fromHsl(hue, 160, 215)
    return QColor.fromHsl(hue, 150, 228), QColor.fromHsl(hue, 170, 60)


def badge_colors(palette: QPalette) -> tuple[QColor, QColor]:
    return palette.color(Role.Highlight), palette.color(Role.HighlightedText)


def small_font(font: QFont, delta: float = -1.5) -> QFont:
    f = QFont(font)
    size = f.pointSizeF()
    if size > 0:
        f.setPointSizeF(max(7.0, size + delta))
    return f


def bold(font: QFont) -> QFont:
    f = QFont(font)
    f.setBold(True)
    return f


STYLE = """
QListView#sidebar { border: none; background: palette(window); padding-top: 6px; }
QListView#sidebar::item { padding: 8px 10px; border-radius: 6px; margin: 1px 6px; }
QListView#sidebar::item:selected {
    background: palette(highlight); color: palette(highlighted-text);
}
QLabel[role="heading"] { font-weight: 600; }
QLabel[role="muted"] { color: palette(placeholder-text); }
QFrame#contactPanel, QFrame#threadHeader { background: palette(window); }
QToolButton#filterButton {
    padding: 3px 10px; border-radius: 10px; border: 1px solid palette(mid);
}
QToolButton#filterButton:checked {
    background: palette(highlight); color: palette(highlighted-text);
    border-color: palette(highlight);
}
"""


class _Restyler(QObject):
    """Re-installs the stylesheet when the palette changes (light → dark while running):
    Qt resolves ``palette(...)`` in a stylesheet when it is set, so without this the
    filter chips kept the old scheme's colours and became unreadable."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.ApplicationPaletteChange
            and watched is QApplication.instance()
        ):
            app = QApplication.instance()
            if isinstance(app, QApplication):
                app.setStyleSheet(STYLE)
        return False


def apply(app: QApplication) -> None:
    """Install the small palette-based stylesheet (no colours of its own), and again
    whenever the application palette changes."""
    app.setStyleSheet(STYLE)
    if app.findChild(_Restyler, "frontdeskRestyler") is None:
        restyler = _Restyler(app)
        restyler.setObjectName("frontdeskRestyler")
        app.installEventFilter(restyler)
