"""Office benchmark: several PCs on one PostgreSQL database.

    .venv/bin/python -m bench.office_bench --server postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m bench.office_bench --server URL --seconds 20 --failovers 2

``--server`` (or FRONTDESK_TEST_DATABASE_URL) names a PostgreSQL server; a fresh database
is created on it for each phase and dropped after.

Failover (``--failovers`` runs): two `frontdesk serve` subprocesses, PC A (holder) and
PC B (desk client), each with its own public URL, on the Twilio stand-in. Three missed
calls reach A with textback.delay_seconds = 2, then A is killed (SIGKILL). Measured from
the kill: (a) the number re-wired to B (the stand-in's record of the IncomingPhoneNumbers
update), (b) every waiting text at the stand-in. Duplicates and losses are counted.

Propagation: two runtimes in this process (A holds the number, B is a desk client),
each with its own connections. A commits a change (a contact rename) ``--rate`` times a
second for ``--seconds`` seconds; measured per change: A's commit returned → B's event
bus delivered the ContactChanged (LISTEN/NOTIFY through the server).

Targets: failover <= 10 s; propagation p99 <= 500 ms. Figures go to stdout and
bench/out/office.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from services.events import ContactChanged, Event
from tests.harness import running_app
from tests.serve_process import ServeProcess, frontdesk, serve_env
from tests.twilio_standin import TwilioStandIn

BUSINESS = "+15005550001"
OUT = Path(__file__).resolve().parent / "out"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


@contextmanager
def fresh_database(server: str) -> Iterator[str]:
    url = make_url(server)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    name = f"fd_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _pc(name: str, tmp: Path, standin: TwilioStandIn, url: str) -> ServeProcess:
    data_dir = tmp / name
    data_dir.mkdir(exist_ok=True)
    (data_dir / "this-pc.json").write_text(json.dumps({"pc_name": name}))
    env = serve_env(standin, data_dir, url)
    env["FRONTDESK_PUBLIC_URL"] = f"https://{name}.example.com"
    return ServeProcess(env, standin.auth_token)


def failover_once(server: str, run: int) -> tuple[float, float, int, int]:
    """(re-wired s, all texts s, duplicates, lost) after SIGKILL of the holder."""
    callers = [f"+1415555{run:02d}{i:02d}" for i in range(3)]
    with (
        TwilioStandIn() as standin,
        tempfile.TemporaryDirectory() as tmp_name,
        fresh_database(server) as url,
    ):
        tmp = Path(tmp_name)
        standin.add_number(BUSINESS)
        setup = tmp / "setup"
        setup.mkdir()
        env = serve_env(standin, setup, url)
        for key, value in [
            ("business.name", "Bench Plumbing"),
            ("business.phone_number", BUSINESS),
            ("forwarding.numbers", '["+15005550002"]'),
            ("business.hours", json.dumps({d: [["00:00", "23:59"]] for d in DAYS})),
            ("textback.delay_seconds", "2"),
            ("followup.delay_seconds", "0"),
        ]:
            frontdesk("settings", "set", key, value, env=env)
        a = _pc("pc-a", tmp, standin, url).start()
        b = _pc("pc-b", tmp, standin, url).start(ready=("frontdesk serve: desk client",))
        try:
            for i, caller in enumerate(callers):
                base = {"CallSid": f"CA{run:02d}{i:030d}", "From": caller, "To": BUSINESS}
                a.post("voice", {**base, "CallStatus": "ringing"})
                a.post("dial_result", {**base, "DialCallStatus": "no-answer"})
                a.post("call_status", {**base, "CallStatus": "completed"})
            killed = time.monotonic()
            a.kill()
            rewired = None
            deadline = killed + 30
            while time.monotonic() < deadline:
                (number,) = standin.numbers
                if (
                    rewired is None
                    and number["voice_url"] == "https://pc-b.example.com/twilio/voice"
                ):
                    rewired = time.monotonic() - killed
                if rewired is not None and len(standin.messages_sent) >= len(callers):
                    break
                time.sleep(0.02)
            texts_at = max((m["received_monotonic"] for m in standin.messages_sent), default=0.0)
            time.sleep(2.0)  # anything sent twice shows up by now
            sent = [m["to"] for m in standin.messages_sent]
            duplicates = len(sent) - len(set(sent))
            lost = len(set(callers) - set(sent))
            return (
                rewired if rewired is not None else float("inf"),
                texts_at - killed if not lost else float("inf"),
                duplicates,
                lost,
            )
        finally:
            a.kill()
            b.stop()


async def propagation(
    server_url: str, standin: TwilioStandIn, seconds: float, rate: float
) -> list[float]:
    latencies: list[float] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for name in ("a", "b"):
            (tmp / name).mkdir()
            (tmp / name / "this-pc.json").write_text(json.dumps({"pc_name": f"pc-{name}"}))
        async with (
            running_app(server_url, tmp / "a", standin) as a,
            running_app(server_url, tmp / "b", standin) as b,
        ):
            assert a.runtime.holding and not b.runtime.holding
            await a.missed_call("+14155550123")
            await a.idle()
            conversations = await a.inbox.conversations()
            contact_id = conversations[0].contact_id
            committed: dict[int, float] = {}
            arrived: list[float] = []

            def on_b(event: Event) -> None:
                if event == ContactChanged(contact_id):
                    arrived.append(time.monotonic())

            b.runtime.bus.subscribe(on_b)
            await asyncio.sleep(0.5)
            total = int(seconds * rate)
            start = time.monotonic()
            for i in range(total):
                await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
                before = len(arrived)
                await a.inbox.rename(contact_id, f"Maria {i}", actor="bench")
                committed[i] = time.monotonic()
                # Pair each commit with the first event B gets after it.
                deadline = committed[i] + 2.0
                while len(arrived) == before and time.monotonic() < deadline:
                    await asyncio.sleep(0.001)
                if len(arrived) > before:
                    latencies.append((arrived[before] - committed[i]) * 1000)
                else:
                    latencies.append(float("inf"))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default=os.environ.get("FRONTDESK_TEST_DATABASE_URL"))
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--failovers", type=int, default=3)
    args = parser.parse_args()
    if not args.server:
        parser.error("--server (or FRONTDESK_TEST_DATABASE_URL) must name a PostgreSQL server")
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    say(f"failover: holder (frontdesk serve) killed with 3 texts waiting; {args.failovers} runs")
    for run in range(args.failovers):
        rewired, texts, duplicates, lost = failover_once(args.server, run)
        say(
            f"  run {run + 1}: number re-wired to the other PC after {rewired:.2f} s, "
            f"all waiting texts at the stand-in after {texts:.2f} s "
            f"({duplicates} duplicates, {lost} lost; target <= 10 s)"
        )
    say(
        f"propagation: contact renamed on PC A at {args.rate:g}/s for {args.seconds:g} s, "
        "commit on A -> event on B's bus"
    )
    with fresh_database(args.server) as url, TwilioStandIn() as standin:
        latencies = asyncio.run(propagation(url, standin, args.seconds, args.rate))
    missing = sum(1 for v in latencies if v == float("inf"))
    seen = [v for v in latencies if v != float("inf")]
    say(
        f"  {len(latencies)} changes, {missing} not seen within 2 s; "
        f"p50 {percentile(seen, 50):.1f} ms, p99 {percentile(seen, 99):.1f} ms, "
        f"max {max(seen):.1f} ms (target p99 <= 500 ms)"
    )
    OUT.mkdir(exist_ok=True)
    (OUT / "office.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
