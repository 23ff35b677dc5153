"""Unsent replies, kept per conversation on this PC.

A draft is this PC's (who typed it sits here), so it lives in the PC's own settings file
(``window.ini`` in the data dir), never in the shared database. Drafts are keyed by the
contact's E.164 number, which stays the same whatever database the PC points at.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings

MAX_DRAFTS = 500  # the oldest beyond this are dropped: a draft is a few days' memory


class DraftStore(QObject):
    """``get(phone)`` / ``put(phone, text)``; an empty text removes the draft.

    ``store``: a QSettings (written to disk, so drafts survive a restart); None keeps
    them in memory for this run only.
    """

    GROUP = "drafts"

    def __init__(self, store: QSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._memory: dict[str, str] = {}
        if store is not None:
            store.beginGroup(self.GROUP)
            for key in store.childKeys():
                value = store.value(key)
                if isinstance(value, str) and value:
                    self._memory[_phone(key)] = value
            store.endGroup()

    def get(self, phone: str) -> str:
        return self._memory.get(phone, "")

    def put(self, phone: str, text: str) -> None:
        if not text.strip():
            text = ""
        if self._memory.get(phone, "") == text:
            return
        self._memory.pop(phone, None)
        if text:
            self._memory[phone] = text  # newest last
        while len(self._memory) > MAX_DRAFTS:
            oldest = next(iter(self._memory))
            self._memory.pop(oldest)
            self._write(oldest, "")
        self._write(phone, text)

    def phones(self) -> list[str]:
        return list(self._memory)

    def _write(self, phone: str, text: str) -> None:
        if self._store is None:
            return
        key = f"{self.GROUP}/{_key(phone)}"
        if text:
            self._store.setValue(key, text)
        else:
            self._store.remove(key)

    def sync(self) -> None:
        if self._store is not None:
            self._store.sync()


def _key(phone: str) -> str:
    # QSettings treats "/" and "\" as separators and INI keys drop a leading "+".
    return "p" + phone.replace("+", "").replace("/", "").replace("\\", "")


def _phone(key: str) -> str:
    return "+" + key[1:]
