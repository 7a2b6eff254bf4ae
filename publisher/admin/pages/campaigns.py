"""The campaigns' pages: the list (newest first, a page at a time), one campaign's progress
and outcome, pause and resume. Each page calls the Admin API's own route function, so the
page and the API answer from the same queries and change through the same code."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from publisher.admin.api import campaigns as api
from publisher.admin.auth import Actor
from publisher.admin.pages.forms import done, notices, text
from publisher.admin.pages.render import page
from publisher.admin.permissions import allow

router = APIRouter(include_in_schema=False)

SAID = {
    "paused": "Paused: nothing more is sent until someone resumes it.",
    "resumed": "Resumed: the rest is being sent.",
}


@router.get("/campaigns")
async def campaigns(
    request: Request,
    number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
    actor: Actor = allow("campaigns.read"),
) -> Response:
    found = await api.list_campaigns(request, number, actor)
    root = request.scope.get("root_path", "")
    pages = {
        "previous": f"{root}/campaigns?page={number - 1}" if number > 1 else None,
        "next": f"{root}/campaigns?page={number + 1}" if number < found.pages else None,
    }
    return page(request, "campaigns", section="campaigns", campaigns=found.campaigns, pages=pages)


@router.get("/campaigns/{key}")
async def campaign(request: Request, key: str, actor: Actor = allow("campaigns.read")) -> Response:
    detail = await api.campaign(request, key, actor)
    states = detail.states
    figures = [
        ("Sent", states.get("sent", 0)),
        ("Waiting", states.get("queued", 0) + states.get("sending", 0)),
        ("To retry", states.get("deferred", 0)),
        ("Failed", states.get("failed", 0)),
        ("Skipped", states.get("skipped", 0)),
        ("Bounced", detail.bounced),
        ("Complaints", detail.complaints),
        ("Unsubscribed since", detail.unsubscribed),
    ]
    finished = sum(states.get(s, 0) for s in ("sent", "failed", "skipped", "bounced"))
    return page(
        request,
        "campaign",
        section="campaigns",
        campaign=detail,
        figures=figures,
        finished=finished,
        flashes=notices(request, SAID),
    )


@router.post("/campaigns/{key}/pause")
async def pause(request: Request, key: str, actor: Actor = allow("campaigns.send")) -> Response:
    await api.pause(request, key, actor)
    return done(request, f"/campaigns/{key}", "paused")


@router.post("/campaigns/{key}/resume")
async def resume(request: Request, key: str, actor: Actor = allow("campaigns.send")) -> Response:
    force = text(await request.form(), "force", 5) == "1"
    await api.resume(request, key, api.Resume(force=force), actor)
    return done(request, f"/campaigns/{key}", "resumed")
