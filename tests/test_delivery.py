"""The delivery ledger and campaign runs, on real SQLite/PostgreSQL and aiosmtpd on loopback."""

from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from publisher.delivery.marks import SentMarks
from publisher.errors import StoreError
from publisher.store import audience, ledger, open_store, unsubscribe
from publisher.store.schema import subscribers

from conftest import free_port, insert_subscriber, run_publisher, write_config, write_relay_config

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
    campaign, created = audience.create_campaign(store, FakeNewsletter("post:a"), "each", NOW)
    assert created and campaign.total == 5 and campaign.status == "sending"
    add_subscribers(store, 2, "each", start=8)  # after creation: not in the snapshot
    assert ledger.counts(store, campaign.id).queued == 5
    assert sum(audience.reader_choices(store, "each").values()) == 7

    again, created = audience.create_campaign(
        store, FakeNewsletter("post:a", subject="New"), "each", NOW
    )
    assert not created and again.id == campaign.id and again.subject == "Hello"


def test_concurrent_creation_makes_one_campaign(store):
    add_subscribers(store, 50)
    results = []

    def create():
        results.append(audience.create_campaign(store, FakeNewsletter("post:race"), "each", NOW))

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
    campaign, _ = audience.create_campaign(store, FakeNewsletter("post:b"), "each", NOW)
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


def test_sent_marks_of_waiting_workers_share_a_commit_and_each_returns_once_committed(store):
    add_subscribers(store, 4)
    campaign, _ = audience.create_campaign(store, FakeNewsletter("post:g"), "each", NOW)
    claimed = ledger.claim(store, campaign.id, "w", 4, NOW)
    gate = threading.Lock()  # held: the first committer waits for it, the others queue
    marks = SentMarks(store, gate)
    returned: list[int] = []

    def worker(delivery_id: int) -> None:
        with store.connect() as conn:
            marks.record(conn, delivery_id, 250, "ok", NOW)
        returned.append(delivery_id)

    gate.acquire()
    first = threading.Thread(target=worker, args=(claimed[0].id,))
    first.start()
    wait_until(lambda: marks.committing)
    others = [threading.Thread(target=worker, args=(c.id,)) for c in claimed[1:]]
    for thread in others:
        thread.start()
    wait_until(lambda: len(marks.batch.marks) == 3)
    assert returned == [] and ledger.counts(store, campaign.id).sent == 0  # none committed
    gate.release()
    for thread in [first, *others]:
        thread.join()
    assert sorted(returned) == sorted(c.id for c in claimed)
    assert ledger.counts(store, campaign.id).sent == 4
    assert marks.commits == 2  # the first mark alone, then the three that waited for it


