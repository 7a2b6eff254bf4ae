"""Crash safety with real processes: SIGKILL at random points, SIGTERM, two senders at once.

Each test runs `publisher send` as a subprocess against aiosmtpd on loopback (in this test
process) and checks what the server received against what the ledger says.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import insert, select

from publisher.store import open_store
from publisher.store.schema import deliveries, subscribers

from conftest import start_publisher, wait_for, write_post, write_relay_config

SLUG = "news"
NOW = "2026-03-02T15:00:00+00:00"


def prepare(root: Path, port: int, database_url: str, count: int, connections: int) -> list[str]:
    """A site with one live post, `count` active subscribers, and the relay on `port`."""
    write_relay_config(root, port, database_url, f"connections = {connections}", timeout=10)
    write_post(root, "news.md", "title: News\nslug: news\ndate: 2026-03-01 09:00")
    emails = [f"reader{n}@example.org" for n in range(count)]
    with open_store(database_url, root) as store, store.transaction() as conn:
        conn.execute(
            insert(subscribers),
            [
                dict(
                    email=e,
                    email_key=e,
                    name="",
                    status="active",
                    frequency="each",
                    source="test",
                    created_at=time_of(NOW),
                    bounce_count=0,
                )
                for e in emails
            ],
        )
    return emails


def time_of(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


def start(root: Path, *args: str) -> subprocess.Popen:
    return start_publisher(
        "send",
        *args,
        cwd=root,
        env={"PUBLISHER_NOW": NOW},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def ledger_rows(root: Path, database_url: str) -> list:
    with open_store(database_url, root) as store, store.read() as conn:
        return conn.execute(select(deliveries.c.state, deliveries.c.claimed_by)).all()


def test_sigkill_at_random_points_loses_nobody_and_duplicates_stay_bounded(
    site, smtp_server, tmp_path
):
    connections, kills = 4, 4
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    emails = prepare(site, smtp_server.port, url, 2000, connections)
    rng = random.Random(os.environ.get("PUBLISHER_TEST_SEED", "5"))
    args = [SLUG]
    for _ in range(kills):
        process = start(site, *args)
        target = len(smtp_server.received) + rng.randint(50, 350)
        wait_for(
            lambda t=target, p=process: len(smtp_server.received) >= t or p.poll() is not None,
            timeout=30,
            interval=0.005,
        )
        time.sleep(rng.random() * 0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert process.returncode == -signal.SIGKILL, process.stderr.read()
        args = ["--resume"]
    final = start(site, "--resume")
    out, err = final.communicate(timeout=60)
    assert final.returncode == 0, err
    assert "done: 2,000 of 2,000 sent" in out

    received = Counter(smtp_server.recipients())
    duplicates = sum(received.values()) - len(received)
    assert set(received) == set(emails)  # nobody lost
    assert duplicates <= connections * kills  # at most the messages in flight per kill
    states = Counter(state for state, _ in ledger_rows(site, url))
    assert states == {"sent": 2000}


def test_sigterm_finishes_in_flight_messages_and_exits_0_with_a_summary(
    site, smtp_server, tmp_path
):
    url = f"sqlite:///{tmp_path / 'term.db'}"
    prepare(site, smtp_server.port, url, 300, 2)
    smtp_server.delay = 0.01
    process = start(site, SLUG)
    wait_for(lambda: len(smtp_server.received) >= 20, timeout=30, interval=0.005)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    sent = len(smtp_server.received)
    assert f"stopped: {sent:,} of 300 sent; run again to resume" in out
    assert "SIGTERM: finishing the messages in flight" in err
    states = Counter(state for state, _ in ledger_rows(site, url))
    assert states == {"sent": sent, "queued": 300 - sent}  # nothing left `sending`

    smtp_server.delay = 0
    done = start(site, "--resume")
    out, _ = done.communicate(timeout=30)
    assert done.returncode == 0 and "done: 300 of 300 sent" in out
    assert sorted(Counter(smtp_server.recipients()).values()) == [1] * 300


def test_two_processes_split_one_campaign_without_overlap(site, smtp_server, database_url):
    emails = prepare(site, smtp_server.port, database_url, 1000, 2)
    smtp_server.delay = 0.002
    processes = [start(site, SLUG) for _ in range(2)]
    for process in processes:
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
    received = Counter(smtp_server.recipients())
    assert set(received) == set(emails)
    assert max(received.values()) == 1  # overlap = 0
    rows = ledger_rows(site, database_url)
    assert Counter(state for state, _ in rows) == {"sent": 1000}
    assert len({worker for _, worker in rows}) == 2  # both processes sent a share
