"""Finding a text in the carrier's log: the look-up that makes a resend safe.

A create whose outcome is unknown (or a crash while one was in flight) leaves a job
``uncertain``. Before anything is sent again, the carrier's Messages list is read by To
and From only, newest first (a DateSent filter would miss a text still queued at the
carrier, which has no DateSent yet), and matched on the body and a DateCreated window.
An MMS is matched the same way (its body may be empty); a plain text never matches a
logged message that carries media.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.ports import Carrier, RemoteMessage

#: Clock skew allowed between us and the carrier when matching DateCreated.
LOOKUP_SKEW = timedelta(minutes=2)
LOOKUP_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Lookup:
    """A claimed job whose earlier create may have reached the carrier."""

    job_id: int
    message_id: int
    to: str
    from_: str
    body: str
    since: datetime  # the earliest moment a create may have left
    media: bool = False  # an MMS (its body may be empty)


async def find_sent(
    carrier: Carrier,
    lookup: Lookup,
    known_sids: Callable[[list[str]], Awaitable[Iterable[str]]],
) -> RemoteMessage | None:
    """The carrier's record of the looked-up text, if it has one.

    ``known_sids(sids)`` returns those of ``sids`` already stored on a message of ours:
    an identical earlier text is not this one. The oldest remaining match is the first
    attempt's. Raises :class:`~services.ports.CarrierError` when the log cannot be read
    (then nothing may be sent: the caller looks again later).
    """
    recent = await carrier.list_messages(to=lookup.to, from_=lookup.from_, limit=LOOKUP_LIMIT)
    since = lookup.since - LOOKUP_SKEW
    candidates = [
        m
        for m in recent
        if m.body == lookup.body
        and not m.direction.startswith("inbound")
        and (m.date_created is None or m.date_created >= since)
        # A plain text never gains media, so a logged MMS is not it; an MMS may still
        # show NumMedia 0 while queued (the photo not yet fetched), so any count matches.
        and (lookup.media or m.num_media == 0)
    ]
    if not candidates:
        return None
    have = set(await known_sids([m.sid for m in candidates]))
    fresh = [m for m in candidates if m.sid not in have]
    return fresh[-1] if fresh else None
