"""Reports: every figure of a campaign's report, the audience's days, sources, reasons and
months, and `publisher report` as text, JSON and CSV, on both databases."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import astuple
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from publisher.errors import PublisherError
from publisher.reports import tables
from publisher.reports.audience import audience_report, source_kind
from publisher.reports.campaign import campaign_report
from publisher.reports.posts import posts_report
from publisher.store import inbound as recorded
from publisher.store import subscribers as store_subscribers
from publisher.store.db import open_store
from publisher.store.schema import subscribers

from conftest import count_clicks, insert_campaign, insert_subscriber, run_publisher

SENT_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def reader(store, email: str) -> int:
    with store.read() as conn:
        return conn.execute(
            subscribers.select()
            .with_only_columns(subscribers.c.id)
            .where(subscribers.c.email_key == email)
        ).scalar_one()


def delivery_of(store, campaign_id: int, subscriber_id: int) -> int:
    from publisher.store.schema import deliveries

    with store.read() as conn:
        return conn.execute(
            deliveries.select()
            .with_only_columns(deliveries.c.id)
            .where(
                deliveries.c.campaign_id == campaign_id,
                deliveries.c.subscriber_id == subscriber_id,
            )
        ).scalar_one()


def test_a_campaign_report_counts_every_state_bounce_complaint_and_unsubscribe(store) -> None:
    states = ["sent"] * 6 + ["bounced", "deferred", "failed 550", "failed 421", "queued"]
    states += ["skipped", "unknown"]
    campaign = insert_campaign(store, "post:hello", states)
    other = insert_campaign(store, "post:other", ["sent", "sent"])
    first, second, third = (reader(store, f"post-hello-{n}@example.com") for n in (0, 1, 2))
    with store.transaction() as conn:  # soft bounces: two messages, one of them twice
        for n, (who, action) in enumerate(
            [
                (first, "soft bounce 1 of 3"),
                (second, "soft bounce 1 of 3"),
                (first, "soft bounce 2 of 3"),
            ]
        ):
            delivery = delivery_of(store, campaign, who)
            recorded.record(conn, f"mail:s{n}", SENT_AT, "bounce", action, "", who, delivery)
        recorded.complaint(conn, third, SENT_AT, "abuse")
        delivery = delivery_of(store, campaign, third)
        recorded.record(
            conn, "mail:c", SENT_AT, "complaint", "subscriber complained", "", third, delivery
        )
    left = reader(store, "post-hello-3@example.com")
    store_subscribers.unsubscribe(store, left, now=SENT_AT, campaign_id=campaign, reason="too-many")
    elsewhere = reader(store, "post-other-0@example.com")
    store_subscribers.unsubscribe(store, elsewhere, now=SENT_AT, campaign_id=other)
    store_subscribers.unsubscribe(store, reader(store, "post-hello-4@example.com"), now=SENT_AT)

    found = campaign_report(store, "hello")  # a bare slug is its post's campaign
    assert (found.key, found.recipients, found.status) == ("post:hello", 13, "done")
    assert (found.sent, found.delivered, found.waiting) == (7, 6, 1)
    assert (found.deferred, found.failed, found.skipped, found.unknown) == (1, 2, 1, 1)
    assert (found.bounced_hard, found.bounced_soft) == (2, 2)  # bounced + the 550
    assert (found.complaints, found.unsubscribes) == (1, 1)  # only by its own links
    assert found.clicks_counted is False and found.click_rate == 0.0 and found.links == []
    assert campaign_report(store, "post:other").unsubscribes == 1
    with pytest.raises(PublisherError, match="no campaign 'post:nothing'"):
        campaign_report(store, "nothing")


def test_a_campaign_report_counts_clicks_per_link_and_hour(store) -> None:
    campaign = insert_campaign(store, "post:hello", ["sent"] * 10, started_at=SENT_AT)
    later = SENT_AT + timedelta(hours=3, minutes=20)
    taken = [(1, "r1", SENT_AT), (1, "r2", SENT_AT), (1, "r3", later), (1, "r1", later)]
    taken += [(3, "r2", later)]
    count_clicks(store, campaign, taken, scanners=[(1, SENT_AT), (2, SENT_AT), (3, SENT_AT)])
    found = campaign_report(store, "post:hello")
    assert found.clicks_counted is True
    assert (found.clicks, found.unique_clickers, found.scanner_clicks) == (5, 3, 3)
    assert found.click_rate == pytest.approx(0.3)  # 3 people of 10 delivered
    assert [(k.number, k.text, k.clicks, k.unique, k.scanner_clicks) for k in found.links] == [
        (1, "Read on", 4, 3, 1),
        (2, "An older post", 0, 0, 1),
        (3, "the study", 1, 1, 1),
    ]
    assert [astuple(h) for h in found.by_hour] == [(0, 2, 3), (1, 0, 0), (2, 0, 0), (3, 3, 0)]
    hours = tables.to_csv(tables.table(found, "hours")).splitlines()
    assert hours == [
        "hours since sending,clicks,scanner clicks",
        "0,2,3",
        "1,0,0",
        "2,0,0",
        "3,3,0",
    ]


def test_the_posts_report_ranks_posts_by_their_emails_clicks(store) -> None:
    from sqlalchemy import insert

    from publisher.store.schema import published

    hello = insert_campaign(store, "post:hello", ["sent"], started_at=SENT_AT)
    digest = insert_campaign(store, "digest:2026-w10", ["sent"], started_at=SENT_AT, kind="digest")
    with store.transaction() as conn:
        for slug in ("hello", "older"):
            conn.execute(
                insert(published).values(
                    slug=slug, live_at=SENT_AT, seen_at=SENT_AT, announce=True,
                    path=f"/posts/{slug}/",
                )
            )  # fmt: skip
    count_clicks(store, hello, [(1, "a", SENT_AT), (3, "b", SENT_AT), (2, "c", SENT_AT)])
    count_clicks(
        store,
        digest,
        [(2, "a", SENT_AT), (2, "b", SENT_AT), (2, "d", SENT_AT), (2, "e", SENT_AT)],
        scanners=[(2, SENT_AT)],
    )
    count_clicks(store, insert_campaign(store, "post:gone", ["sent"]), [(1, "x", moment(1))])
    found = posts_report(store, NOW, date(2026, 3, 2))
    assert [astuple(r) for r in found.posts] == [("older", 5, 1, 2), ("hello", 2, 0, 1)]
    assert posts_report(store, NOW, date(2026, 3, 5)).posts == []  # no clicks since


def test_an_erasure_keeps_the_campaigns_unsubscribe_and_the_reason(store) -> None:
    campaign = insert_campaign(store, "post:hello", ["sent"])
    who = reader(store, "post-hello-0@example.com")
    store_subscribers.unsubscribe(store, who, now=SENT_AT, campaign_id=campaign, reason="other")
    store_subscribers.forget(store, "post-hello-0@example.com", now=SENT_AT)
    assert campaign_report(store, "post:hello").unsubscribes == 1
    reasons = audience_report(store, NOW, date(2026, 3, 1)).reasons
    assert [(r.label, r.count) for r in reasons if r.count] == [("Another reason", 1)]


def moment(day: int) -> datetime:
    return datetime(2026, 3, day, 10, 0, tzinfo=UTC)


def test_the_audience_by_day_and_by_month(store) -> None:
    for n in range(3):  # joined Feb 20, active since
        insert_subscriber(
            store,
            f"old{n}@example.com",
            created_at=datetime(2026, 2, 20, tzinfo=UTC),
            confirmed_at=datetime(2026, 2, 20, tzinfo=UTC),
        )
    insert_subscriber(store, "new@example.com", created_at=moment(2), confirmed_at=moment(4))
    insert_subscriber(store, "waits@example.com", status="pending", created_at=moment(3))
    insert_subscriber(
        store,
        "left@example.com",
        status="unsubscribed",
        created_at=datetime(2026, 2, 20, tzinfo=UTC),
        confirmed_at=datetime(2026, 2, 20, tzinfo=UTC),
        unsubscribed_at=moment(5),
    )
    insert_subscriber(
        store,
        "bounced@example.com",
        status="bounced",
        created_at=moment(2),
        confirmed_at=moment(2),
        unsubscribed_at=moment(6),
    )
    found = audience_report(store, NOW, date(2026, 2, 28))
    days = {row.day: astuple(row) for row in found.days}
    assert (found.since, found.until, len(found.days)) == (date(2026, 2, 28), date(2026, 3, 10), 11)
    assert days[date(2026, 2, 28)][1:] == (0, 4, 0, 0, 0)
    assert days[date(2026, 3, 3)][1:] == (2, 5, 0, 0, 0)  # new pending until the 4th
    assert days[date(2026, 3, 4)][1:] == (1, 6, 0, 0, 0)
    assert days[date(2026, 3, 6)][1:] == (1, 4, 1, 1, 0)
    february, march = found.months
    assert (february.month, february.active_at_start, february.active_at_end) == ("2026-02", 0, 4)
    assert (february.joined, february.confirmed, february.left) == (4, 4, 0)
    assert february.churn is None  # nobody was active when it began
    assert (march.month, march.active_at_start, march.active_at_end) == ("2026-03", 4, 4)
    assert (march.joined, march.confirmed, march.left, march.growth) == (3, 2, 2, 0)
    assert march.churn == pytest.approx(0.5)


def test_subscribers_unchanged_in_the_period_keep_their_status_every_day(store) -> None:
    long_ago = datetime(2025, 1, 1, tzinfo=UTC)
    insert_subscriber(store, "ancient@example.com", created_at=long_ago, confirmed_at=long_ago)
    insert_subscriber(store, "dated@example.com", created_at=long_ago)  # active, no confirmation
    insert_subscriber(
        store,
        "gone@example.com",
        status="unsubscribed",
        created_at=long_ago,
        confirmed_at=long_ago,
        unsubscribed_at=datetime(2025, 6, 1, tzinfo=UTC),
    )
    insert_subscriber(store, "new@example.com", created_at=moment(2), confirmed_at=moment(4))
    found = audience_report(store, NOW, date(2026, 3, 1))
    days = {row.day: astuple(row)[1:] for row in found.days}
    assert days[date(2026, 3, 1)] == (0, 2, 1, 0, 0)
    assert days[date(2026, 3, 3)] == (1, 2, 1, 0, 0)
    assert days[date(2026, 3, 10)] == (0, 3, 1, 0, 0)
    [march] = found.months
    assert (march.active_at_start, march.joined, march.confirmed, march.left) == (2, 1, 1, 0)
    assert (march.active_at_end, march.growth, march.churn) == (3, 1, 0.0)


def test_sign_ups_by_source_and_unsubscribes_by_reason(store) -> None:
    sources = ("web", "web", "cli", "console", "api", "web:/posts/hello/", "web")
    for n, source in enumerate(sources):
        store_subscribers.add(store, f"person{n}@example.com", now=moment(3), source=source)
    found = audience_report(store, NOW, date(2026, 3, 1))
    rows = [(r.kind, r.source, r.count) for r in found.sources]
    assert rows == [
        ("web form", "web", 3),
        ("web form", "web:/posts/hello/", 1),
        ("staff", "cli", 1),
        ("staff", "console", 1),
        ("API", "api", 1),
    ]
    assert source_kind("import:list.csv") == "import" and source_kind("???") == "other"
    left = reader(store, "person0@example.com")
    store_subscribers.unsubscribe(store, left, now=moment(4), reason="not-relevant")
    labels = {r.label: r.count for r in audience_report(store, NOW, date(2026, 3, 1)).reasons}
    assert labels == {
        "Too many emails": 0,
        "Not what I expected": 1,
        "I never signed up": 0,
        "Another reason": 0,
        "No reason given": 0,
    }
    assert audience_report(store, NOW, date(2026, 3, 5)).reasons[1].count == 0  # before since


def test_the_posts_report_without_clicks(store) -> None:
    found = posts_report(store, NOW)
    assert (found.since, found.until, found.posts) == (date(2026, 2, 9), date(2026, 3, 10), [])


def test_tables_csv_quotes_formulas_and_json_is_plain(store) -> None:
    insert_campaign(store, "post:hello", ["sent", "sent"], subject="=cmd|' /C calc'!A0")
    found = campaign_report(store, "post:hello")
    figures = list(csv.reader(io.StringIO(tables.to_csv(tables.table(found, "figures")))))
    assert figures[0] == ["figure", "value"] and ["Delivered (no bounce came back)", "2"] in figures
    data = tables.to_json(found)
    assert data["started_at"] == "2026-03-02T09:00:00+00:00" and data["delivered"] == 2
    json.dumps(data)
    with pytest.raises(KeyError, match="figures, links, hours"):
        tables.table(found, "nope")


# --- the command line -----------------------------------------------------------------


def cli_site(site: Path):
    return open_store(f"sqlite:///{site / 'data' / 'publisher.db'}", site)


def test_publisher_report_as_text_json_and_csv(site: Path) -> None:
    (site / "data").mkdir(exist_ok=True)
    with cli_site(site) as store:
        insert_campaign(store, "post:hello", ["sent", "sent", "bounced", "deferred"])
    now = ("--now", "2026-03-10 12:00")
    text = run_publisher("report", "post:hello", *now)
    assert text.returncode == 0, text.stderr
    assert "post:hello: About post:hello" in text.stdout
    assert "Delivered (no bounce came back)" in text.stdout and "clicks: not counted" in text.stdout
    as_json = json.loads(run_publisher("report", "hello", "--json", *now).stdout)
    assert (as_json["sent"], as_json["delivered"], as_json["deferred"]) == (3, 2, 1)
    links = run_publisher("report", "hello", "--csv", "links", *now)
    assert links.stdout == "link,text,url,clicks,unique clickers,scanner clicks\n"
    audience = json.loads(
        run_publisher("report", "audience", "--since", "2026-03-01", "--json", *now).stdout
    )
    assert audience["days"][0] == {
        "day": "2026-03-01",
        "pending": 0,
        "active": 4,
        "unsubscribed": 0,
        "bounced": 0,
        "complained": 0,
    }
    months = run_publisher("report", "audience", "--csv", "months", "--since", "2026-03-01", *now)
    assert months.stdout.splitlines()[1] == "2026-03,0,4,4,0,4,4,"
    assert run_publisher("report", "posts", *now).returncode == 0


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("post:nothing",), "error: no campaign 'post:nothing'; `publisher campaigns` lists them"),
        (("audience", "--since", "2026-13-01"), "Invalid value for '--since'"),
        (("audience", "--since", "2026-04-01"), "error: --since 2026-04-01 is after today"),
        (("post:x", "--since", "2026-03-01"), "error: --since is for audience and posts"),
        (("posts", "--since", "0001-01-01"), "error: --since 0001-01-01: a report covers at most"),
        (("audience", "--csv", "nope"), "error: --csv: no table 'nope'; this report has days"),
    ],
)
def test_publisher_report_refuses_in_one_line(site: Path, args, said) -> None:
    done = run_publisher("report", *args, "--now", "2026-03-10 12:00")
    assert done.returncode == 2 and said in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.lower().startswith("error")]
    assert "Traceback" not in done.stderr and len(errors) == 1
