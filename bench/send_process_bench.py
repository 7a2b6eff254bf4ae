"""`publisher send SLUG` as a whole process against raw smtplib, into Postfix's smtp-sink.

    .venv/bin/python bench/send_process_bench.py [--size 20000] [--connections 4]
                                                 [--rounds 2] [--profile OUT]
                                                 [--compare SRC]

A SQLite store with SIZE active subscribers (send_bench's site). Each round, interleaved
so both see the same machine: (1) raw `smtplib` sending one prebuilt 32 KB message to SIZE
recipients over CONNECTIONS connections (threads), MAIL/RCPT/DATA per message, nothing
else; (2) `publisher send SLUG` in a fresh subprocess, timed from exec to exit: start-up,
loading the posts, rendering the newsletter, creating the campaign (SIZE delivery rows),
building, sending and recording every message. A fresh copy of the store each round. The
sink counts what it received. --profile records the last publisher run with py-spy
(collapsed stacks, or a flame graph for a .svg name). --compare SRC also runs, each round,
the `publisher` package found in the folder SRC (say an older commit's, from `git archive
COMMIT publisher | tar -x -C SRC`), so before and after are measured side by side.
"""

from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from send_bench import NOW, make_site

from common import PUBLISHER, SLUG, bench_env, find_sink, measured, relay_env, start_sink


def raw_smtplib(port: int, size: int, connections: int, message: bytes) -> tuple[float, float]:
    """Seconds (wall, CPU) to send `message` to `size` recipients over `connections`
    connections."""

    def worker(first: int) -> None:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for n in range(first, size, connections):
                smtp.sendmail("news@example.org", [f"reader{n}@example.org"], message)

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(connections)]
    started, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, time.process_time() - cpu


def publisher_send(
    root: Path, env: dict[str, str], profile: Path | None
) -> tuple[float, float, float]:
    """Seconds from exec to exit of `publisher send SLUG`, its CPU seconds and peak RSS (MB)."""
    command = [str(PUBLISHER), "send", SLUG, "--now", NOW.isoformat()]
    if profile:
        spy = shutil.which("py-spy", path=str(PUBLISHER.parent)) or "py-spy"
        kind = "flamegraph" if profile.suffix == ".svg" else "raw"
        command = [
            spy,
            "record",
            "--gil",
            "-o",
            str(profile),
            "-f",
            kind,
            "-r",
            "250",
            "--",
            *command,
        ]
    done = measured(command, root, env, timeout=900)
    return done.seconds, done.cpu, done.peak_mb


def sample_message(root: Path, env: dict[str, str]) -> bytes:
    """One newsletter message of the same post, built as publisher builds it (32 KB)."""
    done = subprocess.run(
        [str(PUBLISHER), "send", SLUG, "--to", "reader0@example.org", "--now", NOW.isoformat()],
        cwd=root,
        env={**env, "PUBLISHER_DELIVERY_TRANSPORT": "file"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    files = sorted((root / "data" / "outbox" / "new").glob("*.eml"))
    if done.returncode != 0 or not files:
        raise SystemExit(f"could not build a sample message:\n{done.stderr}")
    data = files[-1].read_bytes()
    shutil.rmtree(root / "data" / "outbox")
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sink", type=Path, default=find_sink())
    parser.add_argument("--profile", type=Path, help="py-spy output for the last round")
    parser.add_argument("--compare", type=Path, help="a folder holding another publisher")
    args = parser.parse_args()
    sink, port, kind = start_sink(args.sink)
    print(f"sink: {kind} on 127.0.0.1:{port}; {os.cpu_count()} CPUs; {args.size:,} recipients")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            template = Path(tmp) / "template"
            make_site(template, args.size)
            env = bench_env(**relay_env(port), PUBLISHER_DELIVERY_CONNECTIONS=str(args.connections))
            message = sample_message(template, env)
            print(f"message: {len(message) / 1024:.0f} KB")
            for round_number in range(1, args.rounds + 1):
                raw, raw_cpu = raw_smtplib(port, args.size, args.connections, message)
                root = Path(tmp) / f"round-{round_number}"
                last = round_number == args.rounds
                profile = args.profile.resolve() if args.profile and last else None
                runs = [("publisher send", env)]
                if args.compare:
                    runs.insert(0, ("compared", {**env, "PYTHONPATH": str(args.compare)}))
                for name, run_env in runs:
                    shutil.copytree(template, root, dirs_exist_ok=True)
                    spy = None if name == "compared" else profile
                    seconds, cpu, rss = publisher_send(root, run_env, spy)
                    print(
                        f"round {round_number}: raw smtplib {args.size / raw:,.0f} msg/s "
                        f"({raw:.1f} s, CPU {raw_cpu:.1f} s); {name} "
                        f"{args.size / seconds:,.0f} msg/s ({seconds:.1f} s, CPU {cpu:.1f} s, "
                        f"peak RSS {rss:.0f} MB); "
                        f"ratio {raw / seconds:.2f}x; load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
                    shutil.rmtree(root)
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()
