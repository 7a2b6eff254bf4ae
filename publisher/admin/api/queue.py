"""What happens next (`publisher queue`) and how the machinery is doing (health)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Request

from publisher.admin.api.models import COMMON, Answer
from publisher.admin.auth import Actor
from publisher.admin.console import Console
from publisher.admin.permissions import allow
from publisher.schedule.queue import queue as upcoming
from publisher.store.overview import overview

router = APIRouter(tags=["queue and health"], responses=COMMON)

INBOUND_DAYS = 7  # how far back health counts what came back by mail


class QueuedPost(Answer):
    slug: str
    title: str
    publish_at: datetime
    announce: bool
    recipients: int
    per_topic: dict[str, int] = {}  # its recipients per topic of the post, "" every topic
    email: str  # the email decision, in words


class NextDigest(Answer):
    key: str
    due: datetime
    posts: list[str]
    live_at: dict[str, datetime]
    recipients: int
    per_topic: dict[str, int] = {}  # its readers per topic of its posts, "" every topic


class Published(Answer):
    slug: str
    live_at: datetime
    email: str


class Queue(Answer):
    """What `publisher queue --json` says; times in the site's zone, with its offset."""

    now: datetime
    timezone: str
    posts: list[QueuedPost]
    digest: NextDigest
    recent: list[Published]


class Refusal(Answer):
    code: int | None
    reply: str
    messages: int


class Stopped(Answer):
    campaign: str
    status: str  # held (the brake, or a pause by staff) or paused (a problem)
    note: str


class Inbound(Answer):
    configured: bool  # [inbound] address or mailbox is set
    last_read: datetime | None
    since: datetime
    kinds: dict[str, int]  # messages read since `since`, by kind


class Health(Answer):
    last_tick: datetime | None  # the scheduler's latest pass (tick or run)
    inbound: Inbound
    stopped: list[Stopped]  # campaigns left unsent until someone looks
    relay_refusals: list[Refusal]  # in campaigns still sending, commonest first
    transport: str


@router.get("/queue")
async def queue(request: Request, actor: Actor = allow("queue.read")) -> Queue:
    """Queued posts with their announcements, the next digest, the last week's posts."""
    console: Console = request.app.state.console
    config = console.now_config()
    found = await console.thread(upcoming, config, console.store)
    return Queue(**found.as_dict(config))


@router.get("/health")
async def health(request: Request, actor: Actor = allow("health.read")) -> Health:
    """When the scheduler last ran, mail that came back, held campaigns, relay errors."""
    console: Console = request.app.state.console
    since = console.clock() - timedelta(days=INBOUND_DAYS)
    figures = await console.read(overview, since)
    config = console.config
    return Health(
        last_tick=figures.last_tick,
        inbound=Inbound(
            configured=bool(config.inbound.address or config.inbound.mailbox),
            last_read=figures.inbound_last,
            since=since,
            kinds=figures.inbound_kinds,
        ),
        stopped=[Stopped(campaign=k, status=s, note=n) for k, s, n in figures.stopped],
        relay_refusals=[Refusal(**vars(r)) for r in figures.refusals],
        transport=config.delivery.transport,
    )
