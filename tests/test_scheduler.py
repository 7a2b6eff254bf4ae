"""The scheduler's rules, by time travel: DST weeks in America/Chicago, months, outages."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from publisher.config import Config, load_config
from publisher.content.posts import Post
from publisher.schedule.calendar import (
    last_digest_due,
    local_instant,
    new_publications,
    period_after,
    period_at,
    period_of_key,
    plan_digest,
)
from publisher.store.published import Record, Seen

from conftest import write_config

CHICAGO = ZoneInfo("America/Chicago")
MINUTE = timedelta(minutes=1)


def chicago(*args: int) -> datetime:
    """A Chicago wall time (first occurrence when ambiguous) as aware UTC."""
    return datetime(*args, tzinfo=CHICAGO).astimezone(UTC)


def make_config(tmp_path: Path, digest: str = "", newsletter: str = "") -> Config:
    path = write_config(tmp_path, f"[digest]\n{digest}\n")
    if newsletter:
        text = path.read_text().replace("[newsletter]\n", f"[newsletter]\n{newsletter}\n")
        path.write_text(text)
    return load_config(path, now="2026-01-01T00:00:00Z", env={})


def make_post(slug: str, when: datetime, email: bool = True, draft: bool = False) -> Post:
    return Post(
        source=Path(f"posts/{slug}.md"),
        slug=slug,
        title=slug.title(),
        date=when,
        tags=(),
        summary="",
        description="",
        author="",
        image="",
        image_alt="",
        draft=draft,
        email=email,
        aliases=(),
        html="<p>x</p>",
        toc="",
        word_count=1,
        reading_time=1,
        digest=slug,
    )


def simulate(
    config: Config, posts: list[Post], start: datetime, end: datetime, step: timedelta
) -> list[tuple[datetime, str, list[str]]]:
    """Tick every `step` from `start` to `end` as `tick` does; each digest sent, in order."""
    sent: list[tuple[datetime, str, list[str]]] = []
    keys: set[str] = set()
    now = start
    while now <= end:
        plan = plan_digest(config, now, posts, keys)
        if plan.status == "due":
            keys.add(plan.period.key)
            sent.append((now, plan.period.id, [p.slug for p in plan.posts]))
        now += step
    return sent


# --- Local time ----------------------------------------------------------------------


def test_local_instant_on_ordinary_days() -> None:
    assert local_instant(date(2026, 3, 2), time(9), CHICAGO) == datetime(2026, 3, 2, 15, tzinfo=UTC)
    assert local_instant(date(2026, 3, 9), time(9), CHICAGO) == datetime(2026, 3, 9, 14, tzinfo=UTC)


def test_a_skipped_wall_time_fires_at_the_change() -> None:
    # 2026-03-08: clocks jump from 02:00 CST to 03:00 CDT (08:00 UTC); 02:30 never happens.
    moment = local_instant(date(2026, 3, 8), time(2, 30), CHICAGO)
    assert moment == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
    assert moment.astimezone(CHICAGO).strftime("%H:%M %Z") == "03:00 CDT"


def test_a_repeated_wall_time_gives_its_first_occurrence() -> None:
    # 2026-11-01: 01:30 happens at 06:30 UTC (CDT) and again at 07:30 UTC (CST).
    moment = local_instant(date(2026, 11, 1), time(1, 30), CHICAGO)
    assert moment == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


# --- Digest periods ------------------------------------------------------------------


def test_weekly_digest_at_nine_local_across_spring_forward(tmp_path: Path) -> None:
    config = make_config(tmp_path, 'every = "monday"\nat = "09:00"\ngrace = "1d"')
    posts = [
        make_post("before-dst", chicago(2026, 3, 4, 10)),
        make_post("dst-sunday", chicago(2026, 3, 8, 12)),
        make_post("late-march", chicago(2026, 3, 18, 10)),
        # nothing between 2026-03-23 09:00 and 2026-03-30 09:00: that week sends nothing
    ]
    sent = simulate(
        config, posts, chicago(2026, 3, 2, 0), chicago(2026, 4, 1, 0), timedelta(minutes=15)
    )
    assert [
        (when.astimezone(CHICAGO).strftime("%a %m-%d %H:%M %Z"), pid) for when, pid, _ in sent
    ] == [
        ("Mon 03-09 09:00 CDT", "2026-03-09"),
        ("Mon 03-23 09:00 CDT", "2026-03-23"),
    ]
    assert [slugs for _, _, slugs in sent] == [["dst-sunday", "before-dst"], ["late-march"]]


def test_weekly_digest_at_nine_local_across_fall_back(tmp_path: Path) -> None:
    config = make_config(tmp_path, 'every = "monday"\nat = "09:00"')
    posts = [make_post(f"p{day}", chicago(2026, 10, day, 12)) for day in (20, 28)]
    posts += [
        make_post("p-nov-1", chicago(2026, 11, 1, 1, 30)),
        make_post("p-nov-5", chicago(2026, 11, 5, 8)),
    ]
    sent = simulate(
        config, posts, chicago(2026, 10, 19, 0), chicago(2026, 11, 10, 0), timedelta(minutes=15)
    )
    assert [(when, pid, slugs) for when, pid, slugs in sent] == [
        (datetime(2026, 10, 26, 14, tzinfo=UTC), "2026-10-26", ["p20"]),
        (datetime(2026, 11, 2, 15, tzinfo=UTC), "2026-11-02", ["p-nov-1", "p28"]),
        (datetime(2026, 11, 9, 15, tzinfo=UTC), "2026-11-09", ["p-nov-5"]),
    ]


def test_daily_digest_at_a_skipped_time_fires_once_at_the_change(tmp_path: Path) -> None:
    config = make_config(tmp_path, 'every = "day"\nat = "02:30"\ngrace = "1h"')
    posts = [make_post(f"p{day}", chicago(2026, 3, day, 12)) for day in range(5, 11)]
    sent = simulate(
        config, posts, chicago(2026, 3, 6, 0), chicago(2026, 3, 10, 0), timedelta(minutes=5)
    )
    local = [when.astimezone(CHICAGO).strftime("%m-%d %H:%M") for when, _, _ in sent]
    assert local == ["03-06 02:30", "03-07 02:30", "03-08 03:00", "03-09 02:30"]


def test_daily_digest_at_a_repeated_time_fires_once(tmp_path: Path) -> None:
    config = make_config(tmp_path, 'every = "day"\nat = "01:30"\ngrace = "1h"')
    posts = [make_post(f"p{day}", chicago(2026, 10, day, 12)) for day in range(29, 32)]
    sent = simulate(
        config, posts, chicago(2026, 10, 31, 0), chicago(2026, 11, 1, 12), timedelta(minutes=5)
    )
    assert [(when, pid) for when, pid, _ in sent] == [
        (datetime(2026, 10, 31, 6, 30, tzinfo=UTC), "2026-10-31"),
        (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), "2026-11-01"),
    ]


def test_monthly_periods(tmp_path: Path) -> None:
    config = make_config(tmp_path, 'every = "month"\nat = "08:00"')
    assert period_at(config, chicago(2026, 11, 30, 23)).id == "2026-11"
    december = period_after(config, chicago(2026, 11, 30, 23))
    assert (december.key, december.due) == ("digest:2026-12", chicago(2026, 12, 1, 8))
    assert period_after(config, chicago(2026, 12, 1, 8)).id == "2027-01"
    posts = [make_post(f"p{m}", chicago(2026, m, 10)) for m in (10, 11, 12)]
    sent = simulate(
        config, posts, chicago(2026, 10, 1, 0), chicago(2027, 1, 2, 0), timedelta(hours=1)
    )
    assert [(pid, slugs) for _, pid, slugs in sent] == [
        ("2026-11", ["p10"]),
        ("2026-12", ["p11"]),
        ("2027-01", ["p12"]),
    ]


def test_missed_three_days_gives_one_digest_with_everything(tmp_path: Path) -> None:
    config = make_config(tmp_path, 'every = "day"\nat = "07:00"\nmax_posts = 3')
    posts = [
        make_post(f"p{day}-{h}", chicago(2026, 6, day, h)) for day in range(1, 6) for h in (10, 18)
    ]
    keys = {"digest:2026-06-02"}
    # The machine was off from 2026-06-02 08:00 to 2026-06-05 12:00.
    plan = plan_digest(config, chicago(2026, 6, 5, 12), posts, keys)
    assert (plan.status, plan.period.id) == ("due", "2026-06-05")
    assert plan.since == chicago(2026, 6, 2, 7)
    assert [p.slug for p in plan.posts] == ["p4-18", "p4-10", "p3-18"]  # newest, max_posts
    keys.add(plan.period.key)
    assert plan_digest(config, chicago(2026, 6, 5, 12, 1), posts, keys).status == "done"


def test_a_digest_beyond_grace_is_missed(tmp_path: Path) -> None:
    config = make_config(tmp_path, 'every = "monday"\ngrace = "1d"')
    posts = [make_post("p", chicago(2026, 6, 3, 10))]
    assert plan_digest(config, chicago(2026, 6, 8, 10), posts, set()).status == "due"
    assert plan_digest(config, chicago(2026, 6, 11, 10), posts, set()).status == "missed"


def test_a_digest_never_holds_posts_from_before_the_first_run(tmp_path: Path) -> None:
    config = make_config(tmp_path, 'every = "monday"\nat = "09:00"')
    posts = [
        make_post("last-week", chicago(2026, 6, 3, 10)),
        make_post("new", chicago(2026, 6, 8, 9, 45)),
    ]
    started = chicago(2026, 6, 8, 9, 30)  # installed on Monday, after the digest time
    assert plan_digest(config, chicago(2026, 6, 8, 9, 31), posts, set(), started).status == "empty"
    plan = plan_digest(config, chicago(2026, 6, 15, 9, 1), posts, set(), started)
    assert (plan.since, [p.slug for p in plan.posts]) == (started, ["new"])


def test_digest_leaves_out_drafts_and_posts_without_email(tmp_path: Path) -> None:
    config = make_config(tmp_path, 'every = "day"')
    posts = [
        make_post("quiet", chicago(2026, 6, 1, 12), email=False),
        make_post("draft", chicago(2026, 6, 1, 12), draft=True),
    ]
    plan = plan_digest(config, chicago(2026, 6, 2, 10), posts, set())
    assert (plan.status, plan.posts) == ("empty", [])


def test_period_of_key_and_last_digest_due(tmp_path: Path) -> None:
    config = make_config(tmp_path, 'every = "monday"\nat = "09:00"')
    assert period_of_key(config, "digest:2026-03-09").due == chicago(2026, 3, 9, 9)
    assert period_of_key(config, "post:hello") is None
    keys = ["post:x", "digest:2026-03-02", "digest:2026-03-09", "digest:2026-03-16"]
    assert last_digest_due(config, keys, chicago(2026, 3, 16, 9)) == chicago(2026, 3, 9, 9)
    assert last_digest_due(config, [], chicago(2026, 3, 16, 9)) is None


# --- Announcements -------------------------------------------------------------------


@pytest.fixture
def announce_config(tmp_path: Path) -> Config:
    return make_config(tmp_path, newsletter='announce_max_age = "2d"')


def seen(live_at: dict[str, datetime], started: datetime | None, last: datetime | None) -> Seen:
    """The store's view: posts recorded live (by slug), the first and the latest pass."""
    records = {
        slug: Record(slug, when, True, "", True, None, f"posts/{slug}.md", None)
        for slug, when in live_at.items()
    }
    return Seen(records, started, last)


