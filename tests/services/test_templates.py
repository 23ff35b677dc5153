from __future__ import annotations

import dataclasses

import pytest

from services.templates import (
    DEFAULT_TEMPLATES,
    GSM_BASIC,
    GSM_EXTENSION,
    GSM_SUBSTITUTES,
    TOKENS,
    SegmentInfo,
    TemplateContext,
    TemplateError,
    first_name_of,
    render,
    segments,
    suggest_gsm,
    validate,
)

FULL = TemplateContext(
    first_name="Maria Lopez",
    business_name="Smith & Sons Plumbing",
    business_phone="(415) 555-2671",
    booking_link="https://book.example.com/smith",
)
EMPTY = TemplateContext(None, None, None, None)


# ---------------------------------------------------------------------------- tokens


def test_tokens() -> None:
    assert TOKENS == ("[First Name]", "[Business Name]", "[Business Phone]", "[Booking Link]")


@pytest.mark.parametrize(
    "template",
    [
        "Hi [First Name], this is [Business Name] at [Business Phone]: [Booking Link]",
        "No tokens at all.",
        "A lone [ bracket",
        "Closing ] alone",
        "Empty [] and numbered [1] and smiley [ :) ] are text",
        "Price [$100]",
        *DEFAULT_TEMPLATES.values(),
    ],
)
def test_validate_accepts(template: str) -> None:
    validate(template)


@pytest.mark.parametrize("template", ["", " ", "\n\t  \n"])
def test_validate_refuses_empty(template: str) -> None:
    with pytest.raises(TemplateError, match="empty") as info:
        validate(template)
    assert info.value.unknown_tokens == ()


def test_template_error_is_a_value_error() -> None:
    assert issubclass(TemplateError, ValueError)


def test_validate_names_the_unknown_token() -> None:
    with pytest.raises(TemplateError) as info:
        validate("Hi [First Name], your tech is [Technician].")
    message = str(info.value)
    assert "[Technician]" in message
    assert "a token" in message
    for token in TOKENS:
        assert token in message
    assert info.value.unknown_tokens == ("[Technician]",)


def test_validate_suggests_the_right_spelling() -> None:
    with pytest.raises(TemplateError) as info:
        validate("Hi [first name], from [BUSINESS NAME] [Booking link] [Frist Name] [first name]")
    message = str(info.value)
    assert "[first name] (write it as [First Name])" in message
    assert "[BUSINESS NAME] (write it as [Business Name])" in message
    assert "[Booking link] (write it as [Booking Link])" in message
    assert "[Frist Name]" in message
    assert "[Frist Name] (write" not in message
    # each unknown token listed once, in order of appearance
    assert info.value.unknown_tokens == (
        "[first name]",
        "[BUSINESS NAME]",
        "[Booking link]",
        "[Frist Name]",
    )


@pytest.mark.parametrize(
    ("template", "suggestion"),
    [
        ("Hi [FirstName]", "[First Name]"),
        ("Hi [first_name]", "[First Name]"),
        ("Hi [ First Name ]", "[First Name]"),
        ("Hi [Name]", "[First Name]"),
        ("Call [Phone]", "[Business Phone]"),
        ("Book at [Link]", "[Booking Link]"),
        ("Hi {First Name}", "[First Name]"),
        ("Hi {{first_name}}", "[First Name]"),
    ],
)
def test_validate_close_spellings(template: str, suggestion: str) -> None:
    with pytest.raises(TemplateError, match=rf"write it as \[{suggestion[1:-1]}\]"):
        validate(template)


def test_braces_not_naming_a_token_are_text() -> None:
    validate("Hi [First Name] {see you soon}")


# ---------------------------------------------------------------------------- render


def test_render_all_values() -> None:
    text = "Hi [First Name], this is [Business Name] ([Business Phone]). Book: [Booking Link]"
    assert render(text, FULL) == (
        "Hi Maria, this is Smith & Sons Plumbing ((415) 555-2671). "
        "Book: https://book.example.com/smith"
    )


def test_render_fallbacks() -> None:
    assert render("Hi [First Name],", EMPTY) == "Hi there,"
    assert render("This is [Business Name].", EMPTY) == "This is us."
    assert render("Call [Business Phone].", EMPTY) == "Call this number."


def test_blank_values_fall_back() -> None:
    ctx = TemplateContext("  ", "", "\t", " ")
    assert render("Hi [First Name], [Business Name], [Business Phone]", ctx) == (
        "Hi there, us, this number"
    )


def test_values_have_whitespace_collapsed() -> None:
    ctx = dataclasses.replace(FULL, business_name=" Smith &\n Sons  ")
    assert render("[Business Name]!", ctx) == "Smith & Sons!"


def test_values_are_not_expanded_again() -> None:
    ctx = dataclasses.replace(FULL, business_name="[First Name] Inc")
    assert render("[Business Name] for [First Name]", ctx) == "[First Name] Inc for Maria"


