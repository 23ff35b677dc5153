"""The office channel: every PC's event bus, joined through PostgreSQL LISTEN/NOTIFY.

Services publish change events on their process's :class:`~services.events.EventBus`
after each commit. :class:`OfficeChannel` subscribes to that bus and NOTIFYs the
``frontdesk`` channel with the events, serialized as JSON with this process's origin id;
a listener thread on a dedicated connection LISTENs and republishes other processes'
events on the local bus (its own are skipped by origin). So the UI's event bridge, which
only knows the local bus, sees every PC's changes.

Besides events the channel carries small control messages for the office supervisor
(``jobs``: wake the holder's scheduler; ``handover``: a desk client asks for the
number; ``released``: the holder let go of it).

After a lost connection or a PostgreSQL restart the listener reconnects (backing off up
to 5 s) and publishes :class:`~services.events.EverythingChanged`, since NOTIFYs sent
while it was away are gone: views reload, nothing is lost (the data is in the database).

A NOTIFY payload is at most 8000 bytes; events are sent in chunks well under that.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

from services.events import (
    CallChanged,
    ContactChanged,
    ConversationChanged,
    Event,
    EventBus,
    EverythingChanged,
    SettingsChanged,
)
from services.holder import libpq_url

log = logging.getLogger(__name__)

CHANNEL = "frontdesk"
MAX_PAYLOAD = 7000  # bytes; PostgreSQL's limit is 8000
RECONNECT_MAX_SECONDS = 5.0

# Events that cross PCs (WebhookSeen is this receiver's health; OfficeChanged is local).
_SHARED: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (ConversationChanged, ContactChanged, CallChanged, SettingsChanged)
}

ControlHandler = Callable[[str, dict[str, Any]], None]


def encode_event(event: Event) -> list[Any] | None:
    """``[type name, *fields]`` for an event other PCs should see, else None."""
    name = type(event).__name__
    if name not in _SHARED:
        return None
    if isinstance(event, SettingsChanged):
        return [name, list(event.keys)]
    if isinstance(event, ConversationChanged):
        return [name, event.conversation_id, event.contact_id]
    if isinstance(event, ContactChanged):
        return [name, event.contact_id]
    if isinstance(event, CallChanged):
        return [name, event.call_id]
    return None


def decode_event(item: Any) -> Event | None:
    """The event an :func:`encode_event` list stands for; None when malformed."""
    if not isinstance(item, list) or not item or not isinstance(item[0], str):
        return None
    name, args = item[0], item[1:]
    if name == "SettingsChanged":
        keys = args[0] if len(args) == 1 else None
        if isinstance(keys, list) and all(isinstance(k, str) for k in keys):
            return SettingsChanged(tuple(keys))
        return None
    cls = _SHARED.get(name)
    if cls is None or not all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        return None
    try:
        event: Event = cls(*args)
    except TypeError:
        return None
    return event


def chunk_payloads(origin: str, encoded: list[list[Any]]) -> list[str]:
    """JSON payloads ``{"o": origin, "k": "ev", "e": [...]}``, each under MAX_PAYLOAD."""
    payloads: list[str] = []
    batch: list[list[Any]] = []
    size = 0
    for item in encoded:
        text = json.dumps(item, separators=(",", ":"))
        if batch and size + len(text) + 64 > MAX_PAYLOAD:
            payloads.append(_ev_payload(origin, batch))
            batch, size = [], 0
        batch.append(item)
        size += len(text) + 1
    if batch:
        payloads.append(_ev_payload(origin, batch))
    return payloads


def _ev_payload(origin: str, batch: list[list[Any]]) -> str:
    return json.dumps({"o": origin, "k": "ev", "e": batch}, separators=(",", ":"))


class OfficeChannel:
    """Relays this process's events to the other PCs and theirs to this bus.

    ``on_control(kind, message)`` is called on the event loop for control messages from
    other processes. :meth:`start` and :meth:`stop` must run on the loop.
    """

    def __init__(
        self,
        database_url: str,
        bus: EventBus,
        origin: str,
        *,
        on_control: ControlHandler | None = None,
    ) -> None:
        self._url = libpq_url(database_url)
        self._bus = bus
        self.origin = origin
        self._on_control = on_control
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[list[Any]] = []
        self._flush_scheduled = False
        self._republishing = False
        self._unsubscribe: Callable[[], None] | None = None
        self._sender: ThreadPoolExecutor | None = None
        self._send_conn: psycopg.Connection[Any] | None = None
        self._sending: set[asyncio.Future[None]] = set()
        self._listener: threading.Thread | None = None
        self._stopping = threading.Event()
        self.listening = threading.Event()  # set while LISTEN is active (tests, bench)
        self.reconnects = 0

    # ---- life cycle -----------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping.clear()
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="frontdesk-notify")
        self._unsubscribe = self._bus.subscribe(self._outgoing)
        self._listener = threading.Thread(
            target=self._listen_forever, name="frontdesk-listen", daemon=True
        )
        self._listener.start()
        # Events committed before LISTEN is active would be missed by this PC only in
        # the first instant; wait (bounded) so a start-up is not a blind spot.
        await asyncio.to_thread(self.listening.wait, 5.0)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)
        self._stopping.set()
        if self._listener is not None:
            await asyncio.to_thread(self._listener.join, 5.0)
            self._listener = None
        if self._sender is not None:
            sender = self._sender
            await asyncio.get_running_loop().run_in_executor(sender, self._close_sender)
            sender.shutdown(wait=True)
            self._sender = None

    # ---- outgoing ---------------------------------------------------------------------
    def _outgoing(self, event: Event) -> None:
        if self._republishing:
            return  # came from another PC: it already told everyone
        encoded = encode_event(event)
        if encoded is None:
            return
        self._pending.append(encoded)
        if not self._flush_scheduled and self._loop is not None:
            # Events of one commit are published back to back: send them as one NOTIFY.
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        if pending:
            self._send_payloads(chunk_payloads(self.origin, pending))

    def send_control(self, kind: str, **fields: Any) -> None:
        """Tell the other processes ``kind`` (jobs, handover, released)."""
        payload = json.dumps({"o": self.origin, "k": kind, **fields}, separators=(",", ":"))
        self._send_payloads([payload])

    async def drain(self) -> None:
        """Wait until every NOTIFY handed to the sender so far is sent."""
        if self._flush_scheduled:
            self._flush()
        if self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)

    def _send_payloads(self, payloads: list[str]) -> None:
        if self._sender is None or self._loop is None:
            return
        future = asyncio.ensure_future(
            self._loop.run_in_executor(self._sender, self._notify, payloads)
        )
        self._sending.add(future)
        future.add_done_callback(self._sending.discard)

    def _notify(self, payloads: list[str]) -> None:
        """On the sender thread: NOTIFY each payload (reconnecting once if needed)."""
        for attempt in (1, 2):
            try:
                if self._send_conn is None or self._send_conn.closed:
                    self._send_conn = psycopg.connect(
                        self._url,
                        autocommit=True,
                        application_name="frontdesk-notify",
                        connect_timeout=5,
                    )
                for payload in payloads:
                    self._send_conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
                return
            except psycopg.Error as exc:
                self._close_sender()
                if attempt == 2:
                    # The data is committed; other PCs reload everything when their own
                    # connection comes back, or see it on their next refresh.
                    log.warning("could not tell the other PCs about a change: %s", exc)

    def _close_sender(self) -> None:
        conn, self._send_conn = self._send_conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    # ---- incoming ---------------------------------------------------------------------
    def _listen_forever(self) -> None:
        """The listener thread: LISTEN, hand notifications to the loop, reconnect."""
        backoff = 0.2
        first = True
        while not self._stopping.is_set():
            try:
                with psycopg.connect(
                    self._url,
                    autocommit=True,
                    application_name="frontdesk-listen",
                    connect_timeout=5,
                    keepalives=1,
                    keepalives_idle=5,
                    keepalives_interval=2,
                    keepalives_count=2,
                ) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    if not first:
                        self.reconnects += 1
                        log.info("office channel reconnected: reloading everything")
                        self._to_loop(self._republish, [EverythingChanged()])
                    first = False
                    backoff = 0.2
                    while not self._stopping.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._to_loop(self._received, note.payload)
                        if not self._stopping.is_set():
                            # A cheap round trip so a dead server is noticed even when idle.
                            conn.execute("SELECT 1")
            except psycopg.Error as exc:
                self.listening.clear()
                if self._stopping.is_set():
                    break
                log.warning("office channel lost (%s); reconnecting", exc)
                first = False
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, RECONNECT_MAX_SECONDS)
        self.listening.clear()

    def _to_loop(self, fn: Callable[..., None], arg: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(fn, arg)

    def _received(self, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            log.warning("dropped an unreadable office notification")
            return
        if not isinstance(message, dict) or message.get("o") == self.origin:
            return
        kind = message.get("k")
        if kind == "ev":
            items = message.get("e")
            events = [decode_event(item) for item in items] if isinstance(items, list) else []
            self._republish([e for e in events if e is not None])
        elif isinstance(kind, str) and self._on_control is not None:
            self._on_control(kind, message)

    def _republish(self, events: list[Event]) -> None:
        self._republishing = True
        try:
            for event in events:
                self._bus.publish(event)
        finally:
            self._republishing = False
