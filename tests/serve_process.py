"""Run `frontdesk serve` (and other commands) as real subprocesses against the stand-in.

Webhooks are posted with the standard library (urllib) from the test thread, signed as
Twilio signs them for the public URL, while the server listens on loopback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO

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
    """`frontdesk serve` on a free port; ``post()`` sends signed webhooks to it.

    ``module`` runs another server speaking the same start-up line and webhook paths
    instead (the benchmark's bare baseline, ``bench.bare_app``).
    """

    module = "desktop.cli"

    def __init__(self, env: Mapping[str, str], token: str) -> None:
        self.env = dict(env)
        self.token = token
        self.public_url = self.env.get("FRONTDESK_PUBLIC_URL", PUBLIC_URL)
        self.port = free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(
        self, timeout: float = 30.0, ready: tuple[str, ...] = ("frontdesk serve: listening on",)
    ) -> ServeProcess:
        """Start and wait for a line starting with one of ``ready`` (default: listening)."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module, "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.proc.stdout is not None
        self._seen = 0
        self._lines = threading.Condition()
        # A reader thread drains the pipe (so it never fills) and keeps every line.
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self._reader.start()
        try:
            self.wait_for_line(ready, timeout)
        except AssertionError:
            self.kill()
            raise AssertionError("serve did not start:\n" + "".join(self.output)) from None
        return self

    def _read(self, stream: IO[str]) -> None:
        with stream:
            for line in stream:
                with self._lines:
                    self.output.append(line)
                    self._lines.notify_all()
        with self._lines:
            self._eof = True
            self._lines.notify_all()

    _eof = False

    def wait_for_line(self, prefix: str | tuple[str, ...], timeout: float) -> str:
        """The next output line (after those already waited for) starting with ``prefix``."""
        deadline = time.monotonic() + timeout
        with self._lines:
            while True:
                while self._seen < len(self.output):
                    line = self.output[self._seen]
                    self._seen += 1
                    if line.startswith(prefix):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    break
                self._lines.wait(left)
        raise AssertionError(f"no {prefix!r} within {timeout} s:\n" + "".join(self.output))

    def post(self, name: str, params: Mapping[str, str]) -> tuple[int, str]:
        path = PATHS[name]
        signature = sign(self.token, self.public_url + path, params)
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
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode

    def kill(self) -> None:
        """kill -9: no shutdown code runs at all."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self._reader.join(5)
