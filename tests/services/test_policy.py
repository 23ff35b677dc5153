"""The text-back decision's refusals about the caller, decided purely (no storage): who
asked not to be texted comes before every rule about timing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services import phones, policy
from services.settings import Settings

CALL_AT = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # a Wednesday, 10:00 in New York
OPEN_ALL_DAY = {
    "business.hours": {
        d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    }
}


def decide(**facts: bool) -> policy.Decision:
    return policy.decide_textback(
        Settings(OPEN_ALL_DAY),
        policy.Facts(
            phone=phones.classify("+14155550123"),
            opted_out=facts.get("opted_out", False),
            blocked_here=facts.get("blocked_here", False),
            last_textback_at=CALL_AT if facts.get("recently_texted") else None,
            call_at=CALL_AT,
            now=CALL_AT,
        ),
    )


def test_a_caller_nobody_stopped_is_texted() -> None:
    decision = decide()
    assert decision.send and decision.reason is None


@pytest.mark.parametrize(
    ("facts", "reason", "words"),
    [
        ({"opted_out": True}, policy.OPTED_OUT, "the caller opted out (texted STOP)"),
        (
            {"blocked_here": True},
            policy.BLOCKED_HERE,
            "they opted out of texts from this number (texted STOP to it)",
        ),
        ({"opted_out": True, "blocked_here": True}, policy.OPTED_OUT, None),
        ({"blocked_here": True, "recently_texted": True}, policy.BLOCKED_HERE, None),
    ],
)
def test_an_opt_out_is_the_reason_before_any_timing_rule(
    facts: dict[str, bool], reason: str, words: str | None
) -> None:
    decision = decide(**facts)
    assert not decision.send and decision.reason == reason
    if words is not None:
        assert policy.describe_skip(reason) == words
