"""Building the runtime for a real Twilio account (serve and the desktop app)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from typing import Any

from desktop.config import AppConfig
from desktop.runtime import Runtime
from services import settings as settings_mod
from services import settings_store
from services.clock import SystemClock
from services.credentials import (
    ENV_ACCOUNT_SID,
    ENV_AUTH_TOKEN,
    ENV_NGROK_AUTHTOKEN,
    CredentialsError,
    CredentialStore,
    TwilioCredentials,
)
from services.gateway import TwilioGateway
from services.storage import migrate
from services.storage.database import Database, UnitOfWork
from services.tunnel import FixedPublicUrl, NgrokTunnel, PublicEndpoint


class LiveSetupError(RuntimeError):
    """Frontdesk cannot go live yet; the message says what to set."""


def load_settings(config: AppConfig) -> settings_mod.Settings:
    """The workspace's settings (its schema brought up to date first)."""
    db = Database(config.database_url)
    try:
        migrate.upgrade(db.engine)
        return db.run_sync(lambda uow: settings_store.load(uow.session))
    finally:
        db.close()


def _apply_settings(config: AppConfig, changes: dict[str, Any]) -> None:
    db = Database(config.database_url)
    try:
        migrate.upgrade(db.engine)

        def work(uow: UnitOfWork) -> None:
            settings_store.apply_changes(
                uow.session, changes, actor="first-run wizard", now=SystemClock().now()
            )
            uow.commit()

        db.run_sync(work)
    finally:
        db.close()


async def save_first_run(
    config: AppConfig,
    store: CredentialStore,
    settings: dict[str, Any],
    credentials: TwilioCredentials | None,
    ngrok_token: str | None = None,
) -> None:
    """Store what the first-run wizard collected: the answers as settings first, then
    the secrets in the keyring.

    The answers are kept whatever happens to the secrets: with no secure keyring this
    raises :class:`~services.credentials.KeyringUnavailable` after the settings were
    stored (and no secret touched the disk).
    """
    await asyncio.to_thread(_apply_settings, config, settings)
    if credentials is not None:
        await asyncio.to_thread(store.save_twilio, credentials)
    if ngrok_token:
        await asyncio.to_thread(store.save_ngrok_token, ngrok_token)


def session_store(
    credentials: TwilioCredentials, ngrok_token: str | None, base: Mapping[str, str] | None = None
) -> CredentialStore:
    """A credential store holding ``credentials`` in memory only (this run), over the
    environment ``base`` (default: the process environment): what the app runs on when
    the wizard's secrets could not be stored because this PC has no keyring."""
    environ = dict(os.environ if base is None else base)
    environ[ENV_ACCOUNT_SID] = credentials.account_sid
    environ[ENV_AUTH_TOKEN] = credentials.auth_token or ""
    if ngrok_token:
        environ[ENV_NGROK_AUTHTOKEN] = ngrok_token
    return CredentialStore(environ=environ)


async def needs_first_run(config: AppConfig, store: CredentialStore) -> bool:
    """True for a workspace never set up: no Twilio credentials, no business number and
    no business name (the wizard, answered in either mode, stores the name)."""

    def check() -> bool:
        try:
            creds = store.load_twilio()
        except CredentialsError:
            creds = None
        if creds is not None:
            return False
        cfg = load_settings(config)
        return not cfg["business.phone_number"] and not cfg["business.name"]

    return await asyncio.to_thread(check)


def load_credentials(store: CredentialStore) -> TwilioCredentials:
    try:
        creds = store.load_twilio()
    except CredentialsError as exc:
        raise LiveSetupError(str(exc)) from None
    if creds is None or not creds.auth_token:
        raise LiveSetupError(
            "no Twilio credentials: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, or enter "
            "them once in the app (Settings → Twilio & connection); the auth token is needed to "
            "check webhook signatures even when an API key sends"
        )
    return creds


def endpoint_factory(
    config: AppConfig, cfg: settings_mod.Settings, store: CredentialStore
) -> Callable[[], PublicEndpoint]:
    fixed = config.public_url or cfg["tunnel.public_url"]
    if fixed:
        return lambda: FixedPublicUrl(fixed)
    ngrok_token = store.load_ngrok_token()
    if not ngrok_token:
        raise LiveSetupError(
            "Twilio cannot reach this PC yet: set FRONTDESK_PUBLIC_URL to a public https URL "
            "that forwards here, or save an ngrok authtoken (Settings → Twilio & connection, "
            "or the NGROK_AUTHTOKEN environment variable) so Frontdesk opens a tunnel"
        )
    path = cfg["tunnel.ngrok_path"] or None
    ngrok_config = config.data_dir / "ngrok.yml"
    return lambda: NgrokTunnel(ngrok_path=path, auth_token=ngrok_token, config_path=ngrok_config)


async def build_live_runtime(config: AppConfig, store: CredentialStore) -> Runtime:
    """The runtime on the office's Twilio account; raises :class:`LiveSetupError`.

    Keyring reads (a D-Bus round trip, maybe an unlock prompt) and the settings read run
    on worker threads: the GUI loop stays responsive meanwhile.
    """
    creds = await asyncio.to_thread(load_credentials, store)
    cfg = await asyncio.to_thread(load_settings, config)
    factory = await asyncio.to_thread(endpoint_factory, config, cfg, store)
    gateway = TwilioGateway(
        creds.account_sid,
        creds.auth_token or "",
        api_key=creds.api_key_sid,
        api_secret=creds.api_key_secret,
        base_url=config.twilio_base_url,
    )
    token = creds.auth_token
    return Runtime(
        config,
        carrier=gateway,
        auth_token=lambda: token,
        endpoint=factory,
        number_admin=gateway,
        secrets=store,
    )
