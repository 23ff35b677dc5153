"""First run on a new PC of an office: "This office shares a database" in the wizard.
Joined on the spot against a real PostgreSQL (URL on this PC, password in the keyring);
an office set up already skips the business questions, a new one asks them and keeps the
answers in the office's database."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard
from pytestqt.qtbot import QtBot

from desktop.config import AppConfig
from desktop.first_run import store_answers
from desktop.live import load_settings, needs_first_run, save_first_run
from desktop.office_database import DesktopOfficeDatabase
from services.credentials import CredentialStore, TwilioCredentials
from services.holder import libpq_url
from tests.pg_cluster import Cluster, throwaway_postgres
from tests.services.test_credentials import MemoryKeyring
from tests.ui.conftest import run
from ui.wizard import FirstRunWizard

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "f" * 32
OFFICE_NUMBER = "+14155550100"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with throwaway_postgres() as c:
        with psycopg.connect(libpq_url(c.url()), autocommit=True) as admin:
            admin.execute("CREATE ROLE dana LOGIN PASSWORD 'right-one'")
            admin.execute("CREATE DATABASE office_set OWNER dana")
            admin.execute("CREATE DATABASE office_new OWNER dana")
        yield c


def _config(folder: Path) -> AppConfig:
    return AppConfig(
        data_dir=folder,
        database_url=f"sqlite:///{folder}/frontdesk.db",
        host="127.0.0.1",
        port=0,
        public_url=None,
        twilio_base_url=None,
    )


def _next(qtbot: QtBot, wizard: FirstRunWizard) -> None:
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton)


def _join(qtbot: QtBot, wizard: FirstRunWizard, url: str, password: str) -> None:
    """Choose "This office shares a database" and join ``url`` on the office page."""
    wizard.business.office.setChecked(True)
    assert not wizard.business.name.isEnabled()  # no business questions on this path
    _next(qtbot, wizard)
    assert wizard.currentId() == FirstRunWizard.OFFICE
    page = wizard.office
    assert page is not None
    page.box.tasks.quiet = True
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    page.box.url.setText(url)
    page.box.password.setText("wrong")
    page.box.join_button.click()  # tested on the spot: refused, nothing stored
    qtbot.waitUntil(lambda: "Wrong user name or password" in page.box.result.text(), timeout=8000)
    assert not page.checked
    page.box.password.setText(password)
    page.box.join_button.click()
    qtbot.waitUntil(lambda: page.checked, timeout=15_000)


def test_a_new_pc_joins_an_office_set_up_already_and_skips_the_business_questions(
    cluster: Cluster, qtbot: QtBot, qloop: Any, tmp_path: Path
) -> None:
    url = f"postgresql://dana@127.0.0.1:{cluster.port}/office_set"
    office_url = f"postgresql+psycopg://dana:right-one@127.0.0.1:{cluster.port}/office_set"
    # The first PC of the office answered the business questions already.
    first_pc = tmp_path / "first"
    first_pc.mkdir()
    settings = {"business.name": "Smith & Sons", "business.phone_number": OFFICE_NUMBER}
    first = dataclasses.replace(_config(first_pc), database_url=office_url)
    first_store = CredentialStore(keyring_backend=MemoryKeyring(), environ={})
    run(qtbot, save_first_run(first, first_store, settings, None), timeout=30)

    folder = tmp_path / "new-pc"
    folder.mkdir()
    keyring = MemoryKeyring()
    store = CredentialStore(keyring_backend=keyring, environ={})
    config = _config(folder)
    wizard = FirstRunWizard(office=DesktopOfficeDatabase(config, store, environ={}))
    qtbot.addWidget(wizard)
    wizard.show()
    _join(qtbot, wizard, url, "right-one")
    assert wizard.office is not None
    assert wizard.office.status.text().startswith("Joined Smith & Sons: the business questions")
    stored = json.loads((folder / "this-pc.json").read_text())
    assert (
        stored["database_url"] == f"postgresql+psycopg://dana@127.0.0.1:{cluster.port}/office_set"
    )
    assert keyring.store[("frontdesk", "office-database-password")] == "right-one"

    _next(qtbot, wizard)  # straight to this PC's Twilio details
    assert wizard.currentId() == FirstRunWizard.TWILIO
    assert wizard.twilio.number.text() == OFFICE_NUMBER  # the office's number, prefilled
    assert wizard.currentPage().isFinalPage()
    wizard.twilio.sid.setText(SID)
    wizard.twilio.token.setText(TOKEN)
    qtbot.mouseClick(
        wizard.button(QWizard.WizardButton.FinishButton), Qt.MouseButton.LeftButton
    )  # no ngrok token needed: the PC holding the number receives the calls
    assert wizard.result() == QWizard.DialogCode.Accepted.value

    result = wizard.wizard_result()
    assert result.joined_office and result.mode == "live"
    assert result.settings == {}  # the office's settings stand as they are
    outcome = run(qtbot, store_answers(config, store, result), timeout=30)
    assert outcome.store is store and outcome.database_url == office_url
    assert store.load_twilio() == TwilioCredentials(SID, auth_token=TOKEN)
    joined = dataclasses.replace(config, database_url=office_url)
    assert not run(qtbot, needs_first_run(joined, store))
    cfg = load_settings(joined)
    assert cfg["business.name"] == "Smith & Sons"
    assert cfg["business.phone_number"] == OFFICE_NUMBER
    assert not (folder / "frontdesk.db").exists()  # nothing went to a private database


def test_a_pc_joining_a_new_office_database_answers_the_business_questions_there(
    cluster: Cluster, qtbot: QtBot, qloop: Any, tmp_path: Path
) -> None:
    url = f"postgresql://dana@127.0.0.1:{cluster.port}/office_new"
    office_url = f"postgresql+psycopg://dana:right-one@127.0.0.1:{cluster.port}/office_new"
    store = CredentialStore(keyring_backend=MemoryKeyring(), environ={})
    config = _config(tmp_path)
    wizard = FirstRunWizard(office=DesktopOfficeDatabase(config, store, environ={}))
    qtbot.addWidget(wizard)
    wizard.show()
    _join(qtbot, wizard, url, "right-one")
    assert wizard.office is not None
    assert wizard.office.status.text().startswith("Joined. The office's database is new")
    page = wizard.office
    page.box.leave_button.click()  # changed their mind: Next waits for a joined database
    qtbot.waitUntil(lambda: not page.checked, timeout=8000)
    assert not (tmp_path / "this-pc.json").exists() or "database_url" not in json.loads(
        (tmp_path / "this-pc.json").read_text()
    )
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    page.box.url.setText(url)
    page.box.password.setText("right-one")
    page.box.join_button.click()
    qtbot.waitUntil(lambda: page.checked, timeout=15_000)
    _next(qtbot, wizard)
    assert wizard.currentId() == FirstRunWizard.OFFICE_BUSINESS
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()  # name first
    qtbot.keyClicks(wizard.office_business.name, "Bright Smiles Dental")
    wizard.office_business.timezone.setCurrentText("America/Chicago")
    _next(qtbot, wizard)
    assert wizard.currentId() == FirstRunWizard.TWILIO
    assert not wizard.currentPage().isFinalPage()
    wizard.twilio.sid.setText(SID)
    wizard.twilio.token.setText(TOKEN)
    wizard.twilio.number.setText("+1 415 555 0100")
    wizard.twilio.ngrok.setText("2abcNGROKtoken_123")
    _next(qtbot, wizard)
    assert wizard.currentId() == FirstRunWizard.PHONES
    _next(qtbot, wizard)
    assert wizard.currentId() == FirstRunWizard.TEXTS
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.FinishButton), Qt.MouseButton.LeftButton)

    result = wizard.wizard_result()
    assert result.joined_office
    assert result.settings["business.name"] == "Bright Smiles Dental"
    outcome = run(qtbot, store_answers(config, store, result), timeout=30)
    assert outcome.database_url == office_url
    cfg = load_settings(dataclasses.replace(config, database_url=office_url))
    assert cfg["business.name"] == "Bright Smiles Dental"  # in the office's database
    assert cfg["business.timezone"] == "America/Chicago"
    assert cfg["business.phone_number"] == OFFICE_NUMBER
