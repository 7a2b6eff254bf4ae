"""Links that last: a post keeps the address it went live at.

The store records each post's slug when it first goes live (`published`). A post whose
slug comes from its title keeps that slug when the title is edited; a post whose `slug:`
is changed on purpose moves, and its old address becomes one of its aliases, a redirect
page, so every link already emailed or shared keeps working. `check` warns about such a
move.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from publisher.config import Config
from publisher.content.frontmatter import OldPath, slugify
from publisher.content.posts import Post, Scan, scan_logged
from publisher.errors import ContentError, ContentErrors
from publisher.storefile import store_exists

if TYPE_CHECKING:
    from publisher.store.db import Store
    from publisher.store.published import Seen


def _current(seen: Seen) -> dict[str, str]:
    """source file -> the slug it went live with most recently."""
    latest: dict[str, str] = {}
    for record in sorted(seen.records.values(), key=lambda r: r.live_at):
        if record.source:
            latest[record.source] = record.slug
    return latest


def pin(posts: Sequence[Post], seen: Seen) -> list[Post]:
    """The posts at the addresses they went live at. A slug that comes from the title stays
    when the title is edited; a post whose `slug:` changed gets each old address as an
    alias, so the build writes a redirect page there (unless a live post took it over)."""
    current = _current(seen)
    pinned = []
    for post in posts:
        fixed = current.get(post.source.as_posix())
        if fixed is not None and fixed != post.slug and post.slug == slugify(post.title):
            post = replace(post, slug=fixed)
        pinned.append(post)
    taken = {f"/posts/{post.slug}/" for post in pinned}
    old_paths: dict[str, list[str]] = {}
    for old, new in moves(pinned, seen).items():
        if old not in taken:
            old_paths.setdefault(new, []).append(old)
    if not old_paths:
        return pinned
    return [_with_aliases(post, old_paths.get(f"/posts/{post.slug}/", [])) for post in pinned]


def _with_aliases(post: Post, paths: list[str]) -> Post:
    """`post` also answering at `paths` (site paths such as /posts/old/), as if its
    `slug:` line asked for them."""
    written = {alias.path for alias in post.aliases}
    extra = [OldPath(p.lstrip("/"), post.slug_line) for p in paths if p.lstrip("/") not in written]
    return replace(post, aliases=post.aliases + tuple(extra)) if extra else post


def settle(found: Scan, seen: Seen) -> Scan:
    """`found` with its posts pinned (`pin`), and an error for each post that asks for an
    address another post went live at and still answers: links already sent there lead
    to that post, so the new one is not published until it has an address of its own."""
    posts = pin(found.posts, seen)
    sources = {post.source.as_posix() for post in posts}
    errors = []
    for post in posts:
        owner = seen.records.get(post.slug)
        if owner and owner.source != post.source.as_posix() and owner.source in sources:
            errors.append(
                ContentError(
                    post.source,
                    post.slug_line,
                    f"/posts/{post.slug}/ is where {owner.source} went live (links already "
                    f"sent lead there); give this post another slug: line",
                )
            )
    return replace(found, posts=posts, errors=found.errors + errors)


def site_posts(config: Config) -> list[Post]:
    """Every post, settled against the store when there is one, for `publisher build`;
    ContentErrors if any is bad."""
    found = scan_logged(config)
    seen = _recorded(config)
    if seen is not None:
        found = settle(found, seen)
    if found.errors:
        raise ContentErrors(found.errors)
    return found.posts


def pinned_posts(config: Config, posts: Sequence[Post]) -> list[Post]:
    """`pin` with what the store recorded, for commands (send, preview) that name a post
    by the address it went live at; the posts as they are when there is no store yet."""
    seen = _recorded(config)
    return list(posts) if seen is None else pin(posts, seen)


def _recorded(config: Config) -> Seen | None:
    """The addresses the store recorded, or None when there is no store yet (reading one
    must not create it). The store, and SQLAlchemy with it, is imported only then."""
    if not store_exists(config.database.url, config.root):
        return None
    from publisher.store import published
    from publisher.store.db import Store

    with Store.open(config) as store:
        return published.seen(store)


def campaign_key(store: Store, post: Post) -> str:
    """The `post:` campaign a manual `send` of `post` uses: its own, unless it went out
    under an earlier slug (its `slug:` changed since); then that one, so nobody gets it
    twice and `--new-subscribers` extends what was sent."""
    from publisher.store import published

    own = f"post:{post.slug}"
    sent = set(published.campaign_keys(store, "post:"))
    if own in sent:
        return own
    source = post.source.as_posix()
    earlier = sorted(published.seen(store).records.values(), key=lambda r: r.live_at)
    keys = [f"post:{r.slug}" for r in earlier if r.source == source]
    return next((key for key in keys if key in sent), own)


def moves(posts: Sequence[Post], seen: Seen) -> dict[str, str]:
    """Old site path -> new site path, for live posts whose `slug:` changed after they
    went live (their old rows are kept, and their old address redirects)."""
    live = {p.source.as_posix(): p.slug for p in posts}
    return {
        record.path or f"/posts/{record.slug}/": f"/posts/{live[record.source]}/"
        for record in seen.records.values()
        if record.source in live and live[record.source] != record.slug
    }


def moved_slugs(seen: Seen, posts: Sequence[Post]) -> set[str]:
    """Recorded slugs whose post lives on under another slug: kept, never 'gone'."""
    live = {p.source.as_posix() for p in posts}
    slugs = {p.slug for p in posts}
    return {s for s, r in seen.records.items() if r.source in live and s not in slugs}


def check_moves(config: Config, posts: Sequence[Post]) -> tuple[list[str], list[str]]:
    """`check`'s (errors, warnings): posts asking for another post's address, and each live
    post whose address changed since it went live. Reads the store only when it exists
    (`check` never creates one)."""
    seen = _recorded(config)
    if seen is None:
        return [], []
    settled = settle(Scan(list(posts), [], [], 0, len(posts)), seen)
    by_new = {new: old for old, new in moves(settled.posts, seen).items()}
    warnings = [
        f"{post.source}: slug changed since it went live; {by_new[path]} will redirect to "
        f"{path} (links already sent keep working)"
        for post in posts
        if (path := f"/posts/{post.slug}/") in by_new
    ]
    return [str(error) for error in settled.errors], warnings
