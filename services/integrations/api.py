"""What the Settings screen sees of the integrations: snapshots and one Protocol.

No storage or network imports here (the UI layer may import this module)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class EndpointView:
    id: int
    kind: str  # webhook | hubspot
    url: str
    enabled: bool
    created_at: datetime
    failing_since: datetime | None
    disabled_reason: str | None
    pending: int
    failed: int
    delivered: int
    last_result: str | None

    @property
    def title(self) -> str:
        return "HubSpot" if self.kind == "hubspot" else self.url


@dataclass(frozen=True)
class DeliveryView:
    id: int
    event_type: str
    event_key: str
    state: str  # pending | sending | delivered | failed
    attempts: int
    response_code: int | None
    at: datetime  # the last attempt, else when it was queued
    due_at: datetime
    result: str | None


@dataclass(frozen=True)
class NewEndpoint:
    """An endpoint just added, with its signing secret (shown to the owner once)."""

    endpoint: EndpointView
    secret: str


class IntegrationsApi(Protocol):
    async def endpoints(self) -> list[EndpointView]: ...

    async def add_webhook(self, url: str, secret: str | None = None) -> NewEndpoint: ...

    async def remove(self, endpoint_id: int) -> None: ...

    async def set_enabled(self, endpoint_id: int, enabled: bool) -> EndpointView: ...

    async def deliveries(self, endpoint_id: int, *, limit: int = 100) -> list[DeliveryView]: ...

    async def replay(self, delivery_id: int) -> None: ...

    async def send_test(self, endpoint_id: int) -> None: ...

    async def signing_secret(self, endpoint_id: int) -> str | None: ...

    async def set_hubspot_token(self, token: str) -> EndpointView: ...

    async def hubspot(self) -> EndpointView | None: ...
