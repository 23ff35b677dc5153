"""A fake ngrok v3 agent, for tests that drive pyngrok without the real binary.

The fake ngrok is a small Python script written into a temporary folder. It behaves like
the real agent as far as pyngrok 9.1 can tell: started as ``ngrok start --none --log
stdout --config PATH [--authtoken T] [--region R]``, it serves the agent API on 127.0.0.1
and prints the log lines pyngrok waits for (``starting web service ... addr=``, ``client
session established``, ``tunnel session started``). pyngrok (config version 3) then
probes and uses ``/api/endpoints``. Files in its ``ctl`` folder steer it
(:meth:`FakeNgrok.set`).

:func:`fake_ngrok` is the set-up both the tunnel and the going-live tests use: a clean
HOME, no ngrok credentials in the environment, pyngrok forbidden to download, and on the
way out every agent it started killed (failing the test if one was left running).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import stat
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pyngrok import installer as pyngrok_installer
from pyngrok import process as pyngrok_process

from services.tunnel import NgrokTunnel

FIRST_URL = "https://abc123.ngrok-free.app"

FAKE_NGROK = textwrap.dedent(
    '''\
    #!{python}
    """A fake ngrok v3 agent for pyngrok's process/API protocol."""
    import json
    import os
    import sys
    import threading
    import time
    import uuid
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from pathlib import Path

    CTL = Path(__file__).resolve().parent / "ctl"
    CTL.mkdir(exist_ok=True)


    def ctl(name, default=None):
        try:
            return (CTL / name).read_text().strip()
        except FileNotFoundError:
            return default


    def append(name, text):
        with open(CTL / name, "a") as f:
            f.write(text + "\\n")


    append("starts", json.dumps({{"pid": os.getpid(), "t": time.time(), "argv": sys.argv[1:]}}))


    def log(line):
        sys.stdout.write("t=2025-01-01T00:00:00+0000 " + line + "\\n")
        sys.stdout.flush()


    args = sys.argv[1:]
    token = args[args.index("--authtoken") + 1] if "--authtoken" in args else None
    mode = ctl("mode", "ok")
    if mode == "silent":
        time.sleep(3600)
        sys.exit(0)
    if mode == "crash":
        sys.exit(1)
    if mode == "auth_error":
        log('lvl=info msg="open config file" path=/tmp/x err=nil')
        log(
            'lvl=eror msg="failed to reconnect session" obj=tunnels.session '
            'err="authentication failed: The authtoken you specified does not look like a '
            'proper ngrok tunnel authtoken.\\\\nYour authtoken: ' + str(token)
            + '\\\\n\\\\nERR_NGROK_105\\\\n"'
        )
        sys.exit(1)

    endpoints = {{}}
    lock = threading.Lock()


    def public_url():
        return ctl("url", "{first_url}")


    def view(name, ep):
        url = public_url()
        return {{
            "id": ep["id"],
            "name": name,
            "url": url,
            "public_url": url,
            "proto": "https",
            "upstream": ep["upstream"],
            "config": {{"addr": ep["upstream"]["url"], "inspect": True}},
            "uri": "/api/endpoints/" + name,
        }}


    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def reply(self, code, body=None):
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def chatter(self):
            if ctl("chatty"):
                for i in range(1500):
                    log('lvl=info msg="join connections" obj=join id=%06d '
                        'l=127.0.0.1:1 r=1.2.3.4:5' % i)

        def do_GET(self):
            self.chatter()
            parts = self.path.rstrip("/").split("/")
            if self.path.rstrip("/") in ("/api/endpoints", "/api/tunnels"):
                kind = parts[-1]
                with lock:
                    items = [view(n, ep) for n, ep in endpoints.items()]
                return self.reply(200, {{kind: items, "uri": self.path}})
            if len(parts) == 4 and parts[2] in ("endpoints", "tunnels"):
                with lock:
                    ep = endpoints.get(parts[3])
                if ep is None:
                    return self.reply(404, {{"error_code": 104, "msg": "not found"}})
                return self.reply(200, view(parts[3], ep))
            return self.reply(404, {{"msg": "no such path"}})

        def do_POST(self):
            if self.path.rstrip("/") not in ("/api/endpoints", "/api/tunnels"):
                return self.reply(404, {{"msg": "no such path"}})
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{{}}")
            append("posted", json.dumps(body))
            name = body["name"]
            upstream = body.get("upstream") or {{"url": body.get("addr")}}
            with lock:
                endpoints[name] = {{"id": uuid.uuid4().hex, "upstream": upstream}}
                ep = endpoints[name]
            return self.reply(201, view(name, ep))

        def do_DELETE(self):
            parts = self.path.rstrip("/").split("/")
            with lock:
                endpoints.pop(parts[-1], None)
            return self.reply(204)


    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    log('lvl=info msg="no configuration paths supplied"')
    log('lvl=info msg="starting web service" obj=web addr=127.0.0.1:%d allow_hosts=[]' % port)
    log('lvl=info msg="client session established" obj=tunnels.session')
    log('lvl=info msg="tunnel session started" obj=tunnels.session')
    while True:
        if (CTL / "exit").exists():
            (CTL / "exit").unlink()
            os._exit(3)
        time.sleep(0.05)
    '''
)


class FakeNgrok:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / "ngrok"
        self.ctl = root / "ctl"
        self.ctl.mkdir(parents=True)
        self.path.write_text(FAKE_NGROK.format(python=sys.executable, first_url=FIRST_URL))
        self.path.chmod(self.path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        self.config_path = root / "ngrok-config" / "ngrok.yml"

    def set(self, name: str, value: str) -> None:
        (self.ctl / name).write_text(value)

    def clear(self, name: str) -> None:
        (self.ctl / name).unlink(missing_ok=True)

    def starts(self) -> list[dict[str, object]]:
        path = self.ctl / "starts"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def pids(self) -> list[int]:
        return [int(str(s["pid"])) for s in self.starts()]

    def posted(self) -> list[dict[str, object]]:
        path = self.ctl / "posted"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line]

    def tunnel(self, **kwargs: object) -> NgrokTunnel:
        options: dict[str, object] = {
            "ngrok_path": str(self.path),
            "config_path": str(self.config_path),
            "startup_timeout": 10.0,
        }
        options.update(kwargs)
        return NgrokTunnel(**options)  # type: ignore[arg-type]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@contextlib.contextmanager
def fake_ngrok(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeNgrok]:
    """A :class:`FakeNgrok` in ``root/fake``, with HOME at ``root/home`` (see the module)."""
    home = root / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.delenv("NGROK_AUTHTOKEN", raising=False)
    monkeypatch.delenv("NGROK_API_KEY", raising=False)

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("pyngrok tried to download ngrok")

    monkeypatch.setattr(pyngrok_installer, "install_ngrok", no_download)
    fake = FakeNgrok(root / "fake")
    yield fake
    leftovers = [pid for pid in fake.pids() if alive(pid)]
    for pid in leftovers:
        os.kill(pid, signal.SIGKILL)
    pyngrok_process._current_processes.pop(str(fake.path), None)
    assert leftovers == [], "a fake ngrok process was left running"


async def eventually(
    predicate: Callable[[], bool], timeout: float = 15.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
