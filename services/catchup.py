"""Catch-up: what happened on the business number while Frontdesk was not listening.

On start (after the receiver listens and the number is wired) and after every re-wire,
:class:`CatchUp` reads Twilio's call and message logs for one number (every location's
number is caught up, each on its own: the logs filtered by To / From = that number) since
that number's cursor and hands every inbound call and text to the engine, oldest first
(the engine finds the location by the ``To`` it is given):

- a parent inbound call (``To`` = the number, no ParentCallSid) whose status is busy,
  no-answer, failed or canceled is **missed**; a completed one is **answered** when one
  of its child legs (``ParentCallSid`` = it: the Dial of a forward Twimlet or a TwiML Bin)
  completed, else **missed** (no Dial at all, or every leg busy / no-answer / failed /
  canceled). :meth:`Engine.catch_up_call` records it once per CallSid and applies the
  catch-up template and age limit.
- every inbound message goes to :meth:`Engine.catch_up_message` as the webhook form
  Twilio would have posted (MessageSid, From, To, Body, NumMedia and, for an MMS, the
  MediaUrlN / MediaContentTypeN read from the message's Media list).

A call still in progress (or with a leg in progress) is not decided yet: it is left for
the next run, and the cursor stays at or before it. The cursor moves only after every
record up to it went through; it keeps a small overlap (``overlap``) for clock skew,
which is harmless because both engine entry points are idempotent by Twilio's SIDs.

One cursor per number (sync_state :func:`cursor_key`), never a shared one: a number's
cursor moves only when *its* logs were read, so a number whose run failed or waits on a
ringing call holds only itself back, and no other number's run moves it past anything.
Where a number without a cursor of its own starts:

- the first location's number adopts the cursor from before locations (``catchup.cursor``,
  :data:`CURSOR_KEY`, then cleared): an upgrade skips nothing and repeats nothing;
- any other number starts at ``now - catchup.max_age_hours`` (as a first run does) or,
  when earlier, at the moment it became a location's number (its ``location_settings``
  row): a number added while no Frontdesk ran, or whose first runs failed, is read from
  when it joined, so nothing that reached it since is skipped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select

from services import location_store, settings_store, sync_state
from services.clock import Clock, as_utc
from services.ports import Carrier, CarrierError, RemoteCall, RemoteMessage
from services.storage.database import Database, UnitOfWork
from services.storage.models import LocationSetting

log = logging.getLogger(__name__)

# The one cursor from before locations: the first location's number adopts it.
CURSOR_KEY = "catchup.cursor"


def cursor_key(phone_number: str) -> str:
    """Where the catch-up of ``phone_number`` has read its logs up to."""
    return f"{CURSOR_KEY}:{phone_number}"


FINAL = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
UNANSWERED = frozenset({"busy", "no-answer", "failed", "canceled"})


class CatchUpSink(Protocol):
    async def catch_up_call(
        self,
        *,
        sid: str,
        from_raw: str,
        to: str,
        started_at: datetime,
        ended_at: datetime | None,
        missed: bool,
        texted_after: bool = False,
    ) -> bool: ...

    async def catch_up_message(self, form: dict[str, str], *, received_at: datetime) -> bool: ...


class OutboundSink(Protocol):
    async def found_in_log(self, call: RemoteCall) -> bool: ...


@dataclass(frozen=True, slots=True)
class CatchUpResult:
    """What one run found: new records, already known ones, undecided calls, the cursor."""

    since: datetime
    cursor: datetime
    calls_missed: int = 0
    calls_answered: int = 0
    messages: int = 0
    already_known: int = 0
    pending: int = 0
    callbacks: int = 0


@dataclass(frozen=True, slots=True)
class _Item:
    at: datetime
    call: RemoteCall | None = None
    missed: bool = False
    message: RemoteMessage | None = None
    # A missed call whose caller texted this number after it (later in the same log).
    texted_after: bool = False


class CatchUp:
    """Reads the carrier's logs since the cursor and records what the engine missed."""

    def __init__(
        self,
        db: Database,
        carrier: Carrier,  # its call, message and media logs
        engine: CatchUpSink,
        clock: Clock,
        *,
        overlap: timedelta = timedelta(minutes=2),
        limit: int = 1000,
        callbacks: OutboundSink | None = None,
    ) -> None:
        self._callbacks = callbacks
        self._db = db
        self._carrier = carrier
        self._engine = engine
        self._clock = clock
        self._overlap = overlap
        self._limit = limit
        self._lock = asyncio.Lock()
        self.last_result: CatchUpResult | None = None  # the last run's, whichever number
        self.results: dict[str, CatchUpResult] = {}  # each number's last run

    async def cursor(self, phone_number: str) -> datetime | None:
        """Where ``phone_number``'s logs were read up to (None: never read yet)."""

        def read(uow: UnitOfWork) -> datetime | None:
            return _moment(sync_state.get(uow.session, cursor_key(phone_number)))

        return await self._db.run(read)

    async def run(self, phone_number: str) -> CatchUpResult:
        """One catch-up pass for ``phone_number`` (runs are serialised)."""
        async with self._lock:
            result = await self._run(phone_number)
            self.last_result = result
            self.results[phone_number] = result
            return result

    async def _since(self, phone_number: str, now: datetime) -> datetime:
        return await self._db.run(lambda uow: _start(uow, phone_number, now))

    async def _run(self, phone_number: str) -> CatchUpResult:
        now = self._clock.now()
        since = await self._since(phone_number, now)
        horizon = now - self._overlap
        hold = horizon  # the cursor can move no further than this

        items: list[_Item] = []
        pending = 0
        calls = await self._carrier.list_calls(
            to=phone_number, start_time_after=since, limit=self._limit
        )
        for call in calls:
            if call.parent_call_sid or call.direction != "inbound" or call.start_time is None:
                continue
            started = as_utc(call.start_time)
            if started < since:
                continue
            missed = await self._classify(call)
            if missed is None:
                pending += 1
                hold = min(hold, started - timedelta(seconds=1))
                continue
            items.append(_Item(at=started, call=call, missed=missed))

        messages = await self._carrier.list_messages(
            to=phone_number, date_sent_after=since, limit=self._limit
        )
        for message in messages:
            if message.direction != "inbound":
                continue
            at = message.date_sent or message.date_created
            if at is None or message.status in ("receiving", "accepted", "queued"):
                pending += 1
                if at is not None:
                    hold = min(hold, as_utc(at) - timedelta(seconds=1))
                continue
            if as_utc(at) < since:
                continue
            items.append(_Item(at=as_utc(at), message=message))

        last_text: dict[str, datetime] = {}  # each sender's newest text in the log
        for i in items:
            if i.message is not None:
                last_text[i.message.from_] = max(i.at, last_text.get(i.message.from_, i.at))
        items = [
            replace(i, texted_after=last_text.get(i.call.from_, i.at) > i.at)
            if i.call is not None and i.missed
            else i
            for i in items
        ]

        counts = {"missed": 0, "answered": 0, "messages": 0, "known": 0}
        # Oldest first: a STOP then a START, or a call then the caller's text, keep their order.
        for item in sorted(items, key=lambda i: i.at):
            created = await self._record(item)
            if not created:
                counts["known"] += 1
            elif item.call is not None:
                counts["missed" if item.missed else "answered"] += 1
            else:
                counts["messages"] += 1

        called_back = 0
        if self._callbacks is not None:
            # Calls from the business number made elsewhere count as callbacks.
            outbound = await self._carrier.list_calls(
                from_=phone_number, start_time_after=since, limit=self._limit
            )
            for call in sorted(outbound, key=lambda c: c.start_time or now):
                if call.start_time is not None and call.status not in FINAL:
                    hold = min(hold, as_utc(call.start_time) - timedelta(seconds=1))
                    continue
                called_back += await self._callbacks.found_in_log(call)

        cursor = max(since, hold)

        def advance(uow: UnitOfWork) -> None:
            sync_state.put(uow.session, cursor_key(phone_number), cursor.isoformat())
            uow.commit()

        await self._db.run(advance)
        result = CatchUpResult(
            since=since,
            cursor=cursor,
            calls_missed=counts["missed"],
            calls_answered=counts["answered"],
            messages=counts["messages"],
            already_known=counts["known"],
            pending=pending,
            callbacks=called_back,
        )
        if result.calls_missed or result.calls_answered or result.messages:
            log.info(
                "catch-up of %s since %s: %d missed call(s), %d answered, %d text(s)",
                phone_number,
                since.isoformat(timespec="seconds"),
                result.calls_missed,
                result.calls_answered,
                result.messages,
            )
        return result

    async def _classify(self, call: RemoteCall) -> bool | None:
        """True missed, False answered, None not decided yet (still ringing / talking)."""
        if call.status in UNANSWERED:
            return True
        if call.status != "completed":
            return None
        legs = await self._carrier.list_calls(parent_call_sid=call.sid, limit=100)
        if any(leg.status == "completed" for leg in legs):
            return False
        if any(leg.status not in FINAL for leg in legs):
            return None
        return True

    async def _record(self, item: _Item) -> bool:
        if item.call is not None:
            call = item.call
            return await self._engine.catch_up_call(
                sid=call.sid,
                from_raw=call.from_,
                to=call.to,
                started_at=item.at,
                ended_at=as_utc(call.end_time) if call.end_time else None,
                missed=item.missed,
                texted_after=item.texted_after,
            )
        message = item.message
        assert message is not None
        form = {
            "MessageSid": message.sid,
            "From": message.from_,
            "To": message.to,
            "Body": message.body,
            "NumMedia": str(message.num_media),
            "SmsStatus": "received",
        }
        if message.num_media:
            # The webhook would have carried MediaUrlN; the log has them one level down.
            try:
                media = await self._carrier.list_media(message.sid)
            except CarrierError as exc:
                log.warning("media of %s not read (%s); threading the text alone", message.sid, exc)
                media = []
            for i, (url, content_type) in enumerate(media):
                form[f"MediaUrl{i}"] = url
                form[f"MediaContentType{i}"] = content_type
            form["NumMedia"] = str(len(media))
        return await self._engine.catch_up_message(form, received_at=item.at)


def _moment(raw: object) -> datetime | None:
    return as_utc(datetime.fromisoformat(raw)) if isinstance(raw, str) else None


def _start(uow: UnitOfWork, phone_number: str, now: datetime) -> datetime:
    """Where ``phone_number``'s run starts (see the module docstring)."""
    session = uow.session
    own = _moment(sync_state.get(session, cursor_key(phone_number)))
    if own is not None:
        return own
    first = location_store.load(session).first.phone_number == phone_number
    shared = _moment(sync_state.get(session, CURSOR_KEY))
    if first and shared is not None:
        # Adopted now (the run writes it under the number's key), forgotten as shared.
        sync_state.put(session, cursor_key(phone_number), shared.isoformat())
        sync_state.put(session, CURSOR_KEY, None)
        uow.commit()
        return shared
    max_age = int(settings_store.load(session)["catchup.max_age_hours"])
    start = now - timedelta(hours=max_age)
    joined = session.scalar(
        select(func.min(LocationSetting.updated_at)).where(
            LocationSetting.key == "business.phone_number",
            LocationSetting.value == json.dumps(phone_number),
        )
    )
    if joined is not None:
        start = min(start, as_utc(joined))
    return start
