"""Logging to stderr and a rotating file in the data dir, with secrets scrubbed."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from services.credentials import CredentialStore
from services.private_files import private_dir, private_file, tighten


class RedactSecrets(logging.Filter):
    """Replaces any known secret in a record's final message with ``***``.

    ``secrets`` is asked on every record, so a token saved after start-up is covered.
    """

    def __init__(self, secrets: Callable[[], Iterable[str]]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = message
        for secret in self._secrets():
            if secret and len(secret) >= 6:
                scrubbed = scrubbed.replace(secret, "***")
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


def secrets_in(store: CredentialStore) -> list[str]:
    """The stored secrets the log must never show, read once (a keyring read can be a
    D-Bus round trip: not something to do per log record)."""
    found: list[str] = []
    try:
        creds = store.load_twilio()
        if creds is not None:
            found += [s for s in (creds.auth_token, creds.api_key_secret) if s]
        token = store.load_ngrok_token()
        if token:
            found.append(token)
    except Exception:  # an unusable keyring holds nothing we could log anyway
        pass
    return found


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose files (the current one and each new one) are 0600: the log
    names customers' numbers."""

    def _open(self) -> Any:
        path = Path(self.baseFilename)
        private_file(path)
        for old in path.parent.glob(path.name + ".*"):
            tighten(old)
        return super()._open()


def configure(log_dir: Path, secrets: Callable[[], Iterable[str]], *, verbose: bool) -> None:
    private_dir(log_dir)
    reset()
    root = logging.getLogger()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    redact = RedactSecrets(secrets)
    file_handler = PrivateRotatingFileHandler(
        log_dir / "frontdesk.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
    )
    handlers: list[logging.Handler] = [file_handler]
    if sys.stderr is not None:  # a Windows GUI executable has no console streams
        stream: logging.Handler = logging.StreamHandler()
        stream.setLevel(logging.DEBUG if verbose else logging.INFO)
        handlers.append(stream)
    for handler in handlers:
        handler.setFormatter(fmt)
        handler.addFilter(redact)
        handler._frontdesk = True  # type: ignore[attr-defined]  # marks our own handlers
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("twilio").setLevel(logging.WARNING)


def reset() -> None:
    """Remove and close the handlers :func:`configure` added (tests, reconfiguring)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_frontdesk", False):
            root.removeHandler(handler)
            handler.close()
