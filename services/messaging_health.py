"""Messaging health: is *every* text failing for a reason the owner must fix?

A single failed text is shown on its message. When carriers refuse texts because the
number is not registered (30034: US 10DLC without an approved brand and campaign),
a toll-free number is not verified (30032), or carriers filter them (30007), or when
many recipients have opted out at once (21610 in bulk), every text-back is lost until
the owner acts: :func:`check` names the problem in plain words, what it means, the steps
to fix it and how many texts failed since it started. The Connection page and a banner
show it. It clears once a text is delivered after the last such failure.

Registration is per number: with several locations, each location's texts are judged on
their own (a text delivered from one number does not clear another's problem), and the
problem names the location whose texts fail.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services import location_store
from services.clock import as_utc
from services.health import MessagingProblem
from services.locations import Location
from services.storage.models import Conversation, Message

#: How far back failures count.
WINDOW: Final = timedelta(days=7)
#: 21610 ("unsubscribed recipient") this many times in a day is more than one caller.
OPT_OUT_BULK: Final = 5
OPT_OUT_WINDOW: Final = timedelta(hours=24)

UNREGISTERED: Final = 30034
TOLL_FREE_UNVERIFIED: Final = 30032
FILTERED: Final = 30007
OPTED_OUT: Final = 21610
CODES: Final = (UNREGISTERED, TOLL_FREE_UNVERIFIED, FILTERED)


_WORDS: Final[dict[int, tuple[str, str, tuple[str, ...]]]] = {
    UNREGISTERED: (
        "Your texts are being blocked: this number is not registered for US texting.",
        "US carriers block texts from local numbers that are not registered (A2P 10DLC). "
        "Callers are not receiving your auto-texts or replies.",
        (
            "In the Twilio Console, open Messaging → Regulatory compliance → A2P 10DLC.",
            "Register your business (a brand), then a campaign for customer care.",
            "Add this number to the campaign's Messaging Service.",
            "Approval takes a few days; texts go through again once it is approved.",
        ),
    ),
    TOLL_FREE_UNVERIFIED: (
        "Your texts are being blocked: this toll-free number is not verified.",
        "Carriers block texts from toll-free numbers that have not passed Twilio's "
        "toll-free verification. Callers are not receiving your texts.",
        (
            "In the Twilio Console, open Phone Numbers → Regulatory compliance → "
            "Toll-free verifications.",
            "Submit the verification form for this number (business details, sample text).",
            "Texts go through again once Twilio approves it (usually a few days).",
        ),
    ),
    FILTERED: (
        "Carriers are filtering your texts as spam.",
        "Mobile carriers judged your texts unwanted and did not deliver them. Callers are "
        "not receiving them.",
        (
            "Make sure the number is registered (A2P 10DLC or toll-free verification).",
            "Keep templates personal: name your business, avoid link shorteners and all-caps.",
            "Change the auto-text template in Settings, then send yourself a test text.",
        ),
    ),
    OPTED_OUT: (
        "Many callers have opted out of your texts.",
        "Several people texted STOP (or their carrier reports them unsubscribed); they "
        "will not receive texts from this number again.",
        (
            "Read your auto-text templates as a caller would: are they clear and welcome?",
            "Lengthen the repeat window so a caller is texted at most once a day.",
        ),
    ),
}


def describe(
    code: int, failed_count: int, since: datetime, *, location: str = "", number: str = ""
) -> MessagingProblem:
    title, meaning, steps = _WORDS[code]
    return MessagingProblem(code, title, meaning, steps, failed_count, since, location, number)


def check(s: Session, now: datetime) -> MessagingProblem | None:
    """The messaging problem right now, or None (the location with the most failing
    texts first, when several locations have one)."""
    failing = s.execute(
        select(Message.error_code, Message.created_at, Conversation.location_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.direction == "out",
            Message.error_code.in_(CODES),
            Message.created_at >= now - WINDOW,
        )
        .order_by(Message.created_at)
    ).all()
    by_location: dict[int, list[tuple[int, datetime]]] = {}
    for code, at, location_id in failing:
        by_location.setdefault(int(location_id), []).append((int(code or 0), as_utc(at)))
    problems = []
    if by_location:
        known = location_store.load(s)
        for location_id, rows in by_location.items():
            last_code, last_at = rows[-1]
            if _delivered_since(s, last_at, location_id):
                continue
            problem = describe(last_code, len(rows), rows[0][1])
            if known.several or known.find(location_id) is None:
                problem = _named(problem, known.find(location_id))
            problems.append(problem)
    if problems:
        return max(problems, key=lambda p: (p.failed_count, p.since))
    opted = s.execute(
        select(func.count(), func.min(Message.created_at)).where(
            Message.direction == "out",
            Message.error_code == OPTED_OUT,
            Message.created_at >= now - OPT_OUT_WINDOW,
        )
    ).one()
    if int(opted[0] or 0) >= OPT_OUT_BULK and opted[1] is not None:
        return describe(OPTED_OUT, int(opted[0]), as_utc(opted[1]))
    return None


def _named(problem: MessagingProblem, location: Location | None) -> MessagingProblem:
    """``problem`` naming the location whose texts fail (None: one since removed)."""
    if location is None:
        return replace(problem, location="A removed location")
    return replace(problem, location=location.name, number=location.phone_number)


def _delivered_since(s: Session, at: datetime, location_id: int) -> bool:
    """A text of ``location_id``'s threads delivered after ``at``."""
    return (
        s.scalar(
            select(Message.id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Message.direction == "out",
                Message.status.in_(["delivered", "read"]),
                Message.created_at > at,
                Conversation.location_id == location_id,
            )
            .limit(1)
        )
        is not None
    )
