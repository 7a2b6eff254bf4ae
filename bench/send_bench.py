"""Sending throughput and memory, end to end with the ledger, into a fast SMTP sink.

    .venv/bin/python bench/send_bench.py [--sizes 10000,100000] [--connections 1,4]
                                         [--dkim off,on] [--sink PATH-TO-smtp-sink]

For each size N a SQLite store with N active subscribers is made; for each combination a
fresh child process creates the campaign (the recipient snapshot), sends every message
over `connections` SMTP connections, records each in the ledger, and reports messages per
second and its peak RSS. The sink is Postfix's smtp-sink in its own process (get it
without installing a mail server: `cd /tmp && apt-get download postfix && dpkg -x
postfix_*.deb /tmp/postfix-x`); without it, aiosmtpd in a separate process is used.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import (
    SLUG,
    bench_env,
    copy_sample_site,
    find_sink,
    peak_rss_mb,
    relay_env,
    start_sink,
    subscriber_rows,
    write_dkim_key,
)

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def make_site(root: Path, size: int) -> None:
    """The sample site (its posts and templates) with a SQLite store of `size` subscribers."""
    copy_sample_site(root)
    from sqlalchemy import insert

    from publisher.store import open_store
    from publisher.store.schema import subscribers

    with open_store("sqlite:///data/publisher.db", root) as store, store.transaction() as conn:
        for start in range(0, size, 10_000):
            conn.execute(
                insert(subscribers), subscriber_rows(start, min(size, start + 10_000), NOW)
            )


def child(root: Path, connections: int, dkim: bool) -> None:
    """One measured run in this process: create the campaign, send it, report as JSON."""
    import dataclasses

    from publisher.config import load_config
    from publisher.content.posts import load_posts
    from publisher.delivery.campaigns import run_campaign
    from publisher.mail.newsletter import render_post
    from publisher.store import Store, audience

    config = load_config(root / "config" / "site.toml", now=NOW)
    config = dataclasses.replace(
        config,
        delivery=dataclasses.replace(config.delivery, connections=connections),
        dkim=dataclasses.replace(
            config.dkim,
            domain="riverbend-psychiatry.example" if dkim else "",
            selector="bench" if dkim else "",
        ),
    )
    posts = load_posts(config)
    post = next(p for p in posts if p.slug == SLUG)
    newsletter = dataclasses.replace(
        render_post(config, post, posts), key=f"post:{SLUG}:{connections}:{dkim}"
    )
    store = Store.open(config)
    cpu = time.process_time()
    started = time.perf_counter()
    campaign, _ = audience.create_campaign(store, newsletter, "each", config.now)
    created = time.perf_counter()
    summary = run_campaign(config, store, campaign)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    store.close()
    print(
        json.dumps(
            {
                "sent": summary.counts.sent,
                "status": summary.status,
                "seconds": elapsed,
                "snapshot_seconds": created - started,
                "rate": summary.counts.sent / elapsed,
                "cpu_us_per_message": cpu / max(1, summary.counts.sent) * 1e6,
                "peak_rss_mb": peak_rss_mb(),
                "html_kb": len(newsletter.html.encode()) / 1024,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--connections", default="1,4")
    parser.add_argument("--dkim", default="off,on")
    parser.add_argument("--sink", type=Path, default=find_sink())
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        root, connections, dkim = args.child
        child(Path(root), int(connections), dkim == "on")
        return

    sink, port, kind = start_sink(args.sink)
    print(f"sink: {kind} on 127.0.0.1:{port}; {os.cpu_count()} CPUs")
    print(
        f"{'N':>8} {'conn':>4} {'dkim':>4} {'msg/s':>7} {'seconds':>8} {'peak RSS':>9} "
        f"{'CPU/msg':>8}  load"
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            key = Path(tmp) / "dkim.pem"
            write_dkim_key(key)
            env = bench_env(  # the sample site's config, pointed at the sink
                **relay_env(port), PUBLISHER_DKIM_PRIVATE_KEY_PATH=str(key)
            )
            for size in [int(s) for s in args.sizes.split(",")]:
                root = Path(tmp) / f"site-{size}"
                make_site(root, size)
                for connections in [int(c) for c in args.connections.split(",")]:
                    for dkim in args.dkim.split(","):
                        result = measure(root, connections, dkim, env)
                        print(
                            f"{size:>8,} {connections:>4} {dkim:>4} {result['rate']:>7,.0f} "
                            f"{result['seconds']:>8.1f} {result['peak_rss_mb']:>6.0f} MB "
                            f"{result['cpu_us_per_message']:>5.0f} us  {os.getloadavg()[0]:.1f}"
                            + ("" if result["sent"] == size else f"  ONLY {result['sent']} SENT"),
                            flush=True,
                        )
    finally:
        sink.terminate()
        sink.wait()


def measure(root: Path, connections: int, dkim: str, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(root), str(connections), dkim],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
