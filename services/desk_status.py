"""What is true about text-back right now, in words for the in-window banner.

Pure: the composition root reads the facts (settings, who holds the number, whether it
is wired here) into a :class:`TextbackFacts` and :func:`textback_notice` says what the
desk must know. A notice is only ever shown while it is true; ``None`` means missed
calls are being texted back.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.send_state import Shown

__all__ = ["TextbackFacts", "TextbackNotice", "missed_call_news", "textback_notice"]


@dataclass(frozen=True, slots=True)
class TextbackFacts:
    """The facts the notice is decided from, read at one moment."""

    enabled: bool  # textback.enabled
    business_number: str  # business.phone_number ("" = not set)
    simulated: bool  # the demo's carrier: nothing to wire, the loop runs in-process
    holding: bool  # this process holds the number (always, on SQLite)
    holder: str | None  # the PC holding it, when another one does
    receiving: bool  # this process's webhook receiver is listening
    wired: bool  # the number's webhooks point at this process
    disconnected: bool  # the owner pressed Disconnect
    wiring_error: str | None = None


@dataclass(frozen=True, slots=True)
class TextbackNotice:
    """``headline`` ("Text-back is off: …") and where to fix it (a page key of the main
    window: ``settings`` or ``connection``)."""

    headline: str
    fix_page: str


def textback_notice(facts: TextbackFacts) -> TextbackNotice | None:
    """Why missed calls are not texted back right now, or None when they are.

    Checked in this order, the first reason wins: turned off in Settings; no business
    number; (on a shared database, another PC's job) nobody holds the number; this PC
    holds it but was disconnected, is not listening, or has not wired the number.
    """
    if not facts.enabled:
        return TextbackNotice(
            "Text-back is off: missed calls get no text until it is turned on in "
            "Settings → Timing.",
            "settings",
        )
    if not facts.business_number:
        return TextbackNotice(
            "Text-back is off: no business number is set (Settings → Business).", "settings"
        )
    if facts.simulated:
        return None
    if not facts.holding:
        if facts.holder is None:
            return TextbackNotice(
                "Text-back is off: no computer in the office is receiving the business "
                "number's calls. Start Frontdesk on one, or take the number over here.",
                "connection",
            )
        return None  # the holder texts back
    if facts.disconnected:
        return TextbackNotice(
            "Text-back is off: the number was disconnected from Frontdesk "
            "(Connection → Connect to use it again).",
            "connection",
        )
    if not facts.receiving:
        return TextbackNotice(
            "Text-back is off: Frontdesk is not receiving calls on this computer yet "
            "(see the Connection page).",
            "connection",
        )
    if not facts.wired:
        why = f" ({facts.wiring_error})" if facts.wiring_error else ""
        return TextbackNotice(
            "Text-back is off: the business number does not send its calls to Frontdesk "
            f"yet{why}. See the Connection page.",
            "connection",
        )
    return None


def missed_call_news(textback: Shown, reason: str | None) -> str:
    """What a "Missed call from …" notification adds: what happens to the caller's
    text-back as of now (never "we will text them" when no text is going out)."""
    if textback in (Shown.SCHEDULED, Shown.HELD, Shown.SENDING, Shown.RETRYING):
        return "Frontdesk is texting them back."
    if textback is Shown.SENT:
        return "Frontdesk texted them back."
    if textback is Shown.SKIPPED:
        return f"No text-back: {reason}" if reason else "No text-back: call them back."
    if textback is Shown.FAILED:
        return "The text-back failed: call them back."
    if textback is Shown.CANCELLED:
        return "The text-back was cancelled."
    return "No text is going out: call them back."
