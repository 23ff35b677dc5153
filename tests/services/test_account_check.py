"""'Test connection' against the Twilio stand-in over HTTP: each problem, in words."""

from __future__ import annotations

import asyncio

from services.account_check import AccountCheckResult, TwilioAccountCheck
from services.credentials import TwilioCredentials
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

NUMBER = "+15005550001"


def check(
    standin: TwilioStandIn, creds: TwilioCredentials | None = None, number: str = NUMBER
) -> AccountCheckResult:
    creds = creds or TwilioCredentials(standin.account_sid, standin.auth_token)
    checker = TwilioAccountCheck(base_url=standin.base_url)
    return asyncio.run(checker.run(creds, number))


def test_all_good(twilio_standin: TwilioStandIn) -> None:
    sid = twilio_standin.add_number(NUMBER)["sid"]
    result = check(twilio_standin)
    assert result == AccountCheckResult(True, [], "Frontdesk Test Account", sid)


def test_bad_sid_format_is_caught_before_any_request(twilio_standin: TwilioStandIn) -> None:
    result = check(twilio_standin, TwilioCredentials("AC123", "token"))
    assert not result.ok
    assert result.problems == [
        "The Account SID must be 'AC' followed by 32 hexadecimal characters "
        "(find it on the Twilio Console home page)."
    ]
    assert twilio_standin.requests == []


def test_wrong_token(twilio_standin: TwilioStandIn) -> None:
    twilio_standin.add_number(NUMBER)
    result = check(
        twilio_standin, TwilioCredentials(twilio_standin.account_sid, "wrong-token-value")
    )
    assert not result.ok
    assert len(result.problems) == 1
    assert "refused the credentials (error 20003)" in result.problems[0]
    assert "wrong-token-value" not in result.problems[0]
    assert result.account_name is None


def test_no_token(twilio_standin: TwilioStandIn) -> None:
    result = check(twilio_standin, TwilioCredentials(twilio_standin.account_sid, None))
    assert not result.ok and "auth token" in result.problems[0]


def test_suspended_and_closed_accounts(twilio_standin: TwilioStandIn) -> None:
    twilio_standin.add_number(NUMBER)
    twilio_standin.account_status = "suspended"
    result = check(twilio_standin)
    assert not result.ok
    assert result.problems == [
        "The Twilio account Frontdesk Test Account is suspended: texts and calls are "
        "blocked until it is reactivated (check billing in the Twilio Console)."
    ]
    twilio_standin.account_status = "closed"
    assert "is closed" in check(twilio_standin).problems[0]


def test_number_not_on_this_account(twilio_standin: TwilioStandIn) -> None:
    twilio_standin.add_number("+15005550009")
    result = check(twilio_standin)
    assert not result.ok
    assert result.account_name == "Frontdesk Test Account"
    assert result.number_sid is None
    assert result.problems[0].startswith("+15005550001 is not a phone number on this Twilio")


def test_number_missing_or_malformed(twilio_standin: TwilioStandIn) -> None:
    assert "is not set" in check(twilio_standin, number="").problems[0]
    assert "is not a phone number" in check(twilio_standin, number="12").problems[0]


def test_number_that_cannot_text(twilio_standin: TwilioStandIn) -> None:
    sid = twilio_standin.add_number(NUMBER, capabilities={"sms": False})["sid"]
    result = check(twilio_standin)
    assert not result.ok
    assert result.number_sid == sid
    assert result.problems == [
        "+15005550001 cannot receive or send SMS (its capabilities say no SMS); "
        "text-back needs an SMS-capable number."
    ]


def test_every_locations_number_is_checked(twilio_standin: TwilioStandIn) -> None:
    sid = twilio_standin.add_number(NUMBER)["sid"]
    twilio_standin.add_number("+15005550011", capabilities={"voice": False})
    creds = TwilioCredentials(twilio_standin.account_sid, twilio_standin.auth_token)
    checker = TwilioAccountCheck(base_url=twilio_standin.base_url)
    result = asyncio.run(checker.run(creds, NUMBER, ["+15005550011", "+15005550012"]))
    assert not result.ok
    assert result.number_sid == sid  # the business number's
    assert result.problems[0] == (
        "+15005550011 cannot receive calls (its capabilities say no voice)."
    )
    assert result.problems[1].startswith("+15005550012 is not a phone number on this Twilio")
    assert len(result.problems) == 2


def test_twilio_unreachable_is_said_plainly(twilio_standin: TwilioStandIn) -> None:
    twilio_standin.add_number(NUMBER)
    twilio_standin.fail_next("Accounts", 503, times=5)
    result = check(twilio_standin)
    assert not result.ok
    assert result.problems[0].startswith("Could not reach Twilio to check the account")
