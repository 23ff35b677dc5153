"""What a send carries from the database to the carrier, and a first attempt's outcome:
plain values shared by :mod:`services.outbox` and :mod:`services.desk_texts`."""

from __future__ import annotations

from dataclasses import dataclass

from services.send_state import SendState
from services.storage.models import Message


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A job about to be sent, and everything the create request needs."""

    job_id: int
    message_id: int
    contact_id: int
    conversation_id: int
    call_id: int | None
    to: str
    from_: str
    body: str
    media: tuple[str, ...] = ()  # kept photos' names (services.attachments), an MMS


def kept_media(message: Message) -> tuple[str, ...]:
    """The names of the kept photos an outbound message carries (none for a plain text)."""
    return tuple(d["file"] for d in (message.media or []) if d.get("file"))


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """Where a text stands after its first attempt (the test text reports this)."""

    state: SendState
    sid: str | None
    reason: str | None
