"""A HubSpot stand-in: the slice of HubSpot's CRM v3 API that
:mod:`services.integrations.hubspot` uses, as strict as HubSpot's published reference.

- ``POST /crm/v3/objects/contacts/search``: ``filterGroups`` (at most 5) of ``filters``
  (at most 6 each) with ``propertyName``, ``operator`` (EQ, NEQ, ..., HAS_PROPERTY) and
  ``value``; ``properties``; ``limit`` at most 200. Answers ``{"total", "results"}``.
- ``POST /crm/v3/objects/contacts`` (create), ``PATCH /crm/v3/objects/contacts/{id}``.
- ``POST /crm/v3/objects/calls`` (``hs_timestamp`` required), ``.../communications``
  (``hs_communication_channel_type`` SMS | WHATS_APP | LINKEDIN_MESSAGE,
  ``hs_communication_logged_from`` CRM), ``.../deals`` (``dealname``, ``pipeline``,
  ``dealstage``): each with ``associations`` ``[{"to": {"id"}, "types":
  [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": N}]}]`` where N is
  HubSpot's default type for that object → contact (call 194, communication 81, deal 3)
  and the contact exists.

Every request needs ``Authorization: Bearer <token>`` (else 401, HubSpot's error JSON).
Property values must be strings (HubSpot's inputs are string maps). Faults:
:meth:`HubSpotStandIn.rate_limit` answers the next N requests 429 with Retry-After and
HubSpot's RATE_LIMIT error; ``down = True`` answers 503. Every request is recorded.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

ASSOCIATION_TO_CONTACT = {"calls": 194, "communications": 81, "deals": 3}
OPERATORS = {
    "EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
    "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN",
}  # fmt: skip
REQUIRED = {
    "calls": ("hs_timestamp",),
    "communications": (
        "hs_communication_channel_type",
        "hs_communication_logged_from",
        "hs_timestamp",
    ),
    "deals": ("dealname", "pipeline", "dealstage"),
}


def _error(status: int, message: str, category: str = "VALIDATION_ERROR") -> web.Response:
    body = {"status": "error", "message": message, "category": category, "correlationId": "x"}
    return web.json_response(body, status=status)


@dataclass
class HubSpotStandIn:
    token: str = "pat-na1-test-token"
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    down: bool = False
    # Set to an unset asyncio.Event: every request waits for it before being answered.
    hold: asyncio.Event | None = None
    base_url: str = ""
    _limited: int = 0
    _retry_after: int = 10
    _ids: Any = field(default_factory=lambda: itertools.count(1001))
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/crm/v3/objects/contacts/search", self._search)
        app.router.add_post("/crm/v3/objects/contacts", self._create_contact)
        app.router.add_patch("/crm/v3/objects/contacts/{id}", self._update_contact)
        app.router.add_post("/crm/v3/objects/{kind:calls|communications|deals}", self._create)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def rate_limit(self, count: int, retry_after: int) -> None:
        self._limited, self._retry_after = count, retry_after

    def add_contact(self, **properties: str) -> str:
        cid = str(next(self._ids))
        self.contacts[cid] = {"id": cid, "properties": dict(properties), "archived": False}
        return cid

    def posted(self, kind: str) -> list[dict[str, Any]]:
        return self.objects.get(kind, [])

    # ---- the API ------------------------------------------------------------------------
    async def _gate(self, request: web.Request) -> tuple[web.Response | None, Any]:
        raw = await request.read()
        body = json.loads(raw) if raw else None
        self.requests.append((request.method, request.path, body))
        if self.hold is not None:
            await self.hold.wait()
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(
                401, "Authentication credentials not found.", "INVALID_AUTHENTICATION"
            ), None
        if self.down:
            return _error(503, "Service unavailable", "SERVICE_UNAVAILABLE"), None
        if self._limited > 0:
            self._limited -= 1
            response = web.json_response(
                {
                    "status": "error",
                    "message": "You have reached your secondly limit.",
                    "errorType": "RATE_LIMIT",
                    "correlationId": "x",
                    "policyName": "SECONDLY",
                },
                status=429,
                headers={"Retry-After": str(self._retry_after)},
            )
            return response, None
        if request.method in ("POST", "PATCH") and not isinstance(body, dict):
            return _error(400, "Invalid input JSON"), None
        return None, body

    @staticmethod
    def _properties(body: dict[str, Any]) -> dict[str, str] | None:
        props = body.get("properties")
        if not isinstance(props, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in props.items()
        ):
            return None
        return props

    async def _search(self, request: web.Request) -> web.Response:
        refused, body = await self._gate(request)
        if refused is not None:
            return refused
        groups = body.get("filterGroups", [])
        limit = body.get("limit", 10)
        if not isinstance(groups, list) or len(groups) > 5 or not isinstance(limit, int):
            return _error(400, "filterGroups: at most 5 groups")
        if limit > 200:
            return _error(400, "limit: at most 200")
        for group in groups:
            filters = group.get("filters") if isinstance(group, dict) else None
            if not isinstance(filters, list) or len(filters) > 6:
                return _error(400, "filters: a list of at most 6")
            for f in filters:
                if not isinstance(f, dict) or f.get("operator") not in OPERATORS:
                    return _error(400, f"unknown operator in {f!r}")
                if not isinstance(f.get("propertyName"), str):
                    return _error(400, "propertyName is required")

        def matches(contact: dict[str, Any]) -> bool:
            if not groups:
                return True
            return any(
                all(
                    f["operator"] == "EQ"
                    and contact["properties"].get(f["propertyName"]) == f.get("value")
                    for f in group["filters"]
                )
                for group in groups
            )

        hits = [c for c in self.contacts.values() if matches(c)][:limit]
        return web.json_response({"total": len(hits), "results": hits})

    async def _create_contact(self, request: web.Request) -> web.Response:
        refused, body = await self._gate(request)
        if refused is not None:
            return refused
        props = self._properties(body)
        if props is None:
            return _error(400, "properties: a map of strings")
        cid = self.add_contact(**props)
        return web.json_response(self.contacts[cid], status=201)

    async def _update_contact(self, request: web.Request) -> web.Response:
        refused, body = await self._gate(request)
        if refused is not None:
            return refused
        contact = self.contacts.get(request.match_info["id"])
        if contact is None:
            return _error(404, "resource not found", "OBJECT_NOT_FOUND")
        props = self._properties(body)
        if props is None:
            return _error(400, "properties: a map of strings")
        contact["properties"].update(props)
        return web.json_response(contact)

    async def _create(self, request: web.Request) -> web.Response:
        refused, body = await self._gate(request)
        if refused is not None:
            return refused
        kind = request.match_info["kind"]
        props = self._properties(body)
        if props is None:
            return _error(400, "properties: a map of strings")
        missing = [p for p in REQUIRED[kind] if not props.get(p)]
        if missing:
            return _error(400, f"missing required properties: {missing}")
        if kind == "communications" and (
            props["hs_communication_channel_type"] not in ("SMS", "WHATS_APP", "LINKEDIN_MESSAGE")
            or props["hs_communication_logged_from"] != "CRM"
        ):
            return _error(400, "bad channel type or logged_from")
        for assoc in body.get("associations") or []:
            target = (assoc.get("to") or {}).get("id")
            types = assoc.get("types") or []
            if str(target) not in self.contacts:
                return _error(400, f"association target {target} does not exist")
            if not types or any(
                t.get("associationCategory") != "HUBSPOT_DEFINED"
                or t.get("associationTypeId") != ASSOCIATION_TO_CONTACT[kind]
                for t in types
            ):
                return _error(400, f"invalid association type for {kind} → contact: {types}")
        record = {
            "id": str(next(self._ids)),
            "properties": props,
            "associations": body.get("associations"),
        }
        self.objects.setdefault(kind, []).append(record)
        return web.json_response(record, status=201)
