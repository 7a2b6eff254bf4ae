"""Clicks and opens (issue 22): the store's counts, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from publisher.store import clicks
from publisher.store.hyperloglog import Sketch
from publisher.store.schema import campaigns

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
LINKS = [
    clicks.Link(1, "https://example.org/posts/a/?utm_source=newsletter", "Read on"),
    clicks.Link(2, "https://example.org/", ""),
]


def new_campaign(store, key: str = "post:a", now: datetime = NOW) -> int:
    """A campaign row with LINKS as its link table."""
    with store.transaction() as conn:
        campaign_id = conn.execute(
            insert(campaigns)
            .values(key=key, kind="post", subject="A", html="", text="", status="done",
                    created_at=now, total=0)
            .returning(campaigns.c.id)
        ).scalar_one()  # fmt: skip
        clicks.add_links(conn, campaign_id, LINKS)
    return campaign_id


def test_counts_by_link_and_hour_and_unique_estimate(store) -> None:
    campaign = new_campaign(store)
    tally = clicks.Tally()
    for reader, moment in [("r1", NOW), ("r2", NOW), ("r3", NOW + timedelta(hours=2))]:
        hour = clicks.hour_of(moment)
        tally.clicks[campaign, 1, hour] += 1
        tally.sketch(campaign, 1).add(reader)
        tally.sketch(campaign, clicks.WHOLE_CAMPAIGN).add(reader)
    tally.scanners[campaign, 2, clicks.hour_of(NOW)] += 2
    with store.transaction() as conn:
        clicks.write(conn, tally)
    again = clicks.Tally()  # a second commit adds to the first, and r1 again is no one new
    again.clicks[campaign, 1, clicks.hour_of(NOW)] += 1
    again.sketch(campaign, 1).add("r1")
    again.opens[campaign, clicks.hour_of(NOW)] += 4
    with store.transaction() as conn:
        clicks.write(conn, again)
    with store.read() as conn:
        totals = clicks.link_totals(conn, campaign)
        hours = clicks.clicks_by_hour(conn, campaign)
        summary = clicks.summary(conn, campaign)
        opens = clicks.opens_by_hour(conn, campaign)
        ranked = clicks.campaign_clicks(conn, NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert totals == [
        clicks.LinkTotal(1, LINKS[0].url, "Read on", 4, 0, 3),
        clicks.LinkTotal(2, LINKS[1].url, "", 0, 2, 0),
    ]
    assert hours == [
        clicks.HourCount(datetime(2026, 5, 4, 9, tzinfo=UTC), 3, 2),
        clicks.HourCount(datetime(2026, 5, 4, 11, tzinfo=UTC), 1, 0),
    ]
    assert summary == clicks.ClickSummary(clicks=4, scanner_clicks=2, unique=3, opens=4)
    assert opens == [clicks.HourCount(datetime(2026, 5, 4, 9, tzinfo=UTC), 4, 0)]
    assert [(c.campaign_id, c.clicks, c.scanner_clicks) for c in ranked] == [(campaign, 4, 2)]


def test_salts_go_when_the_campaign_is_a_week_old(store) -> None:
    old = new_campaign(store, "post:old", NOW - timedelta(days=8))
    new = new_campaign(store, "post:new", NOW)
    with store.transaction() as conn:
        assert clicks.forget_salts(conn, NOW) == 1
    with store.read() as conn:
        assert clicks.salt(conn, old) is None
        assert len(clicks.salt(conn, new)) == 32


def test_sketch_estimates_within_a_few_percent() -> None:
    small, large = Sketch.empty(), Sketch.empty()
    for reader in range(30):
        small.add(f"reader-{reader}")
    for reader in range(20_000):
        large.add(f"reader-{reader}")
    assert abs(small.estimate() - 30) <= 2
    assert abs(large.estimate() - 20_000) <= 20_000 * 0.1
