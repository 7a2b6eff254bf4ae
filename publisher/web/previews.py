"""Email previews for `publisher serve` and `publisher preview`: every post's email and the
next digest as one sample reader would receive them, with real signed links."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from publisher.config import Config
from publisher.content.posts import Post, load_posts
from publisher.mail.message import MessageBuilder, Newsletter, Recipient
from publisher.mail.newsletter import render_digest, render_post
from publisher.schedule import queue
from publisher.site import theme
from publisher.site.pages import make_entries, post_pages
from publisher.subscribers.tokens import load_tokens, recipient


@dataclass(frozen=True)
class EmailPreview:
    """A newsletter as one sample reader receives it: the .eml and its decoded parts."""

    name: str  # file name stem: "post-<slug>" or "digest"
    newsletter: Newsletter
    message: bytes

    def part(self, subtype: str) -> str:
        parsed = email.message_from_bytes(self.message, policy=email.policy.default)
        body = parsed.get_body(preferencelist=(subtype,))
        return body.get_content().replace("\r\n", "\n") if body else ""


def preview_recipient(config: Config) -> Recipient:
    """'Preview Reader' at the from address, with real links signed for subscriber 0."""
    address = config.newsletter.from_address or "preview@example.org"
    return recipient(config, load_tokens(config), 0, "", address, "Preview Reader")


def preview(config: Config, newsletter: Newsletter, reader: Recipient) -> EmailPreview:
    name = newsletter.key.replace(":", "-") if newsletter.kind == "post" else "digest"
    return EmailPreview(name, newsletter, MessageBuilder(config, newsletter).build(reader))


def page_html(config: Config, post: Post) -> str:
    """The post's page as `publisher serve` shows it (drafts and future posts too), by the
    site's own templates; its links are the site's own paths."""
    env = theme.site_environment(config)
    [page] = post_pages(make_entries(config, [post], drafts=True, future=True))
    return theme.render(env, page.template, page_url=page.url, **page.context)


def next_digest(config: Config) -> Newsletter:
    """The next digest as `queue` describes it: at a time `tick` sends one, the very posts
    it sends, in its order, rendered by the same code."""
    upcoming = queue.queue(config)
    return render_digest(config, upcoming.digest_posts, upcoming.digest.id)


def email_preview_routes(config: Config) -> list[Route]:
    """Starlette routes under /_email/: an index of every post's email and the next digest.

    Posts are loaded on every request, so a preview shows the post as last saved.
    """

    def find(name: str) -> EmailPreview | None:
        posts = load_posts(config)
        if name == "digest":
            return preview(config, next_digest(config), preview_recipient(config))
        for post in posts:
            if name == f"post-{post.slug}":
                return preview(config, render_post(config, post, posts), preview_recipient(config))
        return None

    async def index(request: Request) -> Response:
        names = [("digest", "Next digest")]
        names += [(f"post-{p.slug}", p.title) for p in load_posts(config)]
        return HTMLResponse(
            theme.render(theme.environment(config, "email"), "previews.html", names=names)
        )

    async def show(request: Request) -> Response:
        kind = request.path_params["kind"]
        found = find(request.path_params["name"]) if kind in ("html", "txt", "eml") else None
        if found is None:
            return PlainTextResponse("no such email", status_code=404)
        if kind == "eml":
            return Response(found.message, media_type="message/rfc822")
        if kind == "txt":
            return PlainTextResponse(found.part("plain"))
        return HTMLResponse(found.part("html"))

    return [
        Route("/_email/", index),
        Route("/_email/{name}.{kind:str}", show),
    ]
