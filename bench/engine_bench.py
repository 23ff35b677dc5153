"""Engine benchmark: `frontdesk serve` on SQLite under a burst of missed calls.

    .venv/bin/python -m bench.engine_bench            # both phases, prints the figures
    .venv/bin/python -m bench.engine_bench --calls 200 --concurrency 20 --delayed-calls 40

Phase 1 (textback.delay_seconds = 0): 200 missed calls from distinct callers, 20 at a
time. Measured per call, on this machine:
  (a) the voice webhook's TwiML answer time (request sent → response read);
  (b) Dial result webhook sent → the Messages request reaching the Twilio stand-in
      (the stand-in records `time.monotonic()` on arrival, in this same process).
The same burst is first sent to a bare baseline (bench/bare_app.py: signature check,
TwiML, one Messages request through the same gateway, no storage) in this same run, and
the engine's p99s are given as ratios to it (targets: TwiML <= 1.5x, Dial result ->
Messages request <= 2x): the machine's noise hits both alike.
Phase 2 (delay 30 s): each text's arrival minus its call's end (the parent call's
completed status callback) must fall in [30.0, 31.0] s.
Everything is real: a `frontdesk serve` subprocess, HTTP, signatures, the SQLite file,
the real Twilio gateway talking to the stand-in. Figures go to stdout and
bench/out/engine.txt.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.serve_process import ServeProcess, frontdesk, serve_env
from tests.twilio_standin import TwilioStandIn

BUSINESS = "+15005550001"
OUT = Path(__file__).resolve().parent / "out"
WARM_UP = 10  # calls sent first to each server and not measured


def caller(i: int) -> str:
    return f"+1415{5550000 + i}"  # distinct, valid US mobiles: +14155550000, ...


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def configure(env: dict[str, str], delay: int) -> None:
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    hours = "{" + ", ".join(f'"{d}": [["00:00", "23:59"]]' for d in days) + "}"
    for key, value in [
        ("business.name", "Bench Plumbing"),
        ("business.phone_number", BUSINESS),
        ("forwarding.numbers", '["+15005550002"]'),
        ("business.hours", hours),
        ("textback.delay_seconds", str(delay)),
        ("followup.delay_seconds", "0"),
        ("textback.repeat_window_minutes", "0"),
        # The bare app does no Lookup; with it on, each new caller's text waits for one
        # Lookup request first (bounded at 3 s), a cost of its own, not of the pipeline.
        ("lookup.enabled", "false"),
    ]:
        frontdesk("settings", "set", key, value, env=env)


class Burst:
    def __init__(self, server: ServeProcess, offset: int) -> None:
        self.server = server
        self.offset = offset
        self.twiml_ms: list[float] = []
        self.dial_sent: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def one(self, i: int) -> None:
        number = caller(self.offset + i)
        sid = f"CA{self.offset + i:032x}"
        base = {"CallSid": sid, "From": number, "To": BUSINESS}
        t = time.monotonic()
        status, body = self.server.post("voice", {**base, "CallStatus": "ringing"})
        took = (time.monotonic() - t) * 1000
        if status != 200 or "<Dial" not in body:
            self.errors.append(f"voice {status}")
        t_dial = time.monotonic()
        status, _ = self.server.post("dial_result", {**base, "DialCallStatus": "no-answer"})
        if status != 200:
            self.errors.append(f"dial {status}")
        t_end = time.monotonic()  # the call ends when Twilio sends its final status
        status, _ = self.server.post("call_status", {**base, "CallStatus": "completed"})
        if status != 204:
            self.errors.append(f"status {status}")
        with self.lock:
            self.twiml_ms.append(took)
            self.dial_sent[number] = t_dial
            self.ended[number] = t_end

    def run(self, calls: int, concurrency: int) -> None:
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(self.one, range(calls)))


@contextlib.contextmanager
def no_collector() -> Iterator[None]:
    """No cyclic garbage collection in this process (the clients and both stand-ins) while
    a burst is measured: its full passes over everything the stand-ins keep took ~50 ms,
    a stall of every client at once that landed on whichever server was being measured,
    more often on the one whose bursts last longer. It runs between bursts instead."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def arrivals(standin: TwilioStandIn) -> dict[str, list[float]]:
    result: dict[str, list[float]] = {}
    for request in standin.requests_to("Messages.json", "POST"):
        result.setdefault(request.form.get("To", ""), []).append(request.received_monotonic)
    return result


class BareProcess(ServeProcess):
    module = "bench.bare_app"


class Target:
    """One server under test with its own stand-in and data dir, alive for every round."""

    def __init__(self, name: str, tmp: Path, *, bare: bool, delay: int) -> None:
        self.name = name
        self.standin = TwilioStandIn()
        self.standin.__enter__()
        self.standin.add_number(BUSINESS)
        env = serve_env(self.standin, tmp / name.replace(" ", "-"))
        if bare:
            self.server: ServeProcess = BareProcess(env, self.standin.auth_token).start()
        else:
            configure(env, delay)
            self.server = ServeProcess(env, self.standin.auth_token).start()
        self.delay = delay
        self.expected = 0
        self.bursts: list[Burst] = []
        self.latency_ms: list[list[float]] = []

    def burst(self, calls: int, concurrency: int, offset: int, *, measured: bool = True) -> Burst:
        burst = Burst(self.server, offset)
        self.expected += calls
        with no_collector():  # until the burst's last text has reached the stand-in
            burst.run(calls, concurrency)
            self.standin.wait_for_messages_sync(self.expected, timeout=self.delay + 60)
        if measured:
            sent = arrivals(self.standin)
            self.bursts.append(burst)
            self.latency_ms.append(
                [(sent[n][0] - t) * 1000 for n, t in burst.dial_sent.items() if n in sent]
            )
        return burst

    def close(self) -> None:
        try:
            self.server.stop()
        finally:
            self.standin.__exit__(None, None, None)


