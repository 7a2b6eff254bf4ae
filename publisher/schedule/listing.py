"""`publisher posts`: every post, its state, address and email decision, in one table.

A post is live (on the site), queued (its date is to come), a draft, or in error (its file
cannot be read; the site keeps what it had). A live post's email decision comes from the
store; for the others, what will happen when they go live.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass

from publisher import topics
from publisher.config import Config
from publisher.content.posts import Post, scan_logged
from publisher.schedule import links
from publisher.schedule.calendar import digest_for, email_time, emailed_at, new_publications
from publisher.schedule.decisions import describe
from publisher.store import campaign_counts, published
from publisher.store.audience import reader_choices
from publisher.store.db import Store


@dataclass(frozen=True)
class PostRow:
    slug: str
    title: str
    date: str  # site time, ISO 8601
    state: str  # live | queued | draft | error
    url: str
    email: str  # the email decision, in words
    sent: int | None  # messages of its `post:<slug>` campaign sent, when there is one
    recipients: int | None  # and its recipients
    source: str

    def as_dict(self) -> dict:
        return asdict(self)


def list_posts(config: Config, store: Store | None = None) -> list[PostRow]:
    """Every post, newest first, then the files with errors; each live post under the
    address it went live at, as the site shows it (`links.settle`). In `store` when the
    caller holds one open."""
    found = scan_logged(config)
    with Store.held(config, store) as store:
        seen = published.seen(store)
        found = links.settle(found, seen)
        totals = campaign_counts.totals(store)
        ours = [totals[f"post:{p.slug}"] for p in found.publishable if f"post:{p.slug}" in totals]
        sent = campaign_counts.sent(store, [i for i, _ in ours], dict(ours))
        each = reader_choices(store, "each")
        keys = published.campaign_keys(store, "digest:")
    fresh = {p.slug: p for p in new_publications(config, found.publishable, seen, config.now)}
    rows = []
    for post in found.publishable:
        campaign_id, total = totals.get(f"post:{post.slug}", (None, None))
        record = seen.records.get(post.slug)
        if record is not None:
            at = email_time(config, post, record.live_at) if total is None else ""
            digest = digest_for(config, emailed_at(post, record.live_at), keys, config.now)
            state, email = "live", describe(record, total, digest.id, at=at)
        elif post.slug in fresh:
            item = fresh[post.slug]
            record = published.Record(
                post.slug, item.live_at, item.announce, item.reason, item.in_digest, None, "", ""
            )
            state, at = "live", email_time(config, post, item.live_at)
            digest = digest_for(config, emailed_at(post, item.live_at), keys, config.now)
            email = f"at the next tick: {describe(record, None, digest.id, at=at)}"
        else:
            reach = topics.reach(
                [topics.post_topics(post.tags, config.topics)], each, config.topics
            )
            state, email = _upcoming(config, post, total, reach.words(config.topics), keys)
        path = record.path if record and record.path else f"/posts/{post.slug}/"
        if post.email_only:  # a letter has no page: its archive page once it is sent
            from publisher.site.newsletters import archive_path, issue_id  # lazy: mail code

            path = "/" + archive_path(issue_id(f"post:{post.slug}"))
        rows.append(
            PostRow(
                slug=post.slug,
                title=post.title,
                date=config.local(post.date).isoformat(timespec="minutes"),
                state=state,
                url=config.site.url + path,
                email=email,
                sent=sent.get(campaign_id) if campaign_id else None,
                recipients=total,
                source=post.source.as_posix(),
            )
        )
    for error in found.errors:
        rows.append(
            PostRow("", "", "", "error", "", f"not published: {error}", None, None, error.path)
        )
    return rows


def _upcoming(
    config: Config, post: Post, total: int | None, each: str, keys: Collection[str]
) -> tuple[str, str]:
    """State and email of a post not live yet; `each` says how many readers (per topic)
    its announcement would reach now, `keys` are the digest campaigns so far."""
    already = f"; already announced to {total:,} by hand" if total is not None else ""
    if post.draft:
        return "draft", f"not emailed while a draft: set draft: false to publish it{already}"
    if not post.email:
        return "queued", "will not be emailed: email: false in its front matter"
    digest = digest_for(config, emailed_at(post, post.date), keys, config.now)
    when = f"at {at}" if (at := email_time(config, post, post.date)) else "when it goes live"
    return "queued", f"announced to {each} {when}{already}; in the digest of {digest.id}"
