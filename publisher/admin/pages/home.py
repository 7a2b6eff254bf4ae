"""The console's front page (`/admin/`): what needs attention (held campaigns, posts with
errors, one's own unsaved changes), the next sends, and the queue as a month."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime

from fastapi import APIRouter, Request
from starlette.responses import Response

from publisher.admin.api import campaigns as campaigns_api
from publisher.admin.auth import Actor
from publisher.admin.pages.render import page
from publisher.admin.permissions import allow, may
from publisher.config import Config
from publisher.content.posts import scan
from publisher.schedule import queue
from publisher.schedule.queue import QueuedPost
from publisher.store.drafts import drafts_of
from publisher.store.overview import overview

router = APIRouter(include_in_schema=False)


@dataclass
class Day:
    date: date
    inside: bool  # in the month shown (the grid starts and ends with whole weeks)
    posts: list[QueuedPost] = field(default_factory=list)


@dataclass(frozen=True)
class Month:
    title: str
    days: list[Day]


def month_of(config: Config, now: datetime, posts: list[QueuedPost]) -> Month:
    """The month of `now` in site time, Monday first, with the posts queued on each day."""
    local = config.local(now)
    weeks = calendar.Calendar().monthdatescalendar(local.year, local.month)
    days = {d: Day(d, d.month == local.month) for week in weeks for d in week}
    for post in posts:
        day = days.get(config.local(post.publish_at).date())
        if day:
            day.posts.append(post)
    return Month(f"{local:%B %Y}", list(days.values()))


def attention(config: Config, store, actor: Actor) -> dict:
    """Held or paused campaigns, posts that do not build, the person's unsaved changes."""
    watching = may(actor.role, "campaigns.read")
    return {
        "held": overview(store, config.now).stopped if watching else [],
        "broken": scan(config).errors,
        "drafts": drafts_of(store, actor.member.id),
    }


@router.get("/")
async def home(request: Request, actor: Actor = allow("console.use")) -> Response:
    console = request.app.state.console
    config = console.now_config()
    upcoming = await console.thread(queue.queue, config, console.store)
    found = await console.read(lambda store: attention(config, store, actor))
    return page(
        request,
        "dashboard",
        section="overview",
        queue=upcoming,
        month=month_of(config, upcoming.now, upcoming.posts),
        campaigns=(await campaigns_api.newest(console, 0, 5))[0]
        if may(actor.role, "campaigns.read")
        else None,
        **found,
    )
