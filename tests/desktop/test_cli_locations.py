"""`frontdesk location …` and `frontdesk settings show/set --location NAME` (issue 13).

The office's keys keep meaning the first location; another location shows what it sets
and what it takes from the office, refuses the office's own keys, and a new number is
checked in the Twilio account (the stand-in, over HTTP) before anything is saved.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop.cli import main
from tests.standin_fixtures import twilio_standin_env_fixture, twilio_standin_fixture
from tests.twilio_standin import TwilioStandIn

__all__ = ["twilio_standin_env_fixture", "twilio_standin_fixture"]

MAIN = "+15005550006"
NORTH = "+15005550007"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Iterator[None]:
    for name in ("FRONTDESK_DATABASE_URL", "FRONTDESK_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FRONTDESK_DATA_DIR", str(data_dir))
    yield


def out(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out


def test_locations_from_the_command_line(
    twilio_standin_env: TwilioStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    standin = twilio_standin_env
    standin.add_number(MAIN)
    standin.add_number(NORTH)
    standin.add_number("+15005550008", capabilities={"sms": False})
    assert main(["settings", "set", "business.phone_number", MAIN]) == 0
    assert main(["settings", "set", "business.timezone", "America/Chicago"]) == 0
    assert main(["location", "add", "North", "(500) 555-0007"]) == 0
    assert out(capsys).splitlines()[-1] == f"North\t{NORTH}"

    assert (
        main(["settings", "set", "--location", "north", "business.timezone", "America/Denver"]) == 0
    )
    assert out(capsys).strip() == 'business.timezone = "America/Denver"'
    assert main(["settings", "show", "--location", "North", "--json"]) == 0
    north = json.loads(out(capsys))
    assert north["business.phone_number"] == NORTH
    assert north["business.timezone"] == "America/Denver"
    assert "team.members" not in north  # the office's alone
    assert main(["settings", "show", "--location", "North"]) == 0
    text = out(capsys)
    assert 'business.timezone = "America/Denver"\n' in text
    assert "business.hours = " in text and "# the office's" in text
    # The office's keys are still the first location's, unchanged.
    assert main(["settings", "show", "--json"]) == 0
    office = json.loads(out(capsys))
    assert office["business.timezone"] == "America/Chicago"
    assert office["business.phone_number"] == MAIN
    assert main(["settings", "show", "--location", "Main", "--json"]) == 0
    assert json.loads(out(capsys))["business.timezone"] == "America/Chicago"

    assert main(["location", "list", "--json"]) == 0
    assert [(x["name"], x["number"]) for x in json.loads(out(capsys))] == [
        ("Main", MAIN),
        ("North", NORTH),
    ]


def test_bad_location_input_exits_2_and_writes_nothing(
    twilio_standin_env: TwilioStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    standin = twilio_standin_env
    standin.add_number(NORTH)
    standin.add_number("+15005550008", capabilities={"sms": False})
    cases = [
        (["settings", "set", "--location", "Uptown", "business.name", "X"], "no location called"),
        (["location", "add", "South", "+15005550009"], "not a phone number on this Twilio account"),
        (["location", "add", "South", "+15005550008"], "cannot receive or send SMS"),
        (["location", "add", "South", "12"], "not a phone number"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err, argv
    assert main(["location", "add", "North", NORTH]) == 0
    for argv, message in [
        (["settings", "set", "--location", "North", "team.members", '["Dana"]'], "office's"),
        (["settings", "set", "--location", "North", "business.timezone", "Mars/Base"], "time zone"),
        (["location", "remove", "Main"], "cannot be removed"),
        (["location", "add", "north", "+15005550008"], "SMS"),
    ]:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err, argv
    assert main(["location", "list", "--json"]) == 0
    assert [x["name"] for x in json.loads(out(capsys))] == ["Main", "North"]
    assert main(["location", "rename", "North", "Northside"]) == 0
    assert main(["location", "remove", "Northside"]) == 0
    assert main(["location", "list", "--json"]) == 0
    assert [x["name"] for x in json.loads(out(capsys))] == ["Main"]


def test_adding_a_number_needs_an_account(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    assert main(["location", "add", "North", NORTH]) == 2
    assert "checked in the Twilio account first" in capsys.readouterr().err
