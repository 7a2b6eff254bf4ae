"""Confirmation emails owed to pending subscribers: sent by `subscribers import --status
pending`, `subscribers add --status pending` and `publisher tick`, once per address, never
to a suppressed one, and kept owed when the relay is down or defers.

Real parts: the CLI in subprocesses, the file outbox, aiosmtpd on loopback, a refused port,
SQLite and PostgreSQL."""

from __future__ import annotations

import re
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import event, text

from publisher import store as st
from publisher.config import Config, load_config
from publisher.delivery.transports import RelayDown, open_transport
from publisher.schedule import tick as scheduler
from publisher.store.db import open_store
from publisher.subscribers.confirmations import Confirmations, send_unsent
from publisher.subscribers.tokens import load_tokens

from conftest import (
    SmtpServer,
    free_port,
    insert_subscriber,
    run_publisher,
    write_config,
    write_relay_config,
)

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
LINK = re.compile(r"https://blog\.example\.org/confirm\?token=\S+")


def publisher(*args: str) -> subprocess.CompletedProcess:
    return run_publisher(*args, "--now", NOW.isoformat(), timeout=60)


def configure(
    root: Path, database_url: str = "", smtp_port: int | None = None, rate: float = 0
) -> Config:
    if smtp_port:
        write_relay_config(root, smtp_port, database_url, f"rate_per_second = {rate}", timeout=5)
    else:
        write_config(root, f'[database]\nurl = "{database_url}"\n' if database_url else "")
    return load_config(root / "config" / "site.toml", now=NOW)


def outbox(config: Config) -> list[EmailMessage]:
    folder = config.delivery.outbox / "new"
    files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
    return [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]


def follow(config: Config, store: st.Store, message: EmailMessage) -> st.Subscriber:
    """Do what the web app does with the message's confirm link, and return the result."""
    url = LINK.search(message.get_body(("plain",)).get_content()).group(0)
    token = parse_qs(urlsplit(url).query)["token"][0]
    tokens = load_tokens(config)
    key = st.token_key(store, tokens.subscriber_id(token))
    subscriber_id = tokens.read("confirm", token, key, NOW + timedelta(hours=1))
    return st.confirm(store, subscriber_id, now=NOW + timedelta(hours=1))


def owed(store: st.Store) -> list[str]:
    return [s.email for s in st.iter_unsent_confirmations(store)]


@pytest.fixture
def people(site: Path) -> Path:
    csv = site / "people.csv"
    csv.write_text(
        "email,name\nana@example.org,Ana\nbo@example.org,Bo\nleft@example.org,Left\n"
        "old@example.org,Old\nana@example.org,Ana again\n",
        encoding="utf-8",
    )
    return csv


def test_pending_import_mails_each_new_address_once(site: Path, people: Path, database_url):
    config = configure(site, database_url)
    store = open_store(database_url, site)
    try:
        st.add(store, "left@example.org", now=NOW, status="pending")
        st.remove(store, "left@example.org", now=NOW)  # suppressed: never mailed
        st.add(store, "old@example.org", now=NOW)  # active already: gets its name, no email

        dry = publisher("subscribers", "import", str(people), "--status", "pending", "--dry-run")
        assert dry.returncode == 0 and "confirmation" not in dry.stdout
        assert outbox(config) == []

        first = publisher("subscribers", "import", str(people), "--status", "pending")
        assert first.returncode == 0, first.stderr
        assert first.stdout.splitlines() == [
            "5 rows: 2 added, 1 updated, 0 unchanged, 2 skipped (1 duplicate, 1 suppressed)",
            "sent 2 confirmations",
        ]
        sent = outbox(config)
        assert sorted(m["To"] for m in sent) == ["Ana <ana@example.org>", "Bo <bo@example.org>"]
        assert owed(store) == []

        again = publisher("subscribers", "import", str(people), "--status", "pending")
        assert again.stdout.splitlines()[-1] == "no confirmations to send"
        assert len(outbox(config)) == 2

        for message in sent:
            confirmed = follow(config, store, message)
            assert confirmed.status == "active" and message["To"].endswith(f"<{confirmed.email}>")
        assert st.get_by_email(store, "left@example.org").status == "unsubscribed"
    finally:
        store.close()


def test_add_pending_sends_one_confirmation(site: Path) -> None:
    config = configure(site)
    added = publisher("subscribers", "add", "cy@example.org", "--status", "pending")
    assert added.stdout.splitlines() == [
        "added: cy@example.org (pending, each)",
        "sent 1 confirmation",
    ]
    assert publisher("subscribers", "add", "dee@example.org").stdout.count("\n") == 1  # active
    assert [m["To"] for m in outbox(config)] == ["cy@example.org"]


