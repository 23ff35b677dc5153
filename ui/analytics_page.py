"""Analytics: what Frontdesk recovered, as cards, and the missed calls by hour of day.

The figures come from an :class:`~services.api.AnalyticsApi` (``analytics(period)``);
the bar chart is painted with QPainter (QtCharts is not part of PySide6-Essentials).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from services.analytics_types import PERIOD_LABELS, PERIODS, AnalyticsSummary, Period
from services.api import AnalyticsApi
from ui.widgets.page_parts import page_heading
from ui.widgets.tasks import TaskRunner
from ui.widgets.time_format import format_duration, money


def _hour_label(hour: int) -> str:
    if hour == 0:
        return "12a"
    if hour == 12:
        return "12p"
    return f"{hour % 12}{'a' if hour < 12 else 'p'}"


class HourChart(QWidget):
    """24 bars: missed calls by hour of day (business time zone)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("hourChart")
        self._counts: tuple[int, ...] = (0,) * 24
        self.setMinimumHeight(200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_counts(self, counts: tuple[int, ...]) -> None:
        self._counts = tuple(counts[:24]) + (0,) * max(0, 24 - len(counts))
        self.setToolTip(
            "\n".join(f"{_hour_label(h)}: {n}" for h, n in enumerate(self._counts) if n)
            or "No missed calls in this period"
        )
        self.update()

    def counts(self) -> tuple[int, ...]:
        return self._counts

    def sizeHint(self) -> QSize:
        return QSize(600, 240)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        faint = QColor(text)
        faint.setAlphaF(0.15)
        bar = palette.color(QPalette.ColorRole.Highlight)
        metrics = self.fontMetrics()
        line = metrics.height()
        top = line + 4
        bottom = self.height() - line - 6
        left = metrics.horizontalAdvance("000") + 8
        right = self.width() - 6
        height = max(1, bottom - top)
        peak = max(self._counts) if any(self._counts) else 0
        scale = max(1, peak)

        # Axis and a top guide with the peak value.
        painter.setPen(faint)
        painter.drawLine(left, bottom, right, bottom)
        painter.drawLine(left, top, right, top)
        painter.setPen(text)
        painter.drawText(
            QRectF(0, top - line / 2, left - 6, line),
            int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
            str(scale),
        )
        painter.drawText(
            QRectF(0, bottom - line / 2, left - 6, line),
            int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
            "0",
        )

        slot = (right - left) / 24
        gap = max(1.0, slot * 0.2)
        for hour, count in enumerate(self._counts):
            x = left + hour * slot
            if count:
                h = height * count / scale
                painter.fillRect(QRectF(x + gap / 2, bottom - h, slot - gap, h), bar)
            if hour % 3 == 0:
                painter.setPen(text)
                painter.drawText(
                    QRectF(x - slot, bottom + 3, slot * 3, line),
                    int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop),
                    _hour_label(hour),
                )
        if peak == 0:
            painter.setPen(text)
            painter.drawText(
                QRectF(left, top, right - left, height),
                int(Qt.AlignmentFlag.AlignCenter),
                "No missed calls in this period",
            )
        painter.end()


class Card(QFrame):
    """One figure: a big number, its name, and a line of detail."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#card { background: palette(base); border-radius: 10px; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 12)
        layout.setSpacing(2)
        self.name = QLabel(name)
        self.name.setStyleSheet("color: palette(placeholder-text);")
        self.value = QLabel("–")
        self.value.setObjectName("cardValue")
        font = QFont(self.value.font())
        font.setPointSizeF(font.pointSizeF() * 2.0)
        font.setBold(True)
        self.value.setFont(font)
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        self.detail.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.name)
        layout.addWidget(self.value)
        layout.addWidget(self.detail)
        layout.addStretch(1)
        self.setMinimumWidth(170)

    def set(self, value: str, detail: str = "") -> None:
        self.value.setText(value)
        self.detail.setText(detail)


class AnalyticsPage(QWidget):
    """The Analytics screen.

    ``analytics`` computes the figures; ``events`` (optional) is any QObject with
    ``callChanged(int)`` / ``conversationChanged(int, int)`` / ``contactChanged(int)`` /
    ``everythingChanged()``:
    while the page is visible, the figures are refreshed shortly after a change.
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
        self.summary: AnalyticsSummary | None = None
        self._loaded_once = False
        self._generation = 0

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(12)
        top = QHBoxLayout()
        top.addWidget(page_heading("Analytics"))
        top.addStretch(1)
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
        layout.addLayout(top)

        grid = QGridLayout()
        grid.setSpacing(12)
        self.cards = {
            "missed": Card("Missed calls"),
            "texts": Card("Texts sent"),
            "replies": Card("Replied"),
            "speed": Card("Time to text"),
            "bookings": Card("Booked"),
            "value": Card("Booked value"),
        }
        for i, card in enumerate(self.cards.values()):
            grid.addWidget(card, i // 3, i % 3)
        layout.addLayout(grid)

        chart_title = QLabel("<b>Missed calls by hour of day</b>")
        layout.addWidget(chart_title)
        self.chart = HourChart()
        self.chart.setMaximumHeight(380)
        layout.addWidget(self.chart, 1)
        self.footnote = QLabel()
        self.footnote.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(self.footnote)
        layout.addStretch(0)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(1500)
        self._refresh_timer.timeout.connect(self._refresh_if_visible)
        for name in ("callChanged", "conversationChanged", "contactChanged", "everythingChanged"):
            signal = getattr(events, name, None)
            if signal is not None:
                signal.connect(lambda *_: self._refresh_timer.start())

    # ---- data ----------------------------------------------------------------------
    def set_period(self, period: Period) -> None:
        self.period = period
        self.period_buttons[period].setChecked(True)
        self.tasks.spawn(self.load(), what="load the analytics")

    async def load(self) -> None:
        self._loaded_once = True
        self._generation += 1
        generation = self._generation
        summary = await self._analytics.analytics(self.period)
        if generation == self._generation:
            self.show_summary(summary)

    def show_summary(self, s: AnalyticsSummary) -> None:
        self.summary = s
        busiest = max(range(24), key=lambda h: s.missed_by_hour[h])
        self.cards["missed"].set(
            str(s.missed_calls),
            f"Busiest hour: {_hour_label(busiest)}–{_hour_label((busiest + 1) % 24)}"
            if s.missed_calls
            else "None missed in this period",
        )
        self.cards["texts"].set(
            str(s.texts_sent),
            f"{s.delivered} delivered" if s.texts_sent else "Automatic texts that went out",
        )
        rate = s.reply_rate
        self.cards["replies"].set(
            "–" if rate is None else f"{round(rate * 100)}%",
            f"{s.replied_callers} of {s.texted_callers} texted callers replied"
            if s.texted_callers
            else "No callers were texted yet",
        )
        median = s.median_seconds_to_text
        self.cards["speed"].set(
            "–" if median is None else format_duration(median),
            "Median, from the missed call to the text",
        )
        self.cards["bookings"].set(str(s.bookings), "Contacts marked booked")
        self.cards["value"].set(
            money(s.booked_value_cents) if s.bookings else "$0",
            "Revenue recovered (booked jobs' value)",
        )
        self.chart.set_counts(s.missed_by_hour)
        self.footnote.setText(f"Hours in {s.timezone.replace('_', ' ')} time.")

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
