"""The webhook-health page's data: :class:`services.api.HealthApi` over a running Runtime."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from desktop.runtime import Runtime
from services import messaging_health, phones
from services.api import ConnectionRefused, ReplyRefused
from services.clock import as_utc
from services.desk_status import TextbackFacts, TextbackNotice, textback_notice
from services.health import (
    HealthSnapshot,
    LocationNumber,
    MessagingProblem,
    NumberWebhooks,
    WebhookRow,
)
from services.locations import Location
from services.ports import CarrierError
from services.receiver import WebhookRecord
from services.send_state import SendState
from services.wiring import WebhookUrls

log = logging.getLogger(__name__)

REJECTED_SHOWN = 50


def _row(record: WebhookRecord) -> WebhookRow:
    return WebhookRow(
        at=as_utc(record.at),
        path=record.path,
        status=record.status,
        reason=record.reason,
        checked_url=record.checked_url,
        sid=record.sid,
    )


@dataclass(frozen=True, slots=True)
class _Read:
    health: LocationNumber
    read_error: str | None  # why its webhooks could not be read (not a wiring error)

    @property
    def phone_number(self) -> str:
        return self.health.phone_number

    @property
    def webhooks(self) -> NumberWebhooks | None:
        return self.health.webhooks


class RuntimeHealth:
    """Implements :class:`services.api.HealthApi` for the desktop app and ``serve``."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def health(self) -> HealthSnapshot:
        rt = self._runtime
        settings = await rt.inbox.settings()
        phone: str = settings["business.phone_number"]
        tunnel = rt.tunnel
        numbers = await self._numbers()
        if numbers and numbers[0].phone_number == phone:
            number, number_error = numbers[0].webhooks, numbers[0].read_error
        else:
            number, number_error = await self._number(phone)
        return HealthSnapshot(
            public_url=rt.public_url,
            tunnel_state=tunnel.state if tunnel is not None else "none",
            tunnel_error=tunnel.last_error if tunnel is not None else None,
            business_number=phone,
            number=number,
            number_error=number_error,
            wiring_error=rt.wiring_error,
            catchup_error=rt.catchup_error,
            wired=rt.wired,
            disconnected=rt.disconnected,
            last_accepted=_row(last) if (last := rt.webhooks.last_accepted) else None,
            rejected=await self._rejected(),
            refused=await rt.refusals.counts(),
            unsaved_calls=rt.engine.unsaved_calls,
            unsaved_texts=rt.engine.unsaved_texts,
            office_shared=rt.office.shared,
            pc_name=rt.pc_name,
            holding=rt.holding,
            holder=rt.office.holder,
            messaging=await self.messaging_problem(),
            numbers=[n.health for n in numbers],
        )

    async def textback_notice(self) -> TextbackNotice | None:
        """Why missed calls are not texted back right now (the in-window banner), or
        None. Cheap: settings and this process's own state, never a call to Twilio."""
        rt = self._runtime
        settings = await rt.inbox.settings()
        facts = TextbackFacts(
            enabled=settings["textback.enabled"],
            business_number=settings["business.phone_number"],
            simulated=rt.number_admin is None,
            holding=rt.holding,
            holder=rt.office.holder,
            receiving=rt.receiver.port is not None,
            wired=rt.wired,
            disconnected=rt.disconnected,
            wiring_error=rt.wiring_error,
        )
        return textback_notice(facts)

    async def messaging_problem(self) -> MessagingProblem | None:
        rt = self._runtime
        return await rt.db.run(lambda uow: messaging_health.check(uow.session, rt.clock.now()))

    async def request_takeover(self) -> None:
        await self._runtime.request_takeover()

    async def _numbers(self) -> list[_Read]:
        """Every location's number as Twilio has it now, read side by side."""
        locations = [loc for loc in await self._runtime.locations.locations() if loc.phone_number]
        return list(await asyncio.gather(*(self._location_number(loc) for loc in locations)))

    async def _location_number(self, location: Location) -> _Read:
        rt = self._runtime
        phone = location.phone_number
        webhooks, read_error = await self._number(phone)
        wiring = rt.numbers
        health = LocationNumber(
            location_id=location.id,
            location=location.name,
            phone_number=phone,
            webhooks=webhooks,
            error=read_error or (wiring.errors.get(phone) if wiring is not None else None),
            wired=wiring is not None and phone in wiring.wired,
        )
        return _Read(health, read_error)

    async def _number(self, phone: str) -> tuple[NumberWebhooks | None, str | None]:
        rt = self._runtime
        admin = rt.number_admin
        if not phone:
            return None, "The business phone number is not set (Settings → Business)."
        if admin is None:
            return None, "This workspace is not connected to a Twilio account."
        try:
            found = await admin.find_number(phone)
        except CarrierError as exc:
            return None, f"Could not read the number from Twilio: {exc}"
        if found is None:
            return None, f"{phone} is not a phone number on this Twilio account."
        urls = WebhookUrls.under(rt.public_url) if rt.public_url else None
        return (
            NumberWebhooks(
                phone_number=found.phone_number,
                sid=found.sid,
                voice_url=found.voice_url or "",
                voice_fallback_url=found.voice_fallback_url or "",
                sms_url=found.sms_url or "",
                status_callback=found.status_callback or "",
                points_here=urls is not None and urls.points_here(found),
                expected_voice_url=urls.voice if urls is not None else None,
                voice_capable=found.capabilities.get("voice"),
                sms_capable=found.capabilities.get("sms"),
            ),
            None,
        )

    async def _rejected(self) -> list[WebhookRow]:
        return [_row(r) for r in await self._runtime.refusals.last()][:REJECTED_SHOWN]

    async def send_test_text(self, to: str) -> str:
        rt = self._runtime
        settings = await rt.inbox.settings()
        phone: str = settings["business.phone_number"]
        if not phone:
            raise ConnectionRefused("Set the business phone number first (Settings → Business).")
        target = phones.normalize(to.strip(), settings["business.default_region"])
        if target is None:
            raise ConnectionRefused(
                f"{to!r} is not a phone number (type it with the country code, e.g. +15551234567)."
            )
        name = settings["business.name"] or "Frontdesk"
        body = f"Test text from Frontdesk for {name}: texting from {phone} works."
        try:
            outcome = await rt.engine.outbox.send_test(target, body)
        except ReplyRefused as exc:
            raise ConnectionRefused(str(exc)) from None
        if outcome.sid is None:
            if outcome.state is SendState.PENDING:
                return ""  # the number holder sends it (this PC is a desk client)
            if outcome.state is SendState.UNCERTAIN:
                raise ConnectionRefused(
                    "Twilio did not answer in time. Frontdesk is checking Twilio's log and "
                    "will not send the test text twice; look in the inbox in a minute."
                )
            raise ConnectionRefused(f"Twilio did not send the test text: {outcome.reason}")
        log.info("test text sent to %s (%s)", target, outcome.sid)
        return outcome.sid
