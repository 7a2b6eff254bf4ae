"""Clicks and opens of campaigns, counted without naming anyone (issue 22).

What is stored (tables in `click_schema`):

- `campaign_links`: each campaign's links, numbered from 1 in the order they first appear
  in its email, with their target URL and link text. A click's redirect reads its target
  here and only here, so a tampered link finds nothing (404) and nothing redirects to an
  address taken from the request.
- `click_hours`: per campaign, link and hour (UTC, the hour's start), the clicks by people
  (`clicks`) and those by link scanners (`scanner_clicks`: HEAD requests, known scanners'
  user agents, every link of one message at once right after it was sent). Counts only.
- `click_sketches`: per campaign and link (link 0: the whole campaign), a HyperLogLog
  sketch (`hyperloglog.py`) of the readers who clicked: 1,024 one-byte registers from
  which the number of distinct clickers is estimated (exact within 1 or 2 up to a few
  dozen, about 3% beyond). A register keeps the longest run of zero bits seen in a hash,
  nothing from which a reader could be told.
- `click_salts`: each campaign's random salt, with which its emails' links carry a reader
  tag (HMAC of the subscriber id) so repeat clicks count once in the sketch. Deleted when
  the campaign is a week old (`forget_salts`), after which no tag can be tied to anyone.
- `open_hours`: with `[tracking] opens = "on"`, pixel loads per campaign and hour, counted
  only (no unique estimate: machine opens, such as Apple Mail's, are included).
- `person_clicks`: only with `[tracking] clicks = "individual"`: the subscriber's id with
  each click. Deleted with the subscriber (foreign key, ON DELETE CASCADE), so `subscribers
  forget` and the erase API remove them.

The read API for reports (`publisher report`, the console), each taking a connection from
`store.read()`:

- `links(conn, campaign_id) -> list[Link]`: the link table, in link order.
- `link_totals(conn, campaign_id) -> list[LinkTotal]`: each link with its clicks, scanner
  clicks and estimated unique clickers (links never clicked included, with zeros).
- `clicks_by_hour(conn, campaign_id) -> list[HourCount]`: every link's clicks summed per
  hour, oldest first, hours without clicks left out.
- `summary(conn, campaign_id) -> ClickSummary`: the campaign's clicks, scanner clicks,
  unique clickers (estimated) and opens.
- `opens_by_hour(conn, campaign_id) -> list[HourCount]`: opens per hour (`clicks` holds the
  opens, `scanner_clicks` is 0).
- `campaign_clicks(conn, since, until) -> list[CampaignClicks]`: clicks per campaign whose
  clicks fell in [since, until), most clicked first (which posts' emails were clicked most).

Indexes: every table's primary key starts with `campaign_id`, so each of these reads one
key range; `click_hours_hour` (hour, campaign_id) serves `campaign_clicks`.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, select, text

from publisher.store.click_schema import (
    campaign_links,
    click_hours,
    click_salts,
    click_sketches,
    open_hours,
    person_clicks,
)
from publisher.store.hyperloglog import Sketch
from publisher.store.schema import campaigns

SALT_LIFETIME = timedelta(days=7)  # how long a campaign's reader tags can be tied to anyone
# Where a new campaign's id goes in its tracked links (mail/tracking.py): `add_links`
# writes the id in once the campaign row has one.
CAMPAIGN_SLOT = "__PUBLISHER_CAMPAIGN__"
WHOLE_CAMPAIGN = 0  # click_sketches.link of the campaign's sketch (every link together)


@dataclass(frozen=True)
class Link:
    """One link of a campaign's email: what `/l/<campaign>/<number>/...` redirects to."""

    number: int  # from 1, in the order the links first appear in the email
    url: str  # the target, UTM parameters included
    text: str  # the link's text in the email ("" for an image link)


@dataclass(frozen=True)
class LinkTotal:
    number: int
    url: str
    text: str
    clicks: int  # by people (scanners left out)
    scanner_clicks: int
    unique: int  # distinct people who clicked, estimated (HyperLogLog)


@dataclass(frozen=True)
class HourCount:
    hour: datetime  # the hour's start, aware UTC
    clicks: int
    scanner_clicks: int


@dataclass(frozen=True)
class ClickSummary:
    clicks: int
    scanner_clicks: int
    unique: int  # distinct people who clicked any link, estimated
    opens: int  # 0 unless `[tracking] opens = "on"`; machine opens included


@dataclass(frozen=True)
class CampaignClicks:
    campaign_id: int
    key: str  # post:<slug>, digest:<period>
    subject: str
    clicks: int
    scanner_clicks: int


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


# --- reading --------------------------------------------------------------------------


