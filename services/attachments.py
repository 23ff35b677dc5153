"""Photos the desk texts (outbound MMS): checked, kept privately, served to Twilio only
under a signed, expiring link.

Twilio sends an MMS by fetching each ``MediaUrl`` itself, so the photo must be reachable
at the receiver's public URL (the tunnel). The flow:

1. :func:`check` refuses what Twilio would not deliver to a US/Canadian handset before
   anything is stored: only JPEG, PNG and GIF (the image types Twilio resizes to fit each
   carrier's limit), recognised by their first bytes, not by the file name, and at most
   :data:`MAX_BYTES` (Twilio's 5 MB per message).
2. :meth:`PhotoStore.keep` copies the file into the data dir's ``attachments`` folder
   (0700, the copy 0600) under a random name; the thread and any retry use that copy,
   so the desk may move or delete the original.
3. At each create request :meth:`PhotoStore.link` signs ``/twilio/media/NAME`` with an
   expiry: ``?expires=UNIX&sig=HMAC-SHA256``. The key is derived from the Twilio auth
   token (kept in the keyring or the environment), so no extra secret ever touches disk,
   and a link dies with a rotated token as well as with time.
4. The receiver serves ``GET /twilio/media/NAME`` through :meth:`PhotoStore.open`: an
   unknown name is 404, a missing, forged or expired signature 403.

No Qt here; file I/O is blocking (call it off the event loop).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from services.clock import Clock
from services.private_files import FILE_MODE, private_dir

__all__ = [
    "ACCEPTED_TYPES",
    "LINK_TTL",
    "MAX_BYTES",
    "MEDIA_PATH",
    "LinkRefused",
    "Photo",
    "PhotoRefused",
    "PhotoStore",
    "StoredPhoto",
    "check",
    "sniff",
]

#: Content type -> the extension the kept copy gets.
ACCEPTED_TYPES: Final = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif"}
#: Twilio's limit for all the media of one message.
MAX_BYTES: Final = 5 * 1024 * 1024
#: How long a signed link works: Twilio fetches at once, but a message may wait in its
#: outgoing queue for a while before it is processed.
LINK_TTL: Final = timedelta(hours=4)
#: The receiver's path prefix for kept photos.
MEDIA_PATH: Final = "/twilio/media/"

_NAME = re.compile(r"[A-Za-z0-9_-]{22}\.(?:jpg|png|gif)")
_TYPE_OF_EXT: Final = {ext: ctype for ctype, ext in ACCEPTED_TYPES.items()}
_KEY_LABEL: Final = b"frontdesk media links v1"
_CHUNK: Final = 256 * 1024


class PhotoRefused(ValueError):
    """The file cannot be texted; the message says why, in the desk's words."""


class LinkRefused(Exception):
    """A media request that is not served: ``status`` 404 (unknown) or 403 (bad link)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True)
class Photo:
    """A file that passed :func:`check`."""

    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class StoredPhoto:
    """The private copy of a photo: ``name`` is what the message row and links carry."""

    name: str
    content_type: str
    size: int
    path: Path


def sniff(head: bytes) -> str | None:
    """The image type the first bytes of a file announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    return None


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _verdict(display: str, head: bytes, size: int) -> Photo:
    if size == 0:
        raise PhotoRefused(f"“{display}” is empty.")
    kind = sniff(head)
    if kind is None:
        raise PhotoRefused(
            f"“{display}” is not a JPEG, PNG or GIF photo; only those can be texted "
            "(Twilio resizes them to fit each carrier)."
        )
    if size > MAX_BYTES:
        raise PhotoRefused(
            f"“{display}” is {_megabytes(size)}; a text can carry at most "
            f"{_megabytes(MAX_BYTES)}. Pick a smaller photo."
        )
    return Photo(kind, size)


def check(path: Path) -> Photo:
    """Type and size of the photo at ``path``; raises :class:`PhotoRefused` with what to
    do when it cannot be texted (unreadable, empty, not JPEG/PNG/GIF, over 5 MB)."""
    display = path.name
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise PhotoRefused(f"“{display}” cannot be read: {exc.strerror or exc}.") from exc
    if not path.is_file():
        raise PhotoRefused(f"“{display}” is not a file.")
    return _verdict(display, head, size)


