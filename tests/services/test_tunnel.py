"""Public endpoints: FixedPublicUrl, NgrokTunnel against a fake ngrok agent, the supervisor.

The fake ngrok (:mod:`tests.fake_ngrok`) is a small Python script written into tmp_path
that pyngrok 9.1 takes for the real agent. Files in ``tmp_path/fake/ctl`` steer it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from pyngrok import installer as pyngrok_installer
from pyngrok import ngrok as pyngrok_ngrok
from pyngrok import process as pyngrok_process
from pyngrok.exception import PyngrokNgrokInstallError

from services.tunnel import (
    INSTALL_HINT,
    FixedPublicUrl,
    NgrokTunnel,
    TunnelError,
    TunnelSupervisor,
    validate_public_url,
)
from tests.fake_ngrok import FIRST_URL, FakeNgrok, alive, eventually, fake_ngrok

SECRET_TOKEN = "2xYzSecretNgrokAuthToken_abcdef0123456789"


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeNgrok]:
    with fake_ngrok(tmp_path, monkeypatch) as fake:
        yield fake
    # pyngrok never wrote into the (temporary) home directory.
    assert [p for p in (tmp_path / "home").rglob("*") if p.is_file()] == []


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[float, str | None]] = []

    async def __call__(self, url: str | None) -> None:
        self.calls.append((time.monotonic(), url))

    @property
    def urls(self) -> list[str | None]:
        return [url for _, url in self.calls]


# -- FixedPublicUrl -------------------------------------------------------------------------


def test_fixed_public_url() -> None:
    async def go() -> None:
        endpoint = FixedPublicUrl("https://frontdesk.example.com/office/")
        assert endpoint.url() is None
        assert await endpoint.open(8080) == "https://frontdesk.example.com/office"
        assert endpoint.url() == "https://frontdesk.example.com/office"
        assert await endpoint.check() == "https://frontdesk.example.com/office"
        await endpoint.close()
        assert endpoint.url() is None

    asyncio.run(go())
    assert validate_public_url("http://10.0.0.5:8080") == "http://10.0.0.5:8080"
    for bad in ("", "frontdesk.example.com", "ftp://x.example", "https://", "https://h/?q=1"):
        with pytest.raises(TunnelError):
            FixedPublicUrl(bad)


# -- NgrokTunnel ------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_open_gives_the_public_url(fake: FakeNgrok) -> None:
    async def go() -> None:
        tunnel = fake.tunnel(auth_token="tok123", region="eu")
        assert fake.starts() == []  # nothing happens in __init__
        assert not fake.config_path.exists()

        assert await tunnel.open(8123) == FIRST_URL
        assert tunnel.url() == FIRST_URL
        assert await tunnel.open(8123) == FIRST_URL  # already open: same agent
        assert len(fake.starts()) == 1
        assert await tunnel.check() == FIRST_URL

        argv = fake.starts()[0]["argv"]
        assert isinstance(argv, list)
        assert argv[:4] == ["start", "--none", "--log", "stdout"]
        assert argv[argv.index("--config") + 1] == str(fake.config_path)
        assert argv[argv.index("--authtoken") + 1] == "tok123"
        assert argv[argv.index("--region") + 1] == "eu"
        assert fake.posted()[0]["upstream"] == {"url": "http://127.0.0.1:8123"}
        assert fake.config_path.exists()
        assert "tok123" not in fake.config_path.read_text()

        pid = tunnel.pid
        assert pid is not None and alive(pid)
        await tunnel.close()
        assert not alive(pid)
        assert tunnel.url() is None
        assert await tunnel.check() is None
        await tunnel.close()  # twice is fine

    asyncio.run(go())


@pytest.mark.timeout(60)
def test_missing_binary_fails_fast_without_download(fake: FakeNgrok, tmp_path: Path) -> None:
    async def go() -> None:
        for path in (tmp_path / "no-such-ngrok", tmp_path):
            tunnel = NgrokTunnel(ngrok_path=path, config_path=tmp_path / "cfg" / "ngrok.yml")
            started = time.monotonic()
            with pytest.raises(TunnelError) as err:
                await tunnel.open(8000)
            assert time.monotonic() - started < 2
            assert str(err.value).startswith("ngrok could not be downloaded or started (")
            assert INSTALL_HINT in str(err.value)
        not_executable = tmp_path / "ngrok-noexec"
        not_executable.write_text("#!/bin/sh\n")
        with pytest.raises(TunnelError, match="not executable"):
            await NgrokTunnel(ngrok_path=not_executable).open(8000)
        assert not (tmp_path / "cfg").exists()

    asyncio.run(go())


@pytest.mark.timeout(60)
def test_failed_download_is_a_tunnel_error(
    fake: FakeNgrok, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ngrok_path=None and no ngrok anywhere: pyngrok's download is tried, and fails."""
    attempts: list[str] = []

    def failing_download(ngrok_path: str, *args: object, **kwargs: object) -> None:
        attempts.append(ngrok_path)
        raise PyngrokNgrokInstallError("An error occurred while downloading ngrok: timed out")

    monkeypatch.setattr(pyngrok_installer, "install_ngrok", failing_download)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setenv("PYNGROK_NGROK_PATH", str(tmp_path / "downloaded" / "ngrok"))

    async def go() -> None:
        tunnel = NgrokTunnel(ngrok_path=None, config_path=tmp_path / "cfg" / "ngrok.yml")
        with pytest.raises(TunnelError) as err:
            await tunnel.open(8000)
        assert "downloading ngrok: timed out" in str(err.value)
        assert INSTALL_HINT in str(err.value)

    asyncio.run(go())
    assert attempts == [str(tmp_path / "downloaded" / "ngrok")]


