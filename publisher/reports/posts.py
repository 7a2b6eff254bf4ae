"""Which posts' emails were clicked most in a period: the clicks of that period on links to
each post, in its announcement, in digests and in other posts' emails, and on the other
links of its own announcement (its body's), most clicked first, scanners apart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit

from publisher.reports.audience import period
from publisher.store import campaign_counts, reporting
from publisher.store.db import Store

DEFAULT_DAYS = 30


@dataclass(frozen=True)
class PostClicks:
    slug: str
    clicks: int  # by people
    scanner_clicks: int
    emails: int  # campaigns whose clicks counted for it


@dataclass(frozen=True)
class PostsReport:
    since: date
    until: date  # inclusive
    posts: list[PostClicks]


def posts_report(
    store: Store, now: datetime, since: date | None = None, limit: int = 20
) -> PostsReport:
    """The `limit` posts whose emails were clicked most from `since` (default: the last
    DEFAULT_DAYS days) to `now`."""
    since, until = period(now, since, DEFAULT_DAYS)
    start = datetime.combine(since, time(), UTC)
    end = datetime.combine(until + timedelta(days=1), time(), UTC)
    counted = reporting.period_clicks(store, start, end)
    keys = (
        {cid: key for key, (cid, _total) in campaign_counts.totals(store).items()}
        if counted
        else {}
    )
    paths = reporting.post_paths(store) if counted else {}
    clicks: dict[str, int] = {}
    scanners: dict[str, int] = {}
    emails: dict[str, set[int]] = {}
    for link in counted:
        own = keys.get(link.campaign_id, "")
        slug = paths.get(urlsplit(link.url).path) or own.partition("post:")[2]
        if slug:
            clicks[slug] = clicks.get(slug, 0) + link.clicks
            scanners[slug] = scanners.get(slug, 0) + link.scanner_clicks
            emails.setdefault(slug, set()).add(link.campaign_id)
    rows = [PostClicks(slug, clicks[slug], scanners[slug], len(emails[slug])) for slug in clicks]
    rows.sort(key=lambda r: (-r.clicks, r.slug))
    return PostsReport(since, until, rows[:limit])
