"""Campaigns: the list, one campaign's figures, pause and resume."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import StrictBool

from publisher.admin.api.models import COMMON, Answer, CampaignKey, Model, answers
from publisher.admin.auth import Actor
from publisher.admin.console import Console
from publisher.admin.permissions import allow
from publisher.delivery import holds
from publisher.inbound import brake
from publisher.store import campaign_counts
from publisher.store.campaign_counts import CampaignRow
from publisher.store.schema import BOUNCED, FAILED, SENT

router = APIRouter(tags=["campaigns"], responses=COMMON)
PAGE = 20


class CampaignSummary(Answer):
    key: str  # post:<slug> or digest:<period>
    kind: str
    subject: str
    status: str  # sending, paused (a problem; the next tick retries), held, done
    note: str  # why it is paused or held
    created: datetime
    started: datetime | None
    finished: datetime | None
    recipients: int
    states: dict[str, int]  # messages per state; `sent`: the recipients less the others


class CampaignList(Answer):
    campaigns: list[CampaignSummary]
    page: int
    pages: int
    total: int


class CampaignDetail(CampaignSummary):
    bounced: int
    complaints: int
    unsubscribed: int  # recipients who unsubscribed since it started
    bounce_rate: float  # of messages gone (sent, bounced, failed), as the brake weighs them
    complaint_rate: float
    rate: float | None  # messages sent per second, start to finish (or now)
    held_by_brake: bool


class Resume(Model):
    force: StrictBool = False  # release a hold of the safety brake (someone looked at the list)


class Paused(Answer):
    key: str
    status: str
    changed: bool  # False: it was held already


class Resumed(Answer):
    key: str
    status: str
    sending: bool  # a run started now (False: one was running already)


def summary(row: CampaignRow, states: dict[str, int]) -> CampaignSummary:
    return CampaignSummary(
        key=row.key,
        kind=row.kind,
        subject=row.subject,
        status=row.status,
        note=row.note,
        created=row.created_at,
        started=row.started_at,
        finished=row.finished_at,
        recipients=row.total,
        states=states,
    )


@router.get("/campaigns")
async def list_campaigns(
    request: Request, page: int = Query(1, ge=1, le=100_000), actor: Actor = allow("campaigns.read")
) -> CampaignList:
    """Newest first, `PAGE` a page, with their messages per state."""
    items, total = await newest(request.app.state.console, (page - 1) * PAGE, PAGE)
    return CampaignList(campaigns=items, page=page, pages=max(1, -(-total // PAGE)), total=total)


async def newest(console: Console, offset: int, most: int) -> tuple[list[CampaignSummary], int]:
    """`most` campaigns from `offset`, newest first, each with its messages per state
    (counted only for those shown: a big campaign's are index ranges worth sparing), and
    how many there are."""
    rows, total = await console.read(campaign_counts.page, offset, most)
    counted = await console.read(campaign_counts.states, rows)
    return [summary(row, counted[row.id]) for row in rows], total


@router.get("/campaigns/{key}", responses=answers(404))
async def campaign(
    request: Request, key: CampaignKey, actor: Actor = allow("campaigns.read")
) -> CampaignDetail:
    """One campaign: messages per state, bounces, complaints, unsubscribes, rate, times."""
    console: Console = request.app.state.console
    row = await console.read(campaign_counts.by_key, key)
    if row is None:
        raise HTTPException(404, f"No campaign {key!r}.")
    states = (await console.read(campaign_counts.states, [row]))[row.id]
    hard = states.get(BOUNCED, 0) + await console.read(campaign_counts.refused, row.id)
    attempted = sum(states.get(state, 0) for state in (SENT, BOUNCED, FAILED))
    complaints = await console.read(campaign_counts.complaints, row.id)
    unsubscribed = 0
    if row.started_at is not None:
        unsubscribed = await console.read(
            campaign_counts.unsubscribed_since, row.id, row.started_at
        )
    sent = states[SENT]
    end = row.finished_at or console.clock()
    seconds = (end - row.started_at).total_seconds() if row.started_at else 0
    return CampaignDetail(
        **summary(row, states).model_dump(),
        bounced=hard,
        complaints=complaints,
        unsubscribed=unsubscribed,
        bounce_rate=hard / attempted if attempted else 0.0,
        complaint_rate=complaints / attempted if attempted else 0.0,
        rate=sent / seconds if seconds > 0 and sent else None,
        held_by_brake=row.status == brake.HELD and not holds.held_by_person(row.note),
    )


@router.post("/campaigns/{key}/pause", responses=answers(404, 409))
async def pause(
    request: Request, key: CampaignKey, actor: Actor = allow("campaigns.send")
) -> Paused:
    """Hold the campaign: nothing more is sent until someone resumes it (a run in
    progress stops within seconds)."""
    console: Console = request.app.state.console
    changed = await console.change(
        request,
        actor.did("campaign.pause", key),
        holds.pause,
        console.store,
        key,
        actor.member.email,
        console.clock(),
    )
    return Paused(key=key, status=brake.HELD, changed=changed)


@router.post("/campaigns/{key}/resume", responses=answers(404, 409))
async def resume(
    request: Request, key: CampaignKey, body: Resume, actor: Actor = allow("campaigns.send")
) -> Resumed:
    """Send the rest now; `force` also releases a hold of the safety brake."""
    console: Console = request.app.state.console
    detail = "releasing the brake" if body.force else ""
    await console.change(
        request,
        actor.did("campaign.resume", key, detail),
        holds.resume,
        console.store,
        key,
        body.force,
    )
    started = console.sender.start(key, body.force)
    _id, status, _note = await console.read(holds.status, key)
    return Resumed(key=key, status=status, sending=started)
