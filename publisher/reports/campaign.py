"""How one campaign did: what happened to its messages, who left or complained, and which
links were clicked, when.

Every figure is an aggregate: the states are index ranges (`store.campaign_counts`), the
bounces, complaints and unsubscribes the campaign's few rows of `inbound` and `events`,
the clicks the click store's per-hour counts. Nothing here reads a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from publisher.errors import PublisherError
from publisher.reports.clicks import CampaignClicks, campaign_clicks
from publisher.store import campaign_counts, reporting
from publisher.store.clicks import ClickSummary, LinkTotal
from publisher.store.db import Store
from publisher.store.schema import (
    BOUNCED,
    DEFERRED,
    FAILED,
    QUEUED,
    SENDING,
    SENT,
    SKIPPED,
    UNKNOWN,
)


class CampaignNotFound(PublisherError):
    """No campaign has this key."""


@dataclass(frozen=True)
class HourRow:
    """Clicks in one hour after the campaign started (hour 0: its first hour)."""

    hour: int
    clicks: int
    scanner_clicks: int


@dataclass(frozen=True)
class CampaignReport:
    key: str
    subject: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    recipients: int
    sent: int  # accepted by the relay (delivered, and those a bounce came back for)
    delivered: int  # accepted, and no bounce came back
    waiting: int  # not tried yet, or being sent
    deferred: int  # refused for now; tried again later
    failed: int  # refused for good (a 5xx is a hard bounce too) or not buildable
    skipped: int
    unknown: int  # the relay never answered the end of the message
    bounced_hard: int  # a hard bounce came back, or the relay refused with a 5xx
    bounced_soft: int  # messages a soft bounce came back for
    complaints: int
    unsubscribes: int  # by this campaign's own unsubscribe links
    clicks_counted: bool  # False: its links were not counted (clicks off); the figures are 0
    clicks: int
    unique_clickers: int  # estimated: no one's identity is kept
    scanner_clicks: int  # security scanners and link checkers, not people
    click_rate: float  # unique clickers per delivered message
    opens: int  # 0 unless [tracking] opens is on; machine opens included
    links: list[LinkTotal]
    by_hour: list[HourRow]


def campaign_key(name: str) -> str:
    """A campaign's key from what someone typed: `post:<slug>`, `digest:<period>`, or a
    post's bare slug."""
    return name if ":" in name else f"post:{name}"


def campaign_report(store: Store, name: str) -> CampaignReport:
    key = campaign_key(name)
    row = campaign_counts.by_key(store, key)
    if row is None:
        raise CampaignNotFound(
            f"no campaign {key!r}; `publisher campaigns` lists them (post:<slug>, digest:<period>)"
        )
    states = campaign_counts.states(store, [row])[row.id]
    delivered, bounced = states.get(SENT, 0), states.get(BOUNCED, 0)
    clicked = campaign_clicks(store, row.id)
    figures = clicked or CampaignClicks([], [], ClickSummary(0, 0, 0, 0))
    totals = figures.totals
    return CampaignReport(
        key=row.key,
        subject=row.subject,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        recipients=row.total,
        sent=delivered + bounced,
        delivered=delivered,
        waiting=states.get(QUEUED, 0) + states.get(SENDING, 0),
        deferred=states.get(DEFERRED, 0),
        failed=states.get(FAILED, 0),
        skipped=states.get(SKIPPED, 0),
        unknown=states.get(UNKNOWN, 0),
        bounced_hard=bounced + campaign_counts.refused(store, row.id),
        bounced_soft=reporting.soft_bounces(store, row.id),
        complaints=campaign_counts.complaints(store, row.id),
        unsubscribes=reporting.unsubscribes(store, row.id),
        clicks_counted=clicked is not None,
        clicks=totals.clicks,
        unique_clickers=totals.unique,
        scanner_clicks=totals.scanner_clicks,
        click_rate=totals.unique / delivered if delivered else 0.0,
        opens=totals.opens,
        links=figures.links,
        by_hour=_by_hour(figures, row.started_at),
    )


def _by_hour(figures: CampaignClicks, started: datetime | None) -> list[HourRow]:
    """Each hour's clicks by hours since the campaign's first hour, every hour from the
    first to the last click present (a quiet hour is a 0, as a chart needs)."""
    if not figures.hours or started is None:
        return []
    first = started.replace(minute=0, second=0, microsecond=0)
    counted = {
        int((h.hour - first).total_seconds() // 3600): (h.clicks, h.scanner_clicks)
        for h in figures.hours
    }
    last = max(counted)
    return [HourRow(n, *counted.get(n, (0, 0))) for n in range(min(0, min(counted)), last + 1)]
