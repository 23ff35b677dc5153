"""The startup probe scripts/ci-installers reads: one line with the ms to the first
window (and one with the CPU ms used by then), then the app quits; nothing at all when
it is off."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from desktop import startup_probe

ROOT = Path(__file__).resolve().parents[2]

APP = textwrap.dedent(
    """
    import sys
    from PySide6.QtWidgets import QApplication, QMainWindow
    from desktop import startup_probe

    app = QApplication(sys.argv[:1])
    measuring = startup_probe.install(app)
    window = QMainWindow()
    window.show()
    if not measuring:
        from PySide6.QtCore import QTimer
        QTimer.singleShot(300, app.quit)
    sys.exit(app.exec())
    """
)


def _run(env_value: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    env.pop(startup_probe.ENV, None)
    if env_value is not None:
        env[startup_probe.ENV] = env_value
    return subprocess.run(
        [sys.executable, "-c", APP],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )


def test_probe_prints_startup_ms_and_quits() -> None:
    result = _run("1")
    assert result.returncode == 0, result.stderr
    match = re.search(r"^frontdesk: startup_ms=(\d+) window=QMainWindow$", result.stdout, re.M)
    assert match, result.stdout
    assert 0 < int(match.group(1)) < 60_000
    cpu = re.search(r"^frontdesk: cpu_ms=(\d+)$", result.stdout, re.M)
    assert cpu, result.stdout
    # CPU time since the process started cannot exceed wall time by much (2 threads at
    # most are busy here), and a Qt start-up costs some.
    assert 0 < int(cpu.group(1)) <= 2 * int(match.group(1)) + 50


def test_probe_is_silent_when_off() -> None:
    result = _run(None)
    assert result.returncode == 0, result.stderr
    assert "startup_ms" not in result.stdout


def test_hidden_flag_turns_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # setenv (not delenv) so the variable strip_flag sets is undone after the test.
    monkeypatch.setenv(startup_probe.ENV, "")
    assert startup_probe.strip_flag(["demo", "--data-dir", "x"]) == ["demo", "--data-dir", "x"]
    assert not startup_probe.enabled()
    assert startup_probe.strip_flag(["demo", "--measure-startup"]) == ["demo"]
    assert startup_probe.enabled()


def test_process_start_is_before_now() -> None:
    ms, source = startup_probe.elapsed_ms()
    if sys.platform.startswith("linux"):
        assert source == "process"
    assert ms > 0
