"""SMS templates: the owner's tokens, validation, rendering and SMS segment counting.

Owners write tokens the way marketing tools show them: ``[First Name]``,
``[Business Name]``, ``[Business Phone]``, ``[Booking Link]``. :func:`validate` refuses
unknown tokens when a template is saved; :func:`render` fills the tokens in, with
sensible fallbacks when a value is missing; :func:`segments` counts characters and SMS
segments exactly as a GSM 03.38 / UCS-2 encoder packs them, so Settings can show the
live count and warn about the characters that force UCS-2 (:func:`suggest_gsm` fixes
the usual culprits: smart quotes, dashes, ellipses, non-breaking spaces).

Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

__all__ = [
    "BOOKING_LINK",
    "BUSINESS_NAME",
    "BUSINESS_PHONE",
    "DEFAULT_TEMPLATES",
    "FIRST_NAME",
    "GSM_SUBSTITUTES",
    "TOKENS",
    "SegmentInfo",
    "TemplateContext",
    "TemplateError",
    "first_name_of",
    "render",
    "segments",
    "suggest_gsm",
    "validate",
]

FIRST_NAME: Final = "[First Name]"
BUSINESS_NAME: Final = "[Business Name]"
BUSINESS_PHONE: Final = "[Business Phone]"
BOOKING_LINK: Final = "[Booking Link]"
TOKENS: Final[tuple[str, ...]] = (FIRST_NAME, BUSINESS_NAME, BUSINESS_PHONE, BOOKING_LINK)

# Twilio refuses a message body longer than this (Messages.create ``Body``: "up to 1,600
# characters"); the composer stops at it instead of letting the carrier refuse the send.
MAX_BODY_CHARACTERS: Final = 1600

# What a missing value becomes ([Booking Link] is removed instead, see render()).
FALLBACKS: Final[Mapping[str, str]] = MappingProxyType(
    {FIRST_NAME: "there", BUSINESS_NAME: "us", BUSINESS_PHONE: "this number"}
)

DEFAULT_TEMPLATES: Final[dict[str, str]] = {
    "templates.missed_call": (
        "Hi [First Name], this is [Business Name]. Sorry we missed your call! "
        "How can we help? Reply here or book at [Booking Link]"
    ),
    "templates.after_hours": (
        "Hi [First Name], thanks for calling [Business Name]. We're closed right now, but "
        "reply here with what you need and we'll call you first thing."
    ),
    "templates.follow_up": (
        "Hi [First Name], just checking in from [Business Name]. Still need a hand? "
        "Reply here or call us at [Business Phone]."
    ),
    "templates.voicemail": (
        "Hi [First Name], this is [Business Name]. Thanks for your voicemail! We'll call "
        "you back soon. You can also reply here."
    ),
    "templates.catch_up": (
        "Hi [First Name], this is [Business Name]. Sorry we missed your call earlier! "
        "Still need help? Just reply to this text."
    ),
}


class TemplateError(ValueError):
    """A template the owner cannot save; the message is written for the owner.

    ``unknown_tokens`` lists the offending tokens as written (empty for an empty
    template).
    """

    def __init__(self, message: str, unknown_tokens: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.unknown_tokens = unknown_tokens


@dataclass(frozen=True, slots=True)
class TemplateContext:
    """The values for one message. ``None`` or blank means "not known"."""

    first_name: str | None
    business_name: str | None
    business_phone: str | None
    booking_link: str | None


# --------------------------------------------------------------------------- validate

# A "[Something]": a letter first, then letters, digits, spaces, _ - . ' (up to 40),
# optionally padded with spaces. "[", "[]", "[1]", "[ :) ]" are not token-like.
_TOKEN_LIKE = re.compile(r"\[[ \t]*([A-Za-z][A-Za-z0-9 _.'\-]{0,39}?)[ \t]*\]")
# {First Name} / {{first_name}}: other tools' token syntax, refused only when it names
# one of ours (it would otherwise reach the customer verbatim).
_BRACED = re.compile(r"\{\{?[ \t]*([A-Za-z][A-Za-z0-9 _.\-]{0,39}?)[ \t]*\}?\}")


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_SUGGESTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {
        **{_key(token[1:-1]): token for token in TOKENS},
        "name": FIRST_NAME,
        "first": FIRST_NAME,
        "fname": FIRST_NAME,
        "customername": FIRST_NAME,
        "callername": FIRST_NAME,
        "contactname": FIRST_NAME,
        "business": BUSINESS_NAME,
        "company": BUSINESS_NAME,
        "companyname": BUSINESS_NAME,
        "businessnumber": BUSINESS_PHONE,
        "phone": BUSINESS_PHONE,
        "phonenumber": BUSINESS_PHONE,
        "companyphone": BUSINESS_PHONE,
        "link": BOOKING_LINK,
        "bookinglink": BOOKING_LINK,
        "bookingurl": BOOKING_LINK,
        "booking": BOOKING_LINK,
        "bookonline": BOOKING_LINK,
    }
)


def _describe_unknown(written: str, name: str) -> str:
    suggestion = _SUGGESTIONS.get(_key(name))
    return f"{written} (write it as {suggestion})" if suggestion else written


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def validate(template: str) -> None:
    """Raise :class:`TemplateError` unless ``template`` can be saved.

    Refused: an empty or whitespace-only template, and any token-like ``[Something]``
    that is not exactly one of :data:`TOKENS` (case and spacing matter; when the
    spelling is close, e.g. ``[first name]`` or ``[FirstName]``, the message gives the
    right one). ``{First Name}`` / ``{{first_name}}`` naming one of the tokens is refused
    too, since it would be sent verbatim. Other square brackets (``[``, ``[1]``) are
    plain text.
    """
    if not template.strip():
        raise TemplateError("The template is empty: write the text the caller should get.")
    unknown: dict[str, str] = {}
    for match in _TOKEN_LIKE.finditer(template):
        written = match.group(0)
        if written not in TOKENS and written not in unknown:
            unknown[written] = _describe_unknown(written, match.group(1))
    for match in _BRACED.finditer(template):
        written = match.group(0)
        suggestion = _SUGGESTIONS.get(_key(match.group(1)))
        if suggestion and written not in unknown:
            unknown[written] = f"{written} (write it as {suggestion})"
    if unknown:
        what = "a token" if len(unknown) == 1 else "tokens"
        raise TemplateError(
            f"This template has {what} Frontdesk doesn't know: "
            f"{', '.join(unknown.values())}. "
            f"The tokens you can use are {_join(list(TOKENS))}.",
            tuple(unknown),
        )


# ----------------------------------------------------------------------------- render

_TOKEN_RE = re.compile("|".join(re.escape(token) for token in TOKENS))
_HONORIFICS: Final = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof"})


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    text = " ".join(value.split())
    return text or None


def first_name_of(name: str | None) -> str | None:
    """The first name to greet someone by, from a contact's full name.

    The first word (``"Maria Lopez"`` -> ``"Maria"``), skipping a leading honorific
    (``"Dr. Jane Smith"`` -> ``"Jane"``); a ``"Last, First"`` name gives the part after
    the comma. ``None`` when there is no usable name (blank, or no letters at all, such
    as a phone number saved as the name).
    """
    text = _clean(name)
    if text is None:
        return None
    if "," in text:
        last, _, rest = text.partition(",")
        text = rest.strip() or last.strip()
    words = text.split()
    if len(words) > 1 and words[0].rstrip(".").lower() in _HONORIFICS:
        words = words[1:]
    if not words:
        return None
    word = words[0].strip(",;:")
    return word if any(ch.isalpha() for ch in word) else None


def _has_words(text: str) -> bool:
    return re.search(r"\w", text) is not None


def _tidy(text: str) -> str:
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in text.split("\n")))
    return text.strip()


def _drop_sentences(text: str) -> str:
    lines: list[str] = []
    for line in text.split("\n"):
        if BOOKING_LINK not in line:
            lines.append(line)
            continue
        kept = [s for s in re.split(r"(?<=[.!?])\s+", line) if BOOKING_LINK not in s]
        if kept:
            lines.append(" ".join(kept))
    return _tidy("\n".join(lines))


def _drop_clauses(text: str) -> str:
    def fix_sentence(sentence: str) -> str:
        if BOOKING_LINK not in sentence:
            return sentence
        end = sentence[len(sentence.rstrip(".!?")) :]
        body = sentence[: len(sentence) - len(end)]
        parts = re.split(r"\s*([,;])\s*", body)
        clauses = [
            (clause.strip(), sep)
            for clause, sep in zip(parts[0::2], [*parts[1::2], ""], strict=True)
        ]
        kept = [(c, s) for c, s in clauses if c and BOOKING_LINK not in c]
        if not kept:
            return ""
        out = "".join(f"{c}{s} " for c, s in kept[:-1]) + kept[-1][0]
        if BOOKING_LINK in clauses[0][0]:
            out = out[0].upper() + out[1:]
        return out + end

    lines = []
    for line in text.split("\n"):
        sentences = [fix_sentence(s) for s in re.split(r"(?<=[.!?])\s+", line)]
        lines.append(" ".join(s for s in sentences if s))
    return _tidy("\n".join(lines))


def _drop_token(text: str) -> str:
    text = text.replace(BOOKING_LINK, "")
    # A colon or dash left dangling before punctuation or the line end: "here: ." -> "here."
    text = re.sub(r"[ \t]*[:\-–—][ \t]*(?=[.!?,;]|$|[ \t][-–—][ \t])", "", text, flags=re.M)
    text = re.sub(r"[ \t]+([.,!?;:])", r"\1", text)  # no space before punctuation
    text = re.sub(r"[,;:]+(?=[.!?])", "", text)  # ",." -> "."
    text = re.sub(r"[,;:]+$", "", text, flags=re.M)  # trailing "," at a line end
    text = re.sub(r"([ \t])[ \t]+", r"\1", text)
    return _tidy(text)


def _remove_booking_link(text: str) -> str:
    for strategy in (_drop_sentences, _drop_clauses):
        result = strategy(text)
        if _has_words(result):
            return result
    return _drop_token(text)


def render(template: str, ctx: TemplateContext) -> str:
    """Fill the tokens of ``template`` from ``ctx``.

    Values are used with their whitespace collapsed; ``[First Name]`` takes the first
    name from whatever name is given (see :func:`first_name_of`). Missing values
    (``None`` or blank) fall back: ``[First Name]`` -> ``there`` (``Hi there,``),
    ``[Business Name]`` -> ``us``, ``[Business Phone]`` -> ``this number``.

    A missing ``[Booking Link]`` is removed with the words around it, by this rule:

    1. every sentence holding the token is left out (a sentence ends at ``.``, ``!``
       or ``?`` followed by a space, or at a line break), e.g. ``"How can we help?
       Book here: [Booking Link]."`` -> ``"How can we help?"``;
    2. if that would leave no words (the message is that one sentence), only the
       comma/semicolon clause holding the token is left out, keeping the sentence's
       end mark: ``"Hi [First Name], book at [Booking Link]!"`` -> ``"Hi there!"``;
    3. if that too leaves nothing, the token alone is removed and the punctuation around
       it tidied: ``"Book here: [Booking Link]."`` -> ``"Book here."``.

    A value ending in the same mark that follows the token gives it once (``"Smith
    Co."`` + ``"."`` -> ``"Smith Co."``). Lines emptied this way are removed and the
    result is stripped. Tokens are filled in
    one pass, so a value that contains a token's text is not expanded again; unknown
    ``[Something]`` text is left as written (:func:`validate` refuses it on save).
    """
    text = template
    booking_link = _clean(ctx.booking_link)
    if booking_link is None and BOOKING_LINK in text:
        text = _remove_booking_link(text)
    values = {
        FIRST_NAME: first_name_of(ctx.first_name) or FALLBACKS[FIRST_NAME],
        BUSINESS_NAME: _clean(ctx.business_name) or FALLBACKS[BUSINESS_NAME],
        BUSINESS_PHONE: _clean(ctx.business_phone) or FALLBACKS[BUSINESS_PHONE],
        BOOKING_LINK: booking_link or "",
    }

    def fill(match: re.Match[str]) -> str:
        value = values[match.group(0)]
        # "Demo Plumbing Co." before the template's own "." must not read "Co..".
        following = text[match.end() : match.end() + 1]
        if value and following and following in ".!?" and value.endswith(following):
            return value[:-1]
        return value

    return _TOKEN_RE.sub(fill, text)


# --------------------------------------------------------------------------- segments

# GSM 03.38 default alphabet (3GPP TS 23.038 6.2.1), in code order, without ESC (0x1B).
GSM_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# The default extension table: each costs ESC + the character, 2 septets.
GSM_EXTENSION: Final = frozenset("\f^{}\\[~]|€")

GSM_SINGLE: Final = 160
GSM_MULTI: Final = 153
UCS2_SINGLE: Final = 70
UCS2_MULTI: Final = 67


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """How a text goes over SMS.

    ``characters`` counts Unicode code points; ``units`` counts what the encoding
    spends (GSM-7 septets, extension characters costing 2; UCS-2 UTF-16 code units,
    emoji and other astral characters costing 2). ``per_segment`` is the capacity per
    segment in units (160/70 for a single SMS, 153/67 once it is split).
    ``non_gsm_chars`` are the distinct characters, in order of first use, that forced
    UCS-2 (empty for GSM-7).
    """

    encoding: Literal["GSM-7", "UCS-2"]
    characters: int
    units: int
    segments: int
    per_segment: int
    non_gsm_chars: tuple[str, ...]


def _pack(costs: list[int], capacity: int) -> int:
    """Segments needed when no character (escape pair, surrogate pair) may straddle two."""
    count, used = 1, 0
    for cost in costs:
        if used + cost > capacity:
            count, used = count + 1, 0
        used += cost
    return count


def segments(text: str) -> SegmentInfo:
    """Count ``text``'s characters and SMS segments, as a GSM 03.38 / UCS-2 encoder would.

    GSM-7 when every character is in the GSM default alphabet or its extension table,
    else UCS-2. One SMS carries 160 septets / 70 UCS-2 units; a longer text is split
    into parts of 153 / 67 (the rest is the concatenation header), packed greedily
    without splitting an escape pair or a surrogate pair, so e.g. 152 letters + ``€`` +
    152 letters (306 septets = 2 x 153) takes 3 segments. An empty text is 0 segments.
    """
    non_gsm = tuple(
        dict.fromkeys(ch for ch in text if ch not in GSM_BASIC and ch not in GSM_EXTENSION)
    )
    encoding: Literal["GSM-7", "UCS-2"]
    if non_gsm:
        encoding, single, multi = "UCS-2", UCS2_SINGLE, UCS2_MULTI
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    else:
        encoding, single, multi = "GSM-7", GSM_SINGLE, GSM_MULTI
        costs = [2 if ch in GSM_EXTENSION else 1 for ch in text]
    units = sum(costs)
    if units == 0:
        count, per_segment = 0, single
    elif units <= single:
        count, per_segment = 1, single
    else:
        count, per_segment = _pack(costs, multi), multi
    return SegmentInfo(encoding, len(text), units, count, per_segment, non_gsm)


_SUBSTITUTES: dict[str, str] = {
    **dict.fromkeys("‘’‚‛′‹›`´", "'"),
    **dict.fromkeys("“”„‟″«»", '"'),
    **dict.fromkeys("‐‑‒–—―−•", "-"),
    "…": "...",
    **dict.fromkeys("\t\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a", " "),
    **dict.fromkeys("\u202f\u205f\u3000", " "),
    **dict.fromkeys("\u2028\u2029", "\n"),
    **dict.fromkeys("\u200b\u2060\ufeff\u00ad", ""),
}
# Character -> its GSM-7 replacement, for the UI's "use ' instead" hints.
GSM_SUBSTITUTES: Final[Mapping[str, str]] = MappingProxyType(_SUBSTITUTES)
_SUBSTITUTE_TABLE: Final = str.maketrans(_SUBSTITUTES)


def suggest_gsm(text: str) -> str:
    """``text`` with smart quotes, dashes, bullets, ellipses, tabs, non-breaking and other
    special spaces replaced by GSM-7 equivalents, and invisible zero-width characters
    dropped. Other characters (accents outside GSM, emoji) are left alone, so the result
    may still need UCS-2: check it with :func:`segments`.
    """
    return text.translate(_SUBSTITUTE_TABLE)
