"""Endpoint URLs and the names their secrets have in the keyring.

A webhook URL must be https; plain http is allowed only to this machine (localhost,
127.0.0.1, ::1) for development. Anything else is refused with a sentence saying why.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
from typing import Protocol
from urllib.parse import urlsplit

MAX_URL = 500
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
HUBSPOT_URL = "https://api.hubapi.com"


class EndpointRefused(ValueError):
    """An endpoint the owner entered cannot be used; the message says why."""


class SecretVault(Protocol):
    """Named secrets on this PC (the OS keyring in the app: services.credentials)."""

    def load_secret(self, name: str) -> str | None: ...

    def save_secret(self, name: str, value: str) -> None: ...

    def clear_secret(self, name: str) -> None: ...


class MemoryVault:
    """Secrets held in memory only (the demo, tests): nothing reaches a disk."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    def load_secret(self, name: str) -> str | None:
        return self._values.get(name)

    def save_secret(self, name: str, value: str) -> None:
        self._values[name] = value

    def clear_secret(self, name: str) -> None:
        self._values.pop(name, None)


def secret_name(uid: str) -> str:
    """The keyring entry of an endpoint's signing secret (or HubSpot token)."""
    return f"integration-{uid}"


def new_uid() -> str:
    return secrets.token_hex(8)


def new_signing_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def check_signing_secret(value: str) -> str:
    text = value.strip()
    raw = text.removeprefix("whsec_")
    try:
        decoded = base64.b64decode(raw + "==", validate=False)
    except ValueError:
        decoded = b""
    if not text.startswith("whsec_") or len(decoded) < 16 or len(decoded) > 64:
        raise EndpointRefused(
            "A signing secret is 'whsec_' followed by base64 of 16 to 64 bytes "
            "(leave it empty and Frontdesk makes one)."
        )
    return text


def check_url(value: str) -> str:
    """``value`` stripped, if it is a URL Frontdesk may post to; else :class:`EndpointRefused`."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise EndpointRefused("Enter the URL to send events to.")
    if len(text) > MAX_URL:
        raise EndpointRefused(f"The URL is longer than {MAX_URL} characters.")
    if "\x00" in text or any(ch.isspace() for ch in text):
        raise EndpointRefused("The URL must not contain spaces or control characters.")
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise EndpointRefused(f"This is not a valid URL ({exc}).") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        raise EndpointRefused("This is not a web address: it must start with https://.")
    if parts.username or parts.password:
        raise EndpointRefused("Put no user name or password in the URL: events are signed.")
    if port == 0:
        raise EndpointRefused("This is not a valid URL (port 0).")
    if scheme == "http" and not _local(host):
        raise EndpointRefused(
            "Events go out over https only (http is allowed to localhost, for development)."
        )
    return text


def _local(host: str) -> bool:
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
