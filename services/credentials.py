"""Twilio and ngrok secrets, kept in the OS keyring and never on disk.

Secrets live in the platform's secure store through ``keyring`` (GNOME Keyring / KWallet
via the Secret Service, macOS Keychain, Windows Credential Manager). When no secure store
is available, saving fails with :class:`KeyringUnavailable` and a plain message that points
at the environment variables instead: there is no file fallback, and plaintext or
base64 "keyrings" (``keyrings.alt``) are refused.

Environment variables override what the keyring holds (see DESIGN.md):
``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``TWILIO_API_KEY``, ``TWILIO_API_SECRET``
and ``NGROK_AUTHTOKEN``.

Every call here may block (D-Bus round trips, an unlock prompt): run them off the GUI
thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

__all__ = [
    "CredentialStore",
    "CredentialsError",
    "KeyringStatus",
    "KeyringUnavailable",
    "TwilioCredentials",
    "mask_sid",
    "validate_account_sid",
    "validate_api_key_sid",
]

logger = logging.getLogger(__name__)

ENV_ACCOUNT_SID = "TWILIO_ACCOUNT_SID"
ENV_AUTH_TOKEN = "TWILIO_AUTH_TOKEN"
ENV_API_KEY = "TWILIO_API_KEY"
ENV_API_SECRET = "TWILIO_API_SECRET"
ENV_NGROK_AUTHTOKEN = "NGROK_AUTHTOKEN"
_TWILIO_ENV_VARS = (ENV_ACCOUNT_SID, ENV_AUTH_TOKEN, ENV_API_KEY, ENV_API_SECRET)

# Keyring entries: one JSON blob for Twilio (one atomic write, one unlock prompt on macOS),
# one entry for the ngrok authtoken.
_TWILIO_USERNAME = "twilio"
_NGROK_USERNAME = "ngrok-authtoken"
_DATABASE_USERNAME = "office-database-password"

_ACCOUNT_SID_RE = re.compile(r"AC[0-9a-fA-F]{32}")
_API_KEY_SID_RE = re.compile(r"SK[0-9a-fA-F]{32}")

_KEYRING_HINT = (
    "install a keyring (GNOME Keyring / KWallet / macOS Keychain / Windows Credential Manager)."
)


class CredentialsError(ValueError):
    """Credentials are malformed, incomplete or cannot be stored."""


class KeyringUnavailable(CredentialsError):
    """No secure keyring can hold the secret on this machine (or it refused)."""


def validate_account_sid(sid: str) -> str:
    """Return ``sid`` stripped if it is a Twilio Account SID (AC + 32 hex), else raise."""
    value = sid.strip() if isinstance(sid, str) else ""
    if not _ACCOUNT_SID_RE.fullmatch(value):
        raise CredentialsError(
            "The Account SID must be 'AC' followed by 32 hexadecimal characters "
            "(find it on the Twilio Console home page)."
        )
    return value


def validate_api_key_sid(sid: str) -> str:
    """Return ``sid`` stripped if it is a Twilio API Key SID (SK + 32 hex), else raise."""
    value = sid.strip() if isinstance(sid, str) else ""
    if not _API_KEY_SID_RE.fullmatch(value):
        raise CredentialsError(
            "The API Key SID must be 'SK' followed by 32 hexadecimal characters "
            "(Twilio Console → Account → API keys)."
        )
    return value


def mask_sid(sid: str | None) -> str:
    """``AC…1234``: enough to tell accounts apart in logs, never the whole identifier."""
    if not sid:
        return "<none>"
    if len(sid) <= 6:
        return "…"
    return f"{sid[:2]}…{sid[-4:]}"


def _mask_secret(value: str | None) -> str:
    return "None" if value is None else "'***'"


@dataclass(frozen=True)
class TwilioCredentials:
    """An Account SID plus either its auth token or an API key SID + secret."""

    account_sid: str
    auth_token: str | None = None
    api_key_sid: str | None = None
    api_key_secret: str | None = None

    def __repr__(self) -> str:
        key_sid = "None" if self.api_key_sid is None else repr(mask_sid(self.api_key_sid))
        return (
            f"TwilioCredentials(account_sid='{mask_sid(self.account_sid)}', "
            f"auth_token={_mask_secret(self.auth_token)}, "
            f"api_key_sid={key_sid}, "
            f"api_key_secret={_mask_secret(self.api_key_secret)})"
        )

    __str__ = __repr__

    @property
    def auth_ok(self) -> bool:
        """True when the credentials can authenticate: an auth token, or an API key + secret."""
        return bool(self.auth_token) or (bool(self.api_key_sid) and bool(self.api_key_secret))

    def _secrets(self) -> list[str]:
        return [s for s in (self.auth_token, self.api_key_secret) if s]


@dataclass(frozen=True)
class KeyringStatus:
    usable: bool
    backend_name: str
    message: str


def _backend_name(backend: KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _redact(text: str, secrets: Iterable[str | None]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _unusable_message(backend_desc: str, env_hint: str) -> str:
    return (
        f"No secure keyring is available on this machine ({backend_desc}). "
        f"Set {env_hint} in the environment instead, or {_KEYRING_HINT}"
    )


class CredentialStore:
    """Loads and saves the app's secrets: environment first, then the OS keyring.

    ``keyring_backend=None`` uses the ``keyring`` module's default backend, resolved on
    first use; ``environ=None`` reads ``os.environ`` at each call.
    """

    def __init__(
        self,
        *,
        service: str = "frontdesk",
        keyring_backend: KeyringBackend | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if not service:
            raise ValueError("service must be a non-empty string")
        self._service = service
        self._backend_given = keyring_backend
        self._environ = environ
        self._default_backend: KeyringBackend | None = None

    # -- environment ------------------------------------------------------------------

    def _env(self, name: str) -> str | None:
        environ = os.environ if self._environ is None else self._environ
        value = environ.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    # -- backend selection --------------------------------------------------------------

    def _candidate(self) -> KeyringBackend:
        if self._backend_given is not None:
            return self._backend_given
        if self._default_backend is None:
            self._default_backend = keyring.get_keyring()
        return self._default_backend

    @staticmethod
    def _assess(backend: KeyringBackend) -> tuple[KeyringBackend | None, KeyringStatus]:
        """Return the concrete backend to use (or None) and why."""
        name = _backend_name(backend)
        if isinstance(backend, chainer.ChainerBackend):
            # The chainer writes to the first child that accepts; pick the best *secure*
            # child ourselves so a plaintext keyrings.alt backend is never written to.
            try:
                children: list[KeyringBackend] = list(backend.backends)
            except Exception as exc:  # a broken plugin must not break the app
                return None, KeyringStatus(False, name, f"keyring chainer failed: {exc}")
            rejected: list[str] = []
            for child in children:
                chosen, status = CredentialStore._assess(child)
                if chosen is not None:
                    return chosen, status
                rejected.append(status.backend_name)
            desc = f"{name}: {', '.join(rejected)}" if rejected else f"{name} with no backends"
            return None, KeyringStatus(False, desc, f"no secure backend among {desc}")
        if isinstance(backend, fail.Keyring | null.Keyring):
            return None, KeyringStatus(False, name, "keyring found no usable backend")
        module = type(backend).__module__
        if module == "keyrings.alt" or module.startswith("keyrings.alt."):
            return None, KeyringStatus(
                False, name, "keyrings.alt backends keep secrets in files; refused"
            )
        try:
            priority = float(backend.priority)
        except Exception as exc:  # SecretService raises when D-Bus/the daemon is missing
            return None, KeyringStatus(False, name, f"backend not available: {exc}")
        if priority < 1:
            return None, KeyringStatus(
                False, name, f"backend priority {priority:g} is below the recommended 1"
            )
        return backend, KeyringStatus(True, name, f"secrets are kept in {name}")

    def _resolve(self) -> tuple[KeyringBackend | None, KeyringStatus]:
        try:
            candidate = self._candidate()
        except keyring.errors.NoKeyringError as exc:
            return None, KeyringStatus(False, "none", f"keyring found no backend: {exc}")
        except Exception as exc:
            return None, KeyringStatus(False, "none", f"keyring failed to start: {exc}")
        return self._assess(candidate)

    def keyring_status(self) -> KeyringStatus:
        """Whether secrets can be saved here, which backend holds them, and a message."""
        return self._resolve()[1]

    def _require_backend(self, env_hint: str) -> KeyringBackend:
        backend, status = self._resolve()
        if backend is None:
            raise KeyringUnavailable(_unusable_message(status.backend_name, env_hint))
        return backend

    # -- raw keyring access ------------------------------------------------------------

    def _get(self, username: str) -> str | None:
        backend, _status = self._resolve()
        if backend is None:
            return None
        try:
            return backend.get_password(self._service, username)
        except keyring.errors.NoKeyringError:
            return None
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailable(
                f"The keyring ({_backend_name(backend)}) could not be read: "
                f"{type(exc).__name__}: {exc}. Unlock it, or set the credentials "
                "in the environment instead."
            ) from None

    def _set(self, username: str, value: str, env_hint: str, secrets: list[str]) -> None:
        backend = self._require_backend(env_hint)
        name = _backend_name(backend)
        try:
            backend.set_password(self._service, username, value)
        except keyring.errors.NoKeyringError:
            raise KeyringUnavailable(_unusable_message(name, env_hint)) from None
        except Exception as exc:
            detail = _redact(f"{type(exc).__name__}: {exc}", [*secrets, value])
            raise KeyringUnavailable(
                f"The keyring ({name}) refused to store the secret ({detail}). "
                f"Set {env_hint} in the environment instead, or {_KEYRING_HINT}"
            ) from None

    def _delete(self, username: str) -> None:
        backend, _status = self._resolve()
        if backend is None:
            return  # nothing can have been stored
        try:
            backend.delete_password(self._service, username)
        except keyring.errors.PasswordDeleteError:
            return  # not stored: already clear
        except keyring.errors.NoKeyringError:
            return
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailable(
                f"The keyring ({_backend_name(backend)}) could not delete the secret: "
                f"{type(exc).__name__}: {exc}"
            ) from None

    # -- Twilio --------------------------------------------------------------------------

    def _twilio_from_keyring(self) -> TwilioCredentials | None:
        raw = self._get(_TWILIO_USERNAME)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or not isinstance(data.get("account_sid"), str):
                raise ValueError("not a credentials object")
            fields = {
                k: (data.get(k) if isinstance(data.get(k), str) and data.get(k) else None)
                for k in ("auth_token", "api_key_sid", "api_key_secret")
            }
            return TwilioCredentials(account_sid=data["account_sid"], **fields)
        except ValueError:
            logger.warning(
                "the Twilio credentials stored in the keyring are unreadable; ignoring them"
            )
            return None

    def _twilio_env(self) -> dict[str, str | None]:
        return {name: self._env(name) for name in _TWILIO_ENV_VARS}

    def load_twilio(self) -> TwilioCredentials | None:
        """The Twilio credentials to use, environment variables overriding the keyring.

        A complete set in the environment (SID + token, or SID + API key + secret) is used
        without touching the keyring. Partial environment values override the matching
        keyring fields; keyring secrets of a *different* account than TWILIO_ACCOUNT_SID
        are ignored. Returns None when there is no Account SID anywhere. The result may
        lack a secret: check ``auth_ok``.
        """
        env = self._twilio_env()
        env_sid = env[ENV_ACCOUNT_SID]
        if env_sid is not None:
            try:
                env_sid = validate_account_sid(env_sid)
            except CredentialsError as exc:
                raise CredentialsError(f"{ENV_ACCOUNT_SID}: {exc}") from None
        env_key = env[ENV_API_KEY]
        if env_key is not None:
            try:
                env_key = validate_api_key_sid(env_key)
            except CredentialsError as exc:
                raise CredentialsError(f"{ENV_API_KEY}: {exc}") from None
        env_token, env_secret = env[ENV_AUTH_TOKEN], env[ENV_API_SECRET]

        env_complete = env_sid is not None and (
            env_token is not None or (env_key is not None and env_secret is not None)
        )
        if env_complete:
            assert env_sid is not None
            return TwilioCredentials(env_sid, env_token, env_key, env_secret)

        stored = self._twilio_from_keyring()
        if not any(env.values()):
            return stored
        if env_sid is not None and stored is not None and stored.account_sid != env_sid:
            stored = None  # secrets of another account must not be mixed in
        sid = env_sid or (stored.account_sid if stored else None)
        if sid is None:
            logger.warning(
                "Twilio secrets are set in the environment but %s is not; ignoring them",
                ENV_ACCOUNT_SID,
            )
            return None
        token = env_token or (stored.auth_token if stored else None)
        if env_key is not None:
            key_sid: str | None = env_key
            same_key = stored is not None and stored.api_key_sid == env_key
            secret = env_secret or (stored.api_key_secret if stored and same_key else None)
        else:
            key_sid = stored.api_key_sid if stored else None
            secret = env_secret or (stored.api_key_secret if stored else None)
        return TwilioCredentials(sid, token, key_sid, secret)

    def source(self) -> Literal["environment", "keyring", "none"]:
        """Where :meth:`load_twilio` gets its credentials from (never raises)."""
        try:
            creds = self.load_twilio()
        except CredentialsError:
            return "environment" if any(self._twilio_env().values()) else "none"
        if creds is None:
            return "none"
        if any(self._twilio_env().values()):
            return "environment"
        return "keyring"

    def save_twilio(self, creds: TwilioCredentials) -> None:
        """Validate and store the credentials in the keyring (never in a file)."""
        if not isinstance(creds, TwilioCredentials):
            raise TypeError("save_twilio expects TwilioCredentials")
        sid = validate_account_sid(creds.account_sid)
        key_sid = validate_api_key_sid(creds.api_key_sid) if creds.api_key_sid else None
        token = creds.auth_token.strip() if creds.auth_token else None
        secret = creds.api_key_secret.strip() if creds.api_key_secret else None
        if key_sid is not None and not secret:
            raise CredentialsError("An API Key SID needs its API key secret.")
        if secret and key_sid is None:
            raise CredentialsError("An API key secret needs its API Key SID (SK…).")
        if not token and not secret:
            raise CredentialsError(
                "Enter the auth token, or an API Key SID and its secret, with the Account SID."
            )
        for label, value in (("auth token", token), ("API key secret", secret)):
            if value is not None and any(ch.isspace() for ch in value):
                raise CredentialsError(f"The {label} must not contain spaces or line breaks.")
        blob = json.dumps(
            {
                "account_sid": sid,
                "auth_token": token,
                "api_key_sid": key_sid,
                "api_key_secret": secret,
            }
        )
        self._set(
            _TWILIO_USERNAME,
            blob,
            f"{ENV_ACCOUNT_SID} and {ENV_AUTH_TOKEN}",
            [s for s in (token, secret) if s],
        )
        logger.info("saved Twilio credentials for %s", mask_sid(sid))

    def clear_twilio(self) -> None:
        """Remove the stored Twilio credentials (environment variables are untouched)."""
        self._delete(_TWILIO_USERNAME)
        logger.info("cleared the Twilio credentials from the keyring")

    # -- ngrok ---------------------------------------------------------------------------

    def load_ngrok_token(self) -> str | None:
        """The ngrok authtoken: NGROK_AUTHTOKEN, else the keyring, else None."""
        env = self._env(ENV_NGROK_AUTHTOKEN)
        if env is not None:
            return env
        stored = self._get(_NGROK_USERNAME)
        return (stored.strip() or None) if stored else None

    def save_ngrok_token(self, token: str) -> None:
        value = token.strip() if isinstance(token, str) else ""
        if not value:
            raise CredentialsError("The ngrok authtoken is empty.")
        if any(ch.isspace() for ch in value):
            raise CredentialsError("The ngrok authtoken must not contain spaces or line breaks.")
        self._set(_NGROK_USERNAME, value, ENV_NGROK_AUTHTOKEN, [value])
        logger.info("saved the ngrok authtoken")

    def clear_ngrok_token(self) -> None:
        self._delete(_NGROK_USERNAME)
        logger.info("cleared the ngrok authtoken from the keyring")

    # -- the office database ---------------------------------------------------------------

    def load_database_password(self) -> str | None:
        """The office database's password from the keyring (None when none is stored or
        no keyring can be read: the connection then says it wants a password)."""
        try:
            stored = self._get(_DATABASE_USERNAME)
        except CredentialsError:
            return None
        return stored or None

    def save_database_password(self, password: str) -> None:
        if not isinstance(password, str) or not password or "\x00" in password:
            raise CredentialsError("The database password is empty or not text.")
        self._set(_DATABASE_USERNAME, password, "FRONTDESK_DATABASE_URL", [password])
        logger.info("saved the office database password")

    def clear_database_password(self) -> None:
        self._delete(_DATABASE_USERNAME)

    # -- named secrets (integrations: webhook signing secrets, the HubSpot token) --------

    def load_secret(self, name: str) -> str | None:
        """The secret stored as ``name`` in the keyring, or None."""
        stored = self._get(name)
        return (stored.strip() or None) if stored else None

    def save_secret(self, name: str, value: str) -> None:
        if not value or any(ch.isspace() for ch in value):
            raise CredentialsError("A secret must be non-empty, without spaces or line breaks.")
        self._set(name, value, "a working keyring", [value])
        logger.info("saved secret %s", name)

    def clear_secret(self, name: str) -> None:
        self._delete(name)
