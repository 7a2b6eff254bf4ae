"""Admin API benchmark: every list the console shows, answered by `publisher web` with a big
store behind it, timed from outside over HTTP (p50 and p95 of sequential requests).

    .venv/bin/python bench/admin_bench.py [--subscribers 100000] [--campaigns 200]
        [--deliveries 100000] [--requests 30] [--url postgresql://...] [--keep DIR]

The store holds `--subscribers` active subscribers and `--campaigns` campaigns of
`--deliveries` deliveries each (mostly sent, some failed and bounced; the newest two
still sending), written with INSERT ... SELECT. The bar (issue 21): every list under
100 ms p95 on SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import PUBLISHER, bench_env, fill_store, free_port, postgres_schema, write_config

BAR_MS = 100.0
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def site(root: Path, url: str, port: int, posts: int) -> dict[str, str]:
    write_config(
        root,
        '[site]\ntitle = "Bench"\nurl = "https://bench.example.org"\n'
        'timezone = "America/Chicago"\n[newsletter]\nfrom_address = "news@example.org"\n',
    )
    folder = root / "posts"
    folder.mkdir(exist_ok=True)
    for number in range(posts):
        day = NOW - timedelta(days=posts - number)
        (folder / f"{day:%Y-%m-%d}-bench-post-{number}.md").write_text(
            f"---\ntitle: Bench post {number}\ndate: {day:%Y-%m-%d} 09:00\n---\n\nText {number}.\n"
        )
    return bench_env(
        PUBLISHER_DATABASE_URL=url,
        PUBLISHER_WEB_URL=f"http://127.0.0.1:{port}",
        PUBLISHER_WEB_PORT=str(port),
        PUBLISHER_ADMIN_API_PER_MINUTE="100000",
    )


def cpu_seconds(pid: int) -> float:
    """User plus system CPU the process has used (Linux /proc): a request's own cost,
    which a loaded machine stretches less than its wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(base: str, key: str, paths: list[str], requests: int, pid: int) -> dict[str, dict]:
    import httpx

    found = {}
    headers = {"authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
        for path in paths:
            started = time.perf_counter()
            client.get(path)  # warm: the first answer reads files the later ones find cached
            print(f"  {path}: first answer in {time.perf_counter() - started:.2f} s", flush=True)
            times = []
            cpu = cpu_seconds(pid)
            for _ in range(requests):
                started = time.perf_counter()
                answer = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])
            cpu_ms = (cpu_seconds(pid) - cpu) * 1000 / requests
            times.sort()
            p95 = times[max(0, round(len(times) * 0.95) - 1)]
            found[path] = {"p50_ms": statistics.median(times), "p95_ms": p95, "cpu_ms": cpu_ms}
    return found


def run(url: str, root: Path, args: argparse.Namespace) -> dict[str, dict]:
    port = free_port()
    env = site(root, url, port, args.posts)
    started = time.perf_counter()
    fill_store(url, root, args.subscribers, args.campaigns, args.deliveries, NOW)
    print(f"  store written in {time.perf_counter() - started:.0f} s", flush=True)
    subprocess.run(
        [PUBLISHER, "staff", "add", "bench@example.org", "--role", "admin"],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )
    key = subprocess.run(
        [PUBLISHER, "staff", "key", "bench@example.org"],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    server = subprocess.Popen(
        [PUBLISHER, "web"], cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base)
        last = f"post:bench-post-{args.campaigns - 1}"
        paths = [
            "/admin/api/posts",
            "/admin/api/campaigns",
            f"/admin/api/campaigns?page={max(1, args.campaigns // 20)}",
            f"/admin/api/campaigns/{last}",
            "/admin/api/subscribers",
            "/admin/api/subscribers?status=active&page=100",
            f"/admin/api/subscribers?query=reader{args.subscribers // 2}@",
            "/admin/api/subscribers?query=reader 4242",
            "/admin/api/queue",
            "/admin/api/health",
            "/admin/api/staff",
            "/admin/api/audit",
        ]
        return measure(base, key, paths, args.requests, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_for(base: str) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/healthz", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("publisher web did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--campaigns", type=int, default=200)
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--url", help="PostgreSQL URL (default: a SQLite file in a temp folder)")
    parser.add_argument("--keep", type=Path, help="Build the site here and keep it.")
    args = parser.parse_args()
    with ExitStack() as stack:
        root = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        root.mkdir(parents=True, exist_ok=True)
        if args.url:
            _schema, url = stack.enter_context(postgres_schema(args.url, "admin_bench"))
        else:
            url = f"sqlite:///{root / 'data' / 'publisher.db'}"
        print(
            f"{'PostgreSQL' if args.url else 'SQLite'}: {args.subscribers:,} subscribers, "
            f"{args.campaigns} campaigns of {args.deliveries:,} deliveries",
            flush=True,
        )
        found = run(url, root, args)
    width = max(len(path) for path in found)
    for path, figures in found.items():
        verdict = "ok" if figures["p95_ms"] < BAR_MS else "OVER"
        print(
            f"{path:<{width}}  p50 {figures['p50_ms']:7.1f} ms  p95 {figures['p95_ms']:7.1f} ms  "
            f"server CPU {figures['cpu_ms']:6.1f} ms  {verdict}"
        )
    print(json.dumps(found))


if __name__ == "__main__":
    main()
