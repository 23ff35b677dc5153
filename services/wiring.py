"""Point the business number's webhooks at this receiver, remembering what was there.

On start ``serve`` and the app call :func:`wire`: find the number's SID
(IncomingPhoneNumbers filtered by PhoneNumber) and set VoiceUrl, SmsUrl and
StatusCallback to URLs under the public URL. The first time, the number's previous
configuration is saved so "Disconnect" can put it back.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Protocol

from services import sync_state
from services.ports import NumberConfig
from services.receiver import PATHS
from services.storage.database import Database, UnitOfWork

log = logging.getLogger(__name__)

BACKUP_KEY = "wiring.previous"


class WiringError(RuntimeError):
    """The number cannot be wired (not on this account, or Twilio refused)."""


class NumberAdmin(Protocol):
    async def find_number(self, phone_number: str) -> NumberConfig | None: ...

    async def update_number(
        self,
        sid: str,
        *,
        voice_url: str | None = None,
        voice_method: str = "POST",
        voice_fallback_url: str | None = None,
        sms_url: str | None = None,
        sms_method: str = "POST",
        status_callback: str | None = None,
        status_callback_method: str = "POST",
    ) -> NumberConfig: ...


@dataclass(frozen=True, slots=True)
class WebhookUrls:
    voice: str
    sms: str
    status_callback: str

    @classmethod
    def under(cls, public_url: str) -> WebhookUrls:
        base = public_url.rstrip("/")
        return cls(base + PATHS["voice"], base + PATHS["sms"], base + PATHS["call_status"])

    def points_here(self, number: NumberConfig) -> bool:
        return (
            number.voice_url == self.voice
            and number.sms_url == self.sms
            and number.status_callback == self.status_callback
        )


async def wire(
    admin: NumberAdmin, db: Database, phone_number: str, public_url: str
) -> NumberConfig:
    """Point ``phone_number`` at ``public_url``; raises :class:`WiringError` when impossible."""
    number = await admin.find_number(phone_number)
    if number is None:
        raise WiringError(
            f"{phone_number} is not a phone number on this Twilio account; check "
            "business.phone_number and the Account SID"
        )
    urls = WebhookUrls.under(public_url)
    if urls.points_here(number):
        return number

    def backup(uow: UnitOfWork) -> None:
        if sync_state.get(uow.session, BACKUP_KEY) is None and not _ours(number):
            sync_state.put(uow.session, BACKUP_KEY, asdict(number))
            uow.commit()

    await db.run(backup)
    wired = await admin.update_number(
        number.sid,
        voice_url=urls.voice,
        voice_method="POST",
        sms_url=urls.sms,
        sms_method="POST",
        status_callback=urls.status_callback,
        status_callback_method="POST",
    )
    log.info("wired %s (%s) to %s", phone_number, number.sid, public_url)
    return wired


def _ours(number: NumberConfig) -> bool:
    return bool(number.voice_url and number.voice_url.endswith(PATHS["voice"]))
