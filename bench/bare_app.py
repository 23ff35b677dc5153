"""The baseline the engine is measured against: the least a text-back server must do.

    python -m bench.bare_app serve --port N     # env: TWILIO_*, FRONTDESK_TWILIO_BASE_URL,
                                                #      FRONTDESK_PUBLIC_URL

An aiohttp app on the same three voice paths as the receiver: it checks Twilio's
signature (the SDK's RequestValidator, against the public URL), answers the voice webhook
with a Dial, and on a missed Dial result answers TwiML and sends one Messages request
through the same :class:`~services.gateway.TwilioGateway`. No storage, no jobs, no
policy: what remains of the engine's time over this is the cost of doing it durably.
It prints the same start-up line as ``frontdesk serve`` so the benchmark drives both
alike.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from urllib.parse import parse_qsl

from aiohttp import web
from twilio.request_validator import RequestValidator

from services.gateway import TwilioGateway
from services.receiver import PATHS, SIGNATURE_HEADER

DIAL = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Dial timeout="20" '
    f'action="{PATHS["dial_result"]}" answerOnBridge="true"><Number>+15005550002</Number>'
    "</Dial></Response>"
)
HANGUP = '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>'
BODY = "Sorry we missed your call! How can we help? - Bench Plumbing"
BUSINESS = "+15005550001"


async def run(port: int) -> None:
    public = os.environ["FRONTDESK_PUBLIC_URL"].rstrip("/")
    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
    gateway = TwilioGateway(
        os.environ["TWILIO_ACCOUNT_SID"],
        os.environ["TWILIO_AUTH_TOKEN"],
        base_url=os.environ["FRONTDESK_TWILIO_BASE_URL"],
    )
    await gateway.start()
    sends: set[asyncio.Task[object]] = set()

    async def signed(request: web.Request) -> dict[str, str] | None:
        form = dict(parse_qsl((await request.read()).decode(), keep_blank_values=True))
        url = public + request.path_qs
        ok = validator.validate(url, form, request.headers.get(SIGNATURE_HEADER, ""))
        return form if ok else None

    async def voice(request: web.Request) -> web.Response:
        if await signed(request) is None:
            return web.Response(status=403)
        return web.Response(text=DIAL, content_type="text/xml")

    async def dial_result(request: web.Request) -> web.Response:
        form = await signed(request)
        if form is None:
            return web.Response(status=403)
        if form.get("DialCallStatus") != "completed":
            task = asyncio.create_task(
                gateway.send_sms(to=form["From"], from_=BUSINESS, body=BODY, status_callback=None)
            )
            sends.add(task)
            task.add_done_callback(sends.discard)
        return web.Response(text=HANGUP, content_type="text/xml")

    async def call_status(request: web.Request) -> web.Response:
        if await signed(request) is None:
            return web.Response(status=403)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post(PATHS["voice"], voice)
    app.router.add_post(PATHS["dial_result"], dial_result)
    app.router.add_post(PATHS["call_status"], call_status)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print(f"frontdesk serve: listening on http://127.0.0.1:{port} (bare baseline)", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await gateway.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args.port))


if __name__ == "__main__":
    main()
