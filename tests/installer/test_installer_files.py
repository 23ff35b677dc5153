"""Quick checks of the installer sources (the full build runs in scripts/ci-installers).

The scripts parse, the Windows script compiles with makensis (when it is installed),
the version is stamped from pyproject, the desktop entry and the generated icons are
well formed, and the spec bundles what the app loads from files at run time.
"""

from __future__ import annotations

import configparser
import os
import shutil
import struct
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


@pytest.mark.parametrize("script", ["installer/build-deb", "scripts/ci-installers"])
def test_shell_scripts_parse_and_are_executable(script: str) -> None:
    path = ROOT / script
    subprocess.run(["bash", "-n", str(path)], check=True)
    assert os.access(path, os.X_OK)


def test_pyinstaller_is_pinned_in_the_installer_extra() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    assert "pyinstaller==6.22.3" in extras["installer"]


def test_spec_bundles_run_time_files_and_leaves_out_unused_qt() -> None:
    spec = (ROOT / "installer" / "frontdesk.spec").read_text(encoding="utf-8")
    # Alembic reads these as files; resources hold the icons and styles.
    for needle in ('"env.py", "script.py.mako", "versions/*.py"', 'add_tree(ROOT / "resources")'):
        assert needle in spec
    for module in ("QtWebEngineCore", "QtQml", "QtQuick", "QtMultimedia", "QtPdf", "Qt3DCore"):
        assert f'"{module}"' in spec
    assert '"tkinter"' in spec
    assert 'installer" / "entry.py"' in spec
    compile(spec, "frontdesk.spec", "exec")  # valid Python


def test_migrations_exist_where_the_spec_looks() -> None:
    migrations = ROOT / "services" / "storage" / "migrations"
    assert (migrations / "env.py").is_file()
    assert (migrations / "script.py.mako").is_file()
    assert list((migrations / "versions").glob("*.py"))


def test_desktop_entry() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(ROOT / "installer" / "linux" / "frontdesk.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"] == "frontdesk"
    assert entry["Icon"] == "frontdesk"
    assert entry["Terminal"] == "false"
    assert parser["Desktop Action demo"]["Exec"] == "frontdesk demo"
    validate = shutil.which("desktop-file-validate")
    if validate:
        subprocess.run([validate, str(ROOT / "installer/linux/frontdesk.desktop")], check=True)


def test_installer_names_carry_the_version() -> None:
    nsi = (ROOT / "installer" / "windows" / "frontdesk.nsi").read_text(encoding="utf-8")
    assert 'OutFile "${OUT_DIR}\\Frontdesk-Setup-${VERSION}.exe"' in nsi
    deb = (ROOT / "installer" / "build-deb").read_text(encoding="utf-8")
    assert "frontdesk_${VERSION}_${ARCH}.deb" in deb
    assert "-Zzstd" in deb and "--root-owner-group" in deb


def test_uninstaller_keeps_data_unless_asked() -> None:
    nsi = (ROOT / "installer" / "windows" / "frontdesk.nsi").read_text(encoding="utf-8")
    section = nsi[nsi.index('Section /o "un.Also delete my Frontdesk data"') :]
    assert 'RMDir /r "$APPDATA\\Frontdesk"' in section
    assert 'RMDir /r "$LOCALAPPDATA\\Frontdesk"' in section
    before = nsi[: nsi.index('Section /o "un.Also delete my Frontdesk data"')]
    assert "$APPDATA\\Frontdesk" not in before.split('Section "un.Frontdesk"')[1]
    assert 'Section /o "Start with Windows"' in nsi and "CurrentVersion\\Run" in nsi
    postrm = (ROOT / "installer" / "build-deb").read_text(encoding="utf-8")
    assert "never touched" in postrm and "/home" not in postrm


@pytest.mark.skipif(shutil.which("makensis") is None, reason="makensis (nsis) is not installed")
def test_nsis_script_compiles(tmp_path: Path) -> None:
    tree = tmp_path / "frontdesk"
    (tree / "_internal").mkdir(parents=True)
    for name in ("Frontdesk.exe", "frontdesk-cli.exe", "_internal/placeholder.txt"):
        (tree / name).write_bytes(b"placeholder")
    result = subprocess.run(
        [
            "makensis",
            "-WX",
            "-V2",
            f"-DVERSION={VERSION}",
            f"-DDIST_DIR={tree}",
            f"-DOUT_DIR={tmp_path}",
            str(ROOT / "installer" / "windows" / "frontdesk.nsi"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / f"Frontdesk-Setup-{VERSION}.exe").stat().st_size > 10_000


def test_make_icons_writes_ico_and_icns(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    subprocess.run(
        [sys.executable, str(ROOT / "installer" / "make_icons.py"), str(tmp_path)],
        check=True,
        env=env,
        capture_output=True,
        timeout=60,
    )
    ico = (tmp_path / "frontdesk.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind, count) == (0, 1, 7)
    icns = (tmp_path / "frontdesk.icns").read_bytes()
    assert icns[:4] == b"icns" and struct.unpack(">I", icns[4:8])[0] == len(icns)
    assert (tmp_path / "frontdesk-256.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
