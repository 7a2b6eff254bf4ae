"""Each report as tables, the one shape its CSV files, its console tables and its charts
are made from; and the report as JSON."""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass
from datetime import date, datetime

from publisher.reports.audience import AudienceReport
from publisher.reports.campaign import CampaignReport
from publisher.reports.posts import PostsReport
from publisher.store.csvio import cell

Report = CampaignReport | AudienceReport | PostsReport


@dataclass(frozen=True)
class Table:
    name: str  # for `--csv NAME` and the download's file name
    title: str
    columns: list[str]
    rows: list[list[object]]


FIGURES = [
    ("recipients", "Recipients"),
    ("sent", "Sent (accepted by the relay)"),
    ("delivered", "Delivered (no bounce came back)"),
    ("waiting", "Waiting to be sent"),
    ("deferred", "Deferred (to retry)"),
    ("failed", "Failed"),
    ("skipped", "Skipped"),
    ("unknown", "Unknown (the relay did not answer)"),
    ("bounced_hard", "Hard bounces"),
    ("bounced_soft", "Soft bounces"),
    ("complaints", "Complaints"),
    ("unsubscribes", "Unsubscribes by its links"),
    ("clicks", "Clicks"),
    ("unique_clickers", "Unique clickers (estimated)"),
    ("scanner_clicks", "Scanner clicks (not people)"),
    ("opens", "Opens (machine opens included)"),
]


def tables(report: Report) -> list[Table]:
    if isinstance(report, CampaignReport):
        return _campaign(report)
    if isinstance(report, AudienceReport):
        return _audience(report)
    return [
        Table(
            "posts",
            "Posts by clicks on their emails",
            ["post", "clicks", "scanner clicks", "emails"],
            [[r.slug, r.clicks, r.scanner_clicks, r.emails] for r in report.posts],
        )
    ]


def table(report: Report, name: str) -> Table:
    """The report's table called `name`; KeyError naming the ones there are."""
    found = {t.name: t for t in tables(report)}
    if name not in found:
        raise KeyError(f"no table {name!r}; this report has {', '.join(found)}")
    return found[name]


def _campaign(report: CampaignReport) -> list[Table]:
    figures = [[label, getattr(report, name)] for name, label in FIGURES]
    figures.append(["Click rate (unique clickers per delivered)", f"{report.click_rate:.2%}"])
    return [
        Table("figures", "What happened to its messages", ["figure", "value"], figures),
        Table(
            "links",
            "Clicks per link",
            ["link", "text", "url", "clicks", "unique clickers", "scanner clicks"],
            [[k.number, k.text, k.url, k.clicks, k.unique, k.scanner_clicks] for k in report.links],
        ),
        Table(
            "hours",
            "Clicks by hour since sending",
            ["hours since sending", "clicks", "scanner clicks"],
            [[h.hour, h.clicks, h.scanner_clicks] for h in report.by_hour],
        ),
    ]


def _audience(report: AudienceReport) -> list[Table]:
    return [
        Table(
            "days",
            "Subscribers by status, each day",
            ["day", "pending", "active", "unsubscribed", "bounced", "complained"],
            [
                [d.day, d.pending, d.active, d.unsubscribed, d.bounced, d.complained]
                for d in report.days
            ],
        ),
        Table(
            "sources",
            "Sign-ups by source",
            ["kind", "source", "sign-ups"],
            [[s.kind, s.source, s.count] for s in report.sources],
        ),
        Table(
            "reasons",
            "Unsubscribes by reason",
            ["reason", "unsubscribes"],
            [[r.label, r.count] for r in report.reasons],
        ),
        Table(
            "months",
            "Growth and churn each month",
            [
                "month",
                "active at start",
                "joined",
                "confirmed",
                "left",
                "active at end",
                "growth",
                "churn",
            ],
            [
                [
                    m.month,
                    m.active_at_start,
                    m.joined,
                    m.confirmed,
                    m.left,
                    m.active_at_end,
                    m.growth,
                    "" if m.churn is None else f"{m.churn:.2%}",
                ]
                for m in report.months
            ],
        ),
    ]


def to_csv(found: Table) -> str:
    """The table as CSV, a cell a spreadsheet would run as a formula quoted ('=...)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(found.columns)
    writer.writerows([cell(_plain(value), raw=False) for value in row] for row in found.rows)
    return out.getvalue()


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, date | datetime) else value


def to_json(report: Report) -> dict:
    """The report as JSON-ready values: its dataclass's fields, times in ISO 8601."""
    return _json(dataclasses.asdict(report))


def _json(value: object) -> object:
    if isinstance(value, dict):
        return {key: _json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json(item) for item in value]
    return _plain(value)
