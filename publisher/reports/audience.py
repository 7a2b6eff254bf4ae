"""Who is on the list over time: subscribers by status each day, where sign-ups came from,
why people left, and growth and churn each month.

The daily statuses come from each subscriber's own days (joined, confirmed, left), read
for those who changed in the period only (the others' status is today's): a
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
from publisher.store import reporting, tallies
from publisher.store.db import Store
from publisher.store.reporting import StatusDates
from publisher.store.subscribers import STATUSES, SUPPRESSED
from publisher.subscribers import leaving

DEFAULT_DAYS = 90
LONGEST = 3660  # days a report may cover: ten years
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
    since, until = period(now, since, DEFAULT_DAYS)
    first = since.replace(day=1) - timedelta(days=1)  # the day before its first month
    groups = reporting.changed_since(store, datetime.combine(first, time(), UTC))
    daily = statuses(tallies.counts(store), groups, first, until)
    start = datetime.combine(since, time(), UTC)
    end = datetime.combine(until + timedelta(days=1), time(), UTC)
    return AudienceReport(
        since=since,
        until=until,
        days=[
            DayRow(first + timedelta(days=n), *daily[n].values())
            for n in range((since - first).days, len(daily))
        ],
        sources=_sources(reporting.signup_sources(store, start, end)),
        reasons=_reasons(reporting.unsubscribe_reasons(store, start, end)),
        months=_months(groups, daily, first, until),
    )


def period(now: datetime, since: date | None, default: int) -> tuple[date, date]:
    """A report's days: from `since` (else `default` days back) to today, UTC, inclusive."""
    until = now.astimezone(UTC).date()
    since = since or until - timedelta(days=default - 1)
    if since > until:
        raise PublisherError(f"--since {since} is after today ({until}); give an earlier day")
    if (until - since).days > LONGEST:
        raise PublisherError(f"--since {since}: a report covers at most {LONGEST:,} days")
    return since, until


def statuses(
    now: dict[str, int], groups: list[StatusDates], start: date, until: date
) -> list[dict[str, int]]:
    """Subscribers by status at the end of each day from `start` to `until`, from the
    counts `now` and the `groups` that changed since `start`. Those are pending from
    joining, active from `_active_since`, and have their suppressed status from leaving:
    their spans go in as changes on their first and after their last day, summed day by
    day (one pass over the groups, one over the days). The others had their status now
    on every one of these days."""
    size = (until - start).days + 1
    changes = [dict.fromkeys(STATUSES, 0) for _ in range(size + 1)]
    unchanged = dict(now)
    for g in groups:
        unchanged[g.status] -= g.count
    changes[0] = unchanged

    def span(status: str, first: str | None, end: str | None, count: int) -> None:
        if first is None or (end is not None and end <= first):
            return
        changes[_index(first, start, size)][status] += count
        if end is not None:
            changes[_index(end, start, size)][status] -= count

    for g in groups:
        left = g.left if g.left is not None and g.status in SUPPRESSED else None
        active = _active_since(g)
        active = max(active, g.created) if active is not None else None
        span("pending", g.created, min((d for d in (active, left) if d), default=None), g.count)
        span("active", active, left, g.count)
        span(g.status, left, None, g.count)
    running = dict.fromkeys(STATUSES, 0)
    found = []
    for change in changes[:size]:
        running = {status: running[status] + change[status] for status in STATUSES}
        found.append(running)
    return found


def _index(day: str, start: date, size: int) -> int:
    """Where a day's change goes: a day before `start` counts from the first, a day after
    the last goes past the end."""
    return min(max((date.fromisoformat(day) - start).days, 0), size)


def _active_since(group: StatusDates) -> str | None:
    """The day a group became active: when it confirmed, or joined for an active row that
    records no confirmation (added as active before confirmations were recorded)."""
    if group.confirmed is None and group.status == "active":
        return group.created
    return group.confirmed


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


def _months(
    groups: list[StatusDates], daily: list[dict[str, int]], first: date, until: date
) -> list[MonthRow]:
    """Each month from the day after `first` (whose statuses are `daily[0]`) to `until`."""
    rows = []
    month = first + timedelta(days=1)
    while month <= until:
        following = (month + timedelta(days=32)).replace(day=1)
        last = min(following - timedelta(days=1), until)
        before = daily[(month - first).days - 1]["active"]
        after = daily[(last - first).days]["active"]
        opens, closes = month.isoformat(), last.isoformat()
        joined = sum(g.count for g in groups if opens <= g.created <= closes)
        confirmed = sum(g.count for g in groups if opens <= (_active_since(g) or "") <= closes)
        left = sum(
            g.count
            for g in groups
            if g.status in SUPPRESSED and g.left and opens <= g.left <= closes
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
