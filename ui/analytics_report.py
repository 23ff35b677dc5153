"""The one-page PDF report of a period, with Qt's own PDF writer (QPdfWriter and
QTextDocument: part of PySide6-Essentials' QtGui; no QtPdf or browser engine needed).

The page holds the headline figures against the previous period, the daily trend and
the heatmap (painted as on screen, on a light palette whatever the desktop's), and the
per-person and per-number tables. It is always printed on light paper colours.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from zoneinfo import ZoneInfo

from PySide6.QtCore import QMarginsF, QSize, QSizeF, QUrl
from PySide6.QtGui import (
    QColor,
    QPageLayout,
    QPageSize,
    QPainter,
    QPalette,
    QPdfWriter,
    QTextDocument,
)

from services.analytics_export import HEADLINE
from services.analytics_types import AnalyticsReport
from ui.analytics_charts import chart_image, paint_heatmap, paint_trend
from ui.analytics_format import format_delta, format_value

__all__ = ["paper_palette", "report_html", "write_pdf"]


def paper_palette() -> QPalette:
    """Black on white with a blue highlight: the report's colours on any desktop theme."""
    palette = QPalette()
    for role, colour in (
        (QPalette.ColorRole.Window, "#ffffff"),
        (QPalette.ColorRole.WindowText, "#202124"),
        (QPalette.ColorRole.Base, "#ffffff"),
        (QPalette.ColorRole.Text, "#202124"),
        (QPalette.ColorRole.Highlight, "#1f6fb5"),
        (QPalette.ColorRole.HighlightedText, "#ffffff"),
    ):
        palette.setColor(role, QColor(colour))
    return palette


def report_html(report: AnalyticsReport) -> str:
    """The page as Qt rich text; images ``trend.png`` and ``heatmap.png`` are resources."""
    r, now, before = report, report.current, report.previous
    tz = r.timezone.replace("_", " ")
    first = r.start.astimezone(_zone(r)).strftime("%b %d, %Y %H:%M")
    last = r.end.astimezone(_zone(r)).strftime("%b %d, %Y %H:%M")
    where = r.location or "all numbers"
    rows = []
    unit = now.cost_unit
    for h in HEADLINE:
        delta, colour = format_delta(h, now, before, unit)
        style = f' style="color:{colour}"' if colour else ""
        this, then = (
            format_value(h.read(now), h.kind, unit),
            format_value(h.read(before), h.kind, unit),
        )
        rows.append(
            f"<tr><td>{escape(h.label)}</td><td align=right><b>{escape(this)}</b></td>"
            f"<td align=right>{escape(then)}</td><td align=right{style}>{escape(delta)}</td></tr>"
        )
    people = (
        "".join(
            f"<tr><td>{escape(p.name or '(not recorded)')}</td><td align=right>{p.replies}</td>"
            f"<td align=right>{p.callbacks}</td><td align=right>{p.bookings}</td></tr>"
            for p in r.people[:8]
        )
        or "<tr><td colspan=4>Nobody replied, called back or booked.</td></tr>"
    )
    places = (
        "".join(
            f"<tr><td>{escape(loc.label)}</td>"
            f"<td align=right>{loc.missed_calls}</td><td align=right>{loc.missed_callers}</td>"
            f"<td align=right>{loc.recovered_callers}</td></tr>"
            for loc in r.locations[:8]
        )
        or "<tr><td colspan=4>No missed calls.</td></tr>"
    )
    head = 'style="background:#eef2f6"'
    return f"""
<html><body style="font-family: sans-serif; font-size: 9pt; color: #202124">
<h2 style="margin:0">Frontdesk: what missed calls cost, and what came back</h2>
<p style="margin-top:2px">{escape(first)} to {escape(last)} ({escape(tz)} time), {escape(where)};
compared with the same length of time before.</p>
<table width="100%" cellspacing=0 cellpadding=3 border=0>
<tr {head}><th align=left>Figure</th><th align=right>This period</th>
<th align=right>Before</th><th align=right>Change</th></tr>
{"".join(rows)}
</table>
<p><b>Missed and recovered calls, by day</b><br><img src="trend.png" width=680 height=170></p>
<p><b>When calls are missed</b> (weekday × hour)<br><img src="heatmap.png" width=680 height=150></p>
<table width="100%" cellspacing=0 cellpadding=0 border=0><tr>
<td width="50%" valign=top>
<table width="100%" cellspacing=0 cellpadding=2>
<tr {head}><th align=left>Person</th><th align=right>Replies</th><th align=right>Callbacks</th>
<th align=right>Bookings</th></tr>{people}</table></td>
<td width="4%"></td>
<td width="46%" valign=top>
<table width="100%" cellspacing=0 cellpadding=2>
<tr {head}><th align=left>Number called</th><th align=right>Missed</th><th align=right>Callers</th>
<th align=right>Recovered</th></tr>{places}</table></td>
</tr></table>
<p style="color:#5f6368">Recovered: a missed caller who replied, was called back or booked
within 7 days of the call; only those bookings count as recovered value. First human reply:
from a caller's text or missed call to the desk's first typed answer. Cost is Twilio's own
price of each text and call ({now.unpriced} not priced by Twilio yet).</p>
</body></html>"""


def _zone(report: AnalyticsReport) -> ZoneInfo:
    return ZoneInfo(report.timezone)


def write_pdf(report: AnalyticsReport, path: Path, palette: QPalette | None = None) -> None:
    """Write the one-page report to ``path`` (US Letter, portrait). Raises OSError when
    the file cannot be written. ``palette`` is ignored: paper is always light."""
    del palette
    paper = paper_palette()
    writer = QPdfWriter(str(path))
    writer.setTitle("Frontdesk analytics")
    writer.setCreator("Frontdesk")
    writer.setResolution(300)
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.Letter),
            QPageLayout.Orientation.Portrait,
            QMarginsF(12, 12, 12, 12),
            QPageLayout.Unit.Millimeter,
        )
    )
    doc = QTextDocument()
    doc.setDocumentMargin(0)
    doc.addResource(
        QTextDocument.ResourceType.ImageResource,
        QUrl("trend.png"),
        chart_image(paint_trend, report.days, paper, QSize(680, 170)),
    )
    doc.addResource(
        QTextDocument.ResourceType.ImageResource,
        QUrl("heatmap.png"),
        chart_image(paint_heatmap, report.heatmap, paper, QSize(680, 150)),
    )
    doc.setHtml(report_html(report))
    # Lay the page out at 96 dpi-like logical units across the printable width, then
    # scale it onto the 300 dpi page: one page whatever the printer resolution.
    rect = writer.pageLayout().paintRectPixels(writer.resolution())
    logical_width = 720.0
    scale = rect.width() / logical_width
    doc.setPageSize(QSizeF(logical_width, rect.height() / scale))
    painter = QPainter()
    if not painter.begin(writer):
        raise OSError(f"cannot write {path}")
    try:
        painter.scale(scale, scale)
        doc.drawContents(painter)
    finally:
        painter.end()
    if not path.exists() or path.stat().st_size == 0:
        raise OSError(f"cannot write {path}")
