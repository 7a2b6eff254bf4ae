"""A campaign to SIZE subscribers on PostgreSQL, sent by two processes at once.

    .venv/bin/python bench/scale_bench.py [--size 1000000] [--processes 2]
        [--connections 4] [--database-url postgresql://postgres@127.0.0.1:5432/test]

A fresh PostgreSQL schema (dropped afterwards) gets SIZE active subscribers by COPY. Then,
as two machines would: process one is `publisher send SLUG`, which creates the campaign
(the recipient snapshot: SIZE delivery rows) and starts sending; as soon as the campaign
exists, process two, `publisher send --resume`, joins and the two split the queue by
claims (FOR UPDATE SKIP LOCKED). With --processes 1 only process one runs (the baseline).

Reported: import time, the time until the campaign exists (from process one's exec:
start-up, rendering and the snapshot), messages per second of both together (SIZE over
the time from the campaign's creation to the last exit), each process's peak RSS, and the
proof: every delivery `sent` in the ledger, and smtp-sink (with -c, counting accepted
messages; each has one recipient) received exactly SIZE. Every recipient accepted at least
once (the ledger marks `sent` only after the relay's 250) and SIZE acceptances in all
means none twice: zero lost, zero duplicates.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import (
    PUBLISHER,
    SLUG,
    bench_env,
    copy_sample_site,
    copy_subscribers,
    find_sink,
    postgres_schema,
    relay_env,
    start_sink,
)

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
TIMEOUT = 3 * 3600  # seconds: a backstop for each process


def sink_messages(counters: Path) -> int:
    """The last `mesg=` counter smtp-sink printed."""
    text = counters.read_bytes()[-4096:].decode("ascii", "replace")
    found = re.findall(r"mesg=(\d+)", text)
    return int(found[-1]) if found else 0


def ledger_state(url: str) -> tuple[int | None, float | None, dict[str, int]]:
    """(campaign total, seconds its snapshot took per the database, deliveries per state)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sqlalchemy.text("SELECT id, total FROM campaigns")).first()
            if row is None:
                return None, None, {}
            states = conn.execute(
                sqlalchemy.text(
                    "SELECT state, count(*) FROM deliveries WHERE campaign_id = :id GROUP BY state"
                ),
                {"id": row.id},
            ).all()
            return row.total, None, dict(states)
    finally:
        engine.dispose()


def campaign_exists(url: str) -> bool:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sqlalchemy.text("SELECT count(*) FROM campaigns")).scalar() > 0
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--processes", type=int, choices=[1, 2], default=2)
    parser.add_argument("--connections", type=int, default=4, help="per process")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    with postgres_schema(args.database_url, "scale_bench") as (schema, url):
        run(args, schema, url)


def run(args: argparse.Namespace, schema: str, url: str) -> None:
    """Import into `schema`, send with one or two processes, report; exit 1 on a failure."""
    tmp = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    sink, port, _kind = start_sink(find_sink(), counters=tmp / "sink-counters")
    processes: list[tuple[str, subprocess.Popen, float]] = []
    try:
        root = copy_sample_site(tmp / "site")
        imported = copy_subscribers(root, url, args.size, NOW)
        print(
            f"{args.size:,} subscribers imported by COPY in {imported:.1f} s "
            f"({args.size / imported:,.0f} rows/s); schema {schema}",
            flush=True,
        )
        env = bench_env(
            **relay_env(port),
            PUBLISHER_DATABASE_URL=url,
            PUBLISHER_DELIVERY_CONNECTIONS=str(args.connections),
        )
        now = ["--now", NOW.isoformat()]

        def start(name: str, command: list[str]) -> None:
            with open(tmp / f"{name}.log", "w") as log:
                process = subprocess.Popen(
                    [str(PUBLISHER), *command, *now],
                    cwd=root,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            processes.append((name, process, time.perf_counter()))

        started = time.perf_counter()
        start("send", ["send", SLUG])
        while not campaign_exists(url):
            if processes[0][1].poll() is not None or time.perf_counter() - started > TIMEOUT:
                raise SystemExit(f"no campaign: {(tmp / 'send.log').read_text()}")
            time.sleep(0.2)
        created = time.perf_counter()
        print(f"campaign created {created - started:.1f} s after `publisher send` started")
        if args.processes == 2:
            start("resume", ["send", "--resume"])
        results = {}
        for name, process, began in processes:
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            results[name] = (time.perf_counter() - began, usage.ru_maxrss / 1024, process)
        finished = time.perf_counter()
        time.sleep(0.5)  # the sink prints its counters when a session ends
        received = sink_messages(tmp / "sink-counters")
        total, _, states = ledger_state(url)
    finally:
        for _, process, _ in processes:
            if process.poll() is None:
                process.kill()
        sink.terminate()
        sink.wait()

    sending = finished - created
    for name, (seconds, rss, process) in results.items():
        last = (tmp / f"{name}.log").read_text().strip().splitlines()[-1:]
        print(
            f"  {name}: exit {process.returncode}, {seconds:.1f} s, peak RSS {rss:.0f} MB; "
            f"{last[0] if last else ''}"
        )
    print(
        f"  {args.size:,} messages in {sending:.1f} s after the campaign existed: "
        f"{args.size / sending:,.0f} msg/s with {args.processes} process(es) x "
        f"{args.connections} connections; {finished - started:.1f} s in all"
    )
    print(f"  ledger: total {total}, states {states}; the sink received {received:,} messages")
    ok = (
        total == args.size
        and states == {"sent": args.size}
        and received == args.size
        and all(r[2].returncode == 0 for r in results.values())
    )
    print("  OK: zero lost, zero duplicates" if ok else "  FAILED")
    shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
