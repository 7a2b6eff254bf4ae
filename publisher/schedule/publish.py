"""Publishing: rebuild the site when its inputs changed, deploy it, and record each post
that went live with its email decision.

`tick` calls `publish` every pass; `publisher build --deploy` calls `build_and_deploy`.
Both build under the site lock and remember the inputs they built (`freshness`), so an
edit goes live once, by whichever comes first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from publisher.config import Config
from publisher.content.posts import Post, Scan
from publisher.schedule import freshness, links
from publisher.schedule.calendar import Publication, digest_for, new_publications
from publisher.schedule.decisions import describe
from publisher.schedule.deploy import deploy, deploy_marker, site_lock
from publisher.schedule.summary import BrokenPosts, StepError, TickSummary
from publisher.store import published
from publisher.store.db import Store
from publisher.store.published import Record, Seen

log = logging.getLogger("publisher.schedule.tick")


def publish(
    config: Config,
    store: Store,
    found: Scan,
    posts: Sequence[Post],
    seen: Seen,
    summary: TickSummary,
) -> bool:
    """Rebuild and deploy the site when its inputs changed (posts going live or edited,
    templates, static files, settings), and record newly live posts; True when the site is
    up to date (or another tick is bringing it up to date).

    A post with errors is left out and reported. When the site shows it (it was live and
    an edit broke it), the site is not rebuilt at all until it is fixed: rebuilding would
    take its page down, and nothing new goes live meanwhile.
    """
    if found.errors and not _may_rebuild(config, found, summary):
        return False
    live = [p for p in posts if p.is_live(config.now)]
    stamp = freshness.fingerprint(config, live)
    current = freshness.is_current(config, stamp)
    pending = deploy_marker(config).exists()
    shown = seen.slugs - links.moved_slugs(seen, live)  # a moved post's old row stays
    if seen.started and shown == {p.slug for p in live} and current and not pending:
        return True
    if summary.dry_run:
        _dry_run(config, store, posts, seen, current, summary)
        return True
    with site_lock(config) as locked:
        if not locked:
            summary.notes.append("site build skipped: another tick is building it")
            return True
        seen = published.seen(store)  # the other tick may have done it meanwhile
        fresh = new_publications(config, posts, seen, config.now)
        gone = seen.slugs - {p.slug for p in live} - links.moved_slugs(seen, live)
        if fresh or gone or not seen.started or not freshness.is_current(config, stamp):
            summary.build = _build(config, posts, stamp)
        if fresh or gone or not seen.started:
            published.record(store, fresh, gone, config.now)
            _report(config, store, fresh, seen, summary)
        if deploy_marker(config).exists():
            summary.deploy = "failed"
            deploy(config)
            summary.deploy = "ok"
    return True


def _may_rebuild(config: Config, found: Scan, summary: TickSummary) -> bool:
    """Report the broken posts; False when the site shows (or may show) one of them."""
    from publisher.site.cache import shown_sources  # lazy: Jinja, for a broken post only

    summary.problems.append(BrokenPosts(found.errors))
    for error in found.errors:
        log.error("%s", error)
    broken = dict.fromkeys(f"{e.path}:{e.line}" for e in found.errors)
    summary.notes.append(f"not published: {', '.join(broken)}")
    shown = shown_sources(config)
    if shown is None or any(e.path in shown for e in found.errors):
        summary.notes.append("site not rebuilt: it shows (or may show) a broken post")
        return False  # nothing new goes live, so nothing new is announced
    return True


def _build(config: Config, posts: Sequence[Post], stamp: str) -> str:
    """Build the site (incrementally; the posts pinned by `links.pin`, so a moved post's
    old addresses are among its aliases), remember its inputs, and owe a deploy."""
    from publisher.site.build import build  # lazy: only when the inputs changed

    result = build(config, posts=list(posts))
    freshness.remember(config, stamp)
    if config.site.deploy:
        deploy_marker(config).touch()
    return result.summary()


def _report(
    config: Config, store: Store, fresh: Sequence[Publication], seen: Seen, summary: TickSummary
) -> None:
    """Each new post's email decision, in the summary and the log."""
    if not seen.started:
        summary.notes.append(f"first run: {len(fresh)} live posts recorded, not emailed")
        if fresh:  # even one written a minute ago: say so, and how to send it
            summary.notes[-1] += (
                " (the back catalogue: live before publisher first ran; "
                f"`publisher send {fresh[-1].slug}` emails one)"
            )
        return
    keys = published.campaign_keys(store, "digest:")
    for item in fresh:
        record = Record(
            item.slug, item.live_at, item.announce, item.reason, item.in_digest, None, "", ""
        )
        summary.published.append(item.slug)
        at = f"{config.local(item.email_at):%Y-%m-%d %H:%M}" if item.email_at else ""
        at = at or ("this tick" if summary.dry_run else "")  # a real tick announces it next
        digest = digest_for(config, item.email_at or item.live_at, keys, config.now)
        summary.decisions[item.slug] = describe(record, None, digest.id, at=at)
        if not summary.dry_run:
            log.info("published %s: %s", item.slug, summary.decisions[item.slug])


def _dry_run(
    config: Config,
    store: Store,
    posts: Sequence[Post],
    seen: Seen,
    current: bool,
    summary: TickSummary,
) -> None:
    """What `publish` would do, written nowhere."""
    fresh = new_publications(config, posts, seen, config.now)
    if not current:
        summary.build = "would rebuild the site"
    if fresh or not seen.started:
        _report(config, store, fresh, seen, summary)
    if config.site.deploy and (not current or deploy_marker(config).exists()):
        summary.deploy = "would run"


def rebuild(config: Config, posts: Sequence[Post], summary: TickSummary) -> None:
    """Build and deploy after this pass created campaigns, whatever the fingerprint says:
    each campaign's page in the newsletter archive, where its "View in browser" link
    points, must be up before its first message arrives."""
    with site_lock(config) as locked:
        if not locked:
            summary.notes.append("archive build skipped: another tick is building the site")
            return
        live = [p for p in posts if p.is_live(config.now)]
        stamp = freshness.fingerprint(config, live)
        summary.build = _build(config, posts, stamp)
        if deploy_marker(config).exists():
            summary.deploy = "failed"
            deploy(config)
            summary.deploy = "ok"


def build_and_deploy(config: Config, posts: Sequence[Post]) -> tuple[str, str]:
    """`publisher build --deploy`: build the live site now, as a tick would, and run `[site]
    deploy`; (the build's summary, the deploy's outcome). The next tick does not redo it.
    `posts`: `links.site_posts`, at the addresses they went live at."""
    with site_lock(config) as locked:
        if not locked:
            raise StepError("another tick or build holds the site lock; try again")
        live = [p for p in posts if p.is_live(config.now)]
        stamp = freshness.fingerprint(config, live)
        summary = _build(config, posts, stamp)
        if not config.site.deploy:
            return summary, "not run: [site] deploy is not set"
        deploy(config)
        return summary, "ok"
