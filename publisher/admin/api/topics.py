"""Topics: the site's `[topics]` with how many readers chose each, and each subscriber's
own choice, read and changed as the preferences page and `subscribers add --topics` do."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from publisher import store as st
from publisher import topics
from publisher.admin.api.models import COMMON, Model, answers
from publisher.admin.auth import Actor
from publisher.admin.permissions import allow
from publisher.store.audience import reader_choices

router = APIRouter(tags=["topics"], responses=COMMON)


class Topic(Model):
    name: str  # stored with each reader who chooses it
    label: str  # what readers see
    tags: list[str]  # the post tags it covers
    readers: dict[str, int]  # active readers who chose it, per frequency (each, digest)


class SiteTopics(Model):
    topics: list[Topic]
    every_topic: dict[str, int]  # active readers who chose none (they get everything)


class Chosen(Model):
    """A subscriber's topics, by name; none: every topic."""

    topics: list[str]


@router.get("/topics")
async def site_topics(request: Request, actor: Actor = allow("subscribers.read")) -> SiteTopics:
    """The site's topics in the order of its config, and how many active readers of each
    frequency chose each (someone who chose two counts in both)."""
    console = request.app.state.console
    configured = console.config.topics
    by_frequency = {f: await console.read(reader_choices, f) for f in st.FREQUENCIES}
    readers = {t.name: dict.fromkeys(st.FREQUENCIES, 0) for t in configured}
    every = dict.fromkeys(st.FREQUENCIES, 0)
    for frequency, choices in by_frequency.items():
        for value, count in choices.items():
            mine = topics.chosen(value, configured)
            for name in mine:
                readers[name][frequency] += count
            if not mine:
                every[frequency] += count
    return SiteTopics(
        topics=[
            Topic(name=t.name, label=t.label, tags=list(t.tags), readers=readers[t.name])
            for t in configured
        ],
        every_topic=every,
    )


@router.get("/subscribers/{subscriber_id}/topics", responses=answers(404))
async def subscriber_topics(
    request: Request, subscriber_id: int, actor: Actor = allow("subscribers.read")
) -> Chosen:
    console = request.app.state.console
    found = await console.read(st.get, subscriber_id)
    if found is None:
        raise HTTPException(404, "No subscriber has this id.")
    return Chosen(topics=sorted(topics.chosen(found.topics, console.config.topics)))


@router.put("/subscribers/{subscriber_id}/topics", responses=answers(404, 422))
async def choose_topics(
    request: Request,
    subscriber_id: int,
    chosen: Chosen,
    actor: Actor = allow("subscribers.manage"),
) -> Chosen:
    """Set the subscriber's topics (an empty list: every topic), as their preferences
    page would; the audit log keeps who did it."""
    console = request.app.state.console
    try:
        value = topics.checked(chosen.topics, console.config.topics)
    except ValueError as exc:
        raise HTTPException(422, f"topics: {exc}") from None
    await subscriber_topics(request, subscriber_id, actor)  # 404 before any audit row
    entry = actor.did("subscriber.topics", str(subscriber_id), value or "every topic")
    changed = await console.change(
        request,
        entry,
        st.set_preferences,
        console.store,
        subscriber_id,
        now=console.clock(),
        topics=value,
        source="console",
    )
    if changed is None:  # erased meanwhile
        raise HTTPException(404, "No subscriber has this id.")
    return Chosen(topics=sorted(topics.chosen(changed.topics, console.config.topics)))