def links(conn: Connection, campaign_id: int) -> list[Link]:
    table = campaign_links.c
    query = (
        select(table.number, table.url, table.text)
        .where(table.campaign_id == campaign_id)
        .order_by(table.number)
    )
    return [Link(*row) for row in conn.execute(query)]


def target(conn: Connection, campaign_id: int, number: int) -> str | None:
    """The URL link `number` of the campaign goes to, or None when there is no such link."""
    table = campaign_links.c
    query = select(table.url).where(table.campaign_id == campaign_id, table.number == number)
    return conn.execute(query).scalar_one_or_none()


def _sketches(conn: Connection, campaign_id: int) -> dict[int, Sketch]:
    table = click_sketches.c
    query = select(table.link, table.registers).where(table.campaign_id == campaign_id)
    return {link: Sketch(bytearray(registers)) for link, registers in conn.execute(query)}


def link_totals(conn: Connection, campaign_id: int) -> list[LinkTotal]:
    table = click_hours.c
    counts = {
        link: (clicks, scanners)
        for link, clicks, scanners in conn.execute(
            select(table.link, func.sum(table.clicks), func.sum(table.scanner_clicks))
            .where(table.campaign_id == campaign_id)
            .group_by(table.link)
        )
    }
    sketches = _sketches(conn, campaign_id)
    totals = []
    for link in links(conn, campaign_id):
        clicks, scanners = counts.get(link.number, (0, 0))
        sketch = sketches.get(link.number)
        unique = sketch.estimate() if sketch else 0
        totals.append(LinkTotal(*vars(link).values(), int(clicks), int(scanners), unique))
    return totals


def clicks_by_hour(conn: Connection, campaign_id: int) -> list[HourCount]:
    table = click_hours.c
    query = (
        select(table.hour, func.sum(table.clicks), func.sum(table.scanner_clicks))
        .where(table.campaign_id == campaign_id)
        .group_by(table.hour)
        .order_by(table.hour)
    )
    return [
        HourCount(hour, int(clicks), int(scanners))
        for hour, clicks, scanners in conn.execute(query)
    ]


def opens_by_hour(conn: Connection, campaign_id: int) -> list[HourCount]:
    table = open_hours.c
    query = (
        select(table.hour, table.opens).where(table.campaign_id == campaign_id).order_by(table.hour)
    )
    return [HourCount(hour, opens, 0) for hour, opens in conn.execute(query)]


def summary(conn: Connection, campaign_id: int) -> ClickSummary:
    table = click_hours.c
    clicks, scanners = conn.execute(
        select(
            func.coalesce(func.sum(table.clicks), 0),
            func.coalesce(func.sum(table.scanner_clicks), 0),
        ).where(table.campaign_id == campaign_id)
    ).one()
    opens = conn.execute(
        select(func.coalesce(func.sum(open_hours.c.opens), 0)).where(
            open_hours.c.campaign_id == campaign_id
        )
    ).scalar_one()
    sketch = _sketches(conn, campaign_id).get(WHOLE_CAMPAIGN)
    unique = sketch.estimate() if sketch else 0
    return ClickSummary(int(clicks), int(scanners), unique, int(opens))


def campaign_clicks(conn: Connection, since: datetime, until: datetime) -> list[CampaignClicks]:
    table = click_hours.c
    clicks = func.sum(table.clicks).label("clicks")
    query = (
        select(
            table.campaign_id,
            campaigns.c.key,
            campaigns.c.subject,
            clicks,
            func.sum(table.scanner_clicks),
        )
        .join(campaigns, campaigns.c.id == table.campaign_id)
        .where(table.hour >= hour_of(since), table.hour < until)
        .group_by(table.campaign_id, campaigns.c.key, campaigns.c.subject)
        .order_by(clicks.desc(), table.campaign_id)
    )
    return [
        CampaignClicks(campaign_id, key, subject, int(count), int(scanners))
        for campaign_id, key, subject, count, scanners in conn.execute(query)
    ]


# --- writing --------------------------------------------------------------------------


def add_links(conn: Connection, campaign_id: int, found: Iterable[Link]) -> None:
    """Store a new campaign's link table and its salt (in the campaign's transaction)."""
    rows = [
        {"campaign_id": campaign_id, "number": link.number, "url": link.url, "text": link.text}
        for link in found
    ]
    if rows:
        conn.execute(insert(campaign_links), rows)
    conn.execute(insert(click_salts).values(campaign_id=campaign_id, salt=secrets.token_hex(16)))