class PhotoStore:
    """Kept photos in ``directory`` and the signed links Twilio fetches them by.

    ``auth_token`` is read on every signature (a changed token takes effect at once; with
    none, no link is made and every link is refused).
    """

    def __init__(
        self, directory: Path, *, auth_token: Callable[[], str | None], clock: Clock
    ) -> None:
        self.directory = directory
        self._auth_token = auth_token
        self._clock = clock
        self.ttl = LINK_TTL

    # ---- keeping -------------------------------------------------------------------
    def keep(self, source: Path) -> StoredPhoto:
        """Copy ``source`` in privately; raises :class:`PhotoRefused`. The copy is checked
        again as it is read (the original may change between the composer's check and
        now), so what is kept is what was checked."""
        display = source.name
        private_dir(self.directory)
        name = secrets.token_urlsafe(16)  # 22 characters of [A-Za-z0-9_-]
        try:
            src = source.open("rb")
        except OSError as exc:
            raise PhotoRefused(f"“{display}” cannot be read: {exc.strerror or exc}.") from exc
        with src:
            first = src.read(_CHUNK)
            kind = sniff(first[:16])
            ext = ACCEPTED_TYPES.get(kind or "", ".bin")
            target = self.directory / f"{name}{ext}"
            size = len(first)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            try:
                with os.fdopen(fd, "wb") as out:
                    _verdict(display, first[:16], size)  # empty or wrong type: stop now
                    out.write(first)
                    while chunk := src.read(_CHUNK):
                        size += len(chunk)
                        if size > MAX_BYTES:
                            _verdict(display, first[:16], size)
                        out.write(chunk)
            except BaseException:
                target.unlink(missing_ok=True)
                raise
        assert kind is not None  # _verdict refused anything else
        return StoredPhoto(target.name, kind, size, target)

    def discard(self, name: str) -> None:
        """Delete a kept photo (a send that was refused before anything was stored)."""
        path = self.path_of(name)
        if path is not None:
            path.unlink(missing_ok=True)

    def path_of(self, name: str) -> Path | None:
        """The kept file called ``name``; None for a name we never give out."""
        if not _NAME.fullmatch(name):
            return None
        return self.directory / name

    # ---- links ---------------------------------------------------------------------
    def _key(self) -> bytes | None:
        try:
            token = self._auth_token()
        except Exception:  # never let the exception text (which may carry it) escape
            return None
        if not token:
            return None
        return hmac.new(token.encode(), _KEY_LABEL, hashlib.sha256).digest()

    @staticmethod
    def _signature(key: bytes, name: str, expires: int) -> str:
        return hmac.new(key, f"{name}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def link(self, public_base: str, name: str, *, now: datetime | None = None) -> str | None:
        """``public_base`` + the signed, expiring path of ``name``; None without a token."""
        key = self._key()
        if key is None or self.path_of(name) is None:
            return None
        expires = int(((now or self._clock.now()) + self.ttl).timestamp())
        sig = self._signature(key, name, expires)
        return f"{public_base.rstrip('/')}{MEDIA_PATH}{name}?expires={expires}&sig={sig}"

    def open(self, name: str, expires: str, sig: str) -> tuple[Path, str]:
        """The file and content type a media request may have; raises
        :class:`LinkRefused` (404 unknown name, 403 missing/forged/expired link)."""
        path = self.path_of(name)
        if path is None or not path.is_file():
            raise LinkRefused(404, "unknown media")
        if not (expires.isascii() and expires.isdigit() and len(expires) <= 12):
            raise LinkRefused(403, "no valid expiry")
        if not (sig.isascii() and len(sig) == 64):
            raise LinkRefused(403, "no valid signature")
        key = self._key()
        if key is None:
            raise LinkRefused(403, "no auth token to check the link with")
        if not hmac.compare_digest(self._signature(key, name, int(expires)), sig):
            raise LinkRefused(403, "signature mismatch")
        if int(expires) < self._clock.now().timestamp():
            raise LinkRefused(403, "link expired")
        return path, _TYPE_OF_EXT[path.suffix]
