"""Report benchmark: a campaign of 1,000,000 deliveries and 3,000,000 clicks, and the
audience behind it, on SQLite and PostgreSQL; each report timed as `publisher report`,
the API and the console compute it (p50 and p95 of repeated calls, in process).

    .venv/bin/python bench/report_bench.py [--deliveries 1000000] [--clicks 3000000]
        [--links 20] [--repeat 20] [--spread 365]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]

The store: one subscriber per delivery, joined one a day over the last `--spread` days
(a year; a tenth imported, a tenth by staff, the rest by the web form), 2% unsubscribed
(each with an `unsubscribed` event by the campaign's link and a reason) and 0.5% bounced; the campaign's deliveries
mostly sent, 1% bounced, 0.3% failed with a 550, 0.1% deferred; 1% of them with a soft
bounce or complaint read back in `inbound`; and its clicks as the redirect stores them:
per link and hour for a week (`--links` links; the counts add up to `--clicks`), with a
HyperLogLog sketch per link.

The bar (issue 22): every report under 100 ms. What each reads, and by which index:
- campaign: states by `deliveries_work` (campaign_id, state, id), two ranges around `sent`;
  hard refusals the `failed` range; soft bounces and complaints `inbound_campaign`
  (campaign_id, kind); unsubscribes `events_campaign` (campaign_id, kind); clicks
  the primary keys of `campaign_links`, `click_hours`, `click_sketches` (campaign first).
- audience: subscribers per status from `subscribers_status` (status, id), then those
  who joined, confirmed or left since the period's first month by `subscribers_created`,
  `_confirmed`, `_left` (so it costs the period's changes: in this store, where people
  join every day of the year, about a third of the list for 90 days); sign-up sources and
  unsubscribe reasons from the covering index `events_reports` (kind, at, source, reason).
- posts: `click_hours_hour` (hour, campaign_id) for the period, `campaign_links` by key.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import postgres_schema

BAR_MS = 100.0
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
SENT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
JOINED = "2025-12-01"  # the first subscriber's day; one a day after, round the year

# One row per subscriber: (n) -> the columns, in each database's SQL.
SUBSCRIBERS = {
    "sqlite": """
        INSERT INTO subscribers (email, email_key, name, status, frequency, source, created_at,
            confirmed_at, unsubscribed_at, bounce_count, token_key, topics)
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
        SELECT 'reader' || i || '@example.org', 'reader' || i || '@example.org', '',
            CASE WHEN i % 50 = 0 THEN 'unsubscribed' WHEN i % 200 = 1 THEN 'bounced'
                 ELSE 'active' END,
            'each', {source}, {created}, {created},
            CASE WHEN i % 50 = 0 OR i % 200 = 1 THEN {left} END, 0, '', ''
        FROM n
    """,
    "postgresql": """
        INSERT INTO subscribers (email, email_key, name, status, frequency, source, created_at,
            confirmed_at, unsubscribed_at, bounce_count, token_key, topics)
        SELECT 'reader' || i || '@example.org', 'reader' || i || '@example.org', '',
            CASE WHEN i % 50 = 0 THEN 'unsubscribed' WHEN i % 200 = 1 THEN 'bounced'
                 ELSE 'active' END,
            'each', {source}, {created}, {created},
            CASE WHEN i % 50 = 0 OR i % 200 = 1 THEN {left} END, 0, '', ''
        FROM generate_series(1, :count) AS i
    """,
}
DAYS = {
    "sqlite": ("datetime('{day}', '+' || ({offset}) || ' days')"),
    "postgresql": ("timestamp '{day}' + ({offset}) * interval '1 day'"),
}
SOURCE = "CASE i % 10 WHEN 0 THEN 'import:list.csv' WHEN 1 THEN 'cli' ELSE 'web' END"


def build(url: str, root: Path, deliveries: int, clicks: int, links: int, spread: int) -> int:
    """Write the store; the campaign's id."""
    from sqlalchemy import insert, text

    from publisher.store import clicks as click_store
    from publisher.store.db import open_store
    from publisher.store.hyperloglog import Sketch
    from publisher.store.schema import campaigns

    store = open_store(url, root)
    dialect = store.engine.dialect.name
    day = DAYS[dialect]
    first = (datetime.fromisoformat(JOINED) - timedelta(days=spread - 365)).date().isoformat()
    created = day.format(day=first, offset=f"i % {spread}")
    left = day.format(day=first, offset=f"i % {spread} + 7")
    with store.transaction() as conn:
        sql = SUBSCRIBERS[dialect].format(source=SOURCE, created=created, left=left)
        conn.execute(text(sql), {"count": deliveries})
        conn.execute(
            text(
                "INSERT INTO events (subscriber_id, kind, at, source, detail, reason)"
                " SELECT id, 'subscribed', created_at, source, '', '' FROM subscribers"
            )
        )
        campaign = conn.execute(
            insert(campaigns)
            .values(
                key="post:bench", kind="post", subject="Bench", html="", text="", headers="{}",
                status="done", note="", created_at=SENT, started_at=SENT,
                finished_at=SENT + timedelta(hours=2), total=deliveries,
            )
            .returning(campaigns.c.id)
        ).scalar_one()  # fmt: skip
        state = (
            "CASE WHEN id % 100 = 3 THEN 'bounced' WHEN id % 1000 IN (5, 6, 7) THEN 'failed'"
            " WHEN id % 1000 = 8 THEN 'deferred' ELSE 'sent' END"
        )
        conn.execute(
            text(
                "INSERT INTO deliveries (campaign_id, subscriber_id, state, attempts, smtp_code)"
                f" SELECT :campaign, id, {state}, 1,"
                " CASE WHEN id % 1000 IN (5, 6, 7) THEN 550 END FROM subscribers"
            ),
            {"campaign": campaign},
        )
        conn.execute(
            text(
                "INSERT INTO events (subscriber_id, kind, at, source, detail, campaign_id, reason)"
                " SELECT id, 'unsubscribed', unsubscribed_at, 'web', '', :campaign,"
                " CASE id % 4 WHEN 0 THEN 'too-many' WHEN 1 THEN 'other' ELSE '' END"
                " FROM subscribers WHERE status = 'unsubscribed'"
            ),
            {"campaign": campaign},
        )
        conn.execute(
            text(
                "INSERT INTO inbound (message_id, received_at, kind, subscriber_id, delivery_id,"
                " campaign_id, action, detail)"
                " SELECT 'mail:' || d.id, :at, CASE WHEN d.id % 2 = 0 THEN 'bounce'"
                " ELSE 'complaint' END, d.subscriber_id, d.id, d.campaign_id,"
                " CASE WHEN d.id % 2 = 0 THEN 'soft bounce 1 of 3' ELSE 'subscriber complained'"
                " END, '' FROM deliveries d WHERE d.id % 100 = 50"
            ),
            {"at": SENT.replace(tzinfo=None)},
        )
        click_store.add_links(
            conn,
            campaign,
            [click_store.Link(n, f"https://bench.example.org/posts/p{n}/", f"Link {n}") for n in range(1, links + 1)],
        )  # fmt: skip
        tally = click_store.Tally()
        hours = 24 * 7
        each = clicks // (links * hours)
        for link in range(1, links + 1):
            for hour in range(hours):
                tally.clicks[campaign, link, SENT + timedelta(hours=hour)] += each
                tally.scanners[campaign, link, SENT + timedelta(hours=hour)] += each // 50
        tally.clicks[campaign, 1, SENT] += clicks - each * links * hours
        whole = tally.sketch(campaign, click_store.WHOLE_CAMPAIGN)
        for link in range(1, links + 1):
            sketch = tally.sketch(campaign, link)
            for reader in range(0, deliveries, 97 * link):
                sketch.add(str(reader))
                whole.add(str(reader))
        assert isinstance(whole, Sketch)
        click_store.write(conn, tally)
    with store.connect() as conn:  # as autovacuum leaves a table: index-only scans work
        if dialect == "postgresql":
            conn.connection.driver_connection.autocommit = True
            conn.exec_driver_sql("VACUUM ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    store.close()
    return campaign


def timed(call: Callable[[], object], repeat: int) -> dict[str, float]:
    """Wall time (p50, p95) and this process's CPU time (p50) a call: on a shared machine
    the wall time includes waiting for a core, the CPU time much less so (on SQLite it is
    the whole query's; PostgreSQL's work is in its own process, not counted)."""
    call()  # warm: the first call reads pages later ones find cached
    times, cpu = [], []
    for _ in range(repeat):
        started, used = time.perf_counter(), time.process_time()
        call()
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, round(len(times) * 0.95) - 1)], 1),
        "cpu_p50_ms": round(statistics.median(cpu), 1),
    }


