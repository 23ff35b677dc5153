"""Analytics page: the figures of a real missed call, texted and replied, and the chart."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
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

            await app.engine.send_reply(maria, "We can come at 9", author="Dana")
            await app.idle()

            page = AnalyticsPage(Analytics(app.runtime.db, app.runtime.clock))
            page.tasks.quiet = True
            qtbot.addWidget(page)
            page.resize(1024, 700)
            page.show()
            await until(lambda: page.report is not None)
            cards = page.cards
            assert cards["missed_calls"].value.text() == "2"
            # Nothing missed in the week before: every count rose from zero.
            assert cards["missed_calls"].delta.text() == "▲ 2 vs before"
            assert cards["reply_rate"].value.text() == "50%"
            assert cards["reply_rate"].detail.text() == "1 of 2 texted callers replied"
            assert cards["recovered_callers"].value.text() == "1"
            assert cards["recovered_callers"].detail.text() == (
                "1 replied, 0 called back, 1 booked within 7 days"
            )
            assert cards["recovered_value"].value.text() == "$180.00"
            assert cards["recovered_value"].delta.text() == "▲ $180.00 vs before"
            assert cards["median_to_text"].value.text().endswith(" s")
            assert cards["median_to_human"].detail.text().endswith("; 1 answered")
            assert sum(d.missed_calls for d in page.trend.days()) == 2
            assert sum(d.recovered_calls for d in page.trend.days()) == 1
            assert sum(map(sum, page.heatmap.cells())) == 2
            people = page.people
            assert [people.item(0, c).text() for c in range(4)] == ["Dana", "1", "0", "0"]
            assert page.places.item(0, 0).text() == "Main · (500) 555-0001"
            assert page.places.item(0, 3).text() == "1"

            qtbot.mouseClick(page.period_buttons["today"], Qt.MouseButton.LeftButton)
            await until(lambda: page.report is not None and page.report.period == "today")
            assert cards["missed_calls"].value.text() == "2"
            page.grab()  # paints without error

            # Limit to another number: nothing missed there.
            page.location_box.addItem("+15005550099", "+15005550099")
            page.location_box.setCurrentIndex(page.location_box.count() - 1)
            page.location_box.activated.emit(page.location_box.count() - 1)
            await until(lambda: page.report is not None and page.report.location is not None)
            assert cards["missed_calls"].value.text() == "0"
            page.set_location(None)
            await until(lambda: page.report is not None and page.report.location is None)

            # The report, as PDF (one page, rendered) and CSV.
            page.ask_path = lambda _title, name, _filter: str(tmp_path / name)
            pdf = page.export("pdf")
            if os.environ.get("FRONTDESK_KEEP_REPORT") and pdf is not None:
                shutil.copy(pdf, os.environ["FRONTDESK_KEEP_REPORT"])
            assert pdf is not None and pdf.read_bytes().startswith(b"%PDF")
            if shutil.which("pdfinfo"):
                info = subprocess.run(
                    ["pdfinfo", str(pdf)], capture_output=True, text=True, check=True
                ).stdout
                assert re.search(r"^Pages:\s+1$", info, re.MULTILINE), info
            csv_path = page.export("csv")
            assert csv_path is not None
            rows = csv_path.read_text().splitlines()
            assert rows[0] == "section,item,value,previous"
            assert "figures,missed_calls,2,0" in rows
            assert "figures,recovered_value,180.00,0.00" in rows
            assert "person,Dana,1,0/0" in rows
            page.ask_path = lambda *_: ""
            assert page.export("csv") is None  # cancelled: nothing written
            page.shutdown()

    run(scenario())
