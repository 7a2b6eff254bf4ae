"""The reports' pages: the audience and the posts clicked most (`/reports`), and one
campaign's report (`/reports/campaigns/{key}`). Each calls the Admin API's route function
and draws its charts from the report's own tables, each chart with its table beside it
and the table's CSV a link away."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import Response

from publisher.admin.api import reports as api
from publisher.admin.auth import Actor
from publisher.admin.pages import charts
from publisher.admin.pages.render import page
from publisher.admin.permissions import allow
from publisher.reports import tables
from publisher.reports.audience import AudienceReport
from publisher.reports.campaign import CampaignReport

router = APIRouter(include_in_schema=False)
DAY_SERIES = ("active", "pending", "unsubscribed", "bounced", "complained")


@router.get("/reports")
async def overview(
    request: Request, since: date | None = api.Since, actor: Actor = allow("reports.read")
) -> Response:
    audience = await api.audience(request, since, actor)
    posts = await api.posts(request, since, actor)
    root = request.scope.get("root_path", "")
    query = f"?since={since.isoformat()}" if since else ""
    shown = [
        *(
            (
                found,
                _audience_chart(audience, found),
                f"{root}/api/reports/audience/{found.name}.csv{query}",
            )
            for found in tables.tables(audience)
        ),
        *(
            (found, _bars(found, 0, 1), f"{root}/api/reports/posts/{found.name}.csv{query}")
            for found in tables.tables(posts)
        ),
    ]
    return page(
        request,
        "reports",
        section="reports",
        audience=audience,
        posts=posts,
        shown=shown,
        since=since,
    )


@router.get("/reports/campaigns/{key}")
async def campaign(request: Request, key: str, actor: Actor = allow("reports.read")) -> Response:
    report = await api.campaign(request, key, actor)
    root = request.scope.get("root_path", "")
    csv = f"{root}/api/reports/campaigns/{report.key}"
    shown = [
        (found, _campaign_chart(report, found), f"{csv}/{found.name}.csv")
        for found in tables.tables(report)
    ]
    return page(request, "report", section="reports", report=report, shown=shown)


def _campaign_chart(report: CampaignReport, found: tables.Table) -> Markup | None:
    if found.name == "links" and found.rows:
        labels = [link.text or link.url for link in report.links]
        return charts.bars(labels, [link.clicks for link in report.links])
    if found.name == "hours" and found.rows:
        hours = [str(h.hour) for h in report.by_hour]
        every = max(1, len(hours) // 12)
        return charts.columns(hours, [h.clicks for h in report.by_hour], every)
    return None


def _audience_chart(report: AudienceReport, found: tables.Table) -> Markup | None:
    if found.name == "days":
        days = [d.day.isoformat() for d in report.days]
        series = {name: [getattr(d, name) for d in report.days] for name in DAY_SERIES}
        return charts.lines(days, series)
    if found.name == "months":
        months = [m.month for m in report.months]
        return charts.columns(months, [m.active_at_end for m in report.months])
    if found.name == "sources":
        return _bars(found, 1, 2)
    return _bars(found, 0, 1)


def _bars(found: tables.Table, label: int, value: int) -> Markup | None:
    if not found.rows:
        return None
    return charts.bars([str(row[label]) for row in found.rows], [row[value] for row in found.rows])
