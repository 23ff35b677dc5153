"""The public URL Twilio reaches the receiver at: a fixed URL, or an ngrok tunnel.

* :class:`FixedPublicUrl`: the office's reverse proxy / ``FRONTDESK_PUBLIC_URL``.
* :class:`NgrokTunnel`: an ngrok agent driven through pyngrok. pyngrok is blocking, so
  every call runs in a worker thread (``asyncio.to_thread``); the event loop never waits
  on it. It never downloads ngrok when a path is given, never writes the authtoken to a
  file, and drains the agent's stdout so a chatty agent cannot stall on a full pipe.
* :class:`TunnelSupervisor`: keeps an endpoint up, checks it periodically, reconnects
  with exponential backoff and reports URL changes through ``on_url_changed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import IO, Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

from pyngrok import conf as ngrok_conf
from pyngrok import ngrok as ngrok_api
from pyngrok import process as ngrok_process
from pyngrok.exception import (
    PyngrokError,
    PyngrokNgrokError,
    PyngrokNgrokInstallError,
)
from pyngrok.log import NgrokLog

__all__ = [
    "FixedPublicUrl",
    "MonitoredEndpoint",
    "NgrokTunnel",
    "PublicEndpoint",
    "TunnelError",
    "TunnelState",
    "TunnelSupervisor",
    "validate_public_url",
]

logger = logging.getLogger(__name__)

TunnelState = Literal["connecting", "up", "down", "stopped"]

INSTALL_HINT = (
    "Install ngrok from ngrok.com and set its path in Settings → Twilio & connection, or set "
    "FRONTDESK_PUBLIC_URL to a public https URL that reaches this PC."
)
AUTHTOKEN_HINT = (
    "Copy the authtoken from dashboard.ngrok.com (Your Authtoken) into "
    "Settings → Twilio & connection, or set NGROK_AUTHTOKEN."
)
_AUTH_ERROR_CODES = {"ERR_NGROK_105", "ERR_NGROK_106", "ERR_NGROK_107", "ERR_NGROK_4018"}


class TunnelError(RuntimeError):
    """The public endpoint could not be opened (the message is meant for the user)."""


class PublicEndpoint(Protocol):
    """Something that gives the receiver on ``local_port`` a public base URL."""

    async def open(self, local_port: int) -> str:
        """Open and return the public base URL (no trailing slash)."""
        ...

    async def close(self) -> None: ...

    def url(self) -> str | None:
        """The current public base URL, or None when not open."""
        ...


@runtime_checkable
class MonitoredEndpoint(PublicEndpoint, Protocol):
    """An endpoint that can tell whether it is still up (used by the supervisor)."""

    async def check(self) -> str | None:
        """The live public URL, or None when the endpoint has dropped."""
        ...


def validate_public_url(url: str) -> str:
    """Return ``url`` without a trailing slash if it is an http(s) URL with a host."""
    value = url.strip() if isinstance(url, str) else ""
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise TunnelError(
            f"The public URL {value!r} is not an http(s) URL with a host "
            "(expected something like https://frontdesk.example.com)."
        )
    if parts.query or parts.fragment:
        raise TunnelError(f"The public URL {value!r} must not have a query or a fragment.")
    try:
        _ = parts.port
    except ValueError:
        raise TunnelError(f"The public URL {value!r} has an invalid port.") from None
    return value.rstrip("/")


class FixedPublicUrl:
    """A public URL that already reaches this PC (a reverse proxy, FRONTDESK_PUBLIC_URL)."""

    def __init__(self, url: str) -> None:
        self._base = validate_public_url(url)
        self._open = False

    async def open(self, local_port: int) -> str:
        self._open = True
        return self._base

    async def close(self) -> None:
        self._open = False

    def url(self) -> str | None:
        return self._base if self._open else None

    async def check(self) -> str | None:
        return self.url()

    def __repr__(self) -> str:
        return f"FixedPublicUrl({self._base!r})"


class _RedactFilter(logging.Filter):
    """Scrubs secrets from records pyngrok logs (ngrok echoes a bad authtoken back)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _redact(message, self._secrets)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def _redact(text: str, secrets: Iterable[str | None]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


# pyngrok loggers that may print ngrok's own output (which can echo the authtoken).
_PYNGROK_LOGGERS = ("pyngrok.process.ngrok", "pyngrok.process", "pyngrok.ngrok")


class NgrokTunnel:
    """An ngrok agent (via pyngrok) exposing ``http://127.0.0.1:PORT`` on a public https URL.

    ``ngrok_path=None`` uses ``ngrok`` on PATH, else pyngrok's default location (where
    pyngrok downloads it on first use). A given path that does not exist fails at once:
    nothing is downloaded. ``config_path=None`` lets ngrok use its own config file
    (``~/.config/ngrok/ngrok.yml``, where ``ngrok config add-authtoken`` writes); pass a
    path in the app's data dir to keep ngrok away from it. The authtoken is handed to
    ngrok on its command line (``--authtoken``), never written to the config file.

    pyngrok keeps one agent process per ``ngrok_path`` (module-global): use one
    NgrokTunnel per binary at a time.
    """

    def __init__(
        self,
        *,
        ngrok_path: str | os.PathLike[str] | None,
        auth_token: str | None = None,
        region: str | None = None,
        startup_timeout: float = 15.0,
        config_path: str | os.PathLike[str] | None = None,
        request_timeout: float = 4.0,
        local_host: str = "127.0.0.1",
    ) -> None:
        if startup_timeout <= 0:
            raise ValueError("startup_timeout must be positive")
        self._ngrok_path = os.fspath(ngrok_path) if ngrok_path is not None else None
        self._auth_token = auth_token or None
        self._region = region or None
        self._startup_timeout = float(startup_timeout)
        self._config_path = os.fspath(config_path) if config_path is not None else None
        self._request_timeout = float(request_timeout)
        self._local_host = local_host
        # Set while open; nothing of pyngrok's is created before open().
        self._config: ngrok_conf.PyngrokConfig | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._api_url: str | None = None
        self._name: str | None = None
        self._url: str | None = None
        self._drain: threading.Thread | None = None
        self._filter: _RedactFilter | None = None
        self._lock = asyncio.Lock()
        self.last_agent_error: str | None = None
        # The agent pyngrok is starting, seen through its log callback (_late_agent_error).
        self._starting_path = ""
        self._starting_proc: subprocess.Popen[str] | None = None

    def __repr__(self) -> str:
        return f"NgrokTunnel(ngrok_path={self._ngrok_path!r}, url={self._url!r})"

    def url(self) -> str | None:
        return self._url

    @property
    def pid(self) -> int | None:
        """The agent's process id while open (for diagnostics and tests)."""
        return self._proc.pid if self._proc is not None else None

    # -- open ------------------------------------------------------------------------------

    def _resolve_path(self) -> str:
        if self._ngrok_path is not None:
            path = self._ngrok_path
            if not os.path.isfile(path):
                raise TunnelError(
                    f"ngrok could not be downloaded or started (no ngrok program at {path}). "
                    f"{INSTALL_HINT}"
                )
            if not os.access(path, os.X_OK):
                raise TunnelError(
                    f"ngrok could not be downloaded or started ({path} is not executable). "
                    f"{INSTALL_HINT}"
                )
            return path
        on_path = shutil.which("ngrok")
        if on_path:
            return on_path
        return os.environ.get("PYNGROK_NGROK_PATH") or ngrok_conf.DEFAULT_NGROK_PATH

    def _make_config(self, path: str) -> ngrok_conf.PyngrokConfig:
        return ngrok_conf.PyngrokConfig(
            ngrok_path=path,
            config_path=self._config_path,
            auth_token=self._auth_token,
            region=self._region,
            monitor_thread=False,  # we drain stdout ourselves (see _drain_output)
            log_event_callback=self._note_starting_agent,
            startup_timeout=max(1, math.ceil(self._startup_timeout)),
            request_timeout=self._request_timeout,
        )

    def _secrets(self, config: ngrok_conf.PyngrokConfig | None) -> list[str]:
        values = [self._auth_token]
        if config is not None:
            values += [config.auth_token, config.api_key]
        return [v for v in values if v]

    def _open_blocking(
        self, config: ngrok_conf.PyngrokConfig, local_port: int
    ) -> tuple[str, str, str, subprocess.Popen[str]]:
        name = f"frontdesk-{local_port}-{uuid.uuid4().hex[:8]}"
        self._starting_path, self._starting_proc = config.ngrok_path, None
        try:
            tunnel = ngrok_api.connect(
                addr=f"http://{self._local_host}:{local_port}",
                proto="http",
                name=name,
                pyngrok_config=config,
            )
        except PyngrokNgrokError as exc:
            late = None if exc.ngrok_error else self._late_agent_error()
            if late is None:
                raise
            raise PyngrokNgrokError(
                f"The ngrok process errored on start: {late}.", exc.ngrok_logs, late
            ) from None
        finally:
            self._starting_proc = None
        agent = ngrok_process.get_process(config)
        if tunnel.public_url is None or agent.api_url is None:
            raise TunnelError("ngrok started but did not report a public URL.")
        return tunnel.public_url, name, agent.api_url, agent.proc

    def _note_starting_agent(self, _log: NgrokLog) -> None:
        """pyngrok's callback for each start-up line: remember the agent being started."""
        if self._starting_proc is None:
            starting = ngrok_process._current_processes.get(self._starting_path)
            if starting is not None:
                self._starting_proc = starting.proc

    def _late_agent_error(self) -> str | None:
        """The error an agent printed after pyngrok stopped reading.

        pyngrok stops at the first line after which the agent has exited, even with more
        lines in the pipe: an agent that prints a line, then its error, then exits (a
        refused authtoken, on a busy PC) reads as "unable to start" with no reason. The
        agent has exited, so the rest of its output is there to read to the end.
        """
        proc = self._starting_proc
        if proc is None or proc.stdout is None or proc.poll() is None:
            return None
        try:
            rest = proc.stdout.read()
        except (OSError, ValueError):
            return None
        for line in rest.splitlines():
            error = _agent_error(line.strip())
            if error is not None:
                return error
        return None

    def _kill_starting_agent(self, path: str) -> None:
        """Unblock a pyngrok startup that waits on a silent agent: kill the agent."""
        starting = ngrok_process._current_processes.get(path)
        if starting is not None and starting.proc.poll() is None:
            with contextlib.suppress(OSError):
                starting.proc.kill()

    async def open(self, local_port: int) -> str:
        async with self._lock:
            if self._url is not None:
                return self._url
            path = await asyncio.to_thread(self._resolve_path)
            config = self._make_config(path)
            secrets = self._secrets(config)
            if not os.path.exists(path):  # only when ngrok_path was None
                await self._download(config)
            self._install_filter(secrets)
            worker = asyncio.ensure_future(
                asyncio.to_thread(self._open_blocking, config, local_port)
            )
            deadline = self._startup_timeout + self._request_timeout + 3.0
            try:
                done, _pending = await asyncio.wait({worker}, timeout=deadline)
            except asyncio.CancelledError:
                # The worker thread cannot be cancelled: kill the agent so it finishes,
                # wait for it, and leave nothing running.
                self._kill_starting_agent(path)
                with contextlib.suppress(BaseException):
                    await asyncio.shield(worker)
                await asyncio.to_thread(self._kill_blocking, path, None)
                self._remove_filter()
                raise
            if not done:
                self._kill_starting_agent(path)
                with contextlib.suppress(BaseException):
                    await asyncio.shield(worker)
                await asyncio.to_thread(self._kill_blocking, path, None)
                self._remove_filter()
                raise TunnelError(
                    f"ngrok did not start within {self._startup_timeout:g} s (it printed nothing "
                    f"usable). {INSTALL_HINT}"
                )
            try:
                public_url, name, api_url, proc = worker.result()
            except Exception as exc:
                await asyncio.to_thread(self._kill_blocking, path, None)
                self._remove_filter()
                if isinstance(exc, TunnelError):
                    raise
                raise self._translate(exc, secrets) from None
            self._config, self._name, self._api_url, self._proc = config, name, api_url, proc
            self._url = public_url.rstrip("/")
            self._start_drain(proc, secrets)
            logger.info("ngrok tunnel open: %s -> %s:%d", self._url, self._local_host, local_port)
            if not self._url.startswith("https://"):
                logger.warning("ngrok returned a non-https URL: %s", self._url)
            return self._url

    async def _download(self, config: ngrok_conf.PyngrokConfig) -> None:
        """Let pyngrok download ngrok to its default path (outside the startup deadline)."""
        logger.info("ngrok not found; downloading it to %s", config.ngrok_path)
        try:
            await asyncio.to_thread(ngrok_api.install_ngrok, config)
        except Exception as exc:
            detail = str(exc).strip().rstrip(".") or type(exc).__name__
            raise TunnelError(
                f"ngrok could not be downloaded or started ({detail}). {INSTALL_HINT}"
            ) from None

    def _translate(self, exc: Exception, secrets: list[str]) -> TunnelError:
        detail = _redact(str(exc).strip().rstrip("."), secrets) or type(exc).__name__
        if isinstance(exc, PyngrokNgrokInstallError | FileNotFoundError | PermissionError):
            return TunnelError(
                f"ngrok could not be downloaded or started ({detail}). {INSTALL_HINT}"
            )
        if isinstance(exc, OSError):  # exec format error and the like
            return TunnelError(
                f"ngrok could not be downloaded or started ({detail}). {INSTALL_HINT}"
            )
        if isinstance(exc, PyngrokNgrokError):
            code = exc.ngrok_error_code
            agent_error = _redact(exc.ngrok_error or "", secrets)
            lowered = (agent_error or detail).lower()
            if (
                code in _AUTH_ERROR_CODES
                or "authtoken" in lowered
                or "authentication failed" in lowered
            ):
                self.last_agent_error = agent_error or detail
                if code == "ERR_NGROK_4018" or not self._auth_token:
                    return TunnelError(
                        f"ngrok needs an authtoken ({code or 'authentication failed'}): "
                        f"sign up free at ngrok.com, then {AUTHTOKEN_HINT[0].lower()}"
                        f"{AUTHTOKEN_HINT[1:]}"
                    )
                return TunnelError(
                    f"ngrok refused the authtoken ({code or 'authentication failed'}). "
                    f"{AUTHTOKEN_HINT}"
                )
            if code == "ERR_NGROK_108":
                return TunnelError(
                    "Another ngrok agent is already running with this ngrok account "
                    "(ERR_NGROK_108). Close it, or set FRONTDESK_PUBLIC_URL instead."
                )
            if agent_error:
                self.last_agent_error = agent_error
                return TunnelError(f"ngrok could not open the tunnel: {agent_error}")
            if "unable to start" in lowered:
                return TunnelError(
                    f"ngrok could not be downloaded or started ({detail}). {INSTALL_HINT}"
                )
            return TunnelError(f"ngrok could not open the tunnel: {detail}")
        if isinstance(exc, PyngrokError):
            return TunnelError(f"ngrok could not open the tunnel: {detail}")
        return TunnelError(f"ngrok could not open the tunnel: {type(exc).__name__}: {detail}")

    # -- agent output ------------------------------------------------------------------------

    def _install_filter(self, secrets: list[str]) -> None:
        self._remove_filter()
        if secrets:
            self._filter = _RedactFilter(secrets)
            for name in _PYNGROK_LOGGERS:
                logging.getLogger(name).addFilter(self._filter)

    def _remove_filter(self) -> None:
        if self._filter is not None:
            for name in _PYNGROK_LOGGERS:
                logging.getLogger(name).removeFilter(self._filter)
            self._filter = None

    def _start_drain(self, proc: subprocess.Popen[str], secrets: list[str]) -> None:
        stdout = proc.stdout
        if stdout is None:
            return
        self._drain = threading.Thread(
            target=self._drain_output,
            args=(stdout, secrets),
            name=f"ngrok-output-{proc.pid}",
            daemon=True,
        )
        self._drain.start()

    def _drain_output(self, stdout: IO[str], secrets: list[str]) -> None:
        """Read the agent's log until it exits, so a full pipe never stalls it."""
        try:
            for line in stdout:
                text = _redact(line.strip(), secrets)
                if not text:
                    continue
                error = _agent_error(text)
                if error is not None:
                    self.last_agent_error = error
                    logger.warning("ngrok: %s", text)
                else:
                    logger.debug("ngrok: %s", text)
        except (OSError, ValueError):  # the pipe was closed under us
            return

    # -- check -------------------------------------------------------------------------------

    def _check_blocking(self) -> str | None:
        proc, api_url, name, config = self._proc, self._api_url, self._name, self._config
        if proc is None or api_url is None or name is None or config is None:
            return None
        if proc.poll() is not None:
            return None
        # Ask the agent directly: ngrok.get_tunnels() would *start* a new agent if ours died.
        data = ngrok_api.api_request(
            f"{api_url}/api/endpoints", method="GET", timeout=config.request_timeout
        )
        items: list[dict[str, Any]] = data.get("endpoints") or data.get("tunnels") or []
        for item in items:
            if item.get("name") == name:
                public = item.get("public_url") or item.get("url")
                return str(public).rstrip("/") if public else None
        return None

    async def check(self) -> str | None:
        """The live public URL, asked of the ngrok agent; None if it died or lost the tunnel."""
        if self._proc is None:
            return None
        try:
            url = await asyncio.to_thread(self._check_blocking)
        except PyngrokError as exc:
            self.last_agent_error = _redact(str(exc), self._secrets(self._config))
            return None
        if url is not None:
            self._url = url
        return url

    # -- close -------------------------------------------------------------------------------

    @staticmethod
    def _kill_blocking(path: str, proc: subprocess.Popen[str] | None) -> None:
        current = ngrok_process._current_processes.get(path)
        if current is not None and (proc is None or current.proc is proc):
            ngrok_process.kill_process(path)  # kills, waits and forgets it
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()

    def _close_blocking(self) -> None:
        config, proc, drain, url = self._config, self._proc, self._drain, self._url
        if config is not None:
            self._kill_blocking(config.ngrok_path, proc)
        if drain is not None:
            drain.join(timeout=5)
        if proc is not None and proc.stdout is not None and (drain is None or not drain.is_alive()):
            with contextlib.suppress(OSError):
                proc.stdout.close()
        if url is not None:
            ngrok_api._current_tunnels.pop(url, None)

    async def close(self) -> None:
        async with self._lock:
            if self._config is None:
                self._remove_filter()
                return
            closing = asyncio.ensure_future(asyncio.to_thread(self._close_blocking))
            try:
                await asyncio.shield(closing)
            except asyncio.CancelledError:
                # Finish closing (the agent must not outlive us), then propagate.
                with contextlib.suppress(Exception):
                    await closing
                raise
            finally:
                logger.info("ngrok tunnel closed: %s", self._url)
                self._config = self._proc = self._api_url = self._name = self._url = None
                self._drain = None
                self._remove_filter()


class TunnelSupervisor:
    """Keeps a public endpoint up and reports its URL.

    It opens an endpoint from ``endpoint_factory``, checks it every ``check_interval``
    seconds (asking the ngrok agent, off the loop), and when it drops closes it and opens
    a fresh one after 1 s, 2 s, 4 s … (capped at 60 s; reset after a success).

    ``on_url_changed(url)`` is awaited whenever the advertised URL changes: the new URL
    once the endpoint is up or its URL moved, and ``None`` when it went down. It is
    never called twice in a row with the same value; if it raises, it is called again
    at the next check. ``stop()`` does not call it.
    """

    def __init__(
        self,
        endpoint_factory: Callable[[], PublicEndpoint],
        local_port: int,
        on_url_changed: Callable[[str | None], Awaitable[None]],
        *,
        check_interval: float = 30.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        if check_interval <= 0 or backoff_initial <= 0 or backoff_max < backoff_initial:
            raise ValueError("intervals must be positive and backoff_max >= backoff_initial")
        self._factory = endpoint_factory
        self._port = local_port
        self._on_url_changed = on_url_changed
        self._check_interval = check_interval
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._task: asyncio.Task[None] | None = None
        self._endpoint: PublicEndpoint | None = None
        self._state: TunnelState = "stopped"
        self._last_error: str | None = None
        self._reported: str | None = None
        self._stopping = False

    @property
    def state(self) -> TunnelState:
        return self._state

    @property
    def last_error(self) -> str | None:
        return self._last_error

    @property
    def url(self) -> str | None:
        """The URL last reported to ``on_url_changed``."""
        return self._reported

    async def start(self) -> None:
        """Start supervising (returns at once; watch ``state`` / ``on_url_changed``)."""
        if self._task is not None and not self._task.done():
            return
        self._stopping = False
        self._state = "connecting"
        self._task = asyncio.get_running_loop().create_task(self._run(), name="tunnel-supervisor")

    async def stop(self) -> None:
        """Cancel the supervisor, wait for it, and close the endpoint."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})
            if not task.cancelled() and task.exception() is not None:
                logger.error("tunnel supervisor failed", exc_info=task.exception())
        endpoint, self._endpoint = self._endpoint, None
        if endpoint is not None:
            await self._close_quietly(endpoint)
        self._state = "stopped"

    async def _close_quietly(self, endpoint: PublicEndpoint) -> None:
        try:
            await endpoint.close()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("closing the public endpoint failed")

    async def _report(self, url: str | None) -> None:
        if url == self._reported:
            return
        try:
            await self._on_url_changed(url)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("on_url_changed(%s) failed; will retry", url)
            self._last_error = f"updating the public URL failed: {exc}"
            return
        self._reported = url

    async def _probe(self, endpoint: PublicEndpoint) -> str | None:
        if isinstance(endpoint, MonitoredEndpoint):
            return await endpoint.check()
        return endpoint.url()

    async def _run(self) -> None:
        delay = self._backoff_initial
        while True:
            self._state = "connecting"
            try:
                endpoint = self._factory()
                self._endpoint = endpoint
                url = await endpoint.open(self._port)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._last_error = str(exc) or type(exc).__name__
                logger.warning("public endpoint failed to open: %s", self._last_error)
                await self._lost()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff_max)
                continue

            self._state = "up"
            self._last_error = None
            delay = self._backoff_initial
            await self._report(url)
            while True:
                await asyncio.sleep(self._check_interval)
                try:
                    current = await self._probe(endpoint)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    logger.warning("checking the public endpoint failed: %s", exc)
                    current = None
                if current is None:
                    break
                await self._report(current)
            self._last_error = "the tunnel dropped; reconnecting"
            logger.warning("public endpoint %s dropped; reconnecting in %g s", url, delay)
            await self._lost()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff_max)

    async def _lost(self) -> None:
        self._state = "down"
        endpoint = self._endpoint
        if endpoint is not None:
            await self._close_quietly(endpoint)  # stays referenced until closed
            self._endpoint = None
        await self._report(None)


def _agent_error(line: str) -> str | None:
    """What an agent's log line says went wrong, when it is an error line."""
    entry = NgrokLog(line)
    if entry.lvl in ("ERROR", "CRITICAL"):
        return entry.err or entry.msg or line
    return None
