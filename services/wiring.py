"""Point the business number's webhooks at this receiver, remembering what was there.

On start ``serve`` and the app call :func:`wire`: find the number's SID
(IncomingPhoneNumbers filtered by PhoneNumber) and set VoiceUrl, SmsUrl and
StatusCallback to URLs under the public URL, and VoiceFallbackUrl to the *offline* voice
URL (:func:`offline_voice_url`), so a crash, a dead tunnel or a hung receiver still gives
callers what the owner chose for "Frontdesk is off". The first time, the number's
previous configuration is saved so :func:`disconnect` can put it back exactly: one backup
per number (sync_state :func:`backup_key`, ``wiring.previous:+15551234567``). Before
locations there was one, under ``wiring.previous`` (:data:`BACKUP_KEY`); it is still read,
as the backup of the number it names (its ``phone_number``: the first location's number,
unless that changed since), until that number gets a backup of its own or is disconnected.

Each move takes the number's effective ``settings`` (a location's: its greeting and ring
time shape the offline voice URL); without them, the office's. Every location's number
is moved one at a time by :mod:`services.location_wiring`.

On a clean exit :func:`go_offline` re-points the number:

- VoiceUrl and VoiceFallbackUrl -> the offline voice URL (``offline.mode``: a Twimlet
  that forwards to ``offline.forward_to`` and falls back to voicemail, the owner's TwiML
  Bin, or, for ``none``, the number's previous voice configuration);
- SmsUrl -> ``""`` (no webhook). Twilio still receives and keeps every inbound SMS in the
  account's Messages log (status ``received``), which is exactly what catch-up reads on
  the next start, so nothing is lost. Leaving the dead public URL there would lose nothing
  either, but each text would raise an 11200 error in the owner's Twilio debugger and, worse,
  a free ngrok hostname can later be handed to somebody else, who would then receive
  the customers' texts. Clearing it is the choice that loses nothing and leaks nothing.
- StatusCallback -> ``""`` for the same reason (the call log keeps every call anyway).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from sqlalchemy.orm import Session

from services import settings_store, sync_state
from services.ports import NumberConfig
from services.receiver import PATHS
from services.settings import Settings
from services.storage.database import Database, UnitOfWork

log = logging.getLogger(__name__)

# The one backup from before locations (the number it names); see backup_key.
BACKUP_KEY = "wiring.previous"


def backup_key(phone_number: str) -> str:
    """Where ``phone_number``'s configuration from before Frontdesk wired it is kept."""
    return f"{BACKUP_KEY}:{phone_number}"


TWIMLETS = "https://twimlets.com"


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


# ---- offline voice --------------------------------------------------------------------


def _query(params: dict[str, str]) -> str:
    return urlencode(params, quote_via=quote, safe="")


def voicemail_twimlet(email: str, greeting: str) -> str:
    """Twilio's Voicemail Twimlet: says ``greeting``, records, emails the recording."""
    params = {"Email": email}
    if greeting:
        params["Message"] = greeting
    params["Transcribe"] = "true"
    return f"{TWIMLETS}/voicemail?{_query(params)}"


def message_twimlet(greeting: str) -> str:
    """Twilio's Simple Message Twimlet: says ``greeting`` (then the call ends)."""
    return f"{TWIMLETS}/message?{_query({'Message[0]': greeting})}"


def forward_twimlet(phone: str, fail_url: str | None, *, timeout: int | None = None) -> str:
    """Twilio's Forward Twimlet: dials ``phone``; ``FailUrl`` when nobody answers."""
    params = {"PhoneNumber": phone}
    if timeout is not None:
        params["Timeout"] = str(timeout)
    if fail_url:
        params["FailUrl"] = fail_url
    return f"{TWIMLETS}/forward?{_query(params)}"


# The settings offline_voice_url reads: a change to any of them changes what the numbers'
# VoiceFallbackUrl must be, so the holder re-wires (else callers reach the old forward
# phone or greeting whenever Frontdesk is down, until the next start).
FALLBACK_KEYS = frozenset(
    {
        "offline.mode",
        "offline.forward_to",
        "offline.twiml_url",
        "offline.voicemail_email",
        "voicemail.greeting",
        "forwarding.ring_seconds",
    }
)


def offline_voice_url(settings: Settings, previous: NumberConfig | None) -> str:
    """The voice URL callers get while Frontdesk is not answering (``""``: none at all).

    ``offline.mode``:

    - ``forward``: the Forward Twimlet to ``offline.forward_to`` whose FailUrl is the
      Voicemail Twimlet (when ``offline.voicemail_email`` is set) or the Simple Message
      Twimlet saying ``voicemail.greeting``; with no forward phone, that fallback alone;
    - ``twiml_url``: the TwiML Bin URL the owner pasted (``offline.twiml_url``);
    - ``none``: the number's previous VoiceUrl (before Frontdesk first wired it).
    """
    mode = settings["offline.mode"]
    if mode == "twiml_url" and settings["offline.twiml_url"]:
        return str(settings["offline.twiml_url"])
    if mode == "none" or mode == "twiml_url":
        if previous is not None and previous.voice_url and not _is_ours(previous.voice_url):
            return previous.voice_url
        return ""
    greeting = str(settings["voicemail.greeting"])
    email = str(settings["offline.voicemail_email"])
    fallback = voicemail_twimlet(email, greeting) if email else None
    if fallback is None and greeting:
        fallback = message_twimlet(greeting)
    phone = str(settings["offline.forward_to"])
    if phone:
        return forward_twimlet(phone, fallback, timeout=int(settings["forwarding.ring_seconds"]))
    return fallback or ""


