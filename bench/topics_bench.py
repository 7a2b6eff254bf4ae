"""Topics at scale: creating campaigns for readers of some topics, and sending them.

    .venv/bin/python bench/topics_bench.py [--size 1000000] [--rounds 2]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]
        [--send-size 20000] [--connections 4] [--skip-create] [--skip-send]

Creation (PostgreSQL): a fresh schema gets SIZE active `each` subscribers by COPY, 40%
with no topic chosen and the others a random set of the sample site's four topics. Then,
alternating WITH and WITHOUT topics for ROUNDS rounds, one campaign is created as a tick
creates it (`audience.create_campaign`: the choices read, the recipients one INSERT ...
SELECT), timed, its deliveries dropped before the next. Last, every subscriber is made a
digest reader and a digest of three posts in different topics is created as its editions
(`topics.editions`, all in one transaction).

Sending (SQLite, as `bench/send_bench.py`): two sample sites whose post reaches SEND-SIZE
readers: one without topics (SEND-SIZE readers), one with topics (2 x SEND-SIZE readers,
every other one of them in another topic only, so the deliveries are every other row).
Fresh processes create and send the campaign over CONNECTIONS connections into smtp-sink,
the two sites alternating for ROUNDS rounds; messages per second from the campaign's
creation to the last mark.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import (
    SLUG,
    bench_env,
    copy_sample_site,
    copy_subscribers,
    find_sink,
    postgres_schema,
    relay_env,
    start_sink,
    subscriber_rows,
)

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
TOPICS = ("sleep", "nutrition", "anxiety", "treatment")  # the sample site's
SEND_POST_TOPIC = "sleep"  # the topic of SLUG, the post the sending runs announce


def random_choice(rng: random.Random) -> str:
    """A reader's stored choice: none (everything) for 40%, else a random set of topics."""
    if rng.random() < 0.4:
        return ""
    return ",".join(sorted(rng.sample(TOPICS, rng.randint(1, len(TOPICS)))))


def fake_newsletter(key: str, kind: str = "post"):
    from publisher.mail.message import Newsletter

    return Newsletter(key, kind, "Subject", "<p>Hello __PUBLISHER_NAME__</p>", "Hello")


# --- Creation on PostgreSQL -----------------------------------------------------------


def vacuum(url: str) -> None:
    """VACUUM ANALYZE the subscribers (outside a transaction, as PostgreSQL requires)."""
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE subscribers")


def create(args: argparse.Namespace) -> None:
    from sqlalchemy import text

    from publisher import topics
    from publisher.config import load_config
    from publisher.store import audience, open_store

    with (
        tempfile.TemporaryDirectory() as tmp,
        postgres_schema(args.database_url, "topics") as (
            _schema,
            url,
        ),
    ):
        root = copy_sample_site(Path(tmp) / "site")
        config = load_config(root / "config" / "site.toml", now=NOW, env={})
        rng = random.Random(23)
        seconds = copy_subscribers(root, url, args.size, NOW, lambda _n: random_choice(rng))
        print(f"{args.size:,} subscribers with random topics by COPY in {seconds:.1f} s")
        wants = topics.reaches((SEND_POST_TOPIC,), config.topics)
        store = open_store(url, root)
        try:
            timings: dict[str, list[float]] = {"with topics": [], "without": []}
            for round_ in range(args.rounds):
                for label, chosen in (("with topics", wants), ("without", None)):
                    key = f"post:bench-{round_}-{label.split()[0]}"
                    started = time.perf_counter()
                    campaign, _ = audience.create_campaign(
                        store, fake_newsletter(key), "each", NOW, chosen
                    )
                    took = time.perf_counter() - started
                    timings[label].append(took)
                    print(f"  {label:<11} {campaign.total:>9,} recipients in {took:.1f} s")
                    with store.transaction() as conn:  # the next round starts as this one did
                        conn.execute(text("TRUNCATE deliveries, campaigns CASCADE"))
            for label, runs in timings.items():
                print(
                    f"campaign {label}: best {min(runs):.1f} s, median {statistics.median(runs):.1f} s"
                )
            with store.transaction() as conn:
                conn.execute(text("UPDATE subscribers SET frequency = 'digest'"))
            vacuum(url)  # the update left a dead version of every row behind
            post_topics = [("sleep",), ("nutrition", "anxiety"), ()]
            started = time.perf_counter()
            choices = audience.reader_choices(store, "digest")
            editions = topics.editions(post_topics, choices, config.topics)
            made = audience.create_campaigns(
                store,
                [(fake_newsletter(f"digest:x.{e.name}", "digest"), e.wants) for e in editions],
                "digest",
                NOW,
            )
            took = time.perf_counter() - started
            total = sum(campaign.total for campaign, _ in made)
            print(
                f"digest of 3 posts: {len(made)} editions for {len(choices)} distinct choices, "
                f"{total:,} deliveries in {took:.1f} s"
            )
        finally:
            store.close()