def test_relay_down_leaves_them_owed_and_tick_catches_up(
    site: Path, people: Path, smtp_server: SmtpServer
) -> None:
    configure(site, smtp_port=free_port())  # nothing listens there
    failed = publisher("subscribers", "import", str(people), "--status", "pending")
    assert failed.returncode == 1
    assert failed.stdout.startswith("5 rows: 4 added")  # the list itself is saved
    error = failed.stderr.splitlines()[-1]
    assert error.startswith("error: sent 0 confirmations, paused: cannot connect to")
    assert error.endswith("the rest go out on the next run")

    config = configure(site, smtp_port=smtp_server.port)  # the relay is back
    store = st.Store.open(config)
    try:
        assert len(owed(store)) == 4
        summary = scheduler.tick(config)
        assert summary.problems == [] and "sent 4 confirmations" in summary.line(config)
        assert sorted(smtp_server.recipients()) == [
            "ana@example.org",
            "bo@example.org",
            "left@example.org",
            "old@example.org",
        ]
        assert owed(store) == []
        idle = scheduler.tick(load_config(site / "config" / "site.toml", now=NOW + MINUTE))
        assert "confirmation" not in idle.line(config) and len(smtp_server.received) == 4
    finally:
        store.close()


def test_deferred_stays_owed_refused_counts_as_bounce(site: Path, smtp_server: SmtpServer):
    config = configure(site, smtp_port=smtp_server.port)
    store = st.Store.open(config)
    try:
        for email in ("ana@example.org", "bo@example.org", "cy@example.org"):
            st.add(store, email, now=NOW, status="pending")
        smtp_server.defer.add("bo@example.org")
        smtp_server.reject.add("cy@example.org")
        batch = send_unsent(config, store)
        assert (batch.sent, batch.deferred, batch.failed, batch.problem) == (1, 1, 1, None)
        assert batch.line() == "sent 1 confirmation, 1 deferred, 1 failed"
        assert owed(store) == ["bo@example.org"]  # a refusal is an answer: not retried
        assert st.get_by_email(store, "cy@example.org").bounce_count == 1

        smtp_server.defer.clear()
        assert send_unsent(config, store).sent == 1
        assert smtp_server.recipients() == ["ana@example.org", "bo@example.org"]
    finally:
        store.close()


def test_a_failed_send_gives_the_claim_back(site: Path, database_url: str) -> None:
    """The web app's path too: a relay that is down leaves the address owed (on both
    databases, since the release matches the claim's exact time)."""
    config = configure(site, database_url, smtp_port=free_port())
    store = open_store(database_url, site)
    try:
        subscriber = st.add(store, "ana@example.org", now=NOW, status="pending").subscriber
        transport = open_transport(config)
        with pytest.raises(RelayDown):
            Confirmations(config, load_tokens(config)).send(store, transport, subscriber, NOW)
        assert st.get(store, subscriber.id).confirm_sent_at is None
        assert owed(store) == ["ana@example.org"]
    finally:
        store.close()


def test_an_address_that_cannot_be_mailed_fails_alone_and_the_tick_goes_on(
    site: Path, database_url: str
) -> None:
    """Issue 10: a pending josé@... (stored before the intakes refused it; no SMTPUTF8)
    raised in formataddr, so every tick exited 1 here and never reached the deliveries."""
    from sqlalchemy import select

    from publisher.mail.message import Newsletter
    from publisher.store import audience
    from publisher.store.schema import events

    config = configure(site, database_url)
    store = open_store(database_url, site)
    try:
        jose = insert_subscriber(store, "josé@example.org", "José", status="pending")
        insert_subscriber(store, "ana@example.org", "Ana", status="pending")
        insert_subscriber(store, "bo@example.org", "Bo")
        audience.create_campaign(
            store, Newsletter("post:a", "post", "A", "<p>A</p>", "A"), "each", NOW
        )

        summary = scheduler.tick(config)
        assert summary.exit_code == 0, summary.problems
        assert "sent 1 confirmation, 1 failed" in summary.line(config)
        assert "post:a: done: 1 of 1 sent" in summary.line(config)
        assert sorted(m["To"] for m in outbox(config)) == [
            "Ana <ana@example.org>",
            "Bo <bo@example.org>",
        ]
        assert owed(store) == []  # not retried on every tick
        with store.read() as conn:
            kind, detail = conn.execute(
                select(events.c.kind, events.c.detail).where(events.c.subscriber_id == jose)
            ).one()
        assert kind == "confirm-failed" and "needs SMTPUTF8" in detail
        assert "confirmation" not in scheduler.tick(config).line(config)
    finally:
        store.close()


