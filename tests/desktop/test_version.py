"""One version number: pyproject's `version` is what bundles show and installers carry."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import desktop

ROOT = Path(__file__).resolve().parents[2]


def test_pyproject_version_equals_desktop_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["version"] == desktop.VERSION


def test_version_is_plain_dotted_numbers() -> None:
    # Stamped into installer names and Windows' VIProductVersion (needs digits and dots).
    assert re.fullmatch(r"\d+\.\d+\.\d+", desktop.VERSION)
