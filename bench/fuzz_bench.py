"""Fuzz benchmark: 10,000 hostile webhooks against `frontdesk serve`.

    .venv/bin/python -m bench.fuzz_bench                         # SQLite, 10,000 requests
    .venv/bin/python -m bench.fuzz_bench --requests 2000
    FRONTDESK_TEST_DATABASE_URL=postgresql+psycopg://HOST/FRESH_DB \
        .venv/bin/python -m bench.fuzz_bench --postgres

Half the requests are signed as Twilio signs them, with hostile values in every field
Twilio sends (Unicode digits, 5,000-digit numbers, NUL bytes, over-long senders and SIP
addresses, unknown statuses, repeated fields); the other half are unsigned floods (no
signature, a wrong one, a wrong content type, a non-UTF-8 body, unknown paths). Reported:
the count of each HTTP status (a 5xx is a bug), the server's RSS before and after (from
/proc), the database's growth (SQLite: the files on disk; PostgreSQL:
pg_database_size), and the rows added per table. Everything is real: a `frontdesk serve`
subprocess, HTTP, signatures, the database. Figures go to stdout and bench/out/fuzz.txt.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from services.receiver import PATHS
from tests.serve_process import PUBLIC_URL, ServeProcess, frontdesk, serve_env
from tests.signing import SIGNATURE_HEADER, form_body, sign
from tests.twilio_standin import TwilioStandIn

BUSINESS = "+15005550001"
OUT = Path(__file__).resolve().parent / "out"
TABLES = ("calls", "contacts", "messages", "jobs", "audit", "webhook_events", "webhook_refusals")

HOSTILE = [
    "²",
    "١٢",
    "9" * 5000,
    "-1",
    "\x00",
    "a\x00b",
    "ACME-PLUMBING-AND-HEATING-DEPT-1234",
    "sip:" + "x" * 76 + "@example.com",
    "brand-new-status",
    "x" * 1200,
    "👨‍👩‍👧" * 50,
    "+14155550123",
    "",
    " ",
    "%00",
    "' OR 1=1 --",
]


def hostile(rng: random.Random) -> str:
    if rng.random() < 0.3:
        points = [0, 0x7F, 0x1B, 0xD7FF, 0x10FFFF, rng.randrange(1, 0x3000)]
        return "".join(chr(rng.choice(points)) for _ in range(rng.randrange(1, 40)))
    return rng.choice(HOSTILE)


def signed_case(rng: random.Random, i: int) -> tuple[str, list[tuple[str, str]]]:
    route = rng.choice(list(PATHS))
    sid_prefix = "CA" if route in ("voice", "dial_result", "call_status") else "SM"
    sid = f"{sid_prefix}{i:032x}" if rng.random() < 0.8 else hostile(rng)
    key = "CallSid" if sid_prefix == "CA" else "MessageSid"
    fields = {
        "voice": ["From", "To", "CallStatus"],
        "dial_result": ["From", "To", "DialCallStatus", "DialBridged", "DialCallDuration"],
        "call_status": ["From", "To", "CallStatus", "CallDuration"],
        "sms": ["From", "To", "Body", "NumMedia", "MediaUrl0", "MediaContentType0"],
        "sms_status": ["MessageStatus", "ErrorCode"],
    }[route]
    params = [(key, sid)]
    for name in fields:
        if rng.random() < 0.9:
            params.append((name, hostile(rng)))
    return route, params


def post(port: int, path: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.read()
        return int(exc.code)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return -1  # no answer at all: counted, never hidden


def one(port: int, token: str, seed: int, i: int) -> int:
    rng = random.Random(seed * 1_000_003 + i)
    if i % 2 == 0:
        route, params = signed_case(rng, i)
        path = PATHS[route]
        signature = sign(token, PUBLIC_URL + path, params)
        headers = {SIGNATURE_HEADER: signature, "Content-Type": "application/x-www-form-urlencoded"}
        return post(port, path, form_body(params), headers)
    kind = rng.randrange(5)
    path = rng.choice(list(PATHS.values()))
    body = form_body([("CallSid", hostile(rng)), ("From", hostile(rng)), ("Body", hostile(rng))])
    form = "application/x-www-form-urlencoded"
    if kind == 0:
        return post(port, path, body, {"Content-Type": form})
    if kind == 1:
        return post(port, path, body, {"Content-Type": form, SIGNATURE_HEADER: "AAAA" * 7})
    if kind == 2:
        return post(port, path, b'{"Body": "hi"}', {"Content-Type": "application/json"})
    if kind == 3:
        return post(port, path, b"Body=caf\xe9\xff", {"Content-Type": form, SIGNATURE_HEADER: "x"})
    return post(port, f"/{hostile(rng).encode('utf-8').hex()[:200]}", body, {"Content-Type": form})


def _drain(server: ServeProcess) -> None:
    assert server.proc is not None and server.proc.stdout is not None
    for _line in server.proc.stdout:
        pass


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def sqlite_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("frontdesk.db*"))


def measure(database_url: str | None, data_dir: Path) -> tuple[int, dict[str, int]]:
    from sqlalchemy import text

    from services.storage.database import Database, default_sqlite_url

    db = Database(database_url or default_sqlite_url(data_dir))
    try:
        with db.engine.connect() as conn:
            rows = {
                t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() or 0)
                for t in TABLES
            }
            if database_url:
                size = int(
                    conn.execute(text("SELECT pg_database_size(current_database())")).scalar() or 0
                )
            else:
                size = sqlite_bytes(data_dir)
    finally:
        db.close()
    return size, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--postgres", action="store_true", help="FRONTDESK_TEST_DATABASE_URL")
    args = parser.parse_args()
    database_url = os.environ.get("FRONTDESK_TEST_DATABASE_URL") if args.postgres else None
    if args.postgres and not database_url:
        raise SystemExit("--postgres needs FRONTDESK_TEST_DATABASE_URL (a fresh database)")

    standin = TwilioStandIn()
    standin.start_in_thread()
    standin.add_number(BUSINESS)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp) / "data"
            env = serve_env(standin, data_dir, database_url)
            for key, value in [
                ("business.phone_number", BUSINESS),
                ("forwarding.numbers", '["+15005550002"]'),
                ("textback.delay_seconds", "3600"),  # measure storage, not the stand-in
            ]:
                frontdesk("settings", "set", key, value, env=env)
            server = ServeProcess(env, standin.auth_token).start()
            try:
                assert server.proc is not None
                pid = server.proc.pid
                # The server logs each refusal: read its output, or a full pipe blocks it.
                drain = threading.Thread(target=_drain, args=(server,), daemon=True)
                drain.start()
                time.sleep(1.0)
                size0, rows0 = measure(database_url, data_dir)
                rss0 = rss_kb(pid)
                started = time.monotonic()
                with ThreadPoolExecutor(args.concurrency) as pool:
                    statuses = Counter(
                        pool.map(
                            lambda i: one(server.port, standin.auth_token, args.seed, i),
                            range(args.requests),
                        )
                    )
                took = time.monotonic() - started
                time.sleep(2.0)  # let the refusal counts and background writes land
                rss1 = rss_kb(pid)
                size1, rows1 = measure(database_url, data_dir)
            finally:
                server.stop()
    finally:
        standin.stop()

    where = "PostgreSQL" if database_url else "SQLite"
    signed, unsigned = args.requests - args.requests // 2, args.requests // 2
    errors = sum(v for k, v in statuses.items() if k >= 500)
    mb = 1024
    lines = [
        f"fuzz_bench: {args.requests} hostile webhooks ({signed} signed, {unsigned} unsigned) "
        f"to `frontdesk serve` on {where}, {args.concurrency} at a time, in {took:.1f} s",
        "status counts: " + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())),
        f"5xx answers: {errors}; no answer: {statuses.get(-1, 0)}",
        f"server RSS: {rss0 / mb:.1f} MB before, {rss1 / mb:.1f} MB after "
        f"({(rss1 - rss0) / mb:+.1f} MB)",
        f"database: {size0 / 1024:.0f} KB before, {size1 / 1024:.0f} KB after "
        f"({(size1 - size0) / 1024:+.0f} KB)",
        "rows added: " + ", ".join(f"{t} {rows1[t] - rows0[t]:+d}" for t in TABLES),
    ]
    text_out = "\n".join(lines) + "\n"
    print(text_out, end="")
    OUT.mkdir(exist_ok=True)
    name = "fuzz-postgresql.txt" if database_url else "fuzz.txt"
    (OUT / name).write_text(text_out, encoding="utf-8")


if __name__ == "__main__":
    main()
