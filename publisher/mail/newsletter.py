"""Newsletters: one post, or a digest of posts, rendered once into inlined HTML and text.

A `Newsletter` is rendered once per campaign and stored with it. It holds placeholders
(`message.PLACEHOLDERS`) where each subscriber's name, address and links go, so sending to
100,000 people renders the templates and runs premailer once, not 100,000 times.

The post body is the HTML the content stage already rendered for the site; here its URLs
become absolute (emails have no base URL) and links to the site get UTM parameters.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape, unescape
from urllib.parse import urlencode, urljoin, urlsplit

from markupsafe import Markup
from premailer import Premailer

from publisher.config import Config
from publisher.content.posts import Post
from publisher.errors import ConfigError
from publisher.mail.message import (
    PLACEHOLDERS,
    MessageBuilder,
    Recipient,
    config_header_fields,
    header_errors,
)
from publisher.mail.plaintext import html_to_text
from publisher.site import theme

CONTENT_WIDTH = 536  # the 600 px card minus its padding: the width given to images
GMAIL_CLIP_BYTES = 100_000
MAX_SUBJECT = 150
DATE_FORMAT = "%B %-d, %Y"  # as the site shows dates
RECENT_POSTS = 3  # "more from the blog" links under a post
TAG = re.compile(r"<(a|img)\b[^>]*>", re.IGNORECASE)
URL_ATTRIBUTE = re.compile(r"""\s(href|src)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.I)
HEADER_LINK = re.compile(r'<a class="headerlink"[^>]*>.*?</a>', re.DOTALL)  # the site's ¶
ABSOLUTE = re.compile(r"^(https?:|mailto:|tel:|cid:)", re.IGNORECASE)


@dataclass(frozen=True)
class Newsletter:
    """One rendered newsletter: stored in the campaigns table, personalized per recipient."""

    key: str  # "post:<slug>" or "digest:<period id>"
    kind: str  # "post" | "digest"
    subject: str
    html: str  # inlined HTML holding the PLACEHOLDERS
    text: str  # plain text holding the same PLACEHOLDERS


def post_url(config: Config, post: Post) -> str:
    """Absolute URL of a post's page (the site builds it at posts/<slug>/)."""
    return theme.absolute_url(config.site.url, f"posts/{post.slug}/")


def render_post(config: Config, post: Post, posts: Sequence[Post] | None = None) -> Newsletter:
    """The email announcing `post`; `posts` (all posts) supplies 'more from the blog' links."""
    campaign = post.slug
    track = _tracker(config, campaign)
    url = post_url(config, post)
    body = absolute_html(post.html, url, track)
    recent = [p for p in posts or () if p.slug != post.slug and p.is_live(config.now)]
    context = {
        "subject": post.title,
        "preheader": post.summary,
        "post": post,
        "body": Markup(body),
        "body_text": html_to_text(body),
        "full": config.newsletter.content == "full",
        "post_url": track(url),
        "image_url": _image_url(config, post),
        "recent": [_item(config, p, track) for p in recent[:RECENT_POSTS]],
        "browser_url": track(url),
    }
    return _render(config, f"post:{post.slug}", "post", post.title, track, context)


def render_digest(config: Config, posts: Sequence[Post], period_id: str) -> Newsletter:
    """The digest of `posts` (newest first), capped at `[digest] max_posts`."""
    track = _tracker(config, period_id)
    chosen = list(posts)[: config.digest.max_posts]
    subject = digest_subject(config)
    context = {
        "subject": subject,
        "preheader": " · ".join(p.title for p in chosen),
        "items": [_item(config, p, track) for p in chosen],
        "date": theme.local_format(config, config.now, DATE_FORMAT),
        "browser_url": track(theme.absolute_url(config.site.url, "")),
    }
    return _render(config, f"digest:{period_id}", "digest", subject, track, context)


def digest_subject(config: Config) -> str:
    date = theme.local_format(config, config.now, DATE_FORMAT)
    try:
        return config.newsletter.digest_subject.format(title=config.site.title, date=date)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"[newsletter] digest_subject: {exc!s}; only {{title}} and {{date}} can be used"
        ) from None


@dataclass(frozen=True)
class Item:
    """A post as a digest or a 'more from the blog' list shows it."""

    title: str
    summary: str
    date: str
    url: str
    image_url: str


