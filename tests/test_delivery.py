"""The delivery ledger and campaign runs, on real SQLite/PostgreSQL and aiosmtpd on loopback."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from publisher.store import ledger, open_store, unsubscribe
from publisher.store.schema import subscribers

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@dataclass(frozen=True)
class FakeNewsletter:  # the ledger only reads these fields
    key: str
    kind: str = "post"
    subject: str = "Hello"
    html: str = "<p>Hi</p>"
    text: str = "Hi"


def add_subscribers(store, count: int, frequency: str = "each", start: int = 0) -> list[str]:
    """Bulk-insert active subscribers r<n>@example.org; returns their addresses."""
    emails = [f"r{n}@example.org" for n in range(start, start + count)]
    rows = [
        dict(
            email=email,
            email_key=email,
            name=f"Reader {n}",
            status="active",
            frequency=frequency,
            source="test",
            created_at=NOW,
            bounce_count=0,
        )
        for n, email in enumerate(emails, start)
    ]
    with store.transaction() as conn:
        conn.execute(insert(subscribers), rows)
    return emails


@pytest.fixture
def store(database_url, tmp_path: Path):
    opened = open_store(database_url, tmp_path)
    yield opened
    opened.close()


# --- The ledger ---------------------------------------------------------------------


def test_campaign_snapshot_takes_active_subscribers_of_the_frequency(store):
    add_subscribers(store, 5, "each")
    add_subscribers(store, 3, "digest", start=5)
    campaign, created = ledger.create_campaign(store, FakeNewsletter("post:a"), "each", NOW)
    assert created and campaign.total == 5 and campaign.status == "sending"
    add_subscribers(store, 2, "each", start=8)  # after creation: not in the snapshot
    assert ledger.counts(store, campaign.id).queued == 5
    assert ledger.count_recipients(store, "each") == 7

    again, created = ledger.create_campaign(
        store, FakeNewsletter("post:a", subject="New"), "each", NOW
    )
    assert not created and again.id == campaign.id and again.subject == "Hello"


def test_concurrent_creation_makes_one_campaign(store):
    add_subscribers(store, 50)
    results = []

    def create():
        results.append(ledger.create_campaign(store, FakeNewsletter("post:race"), "each", NOW))

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(created for _, created in results) == [False] * 5 + [True]
    assert {campaign.id for campaign, _ in results} == {results[0][0].id}
    assert ledger.counts(store, results[0][0].id).total == 50


def test_claims_split_work_without_overlap_and_skip_the_unsubscribed(store):
    emails = add_subscribers(store, 30)
    campaign, _ = ledger.create_campaign(store, FakeNewsletter("post:b"), "each", NOW)
    unsubscribe(store, 3, now=NOW)  # the subscriber with id 3 leaves before sending
    seen: list[int] = []
    lock = threading.Lock()

    def worker(name: str):
        while batch := ledger.claim(store, campaign.id, name, 4, NOW):
            with lock:
                seen.extend(c.id for c in batch)
            for claimed in batch:
                ledger.mark_sent(store, claimed.id, 250, "ok", NOW)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = ledger.counts(store, campaign.id)
    assert len(seen) == len(set(seen)) == 29
    assert (counts.sent, counts.skipped, counts.unfinished) == (29, 1, 0)
    assert len(emails) == 30


def test_deferred_rows_wait_for_their_time_and_leases_expire(store):
    add_subscribers(store, 3)
    campaign, _ = ledger.create_campaign(store, FakeNewsletter("post:c"), "each", NOW)
    first, second, third = ledger.claim(store, campaign.id, "w", 10, NOW)
    ledger.mark_deferred(store, first, 451, "busy", NOW + timedelta(minutes=10))
    ledger.mark_failed(store, second, 550, "no such user")
    # `third` stays in `sending`: its worker died
    assert ledger.claim(store, campaign.id, "w", 10, NOW + timedelta(minutes=5)) == []
    assert (
        ledger.reclaim(store, campaign.id, NOW + timedelta(minutes=5), timedelta(minutes=10)) == 0
    )
    assert (
        ledger.reclaim(store, campaign.id, NOW + timedelta(minutes=11), timedelta(minutes=10)) == 1
    )
    later = ledger.claim(store, campaign.id, "w", 10, NOW + timedelta(minutes=11))
    assert [c.id for c in later] == [third.id]  # queued first, then due deferred rows
    again = ledger.claim(store, campaign.id, "w", 10, NOW + timedelta(minutes=11))
    assert [(c.id, c.attempts) for c in again] == [(first.id, 1)]
    assert ledger.next_attempt(store, campaign.id) is None


def test_claims_of_a_dead_local_process_are_freed_at_once(store):
    import subprocess
    import sys

    add_subscribers(store, 2)
    campaign, _ = ledger.create_campaign(store, FakeNewsletter("post:d"), "each", NOW)
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = f"{ledger.worker_id().rpartition(':')[0]}:{child.stdout.strip()}"
    ledger.claim(store, campaign.id, dead, 1, NOW)
    ledger.claim(store, campaign.id, "elsewhere:1", 1, NOW)  # another host: lease applies
    assert ledger.reclaim(store, campaign.id, NOW, timedelta(minutes=10)) == 1
    assert ledger.counts(store, campaign.id).queued == 1


def test_hourly_counts_and_campaign_status(store):
    add_subscribers(store, 3)
    campaign, _ = ledger.create_campaign(
        store, FakeNewsletter("digest:2026-w10", "digest"), "each", NOW
    )
    for n, claimed in enumerate(ledger.claim(store, campaign.id, "w", 10, NOW)):
        ledger.mark_sent(store, claimed.id, 250, "ok", NOW - timedelta(minutes=90 - 40 * n))
    assert ledger.sent_since(store, NOW - timedelta(hours=1)) == 2
    assert ledger.oldest_sent_since(store, NOW - timedelta(hours=1)) == NOW - timedelta(minutes=50)
    ledger.set_status(store, campaign.id, "sending", NOW)
    ledger.set_status(store, campaign.id, "paused", NOW + timedelta(hours=1), "relay down")
    ledger.set_status(store, campaign.id, "sending", NOW + timedelta(hours=2))
    ledger.set_status(store, campaign.id, "done", NOW + timedelta(hours=3))
    (listed,) = ledger.list_campaigns(store)
    assert listed.started_at == NOW and listed.finished_at == NOW + timedelta(hours=3)
    assert listed.status == "done" and listed.note == ""
    assert ledger.list_campaigns(store, unfinished=True) == []
    assert ledger.all_counts(store) == {campaign.id: ledger.Counts(sent=3)}
