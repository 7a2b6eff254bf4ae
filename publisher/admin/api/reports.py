"""Reports: a campaign's, the audience's and the posts', as JSON and each table as CSV.

The answers are the reports' own dataclasses (`publisher.reports`), which FastAPI
describes in the OpenAPI document as it does pydantic models: the JSON is what
`publisher report --json` prints, from the same functions.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from publisher.admin.api.models import COMMON, CampaignKey, answers
from publisher.admin.auth import Actor
from publisher.admin.console import Console
from publisher.admin.permissions import allow
from publisher.reports import tables
from publisher.reports.audience import AudienceReport, audience_report
from publisher.reports.campaign import CampaignReport, campaign_report
from publisher.reports.posts import PostsReport, posts_report

router = APIRouter(tags=["reports"], responses=COMMON)

CampaignTable = Literal["figures", "links", "hours"]
AudienceTable = Literal["days", "sources", "reasons", "months"]
PostsTable = Literal["posts"]
Since = Query(None, description="The first UTC day (default: 90 days back, 30 for posts).")


@router.get("/reports/campaigns/{key}", responses=answers(404))
async def campaign(
    request: Request, key: CampaignKey, actor: Actor = allow("reports.read")
) -> CampaignReport:
    """What happened to the campaign's messages, who left or complained by it, and its
    clicks per link and per hour since it started (counted without names)."""
    console: Console = request.app.state.console
    return await console.read(campaign_report, key)


@router.get("/reports/audience")
async def audience(
    request: Request, since: date | None = Since, actor: Actor = allow("reports.read")
) -> AudienceReport:
    """Subscribers by status each day, sign-ups by source, unsubscribes by reason, growth
    and churn each month."""
    console: Console = request.app.state.console
    return await console.read(audience_report, console.clock(), since)


@router.get("/reports/posts")
async def posts(
    request: Request, since: date | None = Since, actor: Actor = allow("reports.read")
) -> PostsReport:
    """The posts whose emails were clicked most in the period."""
    console: Console = request.app.state.console
    return await console.read(posts_report, console.clock(), since)


CSV = {200: {"content": {"text/csv": {}}, "description": "The table as CSV."}}


@router.get("/reports/campaigns/{key}/{table}.csv", responses=answers(404) | CSV)
async def campaign_csv(
    request: Request, key: CampaignKey, table: CampaignTable, actor: Actor = allow("reports.read")
) -> Response:
    return csv(
        f"{key.replace(':', '-')}-{table}", tables.table(await campaign(request, key, actor), table)
    )


@router.get("/reports/audience/{table}.csv", responses=CSV)
async def audience_csv(
    request: Request,
    table: AudienceTable,
    since: date | None = Since,
    actor: Actor = allow("reports.read"),
) -> Response:
    return csv(f"audience-{table}", tables.table(await audience(request, since, actor), table))


@router.get("/reports/posts/{table}.csv", responses=CSV)
async def posts_csv(
    request: Request,
    table: PostsTable,
    since: date | None = Since,
    actor: Actor = allow("reports.read"),
) -> Response:
    return csv(f"posts-{table}", tables.table(await posts(request, since, actor), table))


def csv(name: str, found: tables.Table) -> Response:
    """A download named for the report and its table."""
    disposition = f'attachment; filename="{name}.csv"'
    return Response(
        tables.to_csv(found),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": disposition},
    )
