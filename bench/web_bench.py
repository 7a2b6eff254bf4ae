"""Load on the subscriber app: N subscribe requests over C concurrent connections.

`publisher web` runs in a subprocess (a real uvicorn on loopback) on a fresh temp site with
the per-IP limit raised; every request subscribes a new address, so each one writes a pending
row and mails a confirmation to the file outbox. Checks: zero 5xx, exactly N pending
subscribers, no duplicate rows, N confirmation emails. Prints requests/s and latencies.

    .venv/bin/python bench/web_bench.py [--requests 2000] [--connections 50] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

PUBLISHER = Path(sys.executable).parent / "publisher"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_site(root: Path, port: int) -> None:
    (root / "config").mkdir(parents=True)
    (root / "config" / "site.toml").write_text(
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
subscribe_per_minute = 1000000
""",
        encoding="utf-8",
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


async def load(
    url: str, total: int, connections: int
) -> tuple[list[float], dict[int | str, int], float]:
    """Send `total` subscribes from `connections` workers; latencies (s), status counts."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(total):
        queue.put_nowait(n)
    latencies: list[float] = []
    statuses: dict[int | str, int] = {}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                form = {"email": f"reader{n}@example.com", "name": f"Reader {n}"}
                started = time.perf_counter()
                try:
                    response = await client.post("/subscribe", data=form)
                    status = response.status_code
                except httpx.TransportError as exc:  # counted as a failure, not a crash
                    status = type(exc).__name__
                    print(f"request {n}: {exc!r} after {time.perf_counter() - started:.2f} s")
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return latencies, statuses, elapsed


def check_store(root: Path, env: dict[str, str]) -> tuple[dict[str, int], int, int]:
    """Counts per status, rows, distinct addresses: read through the store's own functions."""
    os.chdir(root)
    from publisher.config import load_config
    from publisher.store import Store, subscribers

    config = load_config(env=env)
    store = Store.open(config)
    try:
        rows = list(subscribers.iter_subscribers(store))
        return subscribers.counts(store), len(rows), len({r.email.lower() for r in rows})
    finally:
        store.close()


@contextmanager
def fresh_database(url: str | None) -> Iterator[str | None]:
    """A new, empty PostgreSQL schema for the run (dropped after), or None for SQLite."""
    if not url:
        yield None
        return
    import sqlalchemy

    base = sqlalchemy.engine.make_url(url).set(drivername="postgresql+psycopg")
    schema = f"web_bench_{uuid.uuid4().hex[:8]}"
    engine = sqlalchemy.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def wait_for_outbox(outbox: Path, count: int) -> int:
    deadline = time.monotonic() + 30
    found = 0
    while time.monotonic() < deadline:
        found = len(list((outbox / "new").glob("*.eml"))) if (outbox / "new").is_dir() else 0
        if found >= count:
            break
        time.sleep(0.1)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--database-url", help="default: SQLite in the temp site")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder, fresh_database(args.database_url) as database:
        root, port = Path(folder), free_port()
        write_site(root, port)
        env = {**os.environ, "PUBLISHER_SECRET_KEY": "bench-secret"}
        env = {k: v for k, v in env.items() if k != "PUBLISHER_CONFIG"}
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
            latencies, statuses, elapsed = asyncio.run(load(url, args.requests, args.connections))
            mails = wait_for_outbox(root / "data" / "outbox", args.requests)
        finally:
            server.terminate()
            server.wait(timeout=30)
        counts, rows, distinct = check_store(root, env)

    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    errors = sum(n for code, n in statuses.items() if not isinstance(code, int) or code >= 500)
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{args.requests} subscribes over {args.connections} connections ({database})")
    print(f"  {args.requests / elapsed:,.0f} requests/s, {elapsed:.2f} s in all")
    print(
        f"  latency: median {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms"
    )
    print(f"  statuses: {statuses}; 5xx or dropped: {errors}")
    print(f"  store: {counts['pending']} pending, {rows} rows, {distinct} distinct addresses")
    print(f"  confirmation emails in the outbox: {mails}")
    ok = (
        errors == 0
        and statuses.get(200) == args.requests
        and counts["pending"] == rows == distinct == args.requests
        and mails == args.requests
    )
    print("  OK" if ok else "  FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
