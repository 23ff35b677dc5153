"""The Connection page in an office: which PC holds the number, and "Take over the
number" on a desk client (two real runtimes on one PostgreSQL database)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.app import Shell
from desktop.health import RuntimeHealth
from tests.harness import running_app
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn
from tests.ui.conftest import until
from ui.health_page import HealthPage


@pytest.fixture
def office_url() -> Iterator[str]:
    from tests.conftest import _fresh_postgres_database

    yield from _fresh_postgres_database()


def _pc(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "this-pc.json").write_text(json.dumps({"pc_name": name}))
    return folder


@pytest.mark.postgres
def test_a_desk_client_sees_the_holder_and_takes_the_number_over(
    office_url: str, tmp_path: Path, twilio_standin: TwilioStandIn, qtbot: QtBot, run: Any
) -> None:
    async def scenario() -> None:
        async with (
            running_app(office_url, _pc(tmp_path, "FRONT-PC"), twilio_standin) as a,
            running_app(office_url, _pc(tmp_path, "BACK-PC"), twilio_standin) as b,
        ):
            assert a.runtime.holding and not b.runtime.holding
            page = HealthPage(RuntimeHealth(b.runtime), refresh_seconds=0)
            page._tasks.quiet = True
            Shell._follow_office(page, b.runtime)  # as the composition root wires it
            qtbot.addWidget(page)
            page.resize(1024, 700)
            page.show()
            await until(lambda: page.snapshot is not None)
            snap = page.snapshot
            assert snap is not None and snap.desk_client and snap.healthy
            assert page.office_box.isVisible()
            assert page.this_pc.text() == "BACK-PC"
            assert page.holder.text() == "FRONT-PC"
            assert page.summary.text().startswith("Desk client: FRONT-PC holds the number")
            assert page.points_here.text() == "No: at FRONT-PC"
            assert page.take_over.isVisible() and page.take_over.isEnabled()

            qtbot.mouseClick(page.take_over, Qt.MouseButton.LeftButton)
            assert page.take_over.text() == "Asking…" and not page.take_over.isEnabled()
            await until(lambda: b.runtime.holding, timeout=10)
            assert not a.runtime.holding
            await until(lambda: page.holder.text() == "BACK-PC (this PC)", timeout=5)
            assert not page.take_over.isVisible()
            await until(lambda: page.summary.text().startswith("Healthy"), timeout=5)

            # The holder's own page: no take-over to offer.
            mine = HealthPage(RuntimeHealth(a.runtime), refresh_seconds=0)
            mine._tasks.quiet = True
            qtbot.addWidget(mine)
            mine.show()
            Shell._follow_office(mine, a.runtime)
            await until(lambda: mine.holder.text() == "BACK-PC", timeout=10)
            assert mine.take_over.isVisible()  # FRONT-PC is now the desk client
            page.shutdown()
            mine.shutdown()

    run(scenario())


def test_one_pc_holds_the_number_and_sqlite_shows_no_office(qtbot: QtBot, ui_app: Any) -> None:
    page = HealthPage(RuntimeHealth(ui_app.runtime), refresh_seconds=0)
    page._tasks.quiet = True
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.snapshot is not None, timeout=5000)
    rt = ui_app.runtime
    # PostgreSQL: an office of one, this PC holding the number; SQLite: one PC, no office.
    assert page.office_box.isVisible() is rt.office.shared
    if rt.office.shared:
        assert page.holder.text() == f"{rt.pc_name} (this PC)"
    assert not page.take_over.isVisible()
    assert page.summary.text().startswith("Healthy")
    page.shutdown()
