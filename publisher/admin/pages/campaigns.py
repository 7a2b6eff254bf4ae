"""The campaigns' pages: the list (newest first, a page at a time) and one campaign's
progress and outcome."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.responses import Response

from publisher.admin.auth import Actor
from publisher.admin.pages.render import page
from publisher.admin.permissions import allow
from publisher.store import campaign_list, ledger

router = APIRouter(include_in_schema=False)


@router.get("/campaigns")
async def campaigns(
    request: Request,
    before: Annotated[int | None, Query(ge=1)] = None,
    actor: Actor = allow("campaigns.read"),
) -> Response:
    rows = await request.app.state.console.read(campaign_list.newest, before)
    root = request.scope.get("root_path", "")
    older = f"{root}/campaigns?before={rows[-1].id}" if len(rows) == campaign_list.PAGE else None
    newer = f"{root}/campaigns" if before else None
    pages = {"previous": newer, "next": older}
    return page(request, "campaigns", section="campaigns", campaigns=rows, pages=pages)


@router.get("/campaigns/{key:path}")
async def campaign(request: Request, key: str, actor: Actor = allow("campaigns.read")) -> Response:
    console = request.app.state.console
    found = await console.read(ledger.get_campaign, key)
    if found is None:
        raise HTTPException(404, f"There is no campaign '{key}'.")
    counts = await console.read(ledger.counts, found.id)
    figures = [
        ("Sent", counts.sent),
        ("Waiting", counts.queued + counts.sending),
        ("To retry", counts.deferred),
        ("Failed", counts.failed),
        ("Skipped", counts.skipped),
        ("Bounced", counts.bounced),
    ]
    finished = counts.sent + counts.failed + counts.skipped + counts.bounced
    return page(
        request,
        "campaign",
        section="campaigns",
        campaign=found,
        figures=figures,
        finished=finished,
    )
