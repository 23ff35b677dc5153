"""The "Twilio account & connection" box's back end: :class:`services.api.ConnectionApi`.

Secrets go to the OS keyring through :class:`services.credentials.CredentialStore`, every
keyring call in a worker thread (``asyncio.to_thread``: D-Bus round trips and unlock
prompts must never block the GUI thread). The fixed public URL is a setting
(``tunnel.public_url``). New credentials take effect when the engine next starts
(``ConnectionDetails.restart_needed`` says so); "Test connection" checks what was typed
right away, against Twilio (or ``FRONTDESK_TWILIO_BASE_URL``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from desktop.runtime import Runtime
from services.account_check import TwilioAccountCheck
from services.api import ConnectionRefused, InboxApi
from services.credentials import (
    CredentialsError,
    CredentialStore,
    TwilioCredentials,
    validate_account_sid,
)
from services.health import AccountCheckResult, ConnectionDetails, ConnectionEntry
from services.ports import CarrierError
from services.settings import SettingsError
from services.wiring import WiringError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Stored:
    creds: TwilioCredentials | None
    has_ngrok: bool
    source: str
    keyring_usable: bool
    keyring_message: str


class DesktopConnection:
    """Implements :class:`services.api.ConnectionApi`.

    ``runtime`` is the running engine (None when the app could not go live yet, e.g. no
    credentials so far: saving still works, disconnecting does not).
    """

    def __init__(
        self,
        store: CredentialStore,
        inbox: InboxApi,
        runtime: Runtime | None = None,
        *,
        twilio_base_url: str | None = None,
        check: TwilioAccountCheck | None = None,
    ) -> None:
        self._store = store
        self._inbox = inbox
        self._runtime = runtime
        self._check = check or TwilioAccountCheck(base_url=twilio_base_url)
        self._changed = False

    # -- reading ----------------------------------------------------------------------------

    def _read_blocking(self) -> _Stored:
        store = self._store
        try:
            creds = store.load_twilio()
        except CredentialsError as exc:
            log.warning("stored Twilio credentials unusable: %s", exc)
            creds = None
        try:
            has_ngrok = store.load_ngrok_token() is not None
        except CredentialsError:
            has_ngrok = False
        status = store.keyring_status()
        message = status.message
        if not status.usable:
            message = (
                f"No secure keyring is available on this machine ({status.message}), so "
                "credentials cannot be saved here. Set TWILIO_ACCOUNT_SID and "
                "TWILIO_AUTH_TOKEN (and NGROK_AUTHTOKEN) in the environment instead, or "
                "install a keyring (GNOME Keyring / KWallet / macOS Keychain / Windows "
                "Credential Manager)."
            )
        return _Stored(creds, has_ngrok, store.source(), status.usable, message)

    async def details(self) -> ConnectionDetails:
        stored = await asyncio.to_thread(self._read_blocking)
        settings = await self._inbox.settings()
        creds = stored.creds
        return ConnectionDetails(
            account_sid=creds.account_sid if creds else "",
            has_auth_token=bool(creds and creds.auth_token),
            api_key_sid=(creds.api_key_sid or "") if creds else "",
            has_api_key_secret=bool(creds and creds.api_key_secret),
            has_ngrok_authtoken=stored.has_ngrok,
            public_url=settings["tunnel.public_url"],
            source=stored.source,
            keyring_usable=stored.keyring_usable,
            keyring_message=stored.keyring_message,
            restart_needed=self._changed,
        )

    # -- saving -------------------------------------------------------------------------------

    def _merge(self, entry: ConnectionEntry, stored: TwilioCredentials | None) -> TwilioCredentials:
        """What was typed, with empty secret fields filled from the same stored account."""
        try:
            sid = validate_account_sid(entry.account_sid)
        except CredentialsError as exc:
            raise ConnectionRefused(str(exc)) from None
        same = stored if stored is not None and stored.account_sid == sid else None
        key_sid = entry.api_key_sid.strip() or None
        token = entry.auth_token.strip() or (same.auth_token if same else None)
        secret = entry.api_key_secret.strip() or None
        if secret is None and same is not None and key_sid and same.api_key_sid == key_sid:
            secret = same.api_key_secret
        return TwilioCredentials(sid, token, key_sid, secret)

    async def save(self, entry: ConnectionEntry) -> ConnectionDetails:
        ngrok = entry.ngrok_authtoken.strip()

        def write() -> None:
            try:
                creds = self._merge(entry, self._store.load_twilio())
                self._store.save_twilio(creds)
                if ngrok:
                    self._store.save_ngrok_token(ngrok)
            except CredentialsError as exc:  # KeyringUnavailable carries the env-var hint
                raise ConnectionRefused(str(exc)) from None

        # Validate the public URL first, so nothing is half-saved when it is wrong.
        settings = await self._inbox.settings()
        public_url = entry.public_url.strip()
        if public_url != settings["tunnel.public_url"]:
            try:
                await self._inbox.update_settings(
                    {"tunnel.public_url": public_url}, actor="connection"
                )
            except SettingsError as exc:
                raise ConnectionRefused(str(exc)) from None
        await asyncio.to_thread(write)
        self._changed = True
        return await self.details()

    # -- checking -----------------------------------------------------------------------------

    async def test_connection(self, entry: ConnectionEntry) -> AccountCheckResult:
        try:
            stored = await asyncio.to_thread(self._store.load_twilio)
        except CredentialsError:
            stored = None
        try:
            creds = self._merge(entry, stored)
        except ConnectionRefused as exc:
            return AccountCheckResult(False, [str(exc)])
        settings = await self._inbox.settings()
        first = settings["business.phone_number"]
        others: list[str] = []
        if self._runtime is not None:
            numbers = (await self._runtime.locations.locations()).numbers()
            others = [n for n in numbers if n != first]
        return await self._check.run(creds, first, others)

    # -- the number ------------------------------------------------------------------------------

    async def disconnect(self) -> None:
        if self._runtime is None:
            raise ConnectionRefused(
                "Frontdesk is not connected to Twilio, so there is nothing to undo."
            )
        try:
            await self._runtime.disconnect()
        except (WiringError, CarrierError) as exc:
            raise ConnectionRefused(f"Could not give the number back: {exc}") from None

    async def connect(self) -> None:
        if self._runtime is None:
            raise ConnectionRefused("Save the Twilio credentials and restart Frontdesk first.")
        await self._runtime.connect()
        if self._runtime.wiring_error:
            raise ConnectionRefused(self._runtime.wiring_error)
