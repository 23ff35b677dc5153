"""Analytics page: the figures of a real missed call, texted and replied, and the chart."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from services.analytics import Analytics
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn
from tests.ui.conftest import sqlite_app, until
from ui.analytics_page import AnalyticsPage

CALLER = "+14155550123"


def test_cards_and_chart_on_seeded_calls(
    twilio_standin: TwilioStandIn, qtbot: QtBot, run: Any, tmp_path: Path
) -> None:
    async def scenario() -> None:
        async with sqlite_app(
            tmp_path, twilio_standin, settings={"business.timezone": "UTC"}
        ) as app:
            await app.missed_call(CALLER)
            await app.missed_call("+14155550188")
            await twilio_standin.wait_for_messages(2)
            await app.idle()
            await app.reply(CALLER, "Yes please")
            calls = await app.inbox.missed_calls()
            maria = next(c.contact_id for c in calls if c.phone == CALLER)
            await app.inbox.mark_booked(maria, 18000, actor="test")
            await app.idle()

            page = AnalyticsPage(Analytics(app.runtime.db, app.runtime.clock))
            page.tasks.quiet = True
            qtbot.addWidget(page)
            page.resize(900, 640)
            page.show()
            await until(lambda: page.summary is not None)
            assert page.cards["missed"].value.text() == "2"
            assert page.cards["texts"].value.text() == "2"
            assert page.cards["replies"].value.text() == "50%"
            assert page.cards["replies"].detail.text() == "1 of 2 texted callers replied"
            assert page.cards["bookings"].value.text() == "1"
            assert page.cards["value"].value.text() == "$180.00"
            assert page.cards["speed"].value.text().endswith(" s")
            hour = datetime.now(UTC).hour
            counts = page.chart.counts()
            assert sum(counts) == 2
            assert counts[hour] == 2 or counts[(hour - 1) % 24] + counts[hour] == 2

            qtbot.mouseClick(page.period_buttons["today"], Qt.MouseButton.LeftButton)
            await until(lambda: page.summary is not None and page.summary.period == "today")
            assert page.cards["missed"].value.text() == "2"
            page.grab()  # paints without error
            page.shutdown()

    run(scenario())
