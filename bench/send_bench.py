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
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SINK = Path("/tmp/postfix-x/usr/sbin/smtp-sink")
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
SLUG = "sleep-and-mood-why-your-nights-shape-your-days"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sink(path: Path) -> tuple[subprocess.Popen, int, str]:
    port = free_port()
    if path.exists():
        env = {**os.environ, "LD_LIBRARY_PATH": str(path.parent.parent / "lib" / "postfix")}
        command = [str(path), "-u", "nobody", "-c", f"127.0.0.1:{port}", "1000"]
        kind = "smtp-sink"
    else:
        env = dict(os.environ)
        command = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
        kind = "aiosmtpd"
    sink = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return sink, port, kind
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the SMTP sink did not start on port {port}")


def make_site(root: Path, size: int) -> None:
    """The sample site (its posts and templates) with a SQLite store of `size` subscribers."""
    for name in ("config", "posts", "templates"):
        shutil.copytree(REPO / name, root / name)
    from sqlalchemy import insert

    from publisher.store import open_store
    from publisher.store.schema import subscribers

    store = open_store("sqlite:///data/publisher.db", root)
    with store.transaction() as conn:
        for start in range(0, size, 10_000):
            conn.execute(
                insert(subscribers),
                [
                    dict(
                        email=f"reader{n}@example.org",
                        email_key=f"reader{n}@example.org",
                        name=f"Reader {n}",
                        status="active",
                        frequency="each",
                        source="bench",
                        created_at=NOW,
                        bounce_count=0,
                    )
                    for n in range(start, min(size, start + 10_000))
                ],
            )
    store.close()


def make_key(path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def child(root: Path, connections: int, dkim: bool) -> None:
    """One measured run in this process: create the campaign, send it, report as JSON."""
    import dataclasses

    from publisher.config import load_config
    from publisher.content.posts import load_posts
    from publisher.delivery.campaigns import run_campaign
    from publisher.mail.newsletter import render_post
    from publisher.store import Store, ledger

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
    campaign, _ = ledger.create_campaign(store, newsletter, "each", config.now)
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
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "html_kb": len(newsletter.html.encode()) / 1024,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--connections", default="1,4")
    parser.add_argument("--dkim", default="off,on")
    parser.add_argument("--sink", type=Path, default=SINK)
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
            make_key(key)
            env = {  # the sample site's config, pointed at the sink
                **os.environ,
                "PUBLISHER_SECRET_KEY": "bench-secret-key",
                "PUBLISHER_DELIVERY_TRANSPORT": "smtp",
                "PUBLISHER_SMTP_HOST": "127.0.0.1",
                "PUBLISHER_SMTP_PORT": str(port),
                "PUBLISHER_SMTP_SECURITY": "none",
                "PUBLISHER_SMTP_USERNAME": "",
                "PUBLISHER_SMTP_MAX_PER_CONNECTION": "1000",
                "PUBLISHER_DKIM_PRIVATE_KEY_PATH": str(key),
            }
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
