"""Run `frontdesk serve` (and other commands) as real subprocesses against the stand-in.

Webhooks are posted with the standard library (urllib) from the test thread, signed as
Twilio signs them for the public URL, while the server listens on loopback.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from services.receiver import PATHS
from tests.signing import SIGNATURE_HEADER, form_body, sign
from tests.twilio_standin import TwilioStandIn

PUBLIC_URL = "https://office.example.com"
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def frontdesk(
    *args: str, env: Mapping[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run one `frontdesk` command to completion."""
    result = subprocess.run(
        [sys.executable, "-m", "desktop.cli", *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"frontdesk {' '.join(args)} failed: {result.stderr}")
    return result


def serve_env(
    standin: TwilioStandIn, data_dir: Path, database_url: str | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "FRONTDESK_"))}
    env.update(
        TWILIO_ACCOUNT_SID=standin.account_sid,
        TWILIO_AUTH_TOKEN=standin.auth_token,
        FRONTDESK_TWILIO_BASE_URL=standin.base_url,
        FRONTDESK_PUBLIC_URL=PUBLIC_URL,
        FRONTDESK_DATA_DIR=str(data_dir),
        PYTHONUNBUFFERED="1",
    )
    if database_url:
        env["FRONTDESK_DATABASE_URL"] = database_url
    return env


class ServeProcess:
    """`frontdesk serve` on a free port; ``post()`` sends signed webhooks to it."""

    def __init__(self, env: Mapping[str, str], token: str) -> None:
        self.env = dict(env)
        self.token = token
        self.port = free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self, timeout: float = 30.0) -> ServeProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "desktop.cli", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not selector.select(timeout=0.5):
                if self.proc.poll() is not None:
                    break
                continue
            line = self.proc.stdout.readline()
            if not line:
                break
            self.output.append(line)
            if line.startswith("frontdesk serve: listening on"):
                selector.close()
                return self
        selector.close()
        self.kill()
        raise AssertionError("serve did not start:\n" + "".join(self.output))

    def post(self, name: str, params: Mapping[str, str]) -> tuple[int, str]:
        path = PATHS[name]
        signature = sign(self.token, PUBLIC_URL + path, params)
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=form_body(params),
            headers={
                SIGNATURE_HEADER: signature,
                "Content-Type": "application/x-www-form-urlencoded",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def stop(self) -> int:
        """SIGTERM and wait: the clean shutdown an office box gets."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rest, _ = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rest, _ = self.proc.communicate()
        self.output.append(rest or "")
        return self.proc.returncode

    def kill(self) -> None:
        """kill -9: no shutdown code runs at all."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)
