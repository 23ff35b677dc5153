"""What the first-run wizard collects is stored where it belongs and makes the app live."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from desktop.config import AppConfig
from desktop.demo import DEMO_NUMBER, build_demo_runtime
from desktop.first_run import store_answers
from desktop.live import build_live_runtime, needs_first_run, save_first_run
from services.credentials import CredentialStore, TwilioCredentials
from tests.services.test_credentials import FAIL, NGROK_TOKEN, SID, TOKEN, MemoryKeyring
from ui.wizard import WizardResult


def config_for(data_dir: Path) -> AppConfig:
    return AppConfig(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'frontdesk.db'}",
        host="127.0.0.1",
        port=0,
        public_url=None,
        twilio_base_url=None,
    )


def test_wizard_answers_go_to_the_keyring_and_settings_and_the_app_can_go_live(
    data_dir: Path,
) -> None:
    backend = MemoryKeyring()
    store = CredentialStore(keyring_backend=backend, environ={})
    config = config_for(data_dir)

    async def scenario() -> None:
        assert await needs_first_run(config, store)
        await save_first_run(
            config,
            store,
            {"business.name": "Bright Smiles Dental", "business.phone_number": "+14155550100"},
            TwilioCredentials(SID, auth_token=TOKEN),
            NGROK_TOKEN,
        )
        assert not await needs_first_run(config, store)
        runtime = await build_live_runtime(config, store)  # no LiveSetupError: ready to go
        assert runtime.public_url is None  # the tunnel opens on start, not before
        runtime.db.close()

    asyncio.run(scenario())
    assert store.load_ngrok_token() == NGROK_TOKEN
    assert store.load_twilio() == TwilioCredentials(SID, auth_token=TOKEN)
    # The secrets are in the keyring, not in any file of the workspace.
    for path in data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert TOKEN.encode() not in data and NGROK_TOKEN.encode() not in data


def _settings_of(database_url: str) -> Any:
    from services import settings_store
    from services.storage.database import Database

    db = Database(database_url)
    try:
        return db.run_sync(lambda uow: settings_store.load(uow.session))
    finally:
        db.close()


ANSWERS = {
    "business.name": "Bright Smiles Dental",
    "business.timezone": "America/Chicago",
    "forwarding.numbers": ["+14155550101"],
    "templates.missed_call": "Sorry we missed you at [Business Name]! Text us back.",
    "templates.after_hours": "We're closed, [First Name]; we'll call you in the morning.",
}


def test_try_the_demo_keeps_the_answers_and_the_wizard_does_not_come_back(
    data_dir: Path,
) -> None:
    store = CredentialStore(keyring_backend=MemoryKeyring(), environ={})
    config = config_for(data_dir)
    result = WizardResult("demo", dict(ANSWERS))

    async def scenario() -> None:
        assert await needs_first_run(config, store)
        outcome = await store_answers(config, store, result)
        assert outcome.store is None and not outcome.error and not outcome.notice
        # Next launch: the workspace was set up (in demo mode), no wizard again.
        assert not await needs_first_run(config, store)
        runtime, _carrier = await build_demo_runtime(
            config, seed=False, answers=outcome.demo_answers
        )
        runtime.db.close()
        demo = _settings_of(runtime.config.database_url)
        for key, value in ANSWERS.items():
            assert demo[key] == value, key
        assert demo["business.phone_number"] == DEMO_NUMBER  # the demo keeps its own line

    asyncio.run(scenario())
    live = _settings_of(config.database_url)  # kept for going live later, too
    for key, value in ANSWERS.items():
        assert live[key] == value, key


def test_demo_answers_win_over_an_existing_demo_workspace(data_dir: Path) -> None:
    config = config_for(data_dir)

    async def scenario() -> None:
        runtime, _ = await build_demo_runtime(config, seed=False)  # `frontdesk demo` earlier
        runtime.db.close()
        runtime, _ = await build_demo_runtime(
            config, seed=False, answers={"business.name": "Bright Smiles Dental"}
        )
        runtime.db.close()
        assert _settings_of(runtime.config.database_url)["business.name"] == (
            "Bright Smiles Dental"
        )

    asyncio.run(scenario())


def test_no_keyring_keeps_every_answer_and_goes_live_for_this_run(data_dir: Path) -> None:
    store = CredentialStore(keyring_backend=FAIL, environ={})
    config = config_for(data_dir)
    settings = {**ANSWERS, "business.phone_number": "+14155550100"}
    result = WizardResult(
        "live",
        settings,
        twilio_account_sid=SID,
        twilio_auth_token=TOKEN,
        twilio_number="+14155550100",
        ngrok_authtoken=NGROK_TOKEN,
    )

    async def scenario() -> None:
        outcome = await store_answers(config, store, result)
        assert outcome.store is not None, "no keyring must not mean the demo"
        assert not outcome.error
        assert "no password store" in outcome.notice
        assert "TWILIO_AUTH_TOKEN" in outcome.notice  # says what to do
        assert set(outcome.secrets) == {TOKEN, NGROK_TOKEN}  # redacted from the log
        runtime = await build_live_runtime(config, outcome.store)  # live on typed creds
        runtime.db.close()
        assert not await needs_first_run(config, store)

    asyncio.run(scenario())
    kept = _settings_of(config.database_url)
    for key, value in settings.items():
        assert kept[key] == value, key
    for path in data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert TOKEN.encode() not in data and NGROK_TOKEN.encode() not in data
