"""`frontdesk selftest` as an office runs it after installing: a subprocess, exit 0, ✓ lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

STEPS = (
    "✓ receiver listening on http://127.0.0.1:",
    "✓ missed call recorded",
    "✓ text-back sent: Hi there, this is Demo Plumbing Co.",
    "✓ reply threaded",
    "✓ follow-up cancelled",
)


def _run(
    data_dir: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})}
    environ.pop("FRONTDESK_DATA_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "desktop.cli", "selftest", "--data-dir", str(data_dir), *extra],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=90,
        env=environ,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_selftest_passes_and_prints_each_step(data_dir: Path) -> None:
    result = _run(data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for step in STEPS:
        assert any(line.startswith(step) for line in lines), (step, result.stdout)
    assert "all checks passed" in lines[-1]
    assert "✗" not in result.stdout
    # Qt stays out of the default selftest, and the user's data dir is left alone.
    assert "Qt loads" not in result.stdout
    assert not (data_dir / "frontdesk.db").exists()
    assert not (data_dir / "demo").exists()


def test_selftest_gui_check_loads_qt_offscreen(data_dir: Path) -> None:
    result = _run(data_dir, env={"FRONTDESK_SELFTEST_GUI": "1", "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ Qt loads: PySide6 6.11.3, platform offscreen" in result.stdout


def test_selftest_reports_a_failure_with_its_reason(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop import config as config_mod
    from desktop import selftest

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise selftest.SelftestFailure("no text-back was sent within 10 s of the missed call")

    monkeypatch.setattr(selftest, "_loop", broken)
    config = config_mod.resolve(data_dir=str(data_dir), environ={})
    assert selftest.run_selftest(config, gui_check_too=False) == 1
    out, err = capsys.readouterr()
    assert "✗ no text-back was sent" in out
    assert "FAILED: no text-back was sent" in err
