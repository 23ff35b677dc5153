"""The command line others script against (DESIGN.md): exit codes, messages, formats."""

from __future__ import annotations

import csv
import io
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

import desktop
from desktop import logs
from desktop.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> Iterator[None]:
    for name in (
        "FRONTDESK_DATABASE_URL",
        "FRONTDESK_PUBLIC_URL",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "NGROK_AUTHTOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FRONTDESK_DATA_DIR", str(data_dir))
    yield
    logs.reset()  # `serve` configured logging into this test's data dir


def show(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["settings", "show", "--json"]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def test_version_is_pyprojects(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out.strip() == f"frontdesk {version}"
    assert version == desktop.VERSION


def test_settings_set_reads_json_else_text_and_show_prints_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["settings", "set", "textback.delay_seconds", "45"]) == 0
    assert main(["settings", "set", "business.name", "Smith & Sons"]) == 0
    assert main(["settings", "set", "forwarding.numbers", '["(415) 555-0100"]']) == 0
    capsys.readouterr()
    values = show(capsys)
    assert values["textback.delay_seconds"] == 45
    assert values["business.name"] == "Smith & Sons"
    assert values["forwarding.numbers"] == ["+14155550100"]  # normalised to E.164
    assert main(["settings", "show"]) == 0
    assert 'business.name = "Smith & Sons"' in capsys.readouterr().out


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("textback.delay", "5", "unknown setting 'textback.delay'"),
        ("business.timezone", "Mars/Olympus", "is not a time zone name"),
        ("templates.missed_call", "Hi [Name]!", "[Name]"),
        ("textback.delay_seconds", "-1", "from 0 to 3600"),
        ("forwarding.numbers", '["not a phone"]', "not a valid phone number"),
        ("business.hours", '{"mon": [["17:00", "08:00"]]}', "must be before"),
        ("quiet_hours", '{"start": "9pm"}', "quiet_hours"),
    ],
)
def test_bad_settings_exit_2_with_a_clear_error_and_write_nothing(
    capsys: pytest.CaptureFixture[str], key: str, value: str, message: str
) -> None:
    before = show(capsys)
    assert main(["settings", "set", key, value]) == 2
    err = capsys.readouterr().err
    assert err.startswith("frontdesk: error: ") and message in err
    assert show(capsys) == before


def test_data_dir_option_wins_over_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "elsewhere"
    assert main(["settings", "set", "business.name", "Elsewhere", "--data-dir", str(other)]) == 0
    assert (other / "frontdesk.db").exists()
    capsys.readouterr()
    assert show(capsys)["business.name"] == ""


def test_export_json_and_csv_shapes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {"contacts": [], "calls": [], "conversations": []}
    target = tmp_path / "out.csv"
    assert main(["export", "--format", "csv", "--output", str(target)]) == 0
    header = next(csv.reader(io.StringIO(target.read_text())))
    assert header[:3] == ["record", "phone", "name"]
    assert main(["export", "--output", str(tmp_path / "missing" / "x.json")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_serve_without_credentials_says_what_to_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "TWILIO_ACCOUNT_SID" in err and "TWILIO_AUTH_TOKEN" in err


def test_bad_port_in_the_environment_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FRONTDESK_PORT", "eighty")
    assert main(["settings", "show"]) == 2
    assert "FRONTDESK_PORT" in capsys.readouterr().err
