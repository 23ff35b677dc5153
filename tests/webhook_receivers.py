"""Local aiohttp receivers for outbound webhook tests: a good one that verifies the
Standard Webhooks signature as a developer's endpoint would, and bad ones (hangs,
500 forever, a redirect loop, a 10 MB answer)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook


@dataclass
class Receivers:
    secrets: dict[str, str] = field(default_factory=dict)  # path -> signing secret
    received: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    hits: dict[str, int] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)  # /ok answers this (default 200)
    _runner: web.AppRunner | None = None
    base: str = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/ok/{name}", self._ok)
        app.router.add_post("/hang", self._hang)
        app.router.add_post("/fail", self._fail)
        app.router.add_post("/loop", self._loop)
        app.router.add_post("/big", self._big)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return self.base

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _hit(self, request: web.Request) -> None:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1

    async def _ok(self, request: web.Request) -> web.Response:
        self._hit(request)
        body = await request.text()
        secret = self.secrets[request.path]
        # Raises WebhookVerificationError on a bad signature or a stale timestamp.
        payload = Webhook(secret).verify(body, dict(request.headers))
        self.received.append((request.path, dict(request.headers), payload))
        return web.Response(status=self.status.get(request.path, 200), text="thanks")

    async def _hang(self, request: web.Request) -> web.Response:
        self._hit(request)
        await asyncio.sleep(3600)
        return web.Response(text="too late")

    async def _fail(self, request: web.Request) -> web.Response:
        self._hit(request)
        return web.Response(status=500, text=json.dumps({"error": "database down"}))

    async def _loop(self, request: web.Request) -> web.Response:
        self._hit(request)
        raise web.HTTPFound(location="/loop")

    async def _big(self, request: web.Request) -> web.StreamResponse:
        self._hit(request)
        response = web.StreamResponse(status=200)
        response.content_length = 10 * 1024 * 1024
        await response.prepare(request)
        chunk = b"x" * 65536
        try:
            for _ in range(160):
                await response.write(chunk)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response
