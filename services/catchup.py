"""Catch-up: what happened on the business number while Frontdesk was not listening.

On start (after the receiver listens and the number is wired) and after every re-wire,
:class:`CatchUp` reads Twilio's call and message logs since a cursor (sync_state
``catchup.cursor``; on the first run ``now - catchup.max_age_hours``) and hands every
inbound call and text to the engine, oldest first:

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
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from services import settings_store, sync_state
from services.clock import Clock, as_utc
from services.ports import Carrier, CarrierError, RemoteCall, RemoteMessage
from services.storage.database import Database, UnitOfWork

log = logging.getLogger(__name__)

CURSOR_KEY = "catchup.cursor"

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
        self.last_result: CatchUpResult | None = None

    async def cursor(self) -> datetime | None:
        def read(uow: UnitOfWork) -> datetime | None:
            raw = sync_state.get(uow.session, CURSOR_KEY)
            return as_utc(datetime.fromisoformat(raw)) if isinstance(raw, str) else None

        return await self._db.run(read)

    async def run(self, phone_number: str) -> CatchUpResult:
        """One catch-up pass for ``phone_number`` (runs are serialised)."""
        async with self._lock:
            result = await self._run(phone_number)
            self.last_result = result
            return result

    async def _since(self, now: datetime) -> datetime:
        def read(uow: UnitOfWork) -> tuple[object, int]:
            cfg = settings_store.load(uow.session)
            return sync_state.get(uow.session, CURSOR_KEY), int(cfg["catchup.max_age_hours"])

        raw, max_age = await self._db.run(read)
        if isinstance(raw, str):
            return as_utc(datetime.fromisoformat(raw))
        return now - timedelta(hours=max_age)

    async def _run(self, phone_number: str) -> CatchUpResult:
        now = self._clock.now()
        since = await self._since(now)
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
            sync_state.put(uow.session, CURSOR_KEY, cursor.isoformat())
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
                "catch-up since %s: %d missed call(s), %d answered, %d text(s)",
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
