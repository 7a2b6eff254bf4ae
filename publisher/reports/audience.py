"""Who is on the list over time: subscribers by status each day, where sign-ups came from,
why people left, and growth and churn each month.

The daily statuses come from each subscriber's own days (joined, confirmed, left): a
subscriber is pending from joining, active from confirming (or joining, when added as
active with no confirmation recorded), and has their current
suppressed status from leaving. Someone who came back after leaving counts as active
since they last confirmed, and an erased subscriber is gone from every day, as erasure
means. Sources and reasons are counted from the event log, which keeps them (not who)
after an erasure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from publisher.errors import PublisherError
from publisher.store import reporting
from publisher.store.db import Store
from publisher.store.reporting import StatusDates
from publisher.store.subscribers import STATUSES, SUPPRESSED
from publisher.subscribers import leaving

DEFAULT_DAYS = 90
SOURCES = ("web form", "import", "staff", "API", "other")


@dataclass(frozen=True)
class DayRow:
    day: date
    pending: int
    active: int
    unsubscribed: int
    bounced: int
    complained: int


@dataclass(frozen=True)
class SourceRow:
    kind: str  # one of SOURCES
    source: str  # as recorded: web, web:<page>, import:<file>, cli, console, api
    count: int


@dataclass(frozen=True)
class ReasonRow:
    reason: str  # the stored value ("" for none)
    label: str
    count: int


@dataclass(frozen=True)
class MonthRow:
    month: str  # YYYY-MM
    active_at_start: int
    joined: int  # new sign-ups (pending or active)
    confirmed: int  # became active
    left: int  # unsubscribed, bounced or complained
    active_at_end: int
    growth: int  # active at the end less at the start
    churn: float | None  # left per active subscriber at the start; None with none


@dataclass(frozen=True)
class AudienceReport:
    since: date
    until: date  # inclusive
    days: list[DayRow]
    sources: list[SourceRow]
    reasons: list[ReasonRow]
    months: list[MonthRow]


def audience_report(store: Store, now: datetime, since: date | None = None) -> AudienceReport:
    """The audience from `since` (default: the last DEFAULT_DAYS days) up to `now`."""
    until = now.astimezone(UTC).date()
    since = since or until - timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        raise PublisherError(f"--since {since} is after today ({until}); give an earlier day")
    groups = reporting.status_dates(store)
    start = datetime.combine(since, time(), UTC)
    end = datetime.combine(until + timedelta(days=1), time(), UTC)
    return AudienceReport(
        since=since,
        until=until,
        days=[_day(groups, day) for day in _days(since, until)],
        sources=_sources(reporting.signup_sources(store, start, end)),
        reasons=_reasons(reporting.unsubscribe_reasons(store, start, end)),
        months=_months(groups, since, until),
    )


def status_on(groups: list[StatusDates], day: date) -> dict[str, int]:
    """Subscribers by status at the end of `day`."""
    found = dict.fromkeys(STATUSES, 0)
    text = day.isoformat()
    for group in groups:
        if group.created > text:
            continue
        if group.left is not None and group.left <= text and group.status in SUPPRESSED:
            found[group.status] += group.count
        elif (active := _active_since(group)) is not None and active <= text:
            found["active"] += group.count
        else:
            found["pending"] += group.count
    return found


def _active_since(group: StatusDates) -> str | None:
    """The day a group became active: when it confirmed, or joined for an active row that
    records no confirmation (added as active before confirmations were recorded)."""
    if group.confirmed is None and group.status == "active":
        return group.created
    return group.confirmed


def _day(groups: list[StatusDates], day: date) -> DayRow:
    return DayRow(day, *status_on(groups, day).values())


def _days(since: date, until: date) -> list[date]:
    return [since + timedelta(days=n) for n in range((until - since).days + 1)]


def source_kind(source: str) -> str:
    """Which of SOURCES a recorded source is."""
    name = source.split(":", 1)[0]
    kinds = {"web": "web form", "import": "import", "cli": "staff", "console": "staff"}
    return "API" if name == "api" else kinds.get(name, "other")


def _sources(counted: dict[str, int]) -> list[SourceRow]:
    rows = [SourceRow(source_kind(source), source, n) for source, n in counted.items()]
    return sorted(rows, key=lambda r: (SOURCES.index(r.kind), -r.count, r.source))


def _reasons(counted: dict[str, int]) -> list[ReasonRow]:
    """Every reason the page offers, chosen or not, then "no reason given"."""
    order = [*leaving.REASONS, ""]
    return [ReasonRow(value, leaving.label(value), counted.get(value, 0)) for value in order]


def _months(groups: list[StatusDates], since: date, until: date) -> list[MonthRow]:
    rows = []
    month = since.replace(day=1)
    while month <= until:
        following = (month + timedelta(days=32)).replace(day=1)
        last = min(following - timedelta(days=1), until)
        before = status_on(groups, month - timedelta(days=1))["active"]
        after = status_on(groups, last)["active"]
        first, final = month.isoformat(), last.isoformat()
        joined = sum(g.count for g in groups if first <= g.created <= final)
        confirmed = sum(g.count for g in groups if first <= (_active_since(g) or "") <= final)
        left = sum(
            g.count
            for g in groups
            if g.status in SUPPRESSED and g.left and first <= g.left <= final
        )
        churn = left / before if before else None
        rows.append(
            MonthRow(
                month.strftime("%Y-%m"),
                before,
                joined,
                confirmed,
                left,
                after,
                after - before,
                churn,
            )
        )
        month = following
    return rows
