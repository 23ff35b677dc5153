"""A full disk: one clear line naming the path and what to do, nothing stored lost, and
calls and texts that arrive meanwhile are answered, listed as unsaved and written once
there is room again. Real `frontdesk` subprocesses on a real, tiny tmpfs."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve_process import ServeProcess, frontdesk, serve_env
from tests.standin_fixtures import twilio_standin_fixture  # noqa: F401
from tests.twilio_standin import TwilioStandIn

BUSINESS = "+15005550001"
CALLER = "+14155550123"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.name != "posix", reason="a tmpfs mount is Linux"),
]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MB tmpfs: full in a moment. Needs root (CI runs as root: there it must run)."""
    in_ci = os.environ.get("CI") == "true"
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        reason = f"cannot mount a tmpfs here: {mounted.stderr.strip()}"
        if in_ci:
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield where
    finally:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=True)


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte; returns the filler file (delete it to make room)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "FRONTDESK_"))}
    env["FRONTDESK_DATA_DIR"] = str(data)
    return env


def _one_line_full(result: subprocess.CompletedProcess[str], data: Path) -> None:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one line, no traceback
    assert lines[0] == (
        f"frontdesk: error: the disk holding {data} is full: free some space and start "
        "again; nothing stored was lost"
    )


def test_a_full_disk_says_so_in_one_line_and_loses_nothing(tiny_disk: Path) -> None:
    data = tiny_disk / "ws"
    env = _env(data)
    frontdesk("settings", "set", "business.name", "Acme Plumbing", env=env)
    frontdesk("settings", "set", "forwarding.numbers", '["+15005550002"]', env=env)
    filler = fill(tiny_disk)

    _one_line_full(frontdesk("settings", "set", "business.name", "B", env=env, check=False), data)
    live = {
        **env,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "0" * 32,
        "FRONTDESK_PUBLIC_URL": "https://office.example.com",
        # Nothing may be tried on the network: the disk is checked first.
        "FRONTDESK_TWILIO_BASE_URL": "http://127.0.0.1:9",
    }
    serve = frontdesk("serve", "--port", "0", env=live, check=False)
    _one_line_full(serve, data)
    # Reading needs no room: what is stored is still there.
    shown = json.loads(frontdesk("settings", "show", "--json", env=env).stdout)
    assert shown["business.name"] == "Acme Plumbing"
    assert shown["forwarding.numbers"] == ["+15005550002"]

    filler.unlink()
    with sqlite3.connect(data / "frontdesk.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    shown = json.loads(frontdesk("settings", "show", "--json", env=env).stdout)
    assert shown["business.name"] == "Acme Plumbing"  # the refused change changed nothing
    frontdesk("settings", "set", "business.name", "Acme & Sons", env=env)  # room again
    assert (
        json.loads(frontdesk("settings", "show", "--json", env=env).stdout)["business.name"]
        == "Acme & Sons"
    )


def _stored(env: dict[str, str]) -> tuple[set[str], set[str]]:
    """The CallSids and MessageSids in the workspace (read through `frontdesk export`)."""
    exported = json.loads(frontdesk("export", "--format", "json", env=env).stdout)
    calls = {str(c["sid"]) for c in exported["calls"]}
    texts = {str(m["sid"]) for conv in exported["conversations"] for m in conv["messages"]}
    return calls, texts


def test_calls_and_texts_arriving_on_a_full_disk_are_answered_and_saved_later(
    tiny_disk: Path, twilio_standin: TwilioStandIn
) -> None:
    twilio_standin.add_number(BUSINESS)
    data = tiny_disk / "ws"
    env = serve_env(twilio_standin, data)
    for key, value in (
        ("business.name", "Acme Plumbing"),
        ("business.phone_number", BUSINESS),
        ("forwarding.numbers", '["+15005550002"]'),
    ):
        frontdesk("settings", "set", key, value, env=env)
    server = ServeProcess(env, twilio_standin.auth_token).start()
    filler: Path | None = None
    try:
        first = "CA" + "0" * 32
        base = {"From": CALLER, "To": BUSINESS, "CallStatus": "ringing"}
        assert server.post("voice", {**base, "CallSid": first})[0] == 200
        filler = fill(tiny_disk)
        # Calls keep coming; each one is answered (the caller hears ringing), whether
        # or not its record fits, until one does not fit and the log says so.
        sids: list[str] = []
        for i in range(1, 400):
            sid = f"CA{i:032d}"
            status, twiml = server.post("voice", {**base, "CallSid": sid})
            assert status == 200 and "<Dial" in twiml, (status, twiml)
            sids.append(sid)
            if any(f"saving call {sid} failed" in line for line in server.output):
                break
        else:
            pytest.fail("the disk never filled:\n" + "".join(server.output[-20:]))
        text = "SM" + "5" * 32
        status, _ = server.post(
            "sms", {"MessageSid": text, "From": CALLER, "To": BUSINESS, "Body": "Are you open?"}
        )
        assert status == 200  # never a 500: Twilio would not send the text again
        time.sleep(0.5)
        assert any(f"saving text {text} from {CALLER} failed" in line for line in server.output), (
            "".join(server.output[-20:])
        )

        filler.unlink()
        filler = None
        # The retries land once there is room: every call answered is stored, and the text.
        deadline = time.monotonic() + 30
        while True:
            stored, texts = _stored(env)
            if {first, *sids} <= stored and text in texts:
                break
            if time.monotonic() > deadline:
                missing = {first, *sids} - stored
                pytest.fail(
                    f"not saved: {sorted(missing)[:5]} text={text in texts}\n"
                    + "".join(server.output[-20:])
                )
            time.sleep(0.5)
        assert any(f"text {text} saved after" in line for line in server.output)
    finally:
        if filler is not None:
            filler.unlink()
        assert server.stop() == 0
