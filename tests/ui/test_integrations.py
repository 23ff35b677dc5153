"""Settings → Integrations on real widgets over the real runtime, and File → Export…"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot

from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn
from tests.ui.conftest import sqlite_app, until
from tests.webhook_receivers import Receivers
from ui.settings.integrations import IntegrationsBox


def test_add_endpoint_test_event_log_and_replay(
    twilio_standin: TwilioStandIn, qtbot: QtBot, run: Any, tmp_path: Path
) -> None:
    async def scenario() -> None:
        receivers = Receivers()
        await receivers.start()
        try:
            async with sqlite_app(tmp_path, twilio_standin) as app:
                box = IntegrationsBox(app.runtime.integrations)
                box.tasks.quiet = True
                qtbot.addWidget(box)
                box.resize(900, 700)
                box.show()
                # A refused URL is explained under the field; nothing is added.
                box.url.setText("http://example.com/hook")
                box.add_button.click()
                await until(lambda: "https only" in box.url_error.text())
                assert await app.runtime.integrations.endpoints() == []
                box.url.setText(receivers.base + "/ok/ui")
                box.add_button.click()
                await until(lambda: box.list.count() == 1)
                (view,) = await app.runtime.integrations.endpoints()
                secret = await app.runtime.integrations.signing_secret(view.id)
                assert secret and secret in box.secret_note.text()
                receivers.secrets["/ok/ui"] = secret
                box.test_button.click()
                await until(lambda: len(receivers.received) == 1)
                box.refresh()
                await until(
                    lambda: box.log.rowCount() == 1 and box.deliveries[0].state == "delivered"
                )
                assert box.log.item(0, 1).text() == "webhook.test"
                assert box.log.item(0, 2).text() == "Delivered"
                assert box.log.item(0, 3).text() == "200"
                assert box.log.item(0, 4).text() == "HTTP 200"
                assert box.log.item(0, 4).toolTip() == "delivered: HTTP 200"
                box.log.cellWidget(0, 5).click()  # Replay
                await until(lambda: len(receivers.received) == 2)
        finally:
            await receivers.close()

    run(scenario())


def test_file_export_writes_the_cli_json_off_the_gui_thread(
    twilio_standin: TwilioStandIn, qtbot: QtBot, run: Any, tmp_path: Path
) -> None:
    from functools import partial

    from PySide6.QtCore import QSettings

    from services import export
    from services.export_file import export_to
    from ui.event_bridge import EventBridge
    from ui.main_window import MainWindow

    async def scenario() -> None:
        async with sqlite_app(tmp_path, twilio_standin) as app:
            await app.missed_call("+14155550123")
            await twilio_standin.wait_for_messages(1)
            await app.idle()
            bridge = EventBridge(app.runtime.bus)
            store = QSettings(str(tmp_path / "w.ini"), QSettings.Format.IniFormat)
            window = MainWindow([], app.inbox, bridge, store)
            window.tasks.quiet = True
            qtbot.addWidget(window)
            assert not window.export_action.isEnabled()
            window.set_exporter(partial(export_to, app.runtime.db))
            assert window.export_action.isEnabled()
            for fmt in ("json", "csv"):
                target = tmp_path / f"out.{fmt}"
                dialog = window.start_export(str(target), fmt)
                await until(lambda t=target, d=dialog: t.exists() and not d.isVisible())
                total = await app.runtime.db.run(lambda uow: export.count_rows(uow.session))
                assert window.export_progress[-1] == (total, total) and total >= 3
                assert dialog.maximum() == total
                expected = await app.runtime.db.run(lambda uow: export.collect(uow.session))
                raw = target.read_bytes()
                want = export.to_json(expected) if fmt == "json" else export.to_csv(expected)
                assert raw == want.encode("utf-8"), "byte for byte what the CLI writes"
                assert (target.stat().st_mode & 0o777) == 0o600
            data = json.loads((tmp_path / "out.json").read_text())
            assert data["calls"][0]["outcome"] == "missed"
            assert not (tmp_path / "out.json.part").exists()

    run(scenario())


def _big_inbox(tmp_path: Path) -> str:
    """A SQLite workspace of 600 contacts and 24,000 messages (bench.fill_db's history)."""
    from bench.fill_db import fill

    url = f"sqlite:///{tmp_path / 'big.db'}"
    fill(url, 600, 24_000, seed=7)
    return url


def test_export_of_a_large_inbox_reports_records_and_cancels_without_a_file(
    twilio_standin: TwilioStandIn, qtbot: QtBot, run: Any, tmp_path: Path
) -> None:
    """The bar counts records read, then written, up to the inbox's total; Cancel (a real
    click) in either stage stops the export, leaves no partial file and keeps the file
    that was there before; a later export writes what the CLI writes."""
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtWidgets import QPushButton

    from services import export
    from services.export_file import Progress, export_to
    from services.storage.database import Database
    from ui.event_bridge import EventBridge
    from ui.main_window import MainWindow

    big = Database(_big_inbox(tmp_path))

    async def scenario() -> None:
        (tmp_path / "app").mkdir()
        async with sqlite_app(tmp_path / "app", twilio_standin) as app:
            bridge = EventBridge(app.runtime.bus)
            store = QSettings(str(tmp_path / "w.ini"), QSettings.Format.IniFormat)
            window = MainWindow([], app.inbox, bridge, store)
            window.tasks.quiet = True
            qtbot.addWidget(window)
            window.show()
            total = await big.run(lambda uow: export.count_rows(uow.session))
            assert total == 600 + 24_000 + 200 + 34  # contacts, messages, missed, callbacks
            labels: list[str] = []
            cancel_in: list[str] = []

            async def exporter(path: str, fmt: str, progress: Progress) -> int:
                def spy(done: int, n: int, text: str) -> None:
                    progress(done, n, text)
                    labels.append(text)
                    if cancel_in and text.startswith(cancel_in[0]) and 0 < done < n // 2:
                        cancel_in.clear()
                        button = window.export_dialog.findChild(QPushButton)
                        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

                return await export_to(big, path, fmt, spy)

            window.set_exporter(exporter)
            for stage, fmt in (("Reading", "json"), ("Writing", "csv")):
                target = tmp_path / f"out.{fmt}"
                target.write_text("the export of last week\n")
                labels.clear()
                cancel_in[:] = [stage]
                dialog = window.start_export(str(target), fmt)
                await until(lambda d=dialog: not d.isVisible() and window.tasks.pending == 0)
                assert not cancel_in, f"cancelled while {stage.lower()}"
                assert target.read_text() == "the export of last week\n"
                assert not (tmp_path / f"out.{fmt}.part").exists()
                assert "cancelled" in window.statusBar().currentMessage()
                assert not any(text.startswith("Exported") for text in labels)
                # It stopped at the next batch: the stage never got to its last record.
                last = f"{stage}: {total:,} of {total:,}"
                assert not any(text.startswith(last) for text in labels), labels

            window.export_progress = []
            target = tmp_path / "out.json"
            dialog = window.start_export(str(target), "json")
            await until(lambda: not dialog.isVisible() and window.tasks.pending == 0, timeout=60)
            progress = window.export_progress
            counted = [(d, n) for d, n in progress if n]
            assert counted[-1] == (total, total)
            assert all(n == total for _d, n in counted)
            # Real progress: a step per batch of records read and again written, rising
            # within each stage (the second starts again from 0).
            assert len(counted) >= 2 * (total // export.TICK_ROWS)
            restarts = [i for i in range(1, len(counted)) if counted[i][0] < counted[i - 1][0]]
            assert len(restarts) == 1
            expected = await big.run(lambda uow: export.collect(uow.session))
            assert target.read_bytes() == export.to_json(expected).encode("utf-8")

    try:
        run(scenario())
    finally:
        big.close()
