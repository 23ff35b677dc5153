"""Joining an office database from this PC: :class:`services.api.OfficeDatabaseApi`.

The URL (without its password) goes to this PC's ``this-pc.json`` and the password to
the OS keyring; both are read at the next start (desktop/config.py).
``FRONTDESK_DATABASE_URL`` overrides them. Every blocking step runs off the GUI thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Mapping

from desktop.config import AppConfig, joined_database
from services import office_db
from services.api import ConnectionRefused
from services.credentials import CredentialsError, CredentialStore
from services.health import DatabaseCheck, OfficeBusiness, OfficeDatabaseDetails
from services.this_pc import ThisPc

log = logging.getLogger(__name__)


class DesktopOfficeDatabase:
    def __init__(
        self,
        config: AppConfig,
        credentials: CredentialStore,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._config = config
        self._credentials = credentials
        self._this_pc = ThisPc(config.data_dir)
        self._env = os.environ if environ is None else environ

    async def details(self) -> OfficeDatabaseDetails:
        return await asyncio.to_thread(self._details)

    def _details(self) -> OfficeDatabaseDetails:
        running = self._config.database_url
        joined = self._this_pc.database_url or ""
        if self._env.get("FRONTDESK_DATABASE_URL"):
            source = "environment"
        elif joined:
            source = "this-pc"
        else:
            source = "own"
        shared = running.startswith("postgresql")
        if source == "environment":
            restart = False
        elif joined:
            restart = office_db.split_password(running)[0] != joined
        else:
            restart = shared
        return OfficeDatabaseDetails(
            in_use=office_db.shown(running),
            shared=shared,
            source=source,
            joined=joined,
            restart_needed=restart,
        )

    async def test(self, url: str, password: str) -> DatabaseCheck:
        return await asyncio.to_thread(office_db.check_database, url, password or None)

    async def join(self, url: str, password: str) -> DatabaseCheck:
        check = await self.test(url, password)
        if not check.ok:
            return check
        bare, in_url = office_db.split_password(office_db.normalise_url(url))
        secret = password or in_url

        def store() -> None:
            if secret:
                self._credentials.save_database_password(secret)
            else:
                self._credentials.clear_database_password()
            self._this_pc.set_database_url(bare)

        try:
            await asyncio.to_thread(store)
        except CredentialsError as exc:
            raise ConnectionRefused(
                f"{exc} The password is never written to a file: set "
                "FRONTDESK_DATABASE_URL in this PC's environment instead."
            ) from None
        log.info("this PC joins the office database %s", office_db.shown(bare))
        return check

    async def leave(self) -> OfficeDatabaseDetails:
        def forget() -> None:
            self._this_pc.set_database_url(None)
            self._credentials.clear_database_password()

        await asyncio.to_thread(forget)
        return await self.details()

    def joined_url(self) -> str | None:
        """The joined office database's URL with its password (None: none joined)."""
        return joined_database(self._config.data_dir, self._credentials.load_database_password)

    async def office_business(self) -> OfficeBusiness | None:
        from desktop.live import load_settings

        url = await asyncio.to_thread(self.joined_url)
        if url is None:
            return None
        # Brings a brand-new office database's schema up to date, as its first start would.
        cfg = await asyncio.to_thread(
            load_settings, dataclasses.replace(self._config, database_url=url)
        )
        name: str = cfg["business.name"]
        phone: str = cfg["business.phone_number"]
        return OfficeBusiness(name, phone) if name or phone else None
