from __future__ import annotations

import dataclasses

import pytest

from services.phones import (
    REASONS,
    PhoneCheck,
    classify,
    describe_reason,
    format_for_display,
    normalize,
)

US_MOBILE = "+14155552671"
UK_MOBILE = "+447400123456"


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+14155552671", "US", US_MOBILE),
        ("(415) 555-2671", "US", US_MOBILE),
        ("415.555.2671", "US", US_MOBILE),
        ("1 415 555 2671", "US", US_MOBILE),
        ("  +1 415-555-2671  ", "US", US_MOBILE),
        ("tel:+14155552671", "US", US_MOBILE),
        ("07400 123456", "GB", UK_MOBILE),
        ("+44 7400 123456", "US", UK_MOBILE),
        ("011 44 7400 123456", "US", UK_MOBILE),
        ("07400 123456", "gb", UK_MOBILE),
    ],
)
def test_normalize_valid(raw: str, region: str, expected: str) -> None:
    assert normalize(raw, region) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "garbage",
        "anonymous",
        "+266696687",
        "client:alice",
        "sip:bob@example.com",
        "whatsapp:+14155552671",
        "72345",
        "12",
        "+1 555",
        "555-2671",
        "+999 123 456 789",
        "🙂",
        "1" * 300,
    ],
)
def test_normalize_rejects(raw: str) -> None:
    assert normalize(raw) is None


def test_normalize_default_region_is_us() -> None:
    assert normalize("4155552671") == US_MOBILE


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "  ",
        "anonymous",
        "Anonymous",
        "ANONYMOUS",
        "restricted",
        "Restricted",
        "unknown",
        "private",
        "blocked",
        "+266696687",
        "+7378742833",
        "+2562533",
        "+86282452253",
        "+8656696",
        " +266696687 ",
    ],
)
def test_classify_anonymous(raw: str) -> None:
    check = classify(raw)
    assert check == PhoneCheck(raw=raw, e164=None, textable=False, reason="anonymous")


@pytest.mark.parametrize("raw", ["client:alice", "Client:Bob", "client:support_desk-1"])
def test_classify_client(raw: str) -> None:
    assert classify(raw) == PhoneCheck(raw, None, False, "client")


@pytest.mark.parametrize(
    "raw", ["sip:bob@example.com", "SIP:+14155552671@pbx.example.com", "sips:bob@example.com"]
)
def test_classify_sip(raw: str) -> None:
    assert classify(raw) == PhoneCheck(raw, None, False, "sip")


@pytest.mark.parametrize("raw", ["72345", "+72345", "911", "898211", "22 395", "+123"])
def test_classify_short_code(raw: str) -> None:
    assert classify(raw) == PhoneCheck(raw, None, False, "short_code")


def test_seven_digits_is_not_a_short_code() -> None:
    assert classify("5552671").reason == "invalid"


@pytest.mark.parametrize(
    "raw",
    ["garbage", "+1 555 123", "+15551234567", "12", "+999 123 456 789", "mailto:bob@example.com"],
)
def test_classify_invalid(raw: str) -> None:
    assert classify(raw) == PhoneCheck(raw, None, False, "invalid")


def test_classify_textable_us() -> None:
    assert classify("(415) 555-2671") == PhoneCheck("(415) 555-2671", US_MOBILE, True, None)


def test_classify_uk_mobile() -> None:
    assert classify("+44 7400 123456") == PhoneCheck("+44 7400 123456", UK_MOBILE, True, None)
    assert classify("07400 123456", "GB").e164 == UK_MOBILE
    assert classify("07400 123456", "GB").textable


def test_classify_keeps_raw_verbatim() -> None:
    assert classify("  +1 415 555 2671 ").raw == "  +1 415 555 2671 "


@pytest.mark.parametrize(
    "line_type", ["landline", "Landline", "fixedVoip", "voip-fixed", "fixed_voip", "fixed-line"]
)
def test_classify_not_mobile_with_line_type(line_type: str) -> None:
    check = classify(US_MOBILE, "US", line_type=line_type)
    assert check == PhoneCheck(US_MOBILE, US_MOBILE, False, "not_mobile")


@pytest.mark.parametrize("line_type", [None, "mobile", "nonFixedVoip", "tollFree", "unknown"])
def test_classify_textable_line_types(line_type: str | None) -> None:
    assert classify(US_MOBILE, "US", line_type) == PhoneCheck(US_MOBILE, US_MOBILE, True, None)


def test_line_type_does_not_mask_earlier_reasons() -> None:
    assert classify("anonymous", line_type="landline").reason == "anonymous"
    assert classify("garbage", line_type="landline").reason == "invalid"


def test_phone_check_is_frozen() -> None:
    check = classify(US_MOBILE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        check.textable = False  # type: ignore[misc]


def test_every_reason_is_described() -> None:
    codes = {"anonymous", "client", "sip", "short_code", "invalid", "not_mobile"}
    assert set(REASONS) == codes
    for code in codes:
        sentence = describe_reason(code)
        assert sentence.endswith(".")
        assert sentence[0].isupper()
    assert len({describe_reason(code) for code in codes}) == len(codes)
    assert describe_reason("something-new")


@pytest.mark.parametrize(
    ("e164", "region", "expected"),
    [
        (US_MOBILE, "US", "(415) 555-2671"),
        ("+14165550123", "US", "(416) 555-0123"),  # Canada shares +1: dialled nationally
        (UK_MOBILE, "US", "+44 7400 123456"),
        (UK_MOBILE, "GB", "07400 123456"),
        (US_MOBILE, "GB", "+1 415-555-2671"),
        ("anonymous", "US", "anonymous"),
        ("client:alice", "US", "client:alice"),
        ("+266696687", "US", "+266696687"),
        ("", "US", ""),
    ],
)
def test_format_for_display(e164: str, region: str, expected: str) -> None:
    assert format_for_display(e164, region) == expected


def test_format_for_display_default_region_is_us() -> None:
    assert format_for_display(US_MOBILE) == "(415) 555-2671"
