"""The office's HubSpot, through HubSpot's official client (``hubspot-api-client``).

What each event does there (HubSpot's CRM v3 API; a private-app token with the
``crm.objects.contacts.read/write`` and ``crm.objects.deals.write`` scopes):

- every event first finds the contact by phone (``POST /crm/v3/objects/contacts/search``,
  ``phone EQ +E164``) or creates it (``POST /crm/v3/objects/contacts``);
- ``call.missed``: a call on the contact's timeline (``POST /crm/v3/objects/calls``,
  INBOUND, ``NO_ANSWER``, association type 194 call → contact);
- ``text.sent`` / ``reply.received``: an SMS communication (``POST
  /crm/v3/objects/communications``, channel ``SMS``, association type 81);
- ``contact.booked``: a deal in the default pipeline, stage ``closedwon``, ``amount`` the
  job's value, associated with the contact (association type 3), named
  "Booked: <name or phone>": booked work and its value show up in HubSpot's revenue
  reports, which a contact property would not;
- ``contact.updated`` with a name the desk typed: the contact's first and last name.

When HubSpot knows a name and the desk has typed none, the name comes back (through
``learned_name``). A 429 waits the Retry-After HubSpot gives (on the injected clock, via
the delivery's due time); a 5xx or an unreachable HubSpot is retried with backoff; a 401
says the token was refused. The client is synchronous: each call runs on a worker thread,
never on the loop, and every request has a timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from hubspot import HubSpot
from hubspot.crm.contacts import (
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)

from services.integrations.catalog import EventType
from services.integrations.outcome import Outcome, retry_after_header

CALL_TO_CONTACT = 194
COMMUNICATION_TO_CONTACT = 81
DEAL_TO_CONTACT = 3

LearnedName = Callable[[str, str], Awaitable[None]]


class HubSpotError(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.line)
        self.outcome = outcome


def _assoc(contact_id: str, type_id: int) -> list[dict[str, Any]]:
    return [
        {
            "to": {"id": contact_id},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
        }
    ]


def _ms(value: str | None, fallback: datetime) -> str:
    """HubSpot's hs_timestamp: UTC ISO 8601 with milliseconds."""
    if value:
        return value
    return fallback.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def split_name(name: str) -> tuple[str, str]:
    first, _, last = name.strip().partition(" ")
    return first, last.strip()


