"""Finding a post by its slug, for the commands that take one (send, preview): a wrong
slug names the closest ones instead of leaving staff to guess."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from publisher.content.posts import Post
from publisher.errors import PublisherError


def find_post(posts: Sequence[Post], slug: str) -> Post:
    """The post with `slug`; otherwise an error suggesting the closest slugs."""
    for post in posts:
        if post.slug == slug:
            return post
    slugs = [p.slug for p in posts]
    close = [s for s in slugs if slug and slug in s][:3]
    close += difflib.get_close_matches(slug, [s for s in slugs if s not in close], n=3 - len(close))
    hint = f"did you mean {' or '.join(close)}?" if close else "`publisher posts` lists them"
    raise PublisherError(f"no post with the slug {slug!r}; {hint}")