@pytest.mark.timeout(60)
def test_agent_that_exits_at_once_is_a_start_failure(fake: FakeNgrok) -> None:
    fake.set("mode", "crash")

    async def go() -> None:
        with pytest.raises(TunnelError) as err:
            await fake.tunnel().open(8000)
        assert INSTALL_HINT in str(err.value)

    asyncio.run(go())


@pytest.mark.timeout(60)
def test_bad_authtoken_is_clear_and_never_logged(
    fake: FakeNgrok, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.set("mode", "auth_error")

    async def go() -> None:
        tunnel = fake.tunnel(auth_token=SECRET_TOKEN)
        with pytest.raises(TunnelError) as err:
            await tunnel.open(8000)
        message = str(err.value)
        assert "refused the authtoken" in message
        assert "ERR_NGROK_105" in message
        assert "dashboard.ngrok.com" in message
        assert SECRET_TOKEN not in message
        assert SECRET_TOKEN not in (tunnel.last_agent_error or "")

    asyncio.run(go())
    assert fake.starts()  # the agent really ran and echoed the token
    assert "Your authtoken" in caplog.text
    assert SECRET_TOKEN not in caplog.text
    for record in caplog.records:
        assert SECRET_TOKEN not in record.getMessage()


class _HoldFirstLine(logging.Filter):
    """Holds pyngrok's start-up thread on the agent's first line until the agent has
    exited (a zombie, not yet reaped): the order a busy PC produced in CI."""

    def __init__(self, fake: FakeNgrok) -> None:
        super().__init__()
        self._fake = fake
        self.held = False

    def filter(self, record: logging.LogRecord) -> bool:
        if self.held:
            return True
        self.held = True
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pids = self._fake.pids()
            if pids and Path(f"/proc/{pids[0]}/stat").read_text().split(") ")[1][0] == "Z":
                break
            time.sleep(0.01)
        return True


@pytest.mark.timeout(60)
def test_refused_authtoken_is_named_when_the_agent_exits_before_it_is_read(
    fake: FakeNgrok, caplog: pytest.LogCaptureFixture
) -> None:
    """pyngrok stops reading once the agent has exited, with its error still in the pipe;
    the tunnel reads the rest and still says the authtoken was refused."""
    caplog.set_level(logging.DEBUG, logger="pyngrok")
    fake.set("mode", "auth_error")
    hold = _HoldFirstLine(fake)
    agent_log = logging.getLogger("pyngrok.process.ngrok")
    agent_log.addFilter(hold)

    async def go() -> None:
        tunnel = fake.tunnel(auth_token=SECRET_TOKEN)
        with pytest.raises(TunnelError) as err:
            await tunnel.open(8000)
        assert "refused the authtoken (ERR_NGROK_105)" in str(err.value)
        assert SECRET_TOKEN not in str(err.value)

    try:
        asyncio.run(go())
    finally:
        agent_log.removeFilter(hold)
    assert hold.held


@pytest.mark.timeout(60)
def test_silent_agent_times_out_and_is_killed(fake: FakeNgrok) -> None:
    fake.set("mode", "silent")

    async def go() -> None:
        started = time.monotonic()
        with pytest.raises(TunnelError, match="did not start within 1 s"):
            await fake.tunnel(startup_timeout=1.0, request_timeout=1.0).open(8000)
        assert time.monotonic() - started < 15
        await eventually(lambda: len(fake.pids()) == 1, what="the start record")
        assert not alive(fake.pids()[0])

    asyncio.run(go())


@pytest.mark.timeout(60)
def test_chatty_agent_does_not_stall(fake: FakeNgrok) -> None:
    """ngrok logs every connection; an undrained stdout pipe would block the agent."""

    async def go() -> None:
        tunnel = fake.tunnel(request_timeout=3.0)
        assert await tunnel.open(8000) == FIRST_URL
        fake.set("chatty", "1")  # ~110 kB of log per API call, pipe buffers are 64 kB
        for _ in range(4):
            assert await tunnel.check() == FIRST_URL
        await tunnel.close()

    asyncio.run(go())


@pytest.mark.timeout(60)
def test_cancelled_open_leaves_no_agent(fake: FakeNgrok) -> None:
    fake.set("mode", "silent")

    async def go() -> None:
        tunnel = fake.tunnel(startup_timeout=30.0)
        task = asyncio.ensure_future(tunnel.open(8000))
        await eventually(lambda: len(fake.pids()) == 1, what="the agent to start")
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < 10
        assert not alive(fake.pids()[0])

    asyncio.run(go())


# -- TunnelSupervisor ------------------------------------------------------------------------


def run_supervised(
    fake: FakeNgrok,
    scenario: Callable[[TunnelSupervisor, Recorder], Awaitable[None]],
    **options: float,
) -> Recorder:
    recorder = Recorder()

    async def go() -> None:
        supervisor = TunnelSupervisor(
            lambda: fake.tunnel(),
            8000,
            recorder,
            check_interval=options.pop("check_interval", 0.2),
            **options,
        )
        assert supervisor.state == "stopped"
        await supervisor.start()
        try:
            await scenario(supervisor, recorder)
        finally:
            await supervisor.stop()
        assert supervisor.state == "stopped"
        for pid in fake.pids():
            assert not alive(pid), "stop() left the agent running"

    asyncio.run(go())
    return recorder


@pytest.mark.timeout(60)
def test_supervisor_reports_url_changes(fake: FakeNgrok) -> None:
    async def scenario(supervisor: TunnelSupervisor, recorder: Recorder) -> None:
        await eventually(lambda: recorder.urls == [FIRST_URL], what="the first URL")
        assert supervisor.state == "up"
        assert supervisor.url == FIRST_URL
        assert supervisor.last_error is None
        fake.set("url", "https://moved456.ngrok-free.app")
        await eventually(lambda: len(recorder.urls) == 2, what="the URL change")
        assert recorder.urls == [FIRST_URL, "https://moved456.ngrok-free.app"]
        assert supervisor.state == "up"
        assert len(fake.starts()) == 1  # same agent, no reconnect needed

    run_supervised(fake, scenario)


@pytest.mark.timeout(60)
def test_supervisor_reconnects_after_the_agent_dies(fake: FakeNgrok) -> None:
    second = "https://second789.ngrok-free.app"

    async def scenario(supervisor: TunnelSupervisor, recorder: Recorder) -> None:
        await eventually(lambda: recorder.urls == [FIRST_URL], what="the first URL")
        first_pid = fake.pids()[0]
        fake.set("url", second)
        os.kill(first_pid, signal.SIGKILL)  # the agent dies
        await eventually(lambda: len(recorder.urls) == 3, what="the reconnect")
        assert recorder.urls == [FIRST_URL, None, second]
        dropped_at, reconnected_at = recorder.calls[1][0], recorder.calls[2][0]
        assert reconnected_at - dropped_at >= 0.9  # first backoff step: 1 s
        assert supervisor.state == "up"
        assert supervisor.url == second
        assert len(fake.pids()) == 2
        assert not alive(first_pid)

    run_supervised(fake, scenario)


@pytest.mark.timeout(60)
def test_supervisor_backs_off_exponentially(fake: FakeNgrok) -> None:
    async def scenario(supervisor: TunnelSupervisor, recorder: Recorder) -> None:
        await eventually(lambda: recorder.urls == [FIRST_URL], what="the first URL")
        fake.set("mode", "crash")
        fake.set("exit", "1")  # the agent exits; every restart fails until mode is ok
        await eventually(lambda: len(fake.starts()) >= 6, timeout=30, what="five retries")
        assert supervisor.state in ("down", "connecting")
        assert supervisor.last_error is not None
        assert "ngrok could not be downloaded or started" in supervisor.last_error
        fake.clear("mode")
        await eventually(lambda: len(recorder.urls) == 3, timeout=30, what="recovery")
        assert recorder.urls == [FIRST_URL, None, FIRST_URL]
        assert str(supervisor.state) == "up"
        assert supervisor.last_error is None

        times = [float(str(s["t"])) for s in fake.starts()[1:6]]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # backoff 0.25, 0.5, 1, 1 (capped at backoff_max=1) plus process start time
        expected = [0.5, 1.0, 1.0, 1.0]
        for gap, want in zip(gaps, expected, strict=True):
            assert want * 0.9 <= gap <= want + 1.5, (gaps, expected)

    run_supervised(fake, scenario, backoff_initial=0.25, backoff_max=1.0)


@pytest.mark.timeout(60)
def test_supervisor_stop_while_connecting(fake: FakeNgrok) -> None:
    fake.set("mode", "silent")

    async def scenario(supervisor: TunnelSupervisor, recorder: Recorder) -> None:
        await eventually(lambda: len(fake.pids()) == 1, what="the agent to start")
        assert supervisor.state == "connecting"

    started = time.monotonic()
    recorder = run_supervised(fake, scenario)
    assert time.monotonic() - started < 15
    assert recorder.urls == []


@pytest.mark.timeout(60)
def test_supervisor_retries_a_failing_hook() -> None:
    calls: list[str | None] = []

    async def flaky(url: str | None) -> None:
        calls.append(url)
        if len(calls) == 1:
            raise RuntimeError("Twilio said no")

    async def go() -> None:
        supervisor = TunnelSupervisor(
            lambda: FixedPublicUrl("https://office.example.com/"), 8000, flaky, check_interval=0.05
        )
        await supervisor.start()
        await eventually(lambda: len(calls) >= 2, what="the retry")
        assert calls[:2] == ["https://office.example.com", "https://office.example.com"]
        await asyncio.sleep(0.2)
        assert len(calls) == 2  # reported once it succeeded, not again
        assert supervisor.state == "up"
        assert supervisor.url == "https://office.example.com"
        await supervisor.stop()
        assert str(supervisor.state) == "stopped"

    asyncio.run(go())


def test_pyngrok_state_is_clean_after_close(fake: FakeNgrok) -> None:
    async def go() -> None:
        tunnel = fake.tunnel()
        url = await tunnel.open(8000)
        assert url in pyngrok_ngrok._current_tunnels
        await tunnel.close()
        assert url not in pyngrok_ngrok._current_tunnels
        assert str(fake.path) not in pyngrok_process._current_processes

    asyncio.run(go())