def phase(
    standin: TwilioStandIn,
    data: Path,
    delay: int,
    calls: int,
    concurrency: int,
    offset: int,
) -> tuple[Burst, dict[str, list[float]]]:
    """One burst to `frontdesk serve` (the delayed phase)."""
    env = serve_env(standin, data)
    configure(env, delay)
    server = ServeProcess(env, standin.auth_token).start()
    try:
        Burst(server, offset + 50_000).run(WARM_UP, min(concurrency, WARM_UP))
        standin.wait_for_messages_sync(WARM_UP, timeout=delay + 60)
        burst = Burst(server, offset)
        burst.run(calls, concurrency)
        standin.wait_for_messages_sync(WARM_UP + calls, timeout=delay + 60)
        time.sleep(1.5)  # anything extra (a duplicate) would arrive now
    finally:
        server.stop()
    return burst, arrivals(standin)


def p50_p99(values: list[float]) -> tuple[float, float]:
    return percentile(values, 50), percentile(values, 99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5, help="bursts to each server, alternated")
    parser.add_argument("--delayed-calls", type=int, default=200)
    parser.add_argument("--delay", type=int, default=30)
    parser.add_argument("--skip-delay", action="store_true", help="only the burst phase")
    args = parser.parse_args()
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    say(
        f"{args.rounds} rounds of {args.calls} missed calls from distinct callers, "
        f"{args.concurrency} at a time, textback.delay_seconds=0; each round bursts the bare "
        "baseline and frontdesk serve on SQLite in turn (who goes first alternates)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        targets: list[Target] = []
        try:
            targets.append(Target("bare app", Path(tmp), bare=True, delay=0))
            targets.append(Target("frontdesk serve", Path(tmp), bare=False, delay=0))
            for target in targets:  # first connections, imports, caches: not measured
                target.burst(WARM_UP, min(args.concurrency, WARM_UP), 900_000, measured=False)
            time.sleep(1.0)
            for r in range(args.rounds):
                order = targets if r % 2 == 0 else targets[::-1]
                for target in order:
                    target.burst(args.calls, args.concurrency, r * 10_000)
                    time.sleep(1.0)  # the server's tail of bookkeeping settles between bursts
                a = [p50_p99(t.bursts[-1].twiml_ms)[1] for t in targets]
                b = [p50_p99(t.latency_ms[-1])[1] for t in targets]
                say(
                    f"  round {r + 1} p99 bare / serve: (a) TwiML {a[0]:.1f} / {a[1]:.1f} ms = "
                    f"{a[1] / a[0]:.2f}x, (b) Dial result -> Messages {b[0]:.1f} / {b[1]:.1f} ms"
                    f" = {b[1] / b[0]:.2f}x"
                )
            time.sleep(1.5)  # anything extra (a duplicate) would arrive now
            figures: dict[str, tuple[float, float, float, float]] = {}
            for target in targets:
                twiml = [ms for burst in target.bursts for ms in burst.twiml_ms]
                latency = [ms for round_ in target.latency_ms for ms in round_]
                figures[target.name] = (*p50_p99(twiml), *p50_p99(latency))
                a50, a99, b50, b99 = figures[target.name]
                say(f"  {target.name}, all rounds pooled ({len(twiml)} calls):")
                say(f"    (a) voice webhook -> TwiML answer: p50 {a50:.1f} ms, p99 {a99:.1f} ms")
                say(
                    f"    (b) Dial result -> Messages request at the stand-in: "
                    f"p50 {b50:.1f} ms, p99 {b99:.1f} ms"
                )
                counts = Counter({k: len(v) for k, v in arrivals(target.standin).items()})
                callers = [n for burst in target.bursts for n in burst.dial_sent]
                texted = sum(1 for number in callers if counts.get(number))
                duplicates = sum(c - 1 for c in counts.values() if c > 1)
                errors = sum(len(burst.errors) for burst in target.bursts)
                say(
                    f"    texts: {texted} of {len(callers)} callers texted, "
                    f"{duplicates} duplicates, {errors} webhook errors"
                )
        finally:
            for target in targets:
                target.close()
    base, engine = figures["bare app"], figures["frontdesk serve"]
    say(
        f"  pooled ratio to the bare app (p99): (a) TwiML {engine[1] / base[1]:.2f}x "
        f"(target <= 1.5x), (b) Dial result -> Messages {engine[3] / base[3]:.2f}x "
        "(target <= 2x)"
    )

    if args.skip_delay:
        OUT.mkdir(exist_ok=True)
        (OUT / "engine.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return
    say(f"delay {args.delay} s: {args.delayed_calls} missed calls, {args.concurrency} at a time")
    with TwilioStandIn() as standin, tempfile.TemporaryDirectory() as tmp:
        standin.add_number(BUSINESS)
        burst, sent = phase(
            standin, Path(tmp) / "p2", args.delay, args.delayed_calls, args.concurrency, 500_000
        )
        gaps = [sent[n][0] - burst.ended[n] for n in burst.ended if n in sent]
        inside = sum(1 for g in gaps if args.delay <= g <= args.delay + 1.0)
        say(
            f"  text after call end: min {min(gaps):.3f} s, "
            f"median {statistics.median(gaps):.3f} s, "
            f"max {max(gaps):.3f} s; {inside} of {len(burst.ended)} within "
            f"[{args.delay}.0, {args.delay + 1}.0] s"
        )
    OUT.mkdir(exist_ok=True)
    (OUT / "engine.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