def _item(config: Config, post: Post, track: Callable[[str], str]) -> Item:
    return Item(
        title=post.title,
        summary=post.summary,
        date=theme.local_format(config, post.date, DATE_FORMAT),
        url=track(post_url(config, post)),
        image_url=_image_url(config, post),
    )


def _image_url(config: Config, post: Post) -> str:
    """The front matter image, resolved against the site root as the site's pages do."""
    return theme.absolute_url(config.site.url, post.image) if post.image else ""


def _render(
    config: Config,
    key: str,
    kind: str,
    subject: str,
    track: Callable[[str], str],
    context: dict,
) -> Newsletter:
    """Render the HTML and text templates of `kind`, then inline the HTML's CSS once."""
    env = theme.environment(config, "email")
    context |= {
        "slots": PLACEHOLDERS,
        "home_url": track(theme.absolute_url(config.site.url, "")),
        "newsletter": config.newsletter,
    }
    html = theme.render(env, f"{kind}.html", **context)
    text = theme.render(env, f"{kind}.txt", **context)
    return Newsletter(key=key, kind=kind, subject=subject, html=inline_css(html), text=text)


def inline_css(html: str) -> str:
    """Move the <style> rules into style= attributes, keeping @media rules and !important.

    premailer's default `strip_important=True` drops `!important` from the @media rules,
    and then the inline styles win on phones (premailer issue 241). No network, no URL
    rewriting: URLs are already absolute and placeholders must stay as they are.
    """
    premailer = Premailer(
        html,
        strip_important=False,
        allow_network=False,
        allow_loading_external_files=False,
        disable_link_rewrites=True,
        keep_style_tags=False,
        remove_classes=False,
        # cssutils logs ~20 'Unknown Property' warnings per call for the mso-* and -webkit-*
        # rules mail clients need: this quietens cssutils' own logger, nothing else.
        cssutils_logging_level=logging.CRITICAL,
        disable_basic_attributes=["height"],  # height:auto must not become height="auto"
    )
    return premailer.transform()


# --- URLs ---------------------------------------------------------------------------


def _tracker(config: Config, campaign: str) -> Callable[[str], str]:
    """A function adding UTM parameters to links to the site (when `[newsletter] utm`)."""
    site = urlsplit(config.site.url.rstrip("/") + "/")
    utm = urlencode({"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": campaign})

    def track(url: str) -> str:
        parts = urlsplit(url)
        on_site = (parts.scheme, parts.netloc) == (site.scheme, site.netloc) and (
            parts.path + "/"
        ).startswith(site.path)
        if not config.newsletter.utm or not on_site or "utm_" in parts.query:
            return url
        return parts._replace(query=f"{parts.query}&{utm}" if parts.query else utm).geturl()

    return track


def absolute_html(html: str, page_url: str, track: Callable[[str], str]) -> str:
    """Make every href/src in `html` absolute against the page, track links, size images.

    Only attributes inside <a> and <img> tags are touched, so code samples that show HTML
    (escaped as text) keep what they say.
    """

    def attribute(match: re.Match) -> str:
        name, value = match.group(1).lower(), next(v for v in match.groups()[1:] if v is not None)
        url = urljoin(page_url, unescape(value))
        return f' {name}="{escape(track(url) if name == "href" else url)}"'

    def tag(match: re.Match) -> str:
        text = URL_ATTRIBUTE.sub(attribute, match.group(0))
        if match.group(1).lower() == "img" and not re.search(r"\swidth=", text, re.I):
            text = re.sub(r"\s*/?>$", f' width="{CONTENT_WIDTH}">', text)
        return text

    return TAG.sub(tag, HEADER_LINK.sub("", html))


# --- checks -------------------------------------------------------------------------


def upcoming_posts(config: Config, posts: Sequence[Post]) -> list[Post]:
    """Posts that may still be announced: email on, not a draft, scheduled or live within
    `[newsletter] announce_max_age` (the scheduler's own rule: older posts never go out)."""
    since = config.now - config.newsletter.announce_max_age
    return [p for p in posts if p.email and not p.draft and p.date >= since]


