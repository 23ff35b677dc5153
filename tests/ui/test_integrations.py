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
                assert box.log.item(0, 4).text() == "delivered: HTTP 200"
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
                assert window.export_steps == [0, 1, 2, 3] and dialog.maximum() == 3
                expected = await app.runtime.db.run(lambda uow: export.collect(uow.session))
                raw = target.read_bytes()
                want = export.to_json(expected) if fmt == "json" else export.to_csv(expected)
                assert raw == want.encode("utf-8"), "byte for byte what the CLI writes"
                assert (target.stat().st_mode & 0o777) == 0o600
            data = json.loads((tmp_path / "out.json").read_text())
            assert data["calls"][0]["outcome"] == "missed"
            assert not (tmp_path / "out.json.part").exists()

    run(scenario())
