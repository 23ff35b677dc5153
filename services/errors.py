"""Twilio delivery error codes in words the front desk understands."""

from __future__ import annotations

from services import phones

_WORDS = {
    21211: "the number is not a valid phone number",
    21408: "texting that country is not enabled on this Twilio account",
    21610: "the recipient has opted out (replied STOP)",
    21612: "this number cannot reach that recipient",
    21614: "the number cannot receive texts (a landline or invalid mobile)",
    30003: "the phone is switched off or unreachable",
    30004: "the message was blocked by the recipient",
    30005: "the number does not exist or is no longer in service",
    30006: "the number is a landline or cannot receive texts",
    30007: "the carrier filtered the message as spam",
    30008: "the carrier could not deliver it (unknown error)",
    30034: "the sending number is not registered for A2P 10DLC texting",
}


def describe(code: int | None, fallback: str | None = None) -> str:
    if code is None:
        return fallback or "unknown error"
    words = _WORDS.get(code)
    if words:
        return f"{words} (error {code})"
    return f"{fallback or 'delivery failed'} (error {code})"


def blocked_number(location_name: str, number: str) -> str:
    """Why the desk cannot text a contact from ``number``: they texted STOP to it, and
    Twilio refuses it (21610) until they text START to it (``services.opt_outs``)."""
    shown = phones.format_for_display(number)
    return (
        f"They opted out of texts from {location_name} · {shown} (texted STOP to it), so "
        "replies from this number are off until they text START to it."
    )
