"""Twilio Lookup before texting: line type and caller name, once per number.

A text-back to a number never looked up waits for one Lookup v2 request
(``line_type_intelligence`` and ``caller_name``, about a cent), bounded by
:data:`TIMEOUT_SECONDS`; the answer is cached in ``number_lookups`` with its date and
never asked again. A landline (or another line that cannot take texts) is then not
texted: :meth:`services.outbox.Outbox.prepare` skips the job with ``not_mobile``
("Landline: call back"). The caller name (CNAM) becomes the contact's name when staff
have not typed one, so ``[First Name]`` works for a first-time caller.

Lookup failing (timeout, refusal, no connection) never blocks the text-back: nothing is
cached and the text goes out as it would without the check.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services import records
from services.clock import Clock
from services.events import ContactChanged, EventBus
from services.ports import Carrier, CarrierError, LineInfo
from services.settings import Settings
from services.storage.database import Database, UnitOfWork
from services.storage.models import Contact, NumberLookup

log = logging.getLogger(__name__)

#: The text-back waits at most this long for Lookup's answer.
TIMEOUT_SECONDS = 3.0
_MAX_NAME = 200


def cached(s: Session, phone: str) -> NumberLookup | None:
    return s.get(NumberLookup, phone)


def needed(s: Session, cfg: Settings, phone: str | None) -> bool:
    """True when a text to ``phone`` must wait for a Lookup first."""
    return bool(cfg["lookup.enabled"] and phone and phone.startswith("+") and not cached(s, phone))


def caller_name(info: LineInfo) -> str | None:
    """CNAM as people write names: ``"SMITH,JOHN"`` -> ``"John Smith"``; None when empty
    or a placeholder (``WIRELESS CALLER``, ``UNAVAILABLE``, a city name is left as is)."""
    raw = " ".join((info.caller_name or "").split())[:_MAX_NAME]
    raw = raw.replace("\x00", "")
    if not raw or raw.upper() in {"WIRELESS CALLER", "UNAVAILABLE", "UNKNOWN", "PRIVATE"}:
        return None
    if "," in raw and (info.caller_type or "").upper() != "BUSINESS":
        last, _, first = raw.partition(",")
        raw = f"{first.strip()} {last.strip()}".strip()
    if raw.isupper():
        raw = raw.title()
    return raw or None


class Lookups:
    """Runs and caches Lookup requests (on the number holder, before a text-back)."""

    def __init__(
        self,
        db: Database,
        carrier: Carrier,
        bus: EventBus,
        clock: Clock,
        *,
        timeout_seconds: float = TIMEOUT_SECONDS,
    ) -> None:
        self._db = db
        self._carrier = carrier
        self._bus = bus
        self._clock = clock
        self.timeout_seconds = timeout_seconds

    async def ensure(self, phone: str) -> bool:
        """Look ``phone`` up and cache the answer; False when Lookup failed (nothing is
        cached then). Never raises for a carrier failure."""
        try:
            info = await self._carrier.lookup_number(phone, timeout_seconds=self.timeout_seconds)
        except (CarrierError, TimeoutError) as exc:
            log.warning("Lookup of %s failed (%s); texting without it", phone, exc)
            return False
        now = self._clock.now()

        def store(uow: UnitOfWork) -> None:
            self._store(uow, phone, info, now)
            uow.commit()

        with contextlib.suppress(IntegrityError):  # another process stored it first
            await self._db.run(store, urgent=True)
        return True

    def _store(self, uow: UnitOfWork, phone: str, info: LineInfo, now: datetime) -> None:
        s = uow.session
        row = cached(s, phone)
        name = caller_name(info)
        if row is None:
            row = NumberLookup(
                phone=phone,
                line_type=(info.line_type or None) and info.line_type[:30],
                carrier_name=(info.carrier_name or "")[:200].replace("\x00", "") or None,
                caller_name=name,
                caller_type=(info.caller_type or "")[:20].replace("\x00", "") or None,
                looked_up_at=now,
            )
            s.add(row)
        contact = s.scalar(select(Contact).where(Contact.phone == phone))
        if contact is not None and contact.name is None and name:
            contact.name = name
            contact.updated_at = now
            records.audit(s, now, "contact.named", actor="Twilio Lookup", subject=phone)
            changed = ContactChanged(contact.id)
            uow.after_commit(lambda: self._bus.publish(changed))
        s.flush()
