"""The integrations as the composition root builds them and Settings uses them.

Every process has one :class:`Integrations` (Settings works on desk clients too: the rows
it writes are picked up by the holder); only the number holder runs :meth:`start` ..
:meth:`stop` (the recorder and the delivery worker). Secrets (signing secrets, the
HubSpot token) are read from this PC's keyring when a delivery goes out: a holder
without one leaves the delivery pending, saying so, and loses nothing.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
from typing import TYPE_CHECKING, Any

import aiohttp
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from services import records
from services.clock import Clock, as_utc
from services.events import ContactChanged, EventBus
from services.integrations import catalog, delivery_state, endpoints, webhook_post
from services.integrations.api import DeliveryView, EndpointView, NewEndpoint
from services.integrations.endpoints import EndpointRefused, SecretVault
from services.integrations.outcome import Outcome
from services.integrations.recorder import Recorder, record
from services.integrations.worker import Claimed, DeliveryWorker
from services.storage.database import Database, UnitOfWork
from services.storage.models import (
    Contact,
    IntegrationDelivery,
    IntegrationEndpoint,
    IntegrationEvent,
)

if TYPE_CHECKING:
    from services.integrations.hubspot import HubSpotSender

log = logging.getLogger(__name__)

MAX_ENDPOINTS = 20


class NotFoundError(LookupError):
    pass


class Integrations:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        clock: Clock,
        vault: SecretVault,
        *,
        hubspot_host: str | None = None,
        request_timeout: float = 10.0,
        concurrency: int = 4,
    ) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._vault = vault
        self.hubspot_host = hubspot_host
        self.request_timeout = request_timeout
        self._session: aiohttp.ClientSession | None = None
        # One HubSpot request chain at a time: two deliveries for one caller must not both
        # search, find nobody and create the contact twice (and it keeps under the rate).
        self._hubspot_lock = asyncio.Lock()
        self.worker = DeliveryWorker(db, clock, self._send, concurrency=concurrency)
        self.recorder = Recorder(db, bus, clock, on_recorded=self.worker.wake)

    # ---- the holder's duty -------------------------------------------------------------
    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.request_timeout),
            connector=aiohttp.TCPConnector(limit=self.worker.concurrency * 2),
        )
        await self.recorder.start()
        await self.worker.start()

    async def stop(self) -> None:
        await self.worker.stop()
        await self.recorder.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def idle(self) -> None:
        """Wait for what was recorded and is being sent (tests)."""
        await self.recorder.idle()
        await self.worker.idle()

    # ---- sending -----------------------------------------------------------------------
    async def _send(self, item: Claimed, at: Any) -> Outcome:
        name = endpoints.secret_name(item.endpoint_uid)
        secret = await asyncio.to_thread(self._vault.load_secret, name)
        if not secret:
            what = "HubSpot token" if item.kind == "hubspot" else "signing secret"
            return Outcome(
                False,
                f"not sent: this PC's keyring has no {what} for it (enter it in Settings "
                "on the PC that holds the number)",
                postpone=True,
            )
        if item.kind == "hubspot":
            # hubspot-api-client takes ~80 ms to import: only offices that use HubSpot pay
            # for it, once, off the loop, instead of every launch of the app.
            hubspot = await asyncio.to_thread(
                importlib.import_module, "services.integrations.hubspot"
            )
            sender: HubSpotSender = hubspot.HubSpotSender(
                secret,
                host=self.hubspot_host,
                timeout=self.request_timeout,
                learned_name=self._learned_name,
            )
            async with self._hubspot_lock:
                return await sender.send(item.payload, at)
        if self._session is None:
            return Outcome(False, "not sent: deliveries are stopping", postpone=True)
        return await webhook_post.post(
            self._session,
            item.url,
            secret,
            item.key,
            item.payload,
            at,
            timeout=self.request_timeout,
        )

    async def _learned_name(self, phone: str, name: str) -> None:
        """HubSpot knows this caller's name and the desk typed none: use it."""

        def work(uow: UnitOfWork) -> None:
            s = uow.session
            now = self._clock.now()
            # One conditional UPDATE, not read-then-write: a name the desk types at the
            # same moment must win (PostgreSQL re-checks the WHERE under the row lock).
            done = s.execute(
                update(Contact)
                .where(Contact.phone == phone, Contact.name.is_(None))
                .values(name=" ".join(name.split())[:200], updated_at=now)
                .returning(Contact.id)
            ).scalar()
            if done is None:
                return
            records.audit(s, now, "contact.renamed", actor="hubspot", subject=phone)
            uow.after_commit(functools.partial(self._bus.publish, ContactChanged(done)))
            uow.commit()

        await self._db.run(work)

    # ---- Settings ---------------------------------------------------------------------
    async def endpoints(self) -> list[EndpointView]:
        return await self._db.run(lambda uow: _views(uow.session))

    async def hubspot(self) -> EndpointView | None:
        views = await self.endpoints()
        return next((v for v in views if v.kind == "hubspot"), None)

    async def add_webhook(self, url: str, secret: str | None = None) -> NewEndpoint:
        clean = endpoints.check_url(url)
        signing = (
            endpoints.check_signing_secret(secret)
            if secret and secret.strip()
            else endpoints.new_signing_secret()
        )
        uid = endpoints.new_uid()

        def work(uow: UnitOfWork) -> int:
            s = uow.session
            count = s.scalar(select(func.count()).select_from(IntegrationEndpoint)) or 0
            if count >= MAX_ENDPOINTS:
                raise EndpointRefused(f"At most {MAX_ENDPOINTS} endpoints can be added.")
            if s.scalar(
                select(IntegrationEndpoint.id).where(
                    IntegrationEndpoint.url == clean, IntegrationEndpoint.kind == "webhook"
                )
            ):
                raise EndpointRefused("This URL is already an endpoint.")
            row = IntegrationEndpoint(
                uid=uid, kind="webhook", url=clean, enabled=True, created_at=self._clock.now()
            )
            s.add(row)
            s.flush()
            records.audit(s, self._clock.now(), "integration.added", subject=clean[:100])
            uow.commit()
            return row.id

        # The secret first: a row without its secret would only ever be postponed.
        await asyncio.to_thread(self._vault.save_secret, endpoints.secret_name(uid), signing)
        try:
            endpoint_id = await self._db.run(work)
        except BaseException:
            await asyncio.to_thread(self._vault.clear_secret, endpoints.secret_name(uid))
            raise
        view = await self._view(endpoint_id)
        return NewEndpoint(view, signing)

    async def set_hubspot_token(self, token: str) -> EndpointView:
        value = token.strip() if isinstance(token, str) else ""
        if not value or any(ch.isspace() for ch in value) or len(value) > 500:
            raise EndpointRefused("Paste the HubSpot private-app access token (no spaces).")

        def work(uow: UnitOfWork) -> tuple[int, str]:
            s = uow.session
            row = s.scalar(select(IntegrationEndpoint).where(IntegrationEndpoint.kind == "hubspot"))
            if row is None:
                row = IntegrationEndpoint(
                    uid=endpoints.new_uid(),
                    kind="hubspot",
                    url=endpoints.HUBSPOT_URL,
                    enabled=True,
                    created_at=self._clock.now(),
                )
                s.add(row)
                s.flush()
            _enable(row)
            uow.commit()
            return row.id, row.uid

        endpoint_id, uid = await self._db.run(work)
        await asyncio.to_thread(self._vault.save_secret, endpoints.secret_name(uid), value)
        self.worker.wake()
        return await self._view(endpoint_id)

    async def remove(self, endpoint_id: int) -> None:
        def work(uow: UnitOfWork) -> str | None:
            row = uow.session.get(IntegrationEndpoint, endpoint_id)
            if row is None:
                return None
            uid = row.uid
            records.audit(
                uow.session, self._clock.now(), "integration.removed", subject=row.url[:100]
            )
            uow.session.delete(row)
            uow.commit()
            return uid

        uid = await self._db.run(work)
        if uid is not None:
            await asyncio.to_thread(self._vault.clear_secret, endpoints.secret_name(uid))

    async def set_enabled(self, endpoint_id: int, enabled: bool) -> EndpointView:
        def work(uow: UnitOfWork) -> None:
            row = uow.session.get(IntegrationEndpoint, endpoint_id)
            if row is None:
                raise NotFoundError(f"endpoint {endpoint_id} not found")
            if enabled:
                _enable(row)
            else:
                row.enabled = False
                row.disabled_at = self._clock.now()
                row.disabled_reason = "Turned off by the owner."
            uow.commit()

        await self._db.run(work)
        self.worker.wake()
        return await self._view(endpoint_id)

    async def deliveries(self, endpoint_id: int, *, limit: int = 100) -> list[DeliveryView]:
        def query(uow: UnitOfWork) -> list[DeliveryView]:
            rows = uow.session.execute(
                select(IntegrationDelivery, IntegrationEvent.type, IntegrationEvent.key)
                .join(IntegrationEvent, IntegrationEvent.id == IntegrationDelivery.event_id)
                .where(IntegrationDelivery.endpoint_id == endpoint_id)
                # Newest first by the time the log shows (a retried delivery moves up).
                .order_by(
                    func.coalesce(
                        IntegrationDelivery.last_attempt_at, IntegrationDelivery.created_at
                    ).desc(),
                    IntegrationDelivery.id.desc(),
                )
                .limit(limit)
            ).all()
            return [
                DeliveryView(
                    d.id,
                    kind,
                    key,
                    d.state,
                    d.attempts,
                    d.response_code,
                    as_utc(d.last_attempt_at or d.created_at),
                    as_utc(d.due_at),
                    d.result,
                )
                for d, kind, key in rows
            ]

        return await self._db.run(query)

    async def replay(self, delivery_id: int) -> None:
        def work(uow: UnitOfWork) -> None:
            row = uow.session.get(IntegrationDelivery, delivery_id)
            if row is None:
                raise NotFoundError(f"delivery {delivery_id} not found")
            if row.state == delivery_state.DeliveryState.SENDING:
                return  # going out right now
            delivery_state.replay(row, self._clock.now())
            uow.commit()

        await self._db.run(work)
        self.worker.wake()

    async def send_test(self, endpoint_id: int) -> None:
        def work(uow: UnitOfWork) -> None:
            s = uow.session
            row = s.get(IntegrationEndpoint, endpoint_id)
            if row is None:
                raise NotFoundError(f"endpoint {endpoint_id} not found")
            now = self._clock.now()
            key, payload = catalog.test_event(row.uid, now)
            record(s, [row], key, payload, now, now)
            uow.commit()

        await self._db.run(work)
        self.worker.wake()

    async def signing_secret(self, endpoint_id: int) -> str | None:
        view_uid = await self._db.run(
            lambda uow: uow.session.scalar(
                select(IntegrationEndpoint.uid).where(IntegrationEndpoint.id == endpoint_id)
            )
        )
        if view_uid is None:
            return None
        return await asyncio.to_thread(self._vault.load_secret, endpoints.secret_name(view_uid))

    async def _view(self, endpoint_id: int) -> EndpointView:
        views = await self.endpoints()
        for view in views:
            if view.id == endpoint_id:
                return view
        raise NotFoundError(f"endpoint {endpoint_id} not found")