# --- Sending on SQLite ----------------------------------------------------------------


def make_send_site(root: Path, size: int, with_topics: bool) -> None:
    """The sample site whose post (SLUG, in `sleep`) reaches `size` readers: all of them
    without topics; with topics, 2 x `size`, every other one in `nutrition` only."""
    from sqlalchemy import insert

    from publisher.store import open_store
    from publisher.store.schema import subscribers

    copy_sample_site(root)
    config = root / "config" / "site.toml"
    if not with_topics:  # the sample's [topics] table out: a site that has none
        kept = [line for line in config.read_text().splitlines() if "tags = [" not in line]
        config.write_text("\n".join(line for line in kept if line != "[topics]") + "\n")
    count = 2 * size if with_topics else size
    with open_store("sqlite:///data/publisher.db", root) as store, store.transaction() as conn:
        for start in range(0, count, 10_000):
            rows = subscriber_rows(start, min(count, start + 10_000), NOW)
            for n, row in enumerate(rows, start):
                chosen = ("sleep" if n % 4 == 0 else "") if n % 2 == 0 else "nutrition"
                row["topics"] = chosen if with_topics else ""
            conn.execute(insert(subscribers), rows)


def child(root: Path, run: int) -> None:
    """One measured sending run in this process: the campaign as a tick creates it, sent."""
    import dataclasses

    from publisher import topics
    from publisher.config import load_config
    from publisher.content.posts import load_posts
    from publisher.delivery.campaigns import create_campaign, run_campaign
    from publisher.mail.newsletter import render_post
    from publisher.store import Store

    config = load_config(root / "config" / "site.toml", now=NOW)
    posts = load_posts(config)
    post = next(p for p in posts if p.slug == SLUG)
    newsletter = dataclasses.replace(render_post(config, post, posts), key=f"post:run-{run}")
    wants = topics.reaches(topics.post_topics(post.tags, config.topics), config.topics)
    with Store.open(config) as store:
        started = time.perf_counter()
        campaign, _ = create_campaign(config, store, newsletter, "each", wants)
        summary = run_campaign(config, store, campaign)
        elapsed = time.perf_counter() - started
    print(json.dumps({"sent": summary.counts.sent, "rate": summary.counts.sent / elapsed}))


def send(args: argparse.Namespace) -> None:
    sink, port, kind = start_sink(find_sink())
    env = bench_env(**relay_env(port), PUBLISHER_DELIVERY_CONNECTIONS=str(args.connections))
    print(f"sending {args.send_size:,} messages a run into {kind}, {args.connections} connections")
    rates: dict[str, list[float]] = {"with topics": [], "without": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sites = {}
            for label, with_topics in (("with topics", True), ("without", False)):
                sites[label] = Path(tmp) / label.replace(" ", "-")
                make_send_site(sites[label], args.send_size, with_topics)
            for run in range(args.rounds):
                for label, root in sites.items():
                    done = subprocess.run(
                        [sys.executable, __file__, "--child", str(root), str(run)],
                        cwd=root,
                        env=env,
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    result = json.loads(done.stdout.strip().splitlines()[-1])
                    assert result["sent"] == args.send_size, result
                    rates[label].append(result["rate"])
                    print(f"  {label:<11} {result['rate']:>7,.0f} msg/s")
    finally:
        sink.terminate()
        sink.wait()
    best = {label: max(runs) for label, runs in rates.items()}
    middle = {label: statistics.median(runs) for label, runs in rates.items()}
    print(
        f"with topics / without: best {best['with topics'] / best['without']:.3f}, "
        f"median {middle['with topics'] / middle['without']:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--send-size", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--skip-create", action="store_true")
    parser.add_argument("--skip-send", action="store_true")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), int(args.child[1]))
        return
    if not args.skip_create:
        create(args)
    if not args.skip_send:
        send(args)


if __name__ == "__main__":
    main()
