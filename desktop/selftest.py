"""`frontdesk selftest`: prove an installation works, end to end, in a few seconds.

It starts the real engine (database + migrations, scheduler, webhook receiver) on a
throwaway data dir with the demo's simulated carrier, and drives one missed call through
the loop over real, signed HTTP: the call is recorded, the text-back goes out with the
rendered template and is reported delivered, the caller's reply joins the thread and
cancels the follow-up. Each step prints a ✓ line; the first failure prints ✗ and the
reason and the exit code is 1. No window and no Qt import by default (plain asyncio);
``gui_check=True`` (or FRONTDESK_SELFTEST_GUI=1) also proves Qt loads: a QApplication on
the offscreen platform and a shown QWidget.

The user's own data dir and database are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TextIO

from desktop.config import AppConfig

EXIT_OK, EXIT_FAILED = 0, 1
TIMEOUT_SECONDS = 30.0
GUI_ENV = "FRONTDESK_SELFTEST_GUI"
CALLER = "+14155550199"
REPLY = "Selftest reply: yes please, call me back"


class SelftestFailure(Exception):
    """A step that did not happen; the message says which and why."""


def _stdout_utf8(stream: TextIO) -> TextIO:
    """A console that cannot print ✓ (cp1252 on Windows) gets replacements, not a crash."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(ValueError, OSError):
            reconfigure(errors="replace")
    return stream


async def _until(what: str, check: Callable[[], object], timeout: float) -> None:
    """Poll the (async) ``check`` until it returns truthy, or fail saying ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() >= deadline:
            raise SelftestFailure(f"{what} (waited {timeout:g} s)")
        await asyncio.sleep(0.05)


async def _loop(config: AppConfig, say: Callable[[str], None], step_timeout: float) -> None:
    from desktop.demo import build_demo_runtime
    from services import outbox

    runtime, carrier = await build_demo_runtime(
        config,
        seed=False,
        settings={"textback.delay_seconds": 0, "followup.delay_seconds": 3600},
    )
    try:
        await runtime.start()
        local = runtime.receiver.local_url()
        if local is None or runtime.public_url is None:
            raise SelftestFailure("the webhook receiver did not start")
        say(f"receiver listening on {local} (signed webhooks; database {config.data_dir})")

        sid = await carrier.simulate_missed_call(CALLER)
        calls = await runtime.inbox.missed_calls()
        call = next((c for c in calls if c.sid == sid), None)
        if call is None or call.outcome != "missed":
            raise SelftestFailure(f"missed call {sid} was not recorded")
        say(f"missed call recorded ({sid} from {call.display_phone})")

        cfg = await runtime.inbox.settings()
        # The engine's own renderer (what a caller would get), not a copy of it.
        expected = outbox.render_text(cfg, "templates.missed_call", None)
        try:
            sent = await carrier.wait_for_sent(1, timeout=step_timeout)
        except TimeoutError:
            raise SelftestFailure(
                f"no text-back was sent within {step_timeout:g} s of the missed call"
            ) from None
        if sent[0].to != CALLER or sent[0].body != expected:
            raise SelftestFailure(
                f"the text-back went to {sent[0].to} reading {sent[0].body!r}; "
                f"expected {CALLER} reading {expected!r}"
            )
        say(f"text-back sent: {sent[0].body}")

        async def delivered() -> bool:
            item = next((c for c in await runtime.inbox.missed_calls() if c.sid == sid), None)
            return item is not None and item.textback_status == "delivered"

        await _until("the delivery status did not reach the message", delivered, step_timeout)
        say("delivery reported: delivered (signed status callbacks)")

        await carrier.simulate_reply(CALLER, REPLY)
        contact_id = call.contact_id
        if contact_id is None:
            raise SelftestFailure("the missed call has no contact")

        async def threaded() -> bool:
            items = await runtime.inbox.thread(contact_id)
            return any(getattr(i, "body", None) == REPLY for i in items)

        await _until("the reply did not join the caller's thread", threaded, step_timeout)
        say("reply threaded")

        async def followup_cancelled() -> bool:
            item = next((c for c in await runtime.inbox.missed_calls() if c.sid == sid), None)
            return item is not None and item.followup_state == "cancelled"

        await _until("the reply did not cancel the follow-up", followup_cancelled, step_timeout)
        say("follow-up cancelled")
    finally:
        await runtime.stop()


def gui_check(say: Callable[[str], None]) -> None:
    """Qt loads on the offscreen platform and shows a widget (QApplication + QWidget)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    started = time.perf_counter()
    try:
        from PySide6 import __version__ as pyside_version
        from PySide6.QtWidgets import QApplication, QWidget
    except ImportError as exc:
        raise SelftestFailure(f"Qt could not be loaded: {exc}") from None
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "frontdesk"])
    widget = QWidget()
    widget.setWindowTitle("Frontdesk selftest")
    widget.resize(320, 200)
    widget.show()
    app.processEvents()
    shown = widget.isVisible()
    widget.close()
    app.processEvents()
    if not shown:
        raise SelftestFailure("Qt loaded but could not show a window")
    ms = (time.perf_counter() - started) * 1000
    platform = QApplication.platformName() if isinstance(app, QApplication) else "?"
    say(f"Qt loads: PySide6 {pyside_version}, platform {platform}, window shown in {ms:.0f} ms")


def run_selftest(
    config: AppConfig,
    *,
    gui_check_too: bool | None = None,
    timeout: float = TIMEOUT_SECONDS,
    out: TextIO | None = None,
) -> int:
    """Run the checks; print each step; 0 when all passed, 1 (with the reason) otherwise."""
    stream = _stdout_utf8(out or sys.stdout)
    if gui_check_too is None:
        gui_check_too = os.environ.get(GUI_ENV, "").strip().lower() in ("1", "true", "yes")

    def say(text: str) -> None:
        print(f"✓ {text}", file=stream, flush=True)

    def fail(text: str) -> int:
        print(f"✗ {text}", file=stream, flush=True)
        print(f"frontdesk selftest: FAILED: {text}", file=sys.stderr, flush=True)
        return EXIT_FAILED

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="frontdesk-selftest-") as tmp:
        folder = Path(tmp)
        # The demo builds its own SQLite under this folder: the user's database is unused.
        scratch = dataclasses.replace(config, data_dir=folder)
        try:
            asyncio.run(_with_timeout(_loop(scratch, say, min(10.0, timeout)), timeout))
        except SelftestFailure as exc:
            return fail(str(exc))
        except TimeoutError:
            return fail(f"the selftest did not finish within {timeout:g} s")
        except OSError as exc:
            return fail(f"could not start the engine: {exc}")
        except Exception as exc:  # report anything else as a failure, with its type
            return fail(f"{type(exc).__name__}: {exc}")
    if gui_check_too:
        try:
            gui_check(say)
        except SelftestFailure as exc:
            return fail(str(exc))
        except Exception as exc:
            return fail(f"Qt check failed: {type(exc).__name__}: {exc}")
    elapsed = time.perf_counter() - started
    print(f"frontdesk selftest: all checks passed in {elapsed:.1f} s", file=stream, flush=True)
    return EXIT_OK


async def _with_timeout(coro: Coroutine[Any, Any, None], timeout: float) -> None:
    async with asyncio.timeout(timeout):
        await coro