def test_smtputf8_brings_a_non_ascii_address_its_confirmation(site: Path, smtp_server) -> None:
    """With [smtp] smtputf8 on and a relay offering it (aiosmtpd does), josé@... gets
    his link: SMTPUTF8 on MAIL FROM, the To header in UTF-8 (RFC 6532)."""
    configure(site, smtp_port=smtp_server.port)
    with (site / "config" / "site.toml").open("a") as config_file:
        config_file.write("smtputf8 = true\n")  # the [smtp] section is the last one
    config = load_config(site / "config" / "site.toml", now=NOW)
    store = st.Store.open(config)
    try:
        insert_subscriber(store, "josé@example.org", "José", status="pending")
        assert send_unsent(config, store).sent == 1
        (received,) = smtp_server.received
        assert received.recipients == ["josé@example.org"]
        assert "To: José <josé@example.org>" in received.data.decode()
    finally:
        store.close()


def test_stop_between_messages_at_the_configured_rate(site: Path, smtp_server: SmtpServer):
    """At 0.2 messages a second the second message waits 5 s; a stop asked once the first
    arrived ends the run there, and the others stay owed."""
    config = configure(site, smtp_port=smtp_server.port, rate=0.2)
    store = st.Store.open(config)
    try:
        for email in ("ana@example.org", "bo@example.org", "cy@example.org"):
            st.add(store, email, now=NOW, status="pending")
        stop = threading.Event()

        def stop_after_first() -> None:
            while not smtp_server.received and not stop.is_set():
                stop.wait(0.01)
            stop.set()

        watcher = threading.Thread(target=stop_after_first)
        watcher.start()
        batch = send_unsent(config, store, stop)
        watcher.join()
        assert (batch.sent, batch.stopped) == (1, True)
        assert batch.line() == "sent 1 confirmation, stopped; the rest go out on the next run"
        assert owed(store) == ["bo@example.org", "cy@example.org"]
    finally:
        store.close()


def test_the_idle_query_uses_the_partial_index(site: Path) -> None:
    """Every tick asks for owed confirmations; SQLite answers from the small partial index
    (the query the code sends, explained). A store made before the index gets it on open."""
    config = configure(site)
    store = st.Store.open(config)
    try:
        with store.transaction() as conn:
            conn.execute(text("DROP INDEX subscribers_unsent"))
            conn.execute(text("DELETE FROM schema_version WHERE version >= 2"))
    finally:
        store.close()
    store = st.Store.open(config)  # migrates again
    sent: list[tuple[str, tuple]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        sent.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        st.add(store, "ana@example.org", now=NOW, status="pending")
        assert owed(store) == ["ana@example.org"]
        statement, parameters = next(s for s in sent if "confirm_sent_at IS NULL" in s[0])
        with store.read() as conn:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        assert "INDEX subscribers_unsent (status=? AND confirm_sent_at=? AND id>?)" in str(plan)
    finally:
        store.close()


def test_framed_build_says_what_a_full_build_says(site: Path) -> None:
    """The once-a-second frame filled in per recipient decodes to the full build, for
    plain, non-ASCII and HTML-special names and for no name."""
    config = configure(site)
    confirmations = Confirmations(config, load_tokens(config))
    people = [
        st.Subscriber(n, email, name, "pending", "each", "web", NOW, None, None, None, 0)
        for n, (email, name) in enumerate(
            [("ana@example.org", "Ana"), ("zoe@example.org", 'Zoë <&> "Z"'), ("x@example.org", "")],
            start=1,
        )
    ]
    for person in people:
        framed = confirmations.build(person, "key", NOW).data
        assert confirmations.framed
        full = confirmations._full(person, "key", NOW)
        one, two = (message_from_bytes(m, policy=policy.default) for m in (framed, full))
        (to,) = one["To"].addresses
        assert (to.display_name, to.addr_spec) == (person.name, person.email)
        assert one["Date"] == two["Date"] and one["Subject"] == two["Subject"]
        for kind in ("plain", "html"):
            assert one.get_body((kind,)).get_content() == two.get_body((kind,)).get_content()


def test_a_template_that_changes_the_name_gets_full_builds(site: Path) -> None:
    config = configure(site)
    templates = site / "templates" / "email"
    templates.mkdir(parents=True)
    (templates / "confirm.txt").write_text("Hi {{ subscriber.name | upper }}: {{ confirm_url }}\n")
    confirmations = Confirmations(config, load_tokens(config))
    ana = st.Subscriber(
        1, "ana@example.org", "Ana", "pending", "each", "web", NOW, None, None, None, 0
    )
    message = message_from_bytes(confirmations.build(ana, "key", NOW).data, policy=policy.default)
    assert message.get_body(("plain",)).get_content().startswith("Hi ANA: https://")
    assert not confirmations.framed
