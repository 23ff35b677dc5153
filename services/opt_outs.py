"""A contact's opt-out: the one module that moves it (STOP, START, Twilio's 21610).

Twilio keeps opt-outs per sender: STOP texted to one number blocks texts from that
number only, and START texted to it lifts that block. Frontdesk is stricter for the
business: STOP to any of its numbers opts the contact out of every text from every
location (the desk sees "opted out"), and START to any of them opts them back in.

Twilio's 21610 ("unsubscribed recipient") says it still holds a block on the number
the text went from. That opts the contact out everywhere, since they said STOP where
Frontdesk did not see it, *unless* they have texted START since their last STOP: then
the block is an earlier STOP to that one number, which their START at another number
did not lift. They stay opted in, and the failed text says which number they must
text START to (opting them out again would undo the START they just sent).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services import phones, policy
from services.storage.models import Contact, Conversation, Message

#: Twilio's "unsubscribed recipient": the sender number is blocked for this recipient.
REFUSED = 21610
#: The longest message that can still be a keyword ("START" with spaces and punctuation).
_KEYWORD_MAX = 40


def stopped(contact: Contact, now: datetime) -> None:
    """They texted STOP (to any of the office's numbers): no more texts from any."""
    contact.opted_out = True
    contact.opted_out_at = now


def started(contact: Contact, now: datetime) -> None:
    """They texted START (to any of the office's numbers): they may be texted again."""
    contact.opted_out = False
    contact.opted_out_at = None
    contact.opted_in_at = now


def refused(contact: Contact, now: datetime) -> bool:
    """Twilio refused a text to them with 21610. Returns whether that opted them out
    (False if they already were, or if they texted START since their last STOP: then
    only the number the text went from is blocked, and Twilio keeps that block)."""
    if contact.opted_out or contact.opted_in_at is not None:
        return False
    stopped(contact, now)
    return True


def refusal_words(contact: Contact, from_number: str | None, code_words: str) -> str:
    """Why a 21610 refusal failed a text from ``from_number`` (None: not known), short
    enough for the line under a bubble; ``code_words`` when the contact is opted out."""
    if contact.opted_out:
        return code_words
    number = phones.format_for_display(from_number) if from_number else "this number"
    return (
        f"they opted out of texts from {number} only: they must text START to it (error {REFUSED})"
    )


def blocked_locations(session: Session, contact: Contact) -> frozenset[int]:
    """The locations whose number Twilio still refuses to text this contact from: a text
    from it failed with 21610 and they have not texted START to it since (START to
    another number does not lift it). Read from the threads' own records.

    Free for almost everyone: a contact who is not opted out can have such a block only
    after texting START (before it, a 21610 opts them out); one who is opted out is
    refused everywhere anyway, so none is reported for them."""
    if contact.opted_out or contact.opted_in_at is None:
        return frozenset()
    refused = session.execute(
        select(Conversation.id, Conversation.location_id, func.max(Message.created_at))
        .join(Message, Message.conversation_id == Conversation.id)
        .where(
            Conversation.contact_id == contact.id,
            Message.direction == "out",
            Message.error_code == REFUSED,
        )
        .group_by(Conversation.id, Conversation.location_id)
    ).all()
    blocked: set[int] = set()
    for conversation_id, location_id, refused_at in refused:
        since = session.scalars(
            select(Message.body).where(
                Message.conversation_id == conversation_id,
                Message.direction == "in",
                Message.created_at >= refused_at,
                func.length(Message.body) <= _KEYWORD_MAX,
            )
        )
        if not any(policy.keyword(body) == "start" for body in since):
            blocked.add(location_id)
    return frozenset(blocked)


def blocked_here(session: Session, contact: Contact, location_id: int) -> bool:
    """Whether Twilio refuses ``location_id``'s texts to ``contact`` (see
    :func:`blocked_locations`)."""
    return location_id in blocked_locations(session, contact)