def _enable(row: IntegrationEndpoint) -> None:
    row.enabled = True
    row.failing_since = None
    row.disabled_at = None
    row.disabled_reason = None


def _views(s: Session) -> list[EndpointView]:
    counts: dict[int, tuple[int, int, int]] = {}
    state = IntegrationDelivery.state
    for endpoint_id, pending, failed, delivered in s.execute(
        select(
            IntegrationDelivery.endpoint_id,
            func.sum(case((state.in_(("pending", "sending")), 1), else_=0)),
            func.sum(case((state == "failed", 1), else_=0)),
            func.sum(case((state == "delivered", 1), else_=0)),
        ).group_by(IntegrationDelivery.endpoint_id)
    ):
        counts[endpoint_id] = (int(pending or 0), int(failed or 0), int(delivered or 0))
    out: list[EndpointView] = []
    for row in s.scalars(select(IntegrationEndpoint).order_by(IntegrationEndpoint.id)):
        last = s.scalar(
            select(IntegrationDelivery.result)
            .where(
                IntegrationDelivery.endpoint_id == row.id,
                IntegrationDelivery.last_attempt_at.is_not(None),
            )
            .order_by(IntegrationDelivery.last_attempt_at.desc())
            .limit(1)
        )
        pending, failed, delivered = counts.get(row.id, (0, 0, 0))
        out.append(
            EndpointView(
                row.id,
                row.kind,
                row.url,
                row.enabled,
                as_utc(row.created_at),
                as_utc(row.failing_since) if row.failing_since else None,
                row.disabled_reason,
                pending,
                failed,
                delivered,
                last,
            )
        )
    return out