def test_a_failed_group_commit_raises_in_every_worker_of_the_group(store):
    class Broken:
        @contextmanager
        def connect(self):
            raise StoreError("test.db: database error: disk I/O error")
            yield

    marks = SentMarks(Broken())
    with pytest.raises(StoreError, match="disk I/O"):
        marks.record(None, 1, 250, "ok", NOW)
    assert not marks.committing  # the next mark tries again


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_deferred_rows_wait_for_their_time_and_leases_expire(store):
    add_subscribers(store, 3)
    campaign, _ = audience.create_campaign(store, FakeNewsletter("post:c"), "each", NOW)
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
    campaign, _ = audience.create_campaign(store, FakeNewsletter("post:d"), "each", NOW)
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
    campaign, _ = audience.create_campaign(
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


# --- Campaign runs ------------------------------------------------------------------

HTML = (
    "<html><body><p>Hi __PUBLISHER_NAME__,</p><p>News.</p>"
    '<a href="__PUBLISHER_UNSUBSCRIBE_URL__">Unsubscribe</a></body></html>'
)
TEXT = "Hi __PUBLISHER_NAME__,\n\nNews.\n\nUnsubscribe: __PUBLISHER_UNSUBSCRIBE_URL__\n"


def relay_config(root: Path, port: int, database_url: str, extra: str = "", now=NOW):
    from publisher.config import load_config

    delivery = f'envelope_from = "bounces@example.org"\n{extra}'
    write_relay_config(root, port, database_url, delivery, timeout=5)
    return load_config(root / "config" / "site.toml", now=now)


def newsletter(key: str = "post:hello"):
    from publisher.mail.message import Newsletter

    return Newsletter(key=key, kind="post", subject="Hello readers", html=HTML, text=TEXT)


def start_campaign(store, config, count: int, key: str = "post:hello"):
    emails = add_subscribers(store, count)
    campaign, _ = audience.create_campaign(store, newsletter(key), "each", config.now)
    return campaign, emails


def run(config, store, campaign, **options):
    from publisher.delivery.campaigns import run_campaign

    return run_campaign(config, store, ledger.get_campaign(store, campaign.key), **options)


def test_campaign_reaches_every_subscriber_once_over_parallel_connections(
    site, store, smtp_server, database_url
):
    config = relay_config(site, smtp_server.port, database_url, "connections = 3")
    campaign, emails = start_campaign(store, config, 120)
    summary = run(config, store, campaign)

    assert summary.status == "done" and summary.sent == 120
    assert summary.line().startswith("post:hello: done: 120 of 120 sent")
    assert sorted(smtp_server.recipients()) == sorted(emails)
    first = smtp_server.received[0]
    assert first.envelope_from == "bounces@example.org"
    message = first.message
    assert message["Subject"] == "Hello readers"
    assert message["To"].addresses[0].addr_spec == first.recipients[0]
    assert "/unsubscribe?token=" in message["List-Unsubscribe"]
    sent = ledger.get_campaign(store, "post:hello")
    assert f"&campaign={sent.id}>" in message["List-Unsubscribe"]  # for its report
    assert sent.finished_at is not None
    again = run(config, store, campaign)  # nothing left: sends nothing
    assert again.sent == 0 and len(smtp_server.received) == 120


def test_unsubscribed_before_their_message_are_skipped(site, store, smtp_server, database_url):
    config = relay_config(site, smtp_server.port, database_url)
    campaign, emails = start_campaign(store, config, 10)
    unsubscribe(store, 4, now=NOW)
    summary = run(config, store, campaign)
    assert (summary.counts.sent, summary.counts.skipped, summary.status) == (9, 1, "done")
    assert emails[3] not in smtp_server.recipients()


def test_permanent_failure_is_recorded_with_its_code_and_counts_a_bounce(
    site, store, smtp_server, database_url
):
    from publisher.store import get
    from publisher.store.schema import deliveries

    config = relay_config(site, smtp_server.port, database_url, "bounce_limit = 1")
    campaign, emails = start_campaign(store, config, 5)
    smtp_server.reject.add(emails[1])
    summary = run(config, store, campaign)
    assert (summary.counts.sent, summary.counts.failed, summary.status) == (4, 1, "done")
    with store.read() as conn:
        row = conn.execute(deliveries.select().where(deliveries.c.state == "failed")).one()
    assert row.smtp_code == 550 and "No such user" in row.smtp_reply
    bounced = get(store, row.subscriber_id)
    assert bounced.email == emails[1] and bounced.status == "bounced" and bounced.bounce_count == 1


def test_deferred_then_delivered_on_a_later_run_then_failed_after_max_attempts(
    site, store, smtp_server, database_url
):
    config = relay_config(site, smtp_server.port, database_url, "max_attempts = 2")
    campaign, emails = start_campaign(store, config, 4)
    smtp_server.defer.update({emails[0], emails[1]})
    first = run(config, store, campaign)
    assert (first.counts.sent, first.counts.deferred, first.status) == (2, 2, "waiting")
    assert NOW + timedelta(minutes=10) <= first.next_attempt < NOW + timedelta(minutes=11)
    assert "2 deferred, next attempt 2026-03-02 09:10" in first.line()  # Chicago time

    soon = relay_config(
        site, smtp_server.port, database_url, "max_attempts = 2", NOW + timedelta(minutes=5)
    )
    assert run(config=soon, store=store, campaign=campaign).sent == 0  # not due yet

    smtp_server.defer.discard(emails[0])
    later = relay_config(
        site, smtp_server.port, database_url, "max_attempts = 2", NOW + timedelta(minutes=11)
    )
    second = run(later, store, campaign)
    assert (second.counts.sent, second.counts.failed, second.status) == (3, 1, "done")
    assert sorted(smtp_server.recipients()) == sorted(emails[:1] + emails[2:])


def test_relay_down_pauses_without_failing_anyone_then_resumes(site, store, database_url):
    from aiosmtpd.controller import Controller

    from conftest import SmtpServer, _Handler, free_port

    port = free_port()
    config = relay_config(site, port, database_url, "connections = 2")
    campaign, emails = start_campaign(store, config, 6)
    stop = threading.Event()
    paused = run(config, store, campaign, stop=stop)
    assert not stop.is_set()
    assert paused.status == "paused" and "cannot connect to 127.0.0.1" in paused.note
    assert paused.counts.queued == 6 and paused.counts.failed == 0
    stored = ledger.get_campaign(store, campaign.key)
    assert stored.status == "paused" and "cannot connect" in stored.note
    assert "paused: cannot connect" in paused.line() and "run again to resume" in paused.line()

    server = SmtpServer("127.0.0.1", port)
    controller = Controller(_Handler(server), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        from publisher.delivery.campaigns import resume_all

        (resumed,) = resume_all(config, store)
    finally:
        controller.stop()
    assert resumed.status == "done" and sorted(server.recipients()) == sorted(emails)
    assert ledger.get_campaign(store, campaign.key).note == ""


def slow_relay_config(root: Path, port: int, database_url: str, smtp: str, connections: int):
    """A relay config with a short `[smtp] timeout` (1 s) and the `smtp` keys given."""
    from publisher.config import load_config

    delivery = f'envelope_from = "bounces@example.org"\nconnections = {connections}'
    write_relay_config(root, port, database_url, delivery, smtp=smtp, timeout=1)
    return load_config(root / "config" / "site.toml", now=NOW)


def test_a_relay_answering_the_end_of_a_message_after_the_timeout_gets_one_copy_each(
    site, store, smtp_server, database_url, monkeypatch
):
    from publisher.delivery import campaigns

    # Workers give their claims back and claim afresh every half lease: here after each message.
    monkeypatch.setattr(campaigns, "LEASE", timedelta(seconds=1))
    smtp_server.delay = 2  # the answer to the final dot comes after [smtp] timeout
    config = slow_relay_config(site, smtp_server.port, database_url, "", connections=1)
    campaign, emails = start_campaign(store, config, 3)
    summary = run(config, store, campaign)
    assert summary.status == "done" and summary.counts.sent == 3, summary.line()
    assert sorted(smtp_server.recipients()) == sorted(emails)  # exactly one copy each


def test_a_relay_that_never_answers_the_end_of_messages_pauses_the_campaign(
    site, store, smtp_server, database_url
):
    smtp_server.delay = 60  # never, as far as the run can tell
    smtp = "data_timeout = 0.5"
    config = slow_relay_config(site, smtp_server.port, database_url, smtp, connections=1)
    campaign, emails = start_campaign(store, config, 6)
    paused = run(config, store, campaign)
    assert paused.status == "paused" and "did not answer 3 messages in a row" in paused.note
    counts = paused.counts
    assert (counts.unknown, counts.queued, counts.deferred, counts.failed) == (3, 3, 0, 0)
    assert "3 unknown: no answer from the relay, not sent again" in paused.line()
    unknown = [
        email for email, (state, _) in delivery_rows(store, campaign).items() if state == "unknown"
    ]
    assert len(unknown) == 3

    listing = run_publisher("campaigns", cwd=site)
    header, row = listing.stdout.splitlines()[:2]
    columns = dict(zip(header.split()[:9], row.split()[:9], strict=True))
    assert columns == {
        **dict(campaign="post:hello", status="paused", total="6"),
        **dict(sent="0", failed="0", deferred="0", skipped="0", unknown="3", bounced="0"),
    }, listing.stdout

    smtp_server.delay = 0
    resumed = run(config, store, campaign)
    assert resumed.status == "done" and (resumed.counts.sent, resumed.counts.unknown) == (3, 3)
    received = smtp_server.recipients()  # the slow answers may still come in: never twice
    assert sorted(set(received) - set(unknown)) == sorted(set(emails) - set(unknown))
    assert len(received) == len(set(received))


def delivery_rows(store, campaign) -> dict[str, tuple[str, str]]:
    """email -> (state, reply) of each delivery of `campaign`."""
    from sqlalchemy import select

    from publisher.store.schema import deliveries

    query = (
        select(subscribers.c.email, deliveries.c.state, deliveries.c.smtp_reply)
        .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
        .where(deliveries.c.campaign_id == campaign.id)
    )
    with store.read() as conn:
        return {email: (state, reply) for email, state, reply in conn.execute(query)}


def test_a_recipient_that_cannot_be_sent_fails_alone(site, store, smtp_server, database_url):
    """Issue 10: josé@... (no SMTPUTF8) and names holding LF, NUL or ESC, stored before
    the intakes refused them, used to halt the campaign at that person on every run."""
    config = relay_config(site, smtp_server.port, database_url, "connections = 2")
    good = add_subscribers(store, 3)
    bad = {
        "josé@example.org": "José",
        "lf@example.org": "Evil\nBcc: victim@example.org",
        "nul@example.org": "Nul\x00",
        "esc@example.org": "Esc\x1b[31m",
    }
    if not store.is_sqlite:  # PostgreSQL text cannot hold NUL at all
        del bad["nul@example.org"]
    for email, name in bad.items():
        insert_subscriber(store, email, name)
    good += add_subscribers(store, 3, start=3)
    campaign, _ = audience.create_campaign(store, newsletter(), "each", NOW)

    summary = run(config, store, campaign)
    assert (summary.status, summary.problem) == ("done", None)
    assert (summary.counts.sent, summary.counts.failed) == (6, len(bad))
    assert sorted(smtp_server.recipients()) == sorted(good)
    rows = delivery_rows(store, campaign)
    assert "needs SMTPUTF8" in rows["josé@example.org"][1]
    for email in bad.keys() - {"josé@example.org"}:
        assert rows[email][0] == "failed" and "control character" in rows[email][1]


def test_a_campaign_that_cannot_be_built_pauses_and_the_others_go_on(
    site, store, smtp_server, database_url
):
    """Issue 10: a stored subject with a line break failed every pass and blocked every
    later campaign. Now it pauses with its reason, and no new one is ever created."""
    from publisher.delivery.campaigns import create_campaign, resume_all
    from publisher.mail.message import Newsletter, UnsafeHeaderError

    config = relay_config(site, smtp_server.port, database_url)
    emails = add_subscribers(store, 4)
    broken = Newsletter("post:broken", "post", "Line\nbreak", HTML, TEXT)
    audience.create_campaign(store, broken, "each", NOW)  # as stored before the check
    audience.create_campaign(store, newsletter("post:fine"), "each", NOW)

    first, second = resume_all(config, store)
    assert (first.key, first.status) == ("post:broken", "paused")
    assert "subject contains a line break" in first.note and first.problem is not None
    assert (second.key, second.status) == ("post:fine", "done")
    assert sorted(smtp_server.recipients()) == sorted(emails)
    assert "subject contains a line break" in ledger.get_campaign(store, "post:broken").note
    again = resume_all(config, store)
    assert [s.key for s in again] == ["post:broken"] and again[0].status == "paused"

    with pytest.raises(UnsafeHeaderError, match="subject contains a line break"):
        create_campaign(config, store, Newsletter("post:new", "post", "A\rB", HTML, TEXT), "each")
    assert ledger.get_campaign(store, "post:new") is None


def test_an_unexpected_error_in_a_worker_is_one_line(site, store, database_url):
    from publisher.errors import DeliveryError

    def broken_transport(config):
        raise RuntimeError("no transport today")

    config = relay_config(site, free_port(), database_url)
    campaign, _ = start_campaign(store, config, 2)
    with pytest.raises(DeliveryError, match="sending stopped: RuntimeError: no transport today"):
        run(config, store, campaign, transport_factory=broken_transport)


def test_rate_limit_holds_across_connections(site, store, smtp_server, database_url):
    config = relay_config(
        site, smtp_server.port, database_url, "connections = 3\nrate_per_second = 20"
    )
    campaign, _ = start_campaign(store, config, 50)
    assert run(config, store, campaign).sent == 50
    times = sorted(r.at for r in smtp_server.received)
    windows: dict[int, int] = {}
    for at in times:
        windows[int(at - times[0])] = windows.get(int(at - times[0]), 0) + 1
    assert max(windows.values()) <= 22  # 20 per second, with a little tolerance
    assert times[-1] - times[0] >= 49 / 20 * 0.9


def test_hourly_cap_counts_earlier_runs_and_returns_when_told_not_to_wait(
    site, store, smtp_server, database_url
):
    config = relay_config(site, smtp_server.port, database_url, "max_per_hour = 5\nconnections = 2")
    campaign, _ = start_campaign(store, config, 8)
    stop = threading.Event()
    first = run(config, store, campaign, wait_hourly=False, stop=stop)
    assert (first.counts.sent, first.status) == (5, "waiting")
    assert not stop.is_set()  # the caller's stop means a signal, nothing else
    assert "hourly limit reached; continues after 10:00" in first.line()
    assert run(config, store, campaign, wait_hourly=False).sent == 0
    later = relay_config(
        site,
        smtp_server.port,
        database_url,
        "max_per_hour = 5",
        NOW + timedelta(hours=1, seconds=1),
    )
    assert run(later, store, campaign, wait_hourly=False).status == "done"
    assert len(smtp_server.received) == 8


def test_stop_event_finishes_messages_in_flight(site, store, smtp_server, database_url):
    config = relay_config(site, smtp_server.port, database_url, "connections = 2")
    campaign, _ = start_campaign(store, config, 40)
    smtp_server.delay = 0.05
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    summary = run(config, store, campaign, stop=stop)
    assert summary.status == "stopped" and 0 < summary.sent < 40
    assert summary.counts.sent == len(smtp_server.received) and summary.counts.sending == 0
    assert f"stopped: {summary.sent} of 40 sent; run again to resume" in summary.line()
    smtp_server.delay = 0
    assert run(config, store, campaign).status == "done"
    assert len(smtp_server.received) == 40


def test_file_transport_writes_one_message_per_subscriber(site, store, database_url):
    from publisher.config import load_config

    write_config(site, f'[database]\nurl = "{database_url}"\n')
    config = load_config(site / "config" / "site.toml", now=NOW)
    campaign, _ = start_campaign(store, config, 7)
    assert run(config, store, campaign).status == "done"
    assert len(list((site / "data" / "outbox" / "new").glob("*.eml"))) == 7


# --- Commands -----------------------------------------------------------------------


def cli(*args: str):
    from click.testing import CliRunner

    from publisher.cli import main

    return CliRunner().invoke(main, [*args, "--now", NOW.isoformat()])


@pytest.fixture
def post_site(site, smtp_server, tmp_path):
    """A site with one live post and 1,200 subscribers, sending to the loopback relay."""
    from conftest import write_post

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    relay_config(site, smtp_server.port, url, "connections = 2")
    write_post(site, "news.md", "title: News\nslug: news\ndate: 2026-03-01 09:00")
    write_post(site, "later.md", "title: Later\nslug: later\ndate: 2026-04-01 09:00")
    store = open_store(url, site)
    add_subscribers(store, 1200)
    yield store
    store.close()


def test_sending_a_post_whose_campaign_exists_renders_nothing(post_site, smtp_server, monkeypatch):
    """The campaign keeps the email it was created with: `send SLUG` run again (after a
    stop, or by mistake) goes on from the ledger without rendering, so without premailer."""
    sent = cli("send", "news")
    assert "post:news: done: 1,200 of 1,200 sent" in sent.output, sent.output

    def refuse(*_args, **_kwargs):
        raise AssertionError("rendered again")

    monkeypatch.setattr("publisher.mail.newsletter.render_post", refuse)
    again = cli("send", "news")
    assert again.exit_code == 0, again.output
    assert "already sent (1,200 of 1,200)" in again.output and len(smtp_server.received) == 1200


def test_send_dry_run_test_copy_send_and_campaigns(post_site, smtp_server):
    dry = cli("send", "news", "--dry-run")
    assert dry.exit_code == 0 and "would be sent to 1,200 subscribers" in dry.output
    assert ledger.list_campaigns(post_site) == [] and smtp_server.received == []

    test = cli("send", "news", "--to", "editor@example.org")
    assert test.exit_code == 0, test.output
    (copy,) = smtp_server.messages()
    assert copy["Subject"] == "[TEST] News" and copy["To"] == "editor@example.org"
    assert ledger.list_campaigns(post_site) == []  # a test copy is not recorded

    sent = cli("send", "news")
    assert sent.exit_code == 0, sent.output
    assert "post:news: campaign created for 1,200 subscribers" in sent.output
    assert "post:news: done: 1,200 of 1,200 sent" in sent.output
    assert re.search(r"post:news: 1,\d\d\d of 1,200 done", sent.output)  # a line per 1,000
    assert len(smtp_server.received) == 1201

    again = cli("send", "news")
    assert "already sent (1,200 of 1,200)" in again.output and len(smtp_server.received) == 1201

    listing = cli("campaigns")
    assert listing.exit_code == 0
    header, row = listing.output.splitlines()
    assert header.split()[:11] == [
        "campaign",
        "status",
        "total",
        "sent",
        "failed",
        "deferred",
        "skipped",
        "unknown",
        "bounced",
        "complained",
        "to",
    ]
    assert row.split()[:10] == ["post:news", "done", "1,200", "1,200", *["0"] * 6]
    assert row.split()[11:13] == ["2026-03-02", "09:00"]  # started, in Chicago time


def test_an_empty_from_address_is_an_error_naming_the_setting(site, monkeypatch):
    """It made `send` and `tick` fail with `string index out of range`; `check` only warned."""
    from conftest import write_config, write_post

    write_config(site)
    monkeypatch.setenv("PUBLISHER_NEWSLETTER_FROM_ADDRESS", "")
    write_post(site, "news.md", "title: News\nslug: news\ndate: 2026-03-01 09:00")
    fill_in = "[newsletter] from_address is empty: set it in config/site.toml"
    checked = run_publisher("check", "--now", "2026-03-01 08:00", cwd=site)
    assert checked.returncode == 2 and f"error: {fill_in}" in checked.stderr
    assert run_publisher("tick", "--now", "2026-03-01 08:00", cwd=site).returncode == 0
    ticked = run_publisher("tick", "--now", "2026-03-01 09:05", cwd=site)
    assert ticked.returncode == 2 and fill_in in ticked.stdout + ticked.stderr
    sent = run_publisher("send", "news", "--now", "2026-03-01 09:10", cwd=site)
    assert sent.returncode == 2 and f"error: {fill_in}" in sent.stderr
    for done in (checked, ticked, sent):
        assert "index out of range" not in done.stdout + done.stderr


def test_send_refuses_unknown_and_future_posts_and_bad_usage(post_site):
    assert cli("send", "nope").exit_code == 2
    future = cli("send", "later")
    assert future.exit_code == 2 and "not published until 2026-04-01 09:00" in future.output
    assert cli("send").exit_code == 2
    assert cli("send", "news", "--resume").exit_code == 2
    resume = cli("send", "--resume")
    assert resume.exit_code == 0 and "nothing to resume" in resume.output


def test_send_exits_1_when_the_relay_is_down_and_resume_finishes(post_site, smtp_server, site):
    import os

    os.environ["PUBLISHER_SMTP_PORT"] = str(free_port())  # nobody listens there
    try:
        paused = cli("send", "news")
    finally:
        del os.environ["PUBLISHER_SMTP_PORT"]
    assert paused.exit_code == 1, paused.output
    assert "post:news: paused: cannot connect to 127.0.0.1" in paused.output
    assert "post:news: cannot connect" in cli("campaigns").output
    resumed = cli("send", "--resume")
    assert resumed.exit_code == 0 and "done: 1,200 of 1,200 sent" in resumed.output


def test_send_without_the_relay_password_exits_1_and_names_the_variable(
    post_site, smtp_server, monkeypatch
):
    """Issue 10: this printed "paused: ... 0 of 1,200 sent" and exited 0."""
    monkeypatch.setenv("PUBLISHER_SMTP_USERNAME", "mailer")
    monkeypatch.delenv("PUBLISHER_SMTP_PASSWORD", raising=False)
    for args in (("send", "news"), ("send", "--resume")):
        result = cli(*args)
        assert result.exit_code == 1, result.output
        assert "$PUBLISHER_SMTP_PASSWORD is empty" in result.output
        assert "0 of 1,200 sent" in result.output
    assert smtp_server.received == []