def _offline_fallback(settings: Settings, previous: NumberConfig | None, voice: str) -> str:
    if settings["offline.mode"] == "none" and previous is not None:
        prior = previous.voice_fallback_url
        if prior and not _is_ours(prior):
            return prior
    return voice


# ---- state -----------------------------------------------------------------------------


def _number_from(data: Any) -> NumberConfig | None:
    if not isinstance(data, dict):
        return None
    known = {f.name for f in fields(NumberConfig)}
    try:
        return NumberConfig(**{k: v for k, v in data.items() if k in known})
    except TypeError:
        return None


def _backup(session: Session, phone_number: str) -> NumberConfig | None:
    own = _number_from(sync_state.get(session, backup_key(phone_number)))
    if own is not None:
        return own
    legacy = _number_from(sync_state.get(session, BACKUP_KEY))
    return legacy if legacy is not None and legacy.phone_number == phone_number else None


def _load(
    uow: UnitOfWork, phone_number: str, settings: Settings | None
) -> tuple[Settings, NumberConfig | None]:
    s = uow.session
    return settings or settings_store.load(s), _backup(s, phone_number)


async def _find(admin: NumberAdmin, phone_number: str) -> NumberConfig:
    number = await admin.find_number(phone_number)
    if number is None:
        raise WiringError(
            f"{phone_number} is not a phone number on this Twilio account; check "
            "business.phone_number and the Account SID"
        )
    return number


async def previous_config(db: Database, phone_number: str) -> NumberConfig | None:
    """The configuration saved before Frontdesk first wired ``phone_number``, if any."""
    return await db.run(lambda uow: _backup(uow.session, phone_number))


# ---- the three moves ---------------------------------------------------------------------


async def wire(
    admin: NumberAdmin,
    db: Database,
    phone_number: str,
    public_url: str,
    *,
    settings: Settings | None = None,
) -> NumberConfig:
    """Point ``phone_number`` at ``public_url``; raises :class:`WiringError` when impossible.

    Also sets VoiceFallbackUrl to the offline voice URL (see the module docstring).
    """
    number = await _find(admin, phone_number)
    urls = WebhookUrls.under(public_url)

    def backup(uow: UnitOfWork) -> tuple[Settings, NumberConfig | None]:
        cfg, previous = _load(uow, phone_number, settings)
        if previous is None and not points_at_frontdesk(number):
            sync_state.put(uow.session, backup_key(phone_number), asdict(number))
            uow.commit()
            previous = number
        return cfg, previous

    cfg, previous = await db.run(backup)
    fallback = _offline_fallback(cfg, previous, offline_voice_url(cfg, previous))
    if urls.points_here(number) and (number.voice_fallback_url or "") == fallback:
        return number
    wired = await admin.update_number(
        number.sid,
        voice_url=urls.voice,
        voice_method="POST",
        voice_fallback_url=fallback,
        sms_url=urls.sms,
        sms_method="POST",
        status_callback=urls.status_callback,
        status_callback_method="POST",
    )
    log.info("wired %s (%s) to %s", phone_number, number.sid, public_url)
    return wired


async def go_offline(
    admin: NumberAdmin, db: Database, phone_number: str, *, settings: Settings | None = None
) -> NumberConfig:
    """On a clean exit: callers get the offline voice URL; texts stay in Twilio's log."""
    number = await _find(admin, phone_number)
    cfg, previous = await db.run(lambda uow: _load(uow, phone_number, settings))
    voice = offline_voice_url(cfg, previous)
    voice_method = "POST"
    status_callback = ""
    if cfg["offline.mode"] == "none" and previous is not None:
        voice_method = previous.voice_method or "POST"
        if previous.status_callback and not _is_ours(previous.status_callback):
            status_callback = previous.status_callback
    offline = await admin.update_number(
        number.sid,
        voice_url=voice,
        voice_method=voice_method,
        voice_fallback_url=_offline_fallback(cfg, previous, voice),
        sms_url="",
        status_callback=status_callback,
    )
    log.info("%s is offline (voice: %s)", phone_number, cfg["offline.mode"])
    return offline


async def disconnect(admin: NumberAdmin, db: Database, phone_number: str) -> NumberConfig:
    """Put back exactly what the number had before Frontdesk first wired it.

    With no saved configuration (the number already pointed at a Frontdesk when it was
    first wired), every URL Frontdesk set is cleared instead. The saved configuration is
    then forgotten, so a later :func:`wire` saves the number's state afresh.
    """
    number = await _find(admin, phone_number)
    previous = await previous_config(db, phone_number)
    if previous is None:
        restored = await admin.update_number(
            number.sid, voice_url="", voice_fallback_url="", sms_url="", status_callback=""
        )
    else:
        restored = await admin.update_number(
            number.sid,
            voice_url=previous.voice_url or "",
            voice_method=previous.voice_method or "POST",
            voice_fallback_url=previous.voice_fallback_url or "",
            sms_url=previous.sms_url or "",
            sms_method=previous.sms_method or "POST",
            status_callback=previous.status_callback or "",
        )

    def forget(uow: UnitOfWork) -> None:
        sync_state.put(uow.session, backup_key(phone_number), None)
        legacy = _number_from(sync_state.get(uow.session, BACKUP_KEY))
        if legacy is not None and legacy.phone_number == phone_number:
            sync_state.put(uow.session, BACKUP_KEY, None)
        uow.commit()

    await db.run(forget)
    log.info("disconnected %s (%s): previous configuration restored", phone_number, number.sid)
    return restored


def _is_ours(url: str) -> bool:
    return any(url.endswith(path) for path in PATHS.values())


def points_at_frontdesk(number: NumberConfig) -> bool:
    """True when the number's calls go to a Frontdesk receiver (this one or another)."""
    return bool(number.voice_url and number.voice_url.endswith(PATHS["voice"]))