def test_first_run_records_the_back_catalogue_without_announcing(announce_config: Config) -> None:
    now = chicago(2026, 6, 10, 12)
    posts = [make_post(f"old{i}", now - timedelta(days=i)) for i in range(20)]
    posts.append(make_post("queued", now + timedelta(hours=1)))
    found = new_publications(announce_config, posts, seen({}, None, None), now)
    assert len(found) == 20 and not any(p.announce or p.in_digest for p in found)
    assert {p.reason for p in found} == {"back catalogue (live when publisher first ran)"}
    assert [p.slug for p in found][-1] == "old0"  # oldest first


def test_later_runs_email_new_posts_and_say_why_not(announce_config: Config) -> None:
    now = chicago(2026, 6, 10, 12)
    last = now - MINUTE
    posts = [
        make_post("known", now - timedelta(hours=1)),
        make_post("fresh", now - timedelta(seconds=30)),
        make_post("quiet", now - timedelta(seconds=30), email=False),
        make_post("undrafted", now - timedelta(days=3)),  # appeared since the last pass
        make_post("draft", now - timedelta(seconds=30), draft=True),
        make_post("queued", now + timedelta(minutes=1)),
    ]
    known = seen({"known": now - timedelta(hours=1)}, now - timedelta(days=30), last)
    found = {p.slug: p for p in new_publications(announce_config, posts, known, now)}
    assert {slug: (p.announce, p.in_digest, p.reason) for slug, p in found.items()} == {
        "fresh": (True, True, ""),
        "quiet": (False, False, "email: false in its front matter"),
        "undrafted": (True, True, ""),
    }
    assert found["undrafted"].live_at == now  # it went live now, not at its date
    assert found["fresh"].live_at == now - timedelta(seconds=30)


