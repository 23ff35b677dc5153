"""The pinned Twilio spec is taken only with the pinned bytes (tests/twilio_spec.py)."""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
from pathlib import Path

import pytest

from tests import twilio_spec
from tests.twilio_spec import API, LOOKUPS, SpecSource, missing_reason, pinned_source


def _tarball(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue())


def test_a_tarball_that_is_not_the_pinned_one_is_refused_and_nothing_written(
    tmp_path: Path,
) -> None:
    members = dict.fromkeys(twilio_spec.MEMBERS, b"{}")
    with pytest.raises(ValueError, match="integrity is not the pinned one"):
        twilio_spec.unpack(_tarball(members), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_file_that_is_not_the_pinned_one_is_refused_even_in_a_pinned_tarball(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = dict.fromkeys(twilio_spec.MEMBERS, b"{}")
    members[next(iter(members))] = b'{"openapi": "3.0.1", "paths": {}}'
    tarball = _tarball(members)
    monkeypatch.setattr(twilio_spec, "INTEGRITY", twilio_spec._integrity(tarball))
    with pytest.raises(ValueError, match="is not the pinned file"):
        twilio_spec.unpack(tarball, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_pinned_copy_is_checked_against_its_hashes(tmp_path: Path) -> None:
    src = pinned_source()
    why = missing_reason(src, API) or missing_reason(src, LOOKUPS)
    if why is not None:
        from tests.services.test_gateway_contract import _missing

        _missing(why)
    copy = SpecSource("pinned", tmp_path, has_examples=False)
    shutil.copy(src.path(API), copy.path(API))
    assert missing_reason(copy, API) is None
    altered = copy.path(API).read_bytes().replace(b"api.twilio.com", b"api.twilio.co", 1)
    copy.path(API).write_bytes(altered)
    reason = missing_reason(copy, API)
    assert reason is not None and "is not the pinned spec" in reason
    assert "run scripts/bootstrap" in (missing_reason(copy, LOOKUPS) or "")