def salt(conn: Connection, campaign_id: int) -> str | None:
    """The salt of the campaign's reader tags; None once the campaign is a week old (or it
    was created before clicks were counted): its links then carry no tag."""
    query = select(click_salts.c.salt).where(click_salts.c.campaign_id == campaign_id)
    return conn.execute(query).scalar_one_or_none()


def forget_salts(conn: Connection, now: datetime) -> int:
    """Delete the salts of campaigns created more than `SALT_LIFETIME` ago: from then on,
    no reader tag in their emails can be tied to a subscriber. Returns how many went."""
    old = select(campaigns.c.id).where(campaigns.c.created_at < now - SALT_LIFETIME)
    return conn.execute(delete(click_salts).where(click_salts.c.campaign_id.in_(old))).rowcount


@dataclass
class Tally:
    """Counts waiting for the next group commit (`write`): what the redirect collects
    between commits. Holds numbers and sketch registers, never a reader tag or an id,
    except `people` (individual mode only: the subscriber ids of clicks)."""

    clicks: Counter = field(default_factory=Counter)  # (campaign, link, hour) -> n
    scanners: Counter = field(default_factory=Counter)
    opens: Counter = field(default_factory=Counter)  # (campaign, hour) -> n
    sketches: dict[tuple[int, int], Sketch] = field(default_factory=dict)
    people: list[tuple[int, int, int, datetime]] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(self.clicks.values()) + sum(self.scanners.values()) + sum(self.opens.values())

    def sketch(self, campaign_id: int, link: int) -> Sketch:
        return self.sketches.setdefault((campaign_id, link), Sketch.empty())


_ADD_HOUR = text(
    "INSERT INTO click_hours (campaign_id, link, hour, clicks, scanner_clicks)"
    " VALUES (:campaign, :link, :hour, :clicks, :scanners)"
    " ON CONFLICT (campaign_id, link, hour) DO UPDATE SET"
    " clicks = click_hours.clicks + excluded.clicks,"
    " scanner_clicks = click_hours.scanner_clicks + excluded.scanner_clicks"
)
_ADD_OPENS = text(
    "INSERT INTO open_hours (campaign_id, hour, opens) VALUES (:campaign, :hour, :opens)"
    " ON CONFLICT (campaign_id, hour) DO UPDATE SET opens = open_hours.opens + excluded.opens"
)


def write(conn: Connection, tally: Tally) -> None:
    """Add `tally` to the stored counts, in the caller's transaction: one group commit.
    Counts of campaigns deleted meanwhile are dropped (their rows would have no campaign)."""
    known = _existing(conn, {key[0] for key in [*tally.clicks, *tally.scanners, *tally.opens]})
    keys = set(tally.clicks) | set(tally.scanners)
    hours = [
        {"campaign": c, "link": n, "hour": h, "clicks": tally.clicks[c, n, h],
         "scanners": tally.scanners[c, n, h]}
        for c, n, h in sorted(keys, key=lambda k: (k[0], k[1], k[2]))
        if c in known
    ]  # fmt: skip
    if hours:
        conn.execute(_ADD_HOUR, [_bind(conn, row) for row in hours])
    opens = [
        {"campaign": c, "hour": h, "opens": n} for (c, h), n in tally.opens.items() if c in known
    ]
    if opens:
        conn.execute(_ADD_OPENS, [_bind(conn, row) for row in opens])
    _merge_sketches(conn, {k: s for k, s in tally.sketches.items() if k[0] in known})
    rows = [
        {"campaign_id": c, "link": n, "subscriber_id": s, "at": at}
        for c, n, s, at in tally.people
        if c in known
    ]
    if rows:
        conn.execute(insert(person_clicks), rows)


def _existing(conn: Connection, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    return set(conn.execute(select(campaigns.c.id).where(campaigns.c.id.in_(ids))).scalars())


def _bind(conn: Connection, row: Mapping) -> dict:
    """Plain-text statements bypass `UTCDateTime`: hours go in as naive UTC, as it does."""
    return {k: v.replace(tzinfo=None) if isinstance(v, datetime) else v for k, v in row.items()}


def _merge_sketches(conn: Connection, pending: dict[tuple[int, int], Sketch]) -> None:
    table = click_sketches.c
    for (campaign_id, link), sketch in sorted(pending.items()):
        where = (table.campaign_id == campaign_id, table.link == link)
        stored = conn.execute(select(table.registers).where(*where)).scalar_one_or_none()
        if stored is None:
            conn.execute(
                insert(click_sketches).values(
                    campaign_id=campaign_id, link=link, registers=bytes(sketch.registers)
                )
            )
            continue
        merged = Sketch(bytearray(stored))
        merged.merge(sketch)
        conn.execute(
            click_sketches.update().where(*where).values(registers=bytes(merged.registers))
        )
