"""What happens to the first-run wizard's answers: nothing typed is ever lost.

:func:`store_answers` takes the wizard's :class:`~ui.wizard.WizardResult` (any object
with its fields) and returns a :class:`FirstRunOutcome` saying how the app starts:

- "Try the demo": the answers (business name, time zone, phones, texts) are stored as
  the workspace's settings, so the wizard does not come back and going live later
  keeps them, and they are handed to the demo workspace so the demo shows them.
- "Connect my Twilio number": the answers are stored first, then the secrets go to the
  OS keyring. With no keyring the app still goes live for this run on the typed
  credentials (held in memory only) and ``notice`` says, in plain words, what to do so
  Frontdesk remembers them next time.
- "This office shares a database" (``joined_office``): the wizard has stored the
  office database's URL for this PC (``this-pc.json``, the password in the keyring);
  the answers go to that database and the outcome's ``database_url`` is what the app
  runs on from now on. A PC joining an office set up already brings no business
  answers (the office's settings stand); it stores only its own Twilio secrets.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from desktop.config import AppConfig, joined_database
from desktop.live import save_first_run, session_store
from services.credentials import (
    CredentialsError,
    CredentialStore,
    KeyringUnavailable,
    TwilioCredentials,
)

# The answers that make sense on the demo workspace (its number is the demo's own).
DEMO_KEYS = (
    "business.name",
    "business.timezone",
    "templates.missed_call",
    "templates.after_hours",
)

NO_KEYRING_NOTICE = (
    "Frontdesk is connected to your Twilio number for now, and your answers are saved. "
    "This PC has no password store to keep your Twilio auth token in, so Frontdesk will "
    "ask for it again after it closes.\n\nTo have it remembered: set up a password store "
    "(GNOME Keyring or KWallet on Linux), then enter the token once more in Settings → "
    "Twilio & connection. Or have whoever looks after this PC start Frontdesk with "
    "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN set."
)


class Answers(Protocol):
    @property
    def mode(self) -> Literal["live", "demo"]: ...
    @property
    def settings(self) -> dict[str, Any]: ...
    @property
    def twilio_account_sid(self) -> str | None: ...
    @property
    def twilio_auth_token(self) -> str | None: ...
    @property
    def ngrok_authtoken(self) -> str | None: ...


@dataclass(frozen=True)
class FirstRunOutcome:
    """How to start after the wizard. ``store`` is the credential store to go live with
    (``None``: open the demo with ``demo_answers``); ``notice`` is shown to the owner
    when set (informational, nothing was lost); ``error`` when going live is impossible
    but the answers were kept."""

    store: CredentialStore | None
    demo_answers: dict[str, Any] = field(default_factory=dict)
    notice: str = ""
    error: str = ""
    secrets: tuple[str, ...] = ()
    database_url: str | None = None  # the office database joined (with its password)


def demo_answers(settings: dict[str, Any]) -> dict[str, Any]:
    """The wizard's answers worth showing in the demo (phones only when some were typed)."""
    chosen = {k: v for k, v in settings.items() if k in DEMO_KEYS}
    if settings.get("forwarding.numbers"):
        chosen["forwarding.numbers"] = settings["forwarding.numbers"]
    return chosen


async def store_answers(
    config: AppConfig, store: CredentialStore, result: Answers
) -> FirstRunOutcome:
    """Store the wizard's answers (see the module docstring); never raises for a missing
    keyring."""
    office_url: str | None = None
    if getattr(result, "joined_office", False):
        office_url = await asyncio.to_thread(
            joined_database, config.data_dir, store.load_database_password
        )
        if office_url is not None:
            config = dataclasses.replace(config, database_url=office_url)
    outcome = await _store(config, store, result)
    return dataclasses.replace(outcome, database_url=office_url)


async def _store(config: AppConfig, store: CredentialStore, result: Answers) -> FirstRunOutcome:
    if result.mode == "demo" or not (result.twilio_account_sid and result.twilio_auth_token):
        await save_first_run(config, store, result.settings, None)
        return FirstRunOutcome(None, demo_answers(result.settings))
    credentials = TwilioCredentials(result.twilio_account_sid, auth_token=result.twilio_auth_token)
    secrets = tuple(s for s in (result.twilio_auth_token, result.ngrok_authtoken) if s)
    try:
        await save_first_run(config, store, result.settings, credentials, result.ngrok_authtoken)
    except KeyringUnavailable:
        return FirstRunOutcome(
            session_store(credentials, result.ngrok_authtoken),
            notice=NO_KEYRING_NOTICE,
            secrets=secrets,
        )
    except CredentialsError as exc:  # the keyring refused for another reason
        return FirstRunOutcome(
            None,
            demo_answers(result.settings),
            error=f"{exc}\n\nYour answers are saved; enter the Twilio details again in "
            "Settings → Twilio & connection.",
            secrets=secrets,
        )
    return FirstRunOutcome(store, secrets=secrets)