def test_unknown_tokens_are_left_as_written() -> None:
    assert render("Hi [first name] [First Name]", FULL) == "Hi [first name] Maria"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Maria Lopez", "Maria"),
        ("maria", "maria"),
        ("  Jean-Luc   Picard ", "Jean-Luc"),
        ("Dr. Jane Smith", "Jane"),
        ("Mr Bob Jones", "Bob"),
        ("Dr", "Dr"),
        ("Lopez, Maria", "Maria"),
        ("O'Brien", "O'Brien"),
        ("", None),
        ("   ", None),
        (None, None),
        ("415-555-2671", None),
    ],
)
def test_first_name_of(name: str | None, expected: str | None) -> None:
    assert first_name_of(name) == expected


def test_render_uses_first_word_of_name() -> None:
    ctx = dataclasses.replace(FULL, first_name="Maria Elena Lopez")
    assert render("Hi [First Name],", ctx) == "Hi Maria,"
    ctx = dataclasses.replace(FULL, first_name="+1 415 555 2671")
    assert render("Hi [First Name],", ctx) == "Hi there,"


NO_LINK = dataclasses.replace(FULL, booking_link=None)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # 1. the sentence holding the link is dropped
        (
            "Sorry we missed you! Book here: [Booking Link]. Talk soon.",
            "Sorry we missed you! Talk soon.",
        ),
        ("How can we help? Book here: [Booking Link].", "How can we help?"),
        (
            "Hi [First Name],\nSorry we missed your call.\nBook online: [Booking Link]\n"
            "[Business Name]",
            "Hi Maria,\nSorry we missed your call.\nSmith & Sons Plumbing",
        ),
        ("Hi!\n\nBook: [Booking Link]\n\nBye", "Hi!\n\nBye"),
        # 2. a one-sentence message loses the clause
        (
            "Hi [First Name], sorry we missed you, book at [Booking Link]!",
            "Hi Maria, sorry we missed you!",
        ),
        (
            "Book online at [Booking Link], or call us at [Business Phone].",
            "Or call us at (415) 555-2671.",
        ),
        ("Hi [First Name]; book at [Booking Link]", "Hi Maria"),
        # 3. otherwise only the token goes, with the punctuation around it
        ("Book here: [Booking Link].", "Book here."),
        ("Book here: [Booking Link]", "Book here"),
        ("Book now - [Booking Link]", "Book now"),
        ("Book at [Booking Link] today!", "Book at today!"),
        ("[Booking Link]", ""),
    ],
)
def test_missing_booking_link(template: str, expected: str) -> None:
    assert render(template, NO_LINK) == expected
    assert render(template, dataclasses.replace(NO_LINK, booking_link="  ")) == expected


def test_missing_booking_link_default_template() -> None:
    text = render(DEFAULT_TEMPLATES["templates.missed_call"], NO_LINK)
    assert text == (
        "Hi Maria, this is Smith & Sons Plumbing. Sorry we missed your call! How can we help?"
    )


def test_missing_booking_link_never_leaves_dangling_punctuation() -> None:
    for template in [
        "Book here: [Booking Link].",
        "Hi [First Name]. Book here: [Booking Link]. Thanks!",
        "Hi, book: [Booking Link], thanks.",
        "Questions? [Booking Link]",
    ]:
        text = render(template, NO_LINK)
        for bad in (" .", ": .", ":.", ",.", "  ", " ,"):
            assert bad not in text, (template, text)
        assert "[Booking Link]" not in text


def test_template_without_link_token_is_untouched_when_link_missing() -> None:
    assert render("Hi [First Name].  Two  spaces.", NO_LINK) == "Hi Maria.  Two  spaces."


# -------------------------------------------------------------------------- defaults


def test_default_template_keys() -> None:
    assert set(DEFAULT_TEMPLATES) == {
        "templates.missed_call",
        "templates.after_hours",
        "templates.follow_up",
        "templates.catch_up",
        "templates.voicemail",
    }


@pytest.mark.parametrize("key", sorted(DEFAULT_TEMPLATES))
@pytest.mark.parametrize("ctx", [FULL, EMPTY], ids=["full", "empty"])
def test_defaults_are_single_segment_gsm(key: str, ctx: TemplateContext) -> None:
    template = DEFAULT_TEMPLATES[key]
    validate(template)
    assert "[First Name]" in template
    assert "[Business Name]" in template
    long_name = dataclasses.replace(ctx, first_name="Christopher") if ctx is FULL else ctx
    info = segments(render(template, long_name))
    assert info.encoding == "GSM-7"
    assert info.segments == 1
    assert info.units <= 160


# -------------------------------------------------------------------------- segments


def test_gsm_tables() -> None:
    assert len(GSM_BASIC) == 127  # 128 codes minus ESC
    assert "\x1b" not in GSM_BASIC
    assert set(GSM_EXTENSION) == set("\f^{}\\[~]|€")
    assert not GSM_BASIC & GSM_EXTENSION
    for ch in "`ç’…\t":
        assert ch not in GSM_BASIC