def test_a_post_due_while_the_machine_was_off_goes_in_the_digest_only(announce_config) -> None:
    now = chicago(2026, 6, 10, 12)
    posts = [make_post("missed", now - timedelta(days=3))]
    known = seen({}, now - timedelta(days=30), now - timedelta(days=4))
    [found] = new_publications(announce_config, posts, known, now)
    assert (found.announce, found.in_digest) == (False, True)
    assert "announce_max_age (2 days, 0:00:00) ago" in found.reason


def test_many_old_posts_at_once_are_an_import_and_not_emailed(
    announce_config, tmp_path: Path
) -> None:
    now = chicago(2026, 6, 10, 12)
    posts = [make_post(f"imported-{n}", now - timedelta(days=10 + n)) for n in range(4)]
    posts.append(make_post("news", now - timedelta(seconds=30)))
    known = seen({}, now - timedelta(days=30), now - MINUTE)
    found = {p.slug: p for p in new_publications(announce_config, posts, known, now)}
    assert found["news"].announce
    imported = [p for slug, p in found.items() if slug != "news"]
    assert not any(p.announce or p.in_digest for p in imported)
    assert {p.reason for p in imported} == {
        "one of many old posts that appeared at once (an import?)"
    }
    bigger = make_config(tmp_path, newsletter="import_threshold = 4")
    assert all(p.announce for p in new_publications(bigger, posts, known, now))


def test_a_renamed_post_is_not_announced_again(announce_config: Config) -> None:
    now = chicago(2026, 6, 10, 12)
    went_live = now - timedelta(hours=2)
    posts = [make_post("fixed-title", went_live), make_post("other", now - MINUTE)]
    known = seen({"fxied-title": went_live}, now - timedelta(days=30), now - 2 * MINUTE)
    old = known.records["fxied-title"]
    known.records["fxied-title"] = replace(old, source="posts/fixed-title.md")  # same file
    found = new_publications(announce_config, posts, known, now)
    assert {p.slug: p.announce for p in found} == {"fixed-title": False, "other": True}
    moved = found[0]  # the digest it was waiting for carries it at its new address
    assert (moved.in_digest, moved.live_at) == (True, went_live)
    known.records["fxied-title"] = replace(old, source="posts/fixed-title.md", digest_key="d:1")
    moved = new_publications(announce_config, posts, known, now)[0]
    assert not moved.in_digest  # a digest carried it already