def run(url: str, root: Path, args: argparse.Namespace) -> dict[str, dict]:
    from publisher.reports.audience import audience_report
    from publisher.reports.campaign import campaign_report
    from publisher.reports.posts import posts_report
    from publisher.store.db import open_store

    started = time.perf_counter()
    build(url, root, args.deliveries, args.clicks, args.links, args.spread)
    print(f"  store written in {time.perf_counter() - started:.0f} s", flush=True)
    store = open_store(url, root)
    try:
        found = campaign_report(store, "post:bench")
        print(f"  campaign: {found.recipients:,} recipients, {found.clicks:,} clicks", flush=True)
        results = {
            "campaign report": timed(lambda: campaign_report(store, "post:bench"), args.repeat),
            "audience report (90 days)": timed(lambda: audience_report(store, NOW), args.repeat),
            "posts report (30 days)": timed(lambda: posts_report(store, NOW), args.repeat),
        }
    finally:
        store.close()
    for name, figures in results.items():
        verdict = "ok" if figures["p95_ms"] <= BAR_MS else f"over {BAR_MS:.0f} ms"
        print(
            f"  {name}: p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, "
            f"CPU {figures['cpu_p50_ms']} ms ({verdict})"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--clicks", type=int, default=3_000_000)
    parser.add_argument("--links", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--spread", type=int, default=365, help="Days over which the subscribers joined, one a day."
    )
    parser.add_argument("--postgres", help="Also on this PostgreSQL (a new schema, dropped after).")
    args = parser.parse_args()
    results = {}
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="report-bench-")))
        print("SQLite:", flush=True)
        results["sqlite"] = run(f"sqlite:///{root / 'bench.db'}", root, args)
        if args.postgres:
            print("PostgreSQL:", flush=True)
            _schema, url = stack.enter_context(postgres_schema(args.postgres, "report_bench"))
            results["postgresql"] = run(url, root, args)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