def test_empty_text() -> None:
    assert segments("") == SegmentInfo("GSM-7", 0, 0, 0, 160, ())


def test_segment_info_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        segments("a").segments = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("length", "count", "per_segment"),
    [(1, 1, 160), (160, 1, 160), (161, 2, 153), (306, 2, 153), (307, 3, 153), (459, 3, 153)],
)
def test_gsm_boundaries(length: int, count: int, per_segment: int) -> None:
    info = segments("a" * length)
    assert info == SegmentInfo("GSM-7", length, length, count, per_segment, ())


@pytest.mark.parametrize(
    ("length", "count", "per_segment"),
    [(1, 1, 70), (70, 1, 70), (71, 2, 67), (134, 2, 67), (135, 3, 67)],
)
def test_ucs2_boundaries(length: int, count: int, per_segment: int) -> None:
    text = "ж" * length
    info = segments(text)
    assert info == SegmentInfo("UCS-2", length, length, count, per_segment, ("ж",))


def test_whole_gsm_alphabet_is_gsm() -> None:
    text = "".join(sorted(GSM_BASIC)) + "".join(sorted(GSM_EXTENSION))
    info = segments(text)
    assert info.encoding == "GSM-7"
    assert info.non_gsm_chars == ()
    assert info.characters == 127 + 10
    assert info.units == 127 + 2 * 10


def test_extension_chars_cost_two_septets() -> None:
    assert segments("a" * 158 + "€") == SegmentInfo("GSM-7", 159, 160, 1, 160, ())
    assert segments("a" * 159 + "€") == SegmentInfo("GSM-7", 160, 161, 2, 153, ())
    assert segments("{}").units == 4


def test_extension_pair_not_split_across_segments() -> None:
    # 306 septets = 2 x 153, but the escape pair would straddle the boundary: 3 segments.
    text = "a" * 152 + "€" + "a" * 152
    info = segments(text)
    assert (info.units, info.segments) == (306, 3)
    # when the pair fits exactly at the end of the first part it stays 2
    text = "a" * 151 + "€" + "a" * 153
    assert (segments(text).units, segments(text).segments) == (306, 2)


def test_emoji_counts_two_units() -> None:
    assert segments("a" * 68 + "😀") == SegmentInfo("UCS-2", 69, 70, 1, 70, ("😀",))
    assert segments("a" * 69 + "😀") == SegmentInfo("UCS-2", 70, 71, 2, 67, ("😀",))


def test_surrogate_pair_not_split_across_segments() -> None:
    text = "a" * 66 + "😀" + "a" * 66
    info = segments(text)
    assert (info.units, info.segments) == (134, 3)
    text = "a" * 65 + "😀" + "a" * 67
    assert (segments(text).units, segments(text).segments) == (134, 2)


def test_curly_quote_makes_150_chars_three_segments() -> None:
    plain = "We're on our way" + "." * 134
    assert len(plain) == 150
    assert segments(plain).segments == 1
    curly = plain.replace("'", "’")
    info = segments(curly)
    assert info == SegmentInfo("UCS-2", 150, 150, 3, 67, ("’",))
    assert GSM_SUBSTITUTES[info.non_gsm_chars[0]] == "'"
    assert segments(suggest_gsm(curly)).segments == 1


def test_non_gsm_chars_distinct_in_order() -> None:
    info = segments("“Hi” — it’s ça 😀 “again”")
    assert info.non_gsm_chars == ("“", "”", "—", "’", "ç", "😀")


# ------------------------------------------------------------------------ suggest_gsm


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It’s ‘fine’", "It's 'fine'"),
        ("“Quoted”", '"Quoted"'),
        ("8–5 — or later", "8-5 - or later"),
        ("Wait…", "Wait..."),
        ("10\u00a0AM\u202fsharp", "10 AM sharp"),
        ("tab\there", "tab here"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("`back´", "'back'"),
        ("plain text stays", "plain text stays"),
        ("emoji 😀 and ç stay", "emoji 😀 and ç stay"),
    ],
)
def test_suggest_gsm(text: str, expected: str) -> None:
    assert suggest_gsm(text) == expected


def test_every_substitute_is_gsm() -> None:
    for ch, replacement in GSM_SUBSTITUTES.items():
        assert ch not in GSM_BASIC and ch not in GSM_EXTENSION, repr(ch)
        assert segments(replacement).encoding == "GSM-7", repr(ch)


def test_a_value_ending_in_the_mark_after_the_token_gives_it_once() -> None:
    ctx = TemplateContext(
        first_name="Ana",
        business_name="Demo Plumbing Co.",
        business_phone=None,
        booking_link=None,
    )
    assert render("This is [Business Name]. Hi!", ctx) == "This is Demo Plumbing Co. Hi!"
    assert render("Call [Business Name], now", ctx) == "Call Demo Plumbing Co., now"
