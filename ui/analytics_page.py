"""Analytics: what missed calls cost and what Frontdesk won back, against the period before.

The figures come from an :class:`~services.api.AnalyticsApi` (``analytics(period,
location=...)``) as one :class:`~services.analytics_types.AnalyticsReport`; this page only
shows that snapshot: cards with the change since the previous period, the daily trend,
the weekday x hour heatmap, per-person and per-number tables, and exports the report
(PDF and CSV, :mod:`ui.analytics_report`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QFont, QPalette, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from services.analytics_export import HEADLINE, Headline, report_csv
from services.analytics_types import PERIOD_LABELS, PERIODS, AnalyticsReport, Figures, Period
from services.api import AnalyticsApi
from ui.analytics_charts import Heatmap, TrendChart, hour_label
from ui.analytics_format import ON_DARK, format_delta, format_value
from ui.analytics_report import write_pdf
from ui.widgets.page_parts import page_heading
from ui.widgets.tasks import TaskRunner
from ui.widgets.time_format import money

ALL_NUMBERS = "All numbers"


class Card(QFrame):
    """One figure: its name, a big value, the change since the previous period, a note."""

    def __init__(self, headline: Headline, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.headline = headline
        self.setObjectName("card")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#card { background: palette(base); border-radius: 10px; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 10)
        layout.setSpacing(1)
        self.name = QLabel(headline.label)
        self.name.setStyleSheet("color: palette(placeholder-text);")
        self.value = QLabel("–")
        self.value.setObjectName("cardValue")
        font = QFont(self.value.font())
        font.setPointSizeF(font.pointSizeF() * 1.7)
        font.setBold(True)
        self.value.setFont(font)
        self.delta = QLabel("")
        self.delta.setObjectName("cardDelta")
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        self.detail.setStyleSheet("color: palette(placeholder-text);")
        for widget in (self.name, self.value, self.delta, self.detail):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.setMinimumWidth(150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

    def show_figures(self, now: Figures, before: Figures, detail: str = "") -> None:
        unit = now.cost_unit
        self.value.setText(format_value(self.headline.read(now), self.headline.kind, unit))
        text, colour = format_delta(self.headline, now, before, unit)
        self.delta.setText(text)
        if colour and self.palette().color(QPalette.ColorRole.Window).lightnessF() < 0.5:
            colour = ON_DARK.get(colour, colour)  # the paper colours are too dim on dark
        plain = "color: palette(placeholder-text);"
        self.delta.setStyleSheet(f"color: {colour};" if colour else plain)
        self.detail.setText(detail)


def _table(name: str, headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.verticalHeader().hide()
    table.setShowGrid(False)
    table.setAlternatingRowColors(True)
    header = table.horizontalHeader()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for i in range(1, len(headers)):
        header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
    table.setMinimumHeight(120)
    table.setMaximumHeight(220)
    return table


def _fill(table: QTableWidget, rows: list[list[str]], empty: str) -> None:
    table.setRowCount(max(1, len(rows)))
    table.clearContents()
    if not rows:
        table.setSpan(0, 0, 1, table.columnCount())
        table.setItem(0, 0, QTableWidgetItem(empty))
        return
    table.clearSpans()
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = QTableWidgetItem(text)
            if c:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)


class AnalyticsPage(QWidget):
    """The Analytics screen.

    ``analytics`` computes the figures; ``events`` (optional) is any QObject with
    ``callChanged(int)`` / ``conversationChanged(int, int)`` / ``contactChanged(int)`` /
    ``everythingChanged()``:
    while the page is visible, the figures are refreshed shortly after a change.
    ``ask_path`` (tests) replaces the save dialog: ``(title, suggested name, filter) ->
    path or ""``.
    """

    def __init__(
        self,
        analytics: AnalyticsApi,
        events: QObject | None = None,
        *,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("analyticsPage")
        self._analytics = analytics
        self.tasks = TaskRunner(self)
        self.period: Period = "7d"
        self.location: str | None = None
        self.report: AnalyticsReport | None = None
        self._generation = 0
        self.ask_path = self._ask_path
        self.last_export: Path | None = None

        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 12, 16, 8)
        outer.setSpacing(8)
        top = QHBoxLayout()
        top.addWidget(page_heading("Analytics"))
        top.addStretch(1)
        self.location_box = QComboBox()
        self.location_box.setObjectName("locationBox")
        self.location_box.addItem(ALL_NUMBERS)
        self.location_box.setToolTip(
            "Limit the figures to one number: its missed calls and its location's texts"
        )
        self.location_box.activated.connect(self._location_chosen)
        top.addWidget(self.location_box)
        self.period_buttons: dict[Period, QPushButton] = {}
        group = QButtonGroup(self)
        group.setExclusive(True)
        for period in PERIODS:
            button = QPushButton(PERIOD_LABELS[period])
            button.setCheckable(True)
            button.setObjectName(f"period:{period}")
            button.clicked.connect(lambda _=False, p=period: self.set_period(p))
            group.addButton(button)
            top.addWidget(button)
            self.period_buttons[period] = button
        self.period_buttons[self.period].setChecked(True)
        self.export_button = QToolButton()
        self.export_button.setObjectName("exportReport")
        self.export_button.setText("Export…")
        self.export_button.setToolTip("Save this period's report as a one-page PDF or a CSV")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        menu.addAction("PDF (one page)…", lambda: self.export("pdf"))
        menu.addAction("CSV (spreadsheet)…", lambda: self.export("csv"))
        self.export_button.setMenu(menu)
        top.addWidget(self.export_button)
        outer.addLayout(top)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.setSpacing(10)
        scroll.setWidget(body)
        outer.addWidget(scroll, 1)

        self.cards_grid = QGridLayout()
        self.cards_grid.setSpacing(10)
        shown = (
            "missed_calls",
            "recovered_callers",
            "recovered_value",
            "reply_rate",
            "median_to_human",
            "median_to_text",
            "textback_cost",
            "twilio_cost",
        )
        by_key = {h.key: h for h in HEADLINE}
        self.cards: dict[str, Card] = {key: Card(by_key[key]) for key in shown}
        self._columns = 0
        layout.addLayout(self.cards_grid)
        self._arrange_cards(4)

        charts = QHBoxLayout()
        charts.setSpacing(12)
        trend_box = QVBoxLayout()
        trend_box.addWidget(QLabel("<b>Missed and recovered calls, by day</b>"))
        self.trend = TrendChart()
        trend_box.addWidget(self.trend, 1)
        heat_box = QVBoxLayout()
        heat_box.addWidget(QLabel("<b>When calls are missed</b> (weekday × hour)"))
        self.heatmap = Heatmap()
        heat_box.addWidget(self.heatmap, 1)
        charts.addLayout(trend_box, 1)
        charts.addLayout(heat_box, 1)
        layout.addLayout(charts, 1)

        tables = QHBoxLayout()
        tables.setSpacing(12)
        people_box = QVBoxLayout()
        people_box.addWidget(QLabel("<b>By person</b>"))
        self.people = _table("peopleTable", ["Person", "Replies", "Callbacks", "Bookings"])
        people_box.addWidget(self.people)
        places_box = QVBoxLayout()
        places_box.addWidget(QLabel("<b>By number called</b>"))
        self.places = _table("locationsTable", ["Number", "Missed", "Callers", "Recovered"])
        places_box.addWidget(self.places)
        tables.addLayout(people_box, 1)
        tables.addLayout(places_box, 1)
        layout.addLayout(tables)
        self.footnote = QLabel()
        self.footnote.setWordWrap(True)
        self.footnote.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.footnote)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(1500)
        self._refresh_timer.timeout.connect(self._refresh_if_visible)
        for name in ("callChanged", "conversationChanged", "contactChanged", "everythingChanged"):
            signal = getattr(events, name, None)
            if signal is not None:
                signal.connect(lambda *_: self._refresh_timer.start())

    # ---- layout --------------------------------------------------------------------
    def _arrange_cards(self, columns: int) -> None:
        if columns == self._columns:
            return
        self._columns = columns
        for card in self.cards.values():
            self.cards_grid.removeWidget(card)
        for i, card in enumerate(self.cards.values()):
            self.cards_grid.addWidget(card, i // columns, i % columns)

    def resizeEvent(self, event: QResizeEvent) -> None:
        # Four cards a row when they fit at a readable width, else two.
        width = self.width()
        self._arrange_cards(4 if width >= 4 * 200 else 2)
        super().resizeEvent(event)

    # ---- data ----------------------------------------------------------------------
    def set_period(self, period: Period) -> None:
        self.period = period
        self.period_buttons[period].setChecked(True)
        self.tasks.spawn(self.load(), what="load the analytics")

    def set_location(self, number: str | None) -> None:
        self.location = number
        self.tasks.spawn(self.load(), what="load the analytics")

    def _location_chosen(self, index: int) -> None:
        number = self.location_box.itemData(index)
        self.set_location(number if isinstance(number, str) and number else None)

    async def load(self) -> None:
        self._generation += 1
        generation = self._generation
        report = await self._analytics.analytics(self.period, location=self.location)
        if generation == self._generation:
            self.show_report(report)

    def show_report(self, r: AnalyticsReport) -> None:
        self.report = r
        now, before = r.current, r.previous
        busiest = max(range(24), key=lambda h: r.missed_by_hour[h])
        details = {
            "missed_calls": (
                f"{now.missed_callers} callers; busiest {hour_label(busiest)}–"
                f"{hour_label((busiest + 1) % 24)}"
                if now.missed_calls
                else "None missed in this period"
            ),
            "recovered_callers": (
                f"{now.recovered_by_reply} replied, {now.recovered_by_callback} called back, "
                f"{now.recovered_by_booking} booked within 7 days"
            ),
            "recovered_value": "Bookings that recovered a missed call",
            "reply_rate": (
                f"{now.replied_callers} of {now.texted_callers} texted callers replied"
                if now.texted_callers
                else "No callers were texted"
            ),
            "median_to_human": (
                f"p90 {format_value(now.p90_seconds_to_human, 'seconds')}; "
                f"{now.human_replies} answered"
                if now.human_replies
                else "No replies typed by the desk"
            ),
            "median_to_text": "From the missed call to the text-back",
            "textback_cost": (
                f"Returned {money(now.recovered_value_cents)} recovered"
                if now.textback_cost_micros or now.recovered_value_cents
                else "Twilio's price of text-backs and follow-ups"
            ),
            "twilio_cost": (
                f"{now.unpriced} not priced by Twilio yet"
                if now.unpriced
                else "Texts in and out, and calls"
            ),
        }
        for key, card in self.cards.items():
            card.show_figures(now, before, details[key])
        self.trend.set_days(r.days)
        self.heatmap.set_cells(r.heatmap)
        _fill(
            self.people,
            [
                [p.name or "(not recorded)", str(p.replies), str(p.callbacks), str(p.bookings)]
                for p in r.people
            ],
            "Nobody replied, called back or booked in this period",
        )
        _fill(
            self.places,
            [
                [
                    loc.label,
                    str(loc.missed_calls),
                    str(loc.missed_callers),
                    str(loc.recovered_callers),
                ]
                for loc in r.locations
            ],
            "No missed calls in this period",
        )
        if r.location is None:
            for loc in r.locations:
                if loc.number and self.location_box.findData(loc.number) < 0:
                    self.location_box.addItem(loc.label, loc.number)
        days = (r.end - r.start).total_seconds() / 86400
        self.footnote.setText(
            f"Compared with the {days:.3g} days before. Days and hours in "
            f"{r.timezone.replace('_', ' ')} time. Recovered: a missed caller who replied, "
            "was called back or booked within 7 days. Cost is Twilio's own price."
        )

    # ---- export --------------------------------------------------------------------
    def _ask_path(self, title: str, suggested: str, filter_: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, title, suggested, filter_)
        return path

    def export(self, kind: str) -> Path | None:
        """Save the shown period's report as ``kind`` ("pdf" | "csv"); the path or None."""
        if self.report is None:
            return None
        r = self.report
        stamp = f"{r.start.astimezone().date()}_{r.end.astimezone().date()}"
        suggested = f"frontdesk-analytics-{stamp}.{kind}"
        if kind == "pdf":
            path = self.ask_path("Save the report as PDF", suggested, "PDF (*.pdf)")
        else:
            path = self.ask_path("Save the report as CSV", suggested, "CSV (*.csv)")
        if not path:
            return None
        target = Path(path)
        try:
            if kind == "pdf":
                write_pdf(r, target, self.palette())
            else:
                target.write_text(report_csv(r), encoding="utf-8")
        except OSError as exc:
            self.tasks.report("save the report", exc)
            return None
        self.last_export = target
        return target

    def _refresh_if_visible(self) -> None:
        if self.isVisible():
            self.tasks.spawn(self.load(), what="refresh the analytics")

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        # Fresh figures each time the page is opened.
        self.tasks.spawn(self.load(), what="load the analytics")

    def shutdown(self) -> None:
        self._refresh_timer.stop()
        self.tasks.cancel_all()
