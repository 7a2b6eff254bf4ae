"""Finding a post by its slug, for the commands that take one (send, preview): a wrong
slug names the closest ones instead of leaving staff to guess."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from publisher.content.posts import Post
from publisher.errors import PublisherError

CLOSE = 0.6  # difflib's usual cutoff for "close enough"


def find_post(posts: Sequence[Post], slug: str) -> Post:
    """The post with `slug`; otherwise an error suggesting the closest slugs."""
    for post in posts:
        if post.slug == slug:
            return post
    scored = sorted(((_likeness(slug, p.slug), p.slug) for p in posts), reverse=True)
    close = [candidate for score, candidate in scored if score >= CLOSE][:3]
    hint = f"did you mean {' or '.join(close)}?" if close else "`publisher posts` lists them"
    raise PublisherError(f"no post with the slug {slug!r}; {hint}")


def _likeness(typed: str, slug: str) -> float:
    """0 to 1: how likely `slug` is the post meant. Slugs are long and people type their
    start, a part, or a few of their words, so each of those counts as well as a typo of
    the whole slug."""
    words = {word for word in typed.split("-") if word}
    if typed in slug or (words and words <= set(slug.split("-"))):
        return 1.0
    whole = difflib.SequenceMatcher(None, typed, slug).ratio()
    start = difflib.SequenceMatcher(None, typed, slug[: len(typed)]).ratio()
    return max(whole, start)