class HubSpotSender:
    """Sends one integration event to HubSpot; see the module docstring."""

    def __init__(
        self,
        token: str,
        *,
        host: str | None = None,
        timeout: float = 10.0,
        learned_name: LearnedName | None = None,
    ) -> None:
        self._client = HubSpot(access_token=token, host=host)
        self._timeout = timeout
        self._learned_name = learned_name

    async def send(self, payload: dict[str, Any], at: datetime) -> Outcome:
        try:
            line = await self._send(payload, at)
        except HubSpotError as exc:
            return exc.outcome
        return Outcome(True, line, 200)

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        kwargs["_request_timeout"] = self._timeout
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except Exception as exc:
            raise HubSpotError(_judge(exc)) from None

    async def _send(self, payload: dict[str, Any], at: datetime) -> str:
        kind = payload.get("type")
        data = payload.get("data") or {}
        contact = data.get("contact") or {}
        phone = contact.get("phone")
        if not phone:
            return "nothing for HubSpot: no phone number"
        contact_id = await self._upsert(phone, contact.get("name"))
        crm = self._client.crm
        if kind == EventType.CALL_MISSED:
            call = data.get("call") or {}
            props = {
                "hs_timestamp": _ms(call.get("started_at"), at),
                "hs_call_title": "Missed call",
                "hs_call_direction": "INBOUND",
                "hs_call_status": "NO_ANSWER",
                "hs_call_from_number": phone,
                "hs_call_to_number": call.get("to") or "",
                "hs_call_body": "Missed call; Frontdesk texted back."
                if not call.get("after_hours")
                else "Missed call after hours.",
            }
            body = SimplePublicObjectInputForCreate(
                properties=props, associations=_assoc(contact_id, CALL_TO_CONTACT)
            )
            await self._call(crm.objects.calls.basic_api.create, body)
            return f"logged the missed call on HubSpot contact {contact_id}"
        if kind in (EventType.TEXT_SENT, EventType.REPLY_RECEIVED):
            message = data.get("message") or {}
            props = {
                "hs_timestamp": _ms(message.get("created_at"), at),
                "hs_communication_channel_type": "SMS",
                "hs_communication_logged_from": "CRM",
                "hs_communication_body": str(message.get("body") or "")[:65000],
            }
            body = SimplePublicObjectInputForCreate(
                properties=props, associations=_assoc(contact_id, COMMUNICATION_TO_CONTACT)
            )
            await self._call(crm.objects.communications.basic_api.create, body)
            return f"logged the text on HubSpot contact {contact_id}"
        if kind == EventType.CONTACT_BOOKED:
            cents = data.get("value_cents")
            props = {
                "dealname": f"Booked: {contact.get('name') or phone}"[:200],
                "pipeline": "default",
                "dealstage": "closedwon",
                "closedate": _ms(data.get("booked_at"), at),
            }
            if isinstance(cents, int):
                props["amount"] = f"{cents / 100:.2f}"
            body = SimplePublicObjectInputForCreate(
                properties=props, associations=_assoc(contact_id, DEAL_TO_CONTACT)
            )
            await self._call(crm.deals.basic_api.create, body)
            return f"booked: a closed-won deal on HubSpot contact {contact_id}"
        if kind == EventType.CONTACT_UPDATED:
            name = contact.get("name")
            if "name" in (data.get("changed") or []) and name and data.get("by") != "hubspot":
                first, last = split_name(name)
                body_in = SimplePublicObjectInput(properties={"firstname": first, "lastname": last})
                await self._call(crm.contacts.basic_api.update, contact_id, body_in)
                return f"renamed HubSpot contact {contact_id}"
            return f"HubSpot contact {contact_id} is up to date"
        return f"nothing for HubSpot in {kind}"

    async def _upsert(self, phone: str, name: str | None) -> str:
        request = PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(filters=[Filter(property_name="phone", operator="EQ", value=phone)])
            ],
            properties=["firstname", "lastname", "phone"],
            limit=1,
        )
        found = await self._call(self._client.crm.contacts.search_api.do_search, request)
        results = list(getattr(found, "results", None) or [])
        if results:
            hit = results[0]
            props = hit.properties or {}
            known = " ".join(p for p in (props.get("firstname"), props.get("lastname")) if p)
            if known and not name and self._learned_name is not None:
                await self._learned_name(phone, known)
            return str(hit.id)
        properties = {"phone": phone}
        if name:
            properties["firstname"], properties["lastname"] = split_name(name)
        created = await self._call(
            self._client.crm.contacts.basic_api.create,
            SimplePublicObjectInputForCreate(properties=properties),
        )
        return str(created.id)


def _judge(exc: Exception) -> Outcome:
    status = getattr(exc, "status", None)
    headers = getattr(exc, "headers", None) or {}
    if isinstance(status, int) and status:
        if status == 429:
            wait = retry_after_header(headers.get("Retry-After"))
            return Outcome(
                False, "HubSpot rate limit (429): waiting as asked", 429, retry_after=wait
            )
        if status in (401, 403):
            return Outcome(
                False,
                f"HubSpot refused the private-app token ({status}): check it in Settings",
                status,
            )
        if 400 <= status < 500:
            reason = str(getattr(exc, "body", "") or getattr(exc, "reason", ""))[:150]
            return Outcome(False, f"HubSpot refused the request ({status}): {reason}", status)
        return Outcome(False, f"HubSpot is having trouble ({status})", status)
    return Outcome(False, f"HubSpot unreachable: {type(exc).__name__}: {exc}"[:250])
