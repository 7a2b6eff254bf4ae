"""Soak: campaigns with hostile recipients mixed in never stop for one of them.

Real parts: aiosmtpd on loopback (answering 550 for some addresses), SQLite and
PostgreSQL, the `send` command. Hostile rows are written straight into the store, as rows
stored before the intakes refused them may be.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from publisher.cli import main
from publisher.config import load_config
from publisher.delivery.campaigns import run_campaign
from publisher.mail.message import Newsletter
from publisher.store import audience, ledger, open_store
from publisher.store.schema import deliveries, subscribers

from conftest import free_port, insert_subscriber, write_relay_config

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
GOOD = 190
TEXT = "Hi __PUBLISHER_NAME__,\n\nNews.\n\nUnsubscribe: __PUBLISHER_UNSUBSCRIBE_URL__\n"
HTML = "<p>Hi __PUBLISHER_NAME__</p><a href='__PUBLISHER_UNSUBSCRIBE_URL__'>Unsubscribe</a>"


def configure(root, port: int, database_url: str):
    write_relay_config(root, port, database_url, "connections = 3", timeout=5)
    return load_config(root / "config" / "site.toml", now=NOW)


def newsletter(key: str) -> Newsletter:
    return Newsletter(key, "post", f"About {key}", HTML, TEXT)


def hostile(store, rejected: str) -> dict[str, str]:
    """About 5% of the list: email -> name of recipients no message can reach."""
    controls = ["\r", "\n", "\x1b", "\x00" if store.is_sqlite else "\x7f"]  # no NUL in PG
    people = {f"josé{n}@example.org": "José" for n in range(3)}  # [smtp] smtputf8 is off
    people |= {f"ctl{n}@example.org": f"Evil{c}Bcc: x@example.org" for n, c in enumerate(controls)}
    people |= {rejected: "Nobody", "gone@example.org": "Gone"}  # the relay says 550
    return people


def deliveries_of(store, campaign_id: int) -> dict[str, tuple[str, str]]:
    query = (
        select(subscribers.c.email, deliveries.c.state, deliveries.c.smtp_reply)
        .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
        .where(deliveries.c.campaign_id == campaign_id)
    )
    with store.read() as conn:
        return {email: (state, reply) for email, state, reply in conn.execute(query)}


def test_three_campaigns_with_hostile_recipients(site, smtp_server, database_url, monkeypatch):
    configure(site, smtp_server.port, database_url)
    store = open_store(database_url, site)
    try:
        good = [f"reader{n}@example.org" for n in range(GOOD)]
        bad = hostile(store, "nobody@example.org")
        smtp_server.reject.update({"nobody@example.org", "gone@example.org"})
        people = [(email, f"Reader {n}") for n, email in enumerate(good)] + list(bad.items())
        random.Random(10).shuffle(people)
        for email, name in people:
            insert_subscriber(store, email, name)
        keys = ["post:one", "post:two", "post:three"]
        for key in keys:
            audience.create_campaign(store, newsletter(key), "each", NOW)

        runner = CliRunner()
        monkeypatch.setenv("PUBLISHER_SMTP_PORT", str(free_port()))  # the relay is down
        down = runner.invoke(main, ["send", "--resume", "--now", NOW.isoformat()])
        assert down.exit_code == 1 and "paused: cannot connect" in down.output
        monkeypatch.delenv("PUBLISHER_SMTP_PORT")
        sent = runner.invoke(main, ["send", "--resume", "--now", NOW.isoformat()])
        assert sent.exit_code == 0, sent.output

        assert Counter(smtp_server.recipients()) == {email: len(keys) for email in good}
        # The relay's 550 is a hard bounce: the first campaign fails those deliveries and
        # suppresses the addresses ([delivery] bounce_limit 1), so the later ones skip them.
        # Every other bad row fails in each campaign, with its reason.
        bounced = {"nobody@example.org": "skipped", "gone@example.org": "skipped"}
        for number, key in enumerate(keys):
            rows = deliveries_of(store, ledger.get_campaign(store, key).id)
            assert {email for email, (state, _) in rows.items() if state == "sent"} == set(good)
            expected = {email: "failed" for email in bad} | (bounced if number else {})
            assert {email: state for email, (state, _) in rows.items() if email in bad} == expected
            assert all(rows[email][1] for email in bad)  # each with its reason
            assert f"{key}: done: {GOOD} of {len(people)} sent (" in sent.output
    finally:
        store.close()


@pytest.fixture
def relay_store(site, smtp_server, database_url):
    config = configure(site, smtp_server.port, database_url)
    store = open_store(database_url, site)
    for n in range(3):
        insert_subscriber(store, f"good{n}@example.org", f"Good {n}")
    yield config, store
    store.close()


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=st.text(max_size=200), email=st.text(max_size=320))
def test_any_stored_recipient_is_sent_or_failed_with_a_reason(
    relay_store, smtp_server, name, email
):
    """Whatever name and address a row holds, the campaign goes to every good subscriber
    once, and that row ends sent or failed with its reason; nothing raises."""
    config, store = relay_store
    good = [f"good{n}@example.org" for n in range(3)]
    assume(email.lower() not in good)
    if not store.is_sqlite:  # PostgreSQL text cannot hold NUL
        assume("\x00" not in name + email)
    key = f"post:{sum(audience.reader_choices(store, 'each').values())}-{len(ledger.list_campaigns(store))}"
    odd = insert_subscriber(store, email, name, email_key=f"odd-{key}")
    before = len(smtp_server.recipients())
    campaign, _ = audience.create_campaign(store, newsletter(key), "each", NOW)
    try:
        summary = run_campaign(config, store, campaign)
        assert summary.status == "done" and summary.problem is None
        received = Counter(smtp_server.recipients()[before:])
        assert {rcpt: n for rcpt, n in received.items() if rcpt in good} == dict.fromkeys(good, 1)
        with store.read() as conn:
            state, reply = conn.execute(
                select(deliveries.c.state, deliveries.c.smtp_reply).where(
                    deliveries.c.campaign_id == campaign.id, deliveries.c.subscriber_id == odd
                )
            ).one()
        assert state == "sent" or (state == "failed" and reply)
    finally:
        with store.transaction() as conn:  # out of the next example's audience
            conn.execute(
                update(subscribers).where(subscribers.c.id == odd).values(status="unsubscribed")
            )