def lint(config: Config, posts: Sequence[Post]) -> tuple[list[str], list[str]]:
    """(errors, warnings) about every newsletter that could still be sent, for `publisher
    check`: queued posts, posts live within `announce_max_age`, and the next digest.

    Only those are rendered: premailer takes about 0.1 s per email, so rendering every
    post of a blog with 1,000 posts would make `check` take 10 s, for emails the scheduler
    will never send. Every title is still checked for header injection (cheap).

    Errors stop a send (a subject or name that would inject a header); warnings are things
    a person should look at (Gmail clipping, missing alt text, relative links, a missing
    postal address).
    """
    errors = header_errors(config_header_fields(config))
    errors += header_errors({f"{p.source}: title": p.title for p in posts})
    errors += header_errors({"[newsletter] digest_subject": digest_subject(config)})
    warnings = []
    if not config.newsletter.from_address:
        warnings.append("[newsletter] from_address is empty: emails cannot be sent")
    if not config.newsletter.postal_address:
        warnings.append("[newsletter] postal_address is empty: the law (CAN-SPAM) requires one")
    if not _aligned(config.newsletter.from_address.rpartition("@")[2], config.dkim.domain):
        warnings.append(
            f"[dkim] domain {config.dkim.domain} and the From address "
            f"{config.newsletter.from_address} differ: DMARC alignment fails"
        )
    live = [p for p in posts if p.is_live(config.now)]
    for post in upcoming_posts(config, posts):
        warnings += _newsletter_warnings(render_post(config, post, live))
    if live:
        warnings += _newsletter_warnings(render_digest(config, live, "next"))
    return errors, warnings


def _aligned(sender: str, signer: str) -> bool:
    """Relaxed DMARC alignment, roughly: one domain is the other or a parent of it."""
    sender, signer = sender.lower(), signer.lower()
    return (
        not signer
        or sender.endswith("." + signer)
        or signer.endswith("." + sender)
        or (sender == signer)
    )


def _newsletter_warnings(newsletter: Newsletter) -> list[str]:
    found = []
    size = len(newsletter.html.encode("utf-8"))
    if size > GMAIL_CLIP_BYTES:
        found.append(f"HTML is {size // 1000} KB; Gmail clips messages over about 102 KB")
    if not newsletter.subject.strip():
        found.append("the subject is empty")
    elif len(newsletter.subject) > MAX_SUBJECT:
        found.append(f"the subject is {len(newsletter.subject)} characters (over {MAX_SUBJECT})")
    for tag in re.findall(r"<img\b[^>]*>", newsletter.html, re.IGNORECASE):
        if not re.search(r'\salt="[^"]+"', tag):
            found.append(f"an image has no alt text: {tag[:80]}")
    slots = set(PLACEHOLDERS.values())
    for url in re.findall(r'\b(?:href|src)="([^"]*)"', newsletter.html):
        if url not in slots and not ABSOLUTE.match(unescape(url)):
            found.append(f"a link is not absolute: {url!r}")
    return [f"{newsletter.key}: {message}" for message in found]


# --- previews -----------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
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
    from publisher.subscribers.tokens import load_tokens, preferences_url, unsubscribe_url

    tokens = load_tokens(config)
    return Recipient(
        email=config.newsletter.from_address or "preview@example.org",
        name="Preview Reader",
        unsubscribe_url=unsubscribe_url(config, tokens, 0, ""),
        preferences_url=preferences_url(config, tokens, 0, ""),
    )


def preview(config: Config, newsletter: Newsletter, recipient: Recipient) -> Preview:
    name = newsletter.key.replace(":", "-") if newsletter.kind == "post" else "digest"
    return Preview(name, newsletter, MessageBuilder(config, newsletter).build(recipient))


def next_digest(config: Config, posts: Sequence[Post]) -> Newsletter:
    """The digest of the newest live posts, as the next one would look if sent now."""
    live = [p for p in posts if p.is_live(config.now)]
    return render_digest(config, live, theme.local_format(config, config.now, "%Y-%m-%d"))


def email_preview_routes(config: Config) -> list:
    """Starlette routes under /_email/: an index of every post's email and the next digest."""
    from starlette.responses import HTMLResponse, PlainTextResponse, Response
    from starlette.routing import Route

    from publisher.content.posts import load_posts

    def find(name: str) -> Preview | None:
        posts = load_posts(config)
        if name == "digest":
            return preview(config, next_digest(config, posts), preview_recipient(config))
        for post in posts:
            if name == f"post-{post.slug}":
                return preview(config, render_post(config, post, posts), preview_recipient(config))
        return None

    async def index(request) -> Response:
        names = [("digest", "Next digest")]
        names += [(f"post-{p.slug}", p.title) for p in load_posts(config)]
        return HTMLResponse(
            theme.render(theme.environment(config, "email"), "previews.html", names=names)
        )

    async def show(request) -> Response:
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
