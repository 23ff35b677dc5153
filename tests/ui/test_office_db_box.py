"""Settings → Office database: test on the spot, use it (URL on this PC, password in the
keyring), leave it. The real check against a throwaway PostgreSQL with passwords."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pytestqt.qtbot import QtBot

from desktop.config import AppConfig
from desktop.office_database import DesktopOfficeDatabase
from services.credentials import CredentialStore
from services.holder import libpq_url
from tests.pg_cluster import Cluster, throwaway_postgres
from tests.ui.test_health_page import ThreadCheckingKeyring
from ui.office_db_box import OfficeDatabaseBox

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with throwaway_postgres() as c:
        with psycopg.connect(libpq_url(c.url()), autocommit=True) as admin:
            admin.execute("CREATE ROLE dana LOGIN PASSWORD 'right-one'")
            admin.execute("CREATE DATABASE office OWNER dana")
        yield c


def test_test_join_and_leave(cluster: Cluster, qtbot: QtBot, qloop: Any, tmp_path: Path) -> None:
    keyring = ThreadCheckingKeyring()
    store = CredentialStore(keyring_backend=keyring, environ={})
    config = AppConfig(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path}/frontdesk.db",
        host="127.0.0.1",
        port=0,
        public_url=None,
        twilio_base_url=None,
    )
    box = OfficeDatabaseBox(DesktopOfficeDatabase(config, store, environ={}))
    box.tasks.quiet = True
    qtbot.addWidget(box)
    box.show()
    box.load()
    qtbot.waitUntil(lambda: box.details is not None, timeout=5000)
    assert box.in_use.text().startswith("this PC's own database")
    assert not box.leave_button.isEnabled()

    url = f"postgresql://dana@127.0.0.1:{cluster.port}/office"
    box.url.setText(url)
    box.password.setText("wrong")
    box.test_button.click()
    qtbot.waitUntil(lambda: "Wrong user name or password" in box.result.text(), timeout=8000)
    box.join_button.click()  # refused: nothing stored
    qtbot.waitUntil(lambda: box.test_button.isEnabled(), timeout=8000)
    assert "Wrong user name or password" in box.result.text()
    assert not (tmp_path / "this-pc.json").exists()
    assert not keyring.store

    box.password.setText("right-one")
    box.test_button.click()
    qtbot.waitUntil(lambda: box.result.text().startswith("Works: PostgreSQL"), timeout=8000)
    box.join_button.click()
    qtbot.waitUntil(lambda: box.result.text().startswith("Saved for this PC"), timeout=8000)
    assert box.password.text() == ""
    stored = json.loads((tmp_path / "this-pc.json").read_text())
    assert stored["database_url"] == f"postgresql+psycopg://dana@127.0.0.1:{cluster.port}/office"
    assert "right-one" not in (tmp_path / "this-pc.json").read_text()
    assert keyring.store[("frontdesk", "office-database-password")] == "right-one"
    assert keyring.threads and threading.main_thread() not in keyring.threads
    qtbot.waitUntil(lambda: "Restart Frontdesk" in box.in_use.text(), timeout=5000)
    assert box.leave_button.isEnabled()

    box.leave_button.click()
    qtbot.waitUntil(lambda: box.result.text().startswith("This PC uses its own"), timeout=5000)
    assert "database_url" not in json.loads((tmp_path / "this-pc.json").read_text())
    assert ("frontdesk", "office-database-password") not in keyring.store
    box.shutdown()
