"""Load on the subscriber app: subscribe requests from wrk over C connections for D seconds.

`publisher web` runs in a subprocess (a real uvicorn on loopback) on a fresh temp site with
the per-IP limit raised. wrk (Debian's `wrk`, C, not the bottleneck) posts the form with a
Lua script that makes every request a new address (thread number and a counter), so each
one writes a pending row and mails a confirmation into the file outbox.

Checks afterwards, in the database and the outbox: no non-2xx answer and no socket error;
every 2xx made exactly one pending row (rows may exceed the 2xx count by at most the
requests still in flight when wrk stopped, at most one per connection, since wrk does not
wait for their answers); no duplicate rows; one confirmation email per row. Prints
requests/s, p50, p99 and the non-2xx count.

    .venv/bin/python bench/web_bench.py [--duration 10] [--connections 50] [--threads 1]
                                        [--database-url URL] [--profile py-spy|none]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from common import PUBLISHER, bench_env, free_port, postgres_schema, write_config

# A unique address per request: the thread's number (set in setup) and a counter.
WRK_SCRIPT = r"""
local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

local counter = 0
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  counter = counter + 1
  local body = string.format("email=reader-%d-%d%%40example.com&name=Reader+%d", tid, counter, counter)
  return wrk.format(nil, "/subscribe", nil, body)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "RESULT {\"requests\": %d, \"duration_us\": %d, \"p50_us\": %d, \"p99_us\": %d, " ..
    "\"max_us\": %d, \"non2xx\": %d, \"connect\": %d, \"read\": %d, \"write\": %d, " ..
    "\"timeout\": %d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, errors.status, errors.connect, errors.read, errors.write, errors.timeout))
end
"""


def write_site(root: Path, port: int) -> None:
    write_config(
        root,
        f"""
[site]
title = "Bench Blog"
url = "https://blog.example.org"
[newsletter]
from_name = "Bench"
from_address = "news@example.org"
postal_address = "1 Main St"
[web]
url = "http://127.0.0.1:{port}"
port = {port}
subscribe_per_minute = 100000000
""",
    )


def wait_until_up(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"publisher web exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("publisher web did not start")


def run_wrk(url: str, script: Path, duration: int, connections: int, threads: int) -> dict:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        f"{url}/subscribe",
    ]
    # Bounded: wrk stops itself after `duration`; the timeout is a backstop.
    output = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 60, check=True
    ).stdout
    found = re.search(r"^RESULT (\{.*\})$", output, re.MULTILINE)
    if not found:
        raise SystemExit(f"wrk printed no result:\n{output}")
    return json.loads(found.group(1))


def check_store(root: Path, env: dict[str, str]) -> tuple[dict[str, int], int, int, int]:
    """Counts per status, rows, distinct addresses, rows with a confirmation sent."""
    os.chdir(root)
    from publisher.config import load_config
    from publisher.store import Store, subscribers

    config = load_config(env=env)
    with Store.open(config) as store:
        rows = list(subscribers.iter_subscribers(store))
        claimed = sum(1 for r in rows if r.confirm_sent_at is not None)
        return subscribers.counts(store), len(rows), len({r.email.lower() for r in rows}), claimed


@contextmanager
def fresh_database(url: str | None) -> Iterator[str | None]:
    """A new, empty PostgreSQL schema for the run (dropped after), or None for SQLite."""
    if not url:
        yield None
        return
    with postgres_schema(url, "web_bench") as (_schema, scoped):
        yield scoped


def pending_rows(root: Path, env: dict[str, str]) -> int:
    """Subscriber rows now (read while the server runs)."""
    os.chdir(root)
    from publisher.config import load_config
    from publisher.store import Store, subscribers

    with Store.open(load_config(env=env)) as store:
        return sum(subscribers.counts(store).values())


def drain_outbox(outbox: Path, root: Path, env: dict[str, str]) -> int:
    """Wait (at most 120 s) until the outbox holds one email per subscriber row: the mailer
    sends after the answer, so it may still be working through a backlog."""
    deadline = time.monotonic() + 120
    found = 0
    while time.monotonic() < deadline:
        time.sleep(0.2)
        found = sum(1 for _ in (outbox / "new").iterdir()) if (outbox / "new").is_dir() else 0
        if found >= pending_rows(root, env):
            break
    return found


@contextmanager
def profiler(kind: str, pid: int, out: Path) -> Iterator[None]:
    """py-spy recording the server until it exits: a flame graph (.svg) or collapsed
    stacks (any other suffix), all threads, idle time left out."""
    if kind != "py-spy":
        yield
        return
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    kind = "flamegraph" if out.suffix == ".svg" else "raw"
    command = [spy, "record", "-p", str(pid), "-o", str(out), "-f", kind, "-r", "250"]
    recorder = subprocess.Popen(command + ["--nonblocking"], stdout=subprocess.DEVNULL)
    try:
        yield
    finally:
        recorder.wait(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load (default 10)")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (one keeps up)")
    parser.add_argument("--database-url", help="default: SQLite in the temp site")
    parser.add_argument("--profile", choices=["py-spy", "none"], default="none")
    parser.add_argument("--profile-out", default="web-profile.svg")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk")

    with tempfile.TemporaryDirectory() as folder, fresh_database(args.database_url) as database:
        root, port = Path(folder), free_port()
        write_site(root, port)
        script = root / "subscribe.lua"
        script.write_text(WRK_SCRIPT, encoding="utf-8")
        env = bench_env()
        if database:
            env["PUBLISHER_DATABASE_URL"] = database
        log = root / "server.log"  # a file, not a pipe nobody reads: the access log is long
        with open(log, "w") as output:
            server = subprocess.Popen(
                [PUBLISHER, "web"], cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url, server, log)
            with profiler(args.profile, server.pid, Path(args.profile_out).resolve()):
                try:
                    result = run_wrk(url, script, args.duration, args.connections, args.threads)
                    stopped = time.monotonic()
                    mails = drain_outbox(root / "data" / "outbox", root, env)
                    drained = time.monotonic() - stopped
                finally:
                    server.terminate()
                    server.wait(timeout=60)
        finally:
            if server.poll() is None:
                server.kill()
        done = result["requests"]
        ok_answers = done - result["non2xx"]
        counts, rows, distinct, claimed = check_store(root, env)
        access_lines = sum(1 for line in log.open() if "POST /subscribe" in line)

    seconds = result["duration_us"] / 1e6
    socket_errors = sum(result[k] for k in ("connect", "read", "write", "timeout"))
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"wrk: {args.connections} connections, {args.threads} threads, {seconds:.1f} s "
        f"of subscribes ({database})"
    )
    print(f"  {done / seconds:,.0f} requests/s, {done} answered")
    print(
        f"  latency: p50 {result['p50_us'] / 1000:.1f} ms, p99 {result['p99_us'] / 1000:.1f} ms, "
        f"max {result['max_us'] / 1000:.1f} ms"
    )
    print(f"  non-2xx: {result['non2xx']}; socket errors: {socket_errors}")
    print(
        f"  store: {counts['pending']} pending of {rows} rows, {distinct} distinct addresses, "
        f"{claimed} confirmations claimed; {access_lines} access-log lines"
    )
    print(f"  {mails} emails in the outbox, the last {drained:.1f} s after the load stopped")
    in_flight = rows - ok_answers
    ok = (
        result["non2xx"] == 0
        and socket_errors == 0
        and counts["pending"] == rows == distinct == claimed == mails
        and 0 <= in_flight <= args.connections
    )
    print(f"  rows beyond the 2xx answers (in flight at the stop): {in_flight}")
    print("  OK" if ok else "  FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
