"""What the first-run wizard collects is stored where it belongs and makes the app live."""

from __future__ import annotations

import asyncio
from pathlib import Path

from desktop.config import AppConfig
from desktop.live import build_live_runtime, needs_first_run, save_first_run
from services.credentials import CredentialStore, TwilioCredentials
from tests.services.test_credentials import NGROK_TOKEN, SID, TOKEN, MemoryKeyring


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
