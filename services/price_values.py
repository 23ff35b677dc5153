"""Twilio's ``price`` as a value: parsed, bounded and typed (no storage imports, so the
gateway and the webhook parser can use it). :mod:`services.prices` stores and fetches."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

__all__ = ["MAX_PRICE_MICROS", "Price", "parse_price"]

#: A price past this (a thousand units for one text or call) is not one we believe.
MAX_PRICE_MICROS = 1_000_000_000
_MAX_PRICE_TEXT = 24


@dataclass(frozen=True, slots=True)
class Price:
    """A charge: ``micros`` millionths of ``unit`` (ISO 4217, e.g. ``USD``), >= 0."""

    micros: int
    unit: str


def parse_price(value: object, unit: object) -> Price | None:
    """Twilio's ``price`` / ``price_unit`` as a :class:`Price`, or None when absent or
    not a believable decimal (Twilio writes charges as negative numbers: ``-0.0079``)."""
    if value is None:
        return None
    text = str(value).strip()
    if not text or len(text) > _MAX_PRICE_TEXT or not text.isascii():
        return None
    if any(ch not in "+-.0123456789" for ch in text):
        return None  # Decimal would also take "NaN", "Infinity" and "1e9"
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    micros = int((abs(amount) * 1_000_000).to_integral_value())
    if micros > MAX_PRICE_MICROS:
        return None
    unit_text = str(unit or "USD").strip().upper()
    if len(unit_text) != 3 or not unit_text.isascii() or not unit_text.isalpha():
        unit_text = "USD"
    return Price(micros, unit_text)
