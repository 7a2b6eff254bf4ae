"""Load on the click redirect: wrk following tracked links for D seconds over C connections.

`publisher web` runs in a subprocess (a real uvicorn on loopback) on a fresh temp site. A
campaign with 5 links is stored first, and 1,000 readers' signed links to it are made as
the sender makes them (sent a day earlier, so no click waits as a possible scanner's). wrk
(C, not the bottleneck) cycles through them with a browser's user agent.

Afterwards the server is stopped (SIGTERM: its last group commit) and the store is read:
every click counted (people + scanners) must be one of wrk's answers, or one of the
requests in flight when wrk stopped (at most one per connection: wrk does not wait for
their answers); every answer a 302. Prints requests/s, p50, p99 and the counts.

    .venv/bin/python bench/click_bench.py [--duration 10] [--connections 50]
                                          [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from web_bench import fresh_database, run_wrk, wait_until_up, write_site

from common import PUBLISHER, SECRET, bench_env, free_port

LINKS = 5
READERS = 1_000
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

WRK_SCRIPT = r"""
local paths = {}
for line in io.lines("PATHS") do table.insert(paths, line) end
local counter = 0

function init(args)
  wrk.headers["User-Agent"] = "BROWSER"
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "RESULT {\"requests\": %%d, \"duration_us\": %%d, \"p50_us\": %%d, \"p99_us\": %%d, " ..
    "\"max_us\": %%d, \"non2xx\": %%d, \"connect\": %%d, \"read\": %%d, \"write\": %%d, " ..
    "\"timeout\": %%d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, errors.status, errors.connect, errors.read, errors.write, errors.timeout))
end
"""


def open_store(root: Path, env: dict[str, str]):
    os.chdir(root)
    from publisher.config import load_config
    from publisher.store.db import Store

    return Store.open(load_config(env=env))


def make_campaign(root: Path, env: dict[str, str]) -> list[str]:
    """A campaign with LINKS links; the paths of READERS readers' links to them."""
    from sqlalchemy import insert

    from publisher.mail.tracking import ClickSigner
    from publisher.store import clicks
    from publisher.store.schema import campaigns

    now = datetime.now(UTC)
    with open_store(root, env) as store, store.transaction() as conn:
        campaign = conn.execute(
            insert(campaigns)
            .values(key="post:bench", kind="post", subject="Bench", html="", text="",
                    status="done", created_at=now, total=READERS)
            .returning(campaigns.c.id)
        ).scalar_one()  # fmt: skip
        links = [
            clicks.Link(
                n, f"https://blog.example.org/posts/{n}/?utm_source=newsletter", f"Link {n}"
            )
            for n in range(1, LINKS + 1)
        ]
        clicks.add_links(conn, campaign, links)
        salt = clicks.salt(conn, campaign)
    signer = ClickSigner(SECRET.encode())
    sent = now - timedelta(days=1)
    return [
        f"/l/{campaign}/{reader % LINKS + 1}/" + signer.reader(False, campaign, salt, reader, sent)
        for reader in range(1, READERS + 1)
    ]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def counted(root: Path, env: dict[str, str]) -> tuple[int, int, int]:
    """(clicks by people, scanner clicks, unique clickers) of the campaign."""
    from sqlalchemy import select

    from publisher.store import clicks
    from publisher.store.schema import campaigns

    with open_store(root, env) as store, store.read() as conn:
        campaign = conn.execute(select(campaigns.c.id)).scalar_one()
        summary = clicks.summary(conn, campaign)
    return summary.clicks, summary.scanner_clicks, summary.unique


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of load (default 10)")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--database-url", help="default: SQLite in the temp site")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk")

    with tempfile.TemporaryDirectory() as folder, fresh_database(args.database_url) as database:
        root, port = Path(folder), free_port()
        write_site(root, port)
        env = bench_env()
        if database:
            env["PUBLISHER_DATABASE_URL"] = database
        paths = root / "paths.txt"
        paths.write_text("\n".join(make_campaign(root, env)) + "\n")
        script = root / "clicks.lua"
        script.write_text(
            WRK_SCRIPT.replace("PATHS", str(paths)).replace("BROWSER", BROWSER).replace("%%", "%")
        )
        log = root / "server.log"
        with open(log, "w") as output:
            server = subprocess.Popen(
                [PUBLISHER, "web"], cwd=root, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url, server, log)
            before = cpu_seconds(server.pid)
            result = run_wrk(url, script, args.duration, args.connections, 1)
            cpu = cpu_seconds(server.pid) - before
            stopped = time.monotonic()
            server.terminate()
            server.wait(timeout=60)
            stopping = time.monotonic() - stopped
        finally:
            if server.poll() is None:
                server.kill()
        people, scanners, unique = counted(root, env)
        logged = sum(1 for line in log.open() if "/l/" in line)

    done = result["requests"]
    seconds = result["duration_us"] / 1e6
    socket_errors = sum(result[k] for k in ("connect", "read", "write", "timeout"))
    database = "PostgreSQL" if args.database_url else "SQLite"
    total = people + scanners
    print(f"wrk: {args.connections} connections, {seconds:.1f} s of clicks ({database})")
    print(f"  {done / seconds:,.0f} requests/s, {done} answered")
    print(
        f"  latency: p50 {result['p50_us'] / 1000:.1f} ms, p99 {result['p99_us'] / 1000:.1f} ms, "
        f"max {result['max_us'] / 1000:.1f} ms"
    )
    print(
        f"  server CPU: {cpu:.1f} s, {cpu / done * 1e6:.0f} us a click "
        f"({done / cpu:,.0f} clicks/s on one free core)"
    )
    print(f"  non-302 (4xx/5xx): {result['non2xx']}; socket errors: {socket_errors}")
    print(
        f"  counted: {total} clicks ({people} by people, {scanners} by scanners), "
        f"{unique} unique readers estimated of {READERS}; {logged} access-log lines with a "
        f"click; the server stopped {stopping:.1f} s after SIGTERM"
    )
    in_flight = total - done
    print(f"  counted beyond wrk's answers (in flight at the stop): {in_flight}")
    ok = (
        result["non2xx"] == 0
        and socket_errors == 0
        and 0 <= in_flight <= args.connections
        and scanners == 0
        and logged == 0
    )
    print("  OK" if ok else "  FAILED")


if __name__ == "__main__":
    main()
