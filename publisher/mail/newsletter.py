"""Newsletters: one post, or a digest of posts, rendered once into inlined HTML and text.

A `Newsletter` is rendered once per campaign and stored with it. It holds placeholders
(`message.PLACEHOLDERS`) where each subscriber's name, address and links go, so sending to
100,000 people renders the templates and runs premailer once, not 100,000 times.

The post body is the HTML the content stage already rendered for the site; here its URLs
become absolute (emails have no base URL) and links to the site get UTM parameters.
"""

from __future__ import annotations

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
from publisher.mail.images import Picture, email_size
from publisher.mail.message import PLACEHOLDERS, Newsletter
from publisher.mail.plaintext import html_to_text
from publisher.mail.tracking import on_site
from publisher.site import theme
from publisher.site.newsletters import archive_url

CONTENT_WIDTH = 536  # the 600 px card minus its padding: the width given to images
DATE_FORMAT = "%B %-d, %Y"  # as the site shows dates
RECENT_POSTS = 3  # "more from the blog" links under a post
TAG = re.compile(r"<(a|img)\b[^>]*>", re.IGNORECASE)
URL_ATTRIBUTE = re.compile(r"""\s(href|src)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.I)
# Links that only make sense on the web page: the site's ¶ after headings, a footnote's ↩
# back to its reference; a footnote reference keeps its number but not its link.
PAGE_ONLY_LINK = re.compile(r'<a class="(?:headerlink|footnote-backref)"[^>]*>.*?</a>', re.DOTALL)
FOOTNOTE_REF = re.compile(r'<a class="footnote-ref"[^>]*>(.*?)</a>', re.DOTALL)
# Active content a post may carry for its page (embed code), which mail clients drop or
# flag: left out of the email, to the end of the text when never closed (as a browser
# would run it); `check` names each on the site (content/foreign.py).
ACTIVE = re.compile(
    r"<(script|iframe|form|object)\b.*?(?:</\1\s*>|\Z)|<embed\b[^>]*>", re.IGNORECASE | re.DOTALL
)
SCRIPT_SCHEMES = ("javascript", "vbscript", "data")  # a link to these runs or hides code
NOT_IN_URLS = re.compile(r"[\x00-\x20]")  # what browsers ignore in a URL's scheme


def post_url(config: Config, post: Post) -> str:
    """Absolute URL of a post's page (the site builds it at posts/<slug>/); a letter
    (`email_only`) has none, and its page in the newsletter archive stands in."""
    if post.email_only:
        return archive_url(config, f"post:{post.slug}")
    return theme.absolute_url(config.site.url, f"posts/{post.slug}/")


def render_post(
    config: Config, post: Post, posts: Sequence[Post] | None = None, test_copy: bool = False
) -> Newsletter:
    """The email announcing `post`; `posts` (all posts) supplies 'more from the blog' links.
    Its subject and preheader are `email_subject` and `email_preheader` when it has them; a
    letter (`email_only`) is sent whole, its archive page standing in for the blog's. A
    `test_copy` is archived nowhere: its "View in browser" opens the post."""
    campaign = post.slug
    track = _tracker(config, campaign)
    url = post_url(config, post)
    body = absolute_html(post.html, url, track)
    recent = [p for p in posts or () if p.slug != post.slug and _on_blog(config, p)]
    subject = post.email_subject or post.title
    context = {
        "subject": subject,
        "preheader": post.email_preheader or post.summary,
        "post": post,
        "letter": post.email_only,
        "body": Markup(body),
        "body_text": html_to_text(body),
        "full": config.newsletter.content == "full" or post.email_only,
        "post_url": track(url),
        "image": _picture(config, post),
        "recent": [_item(config, p, track) for p in recent[:RECENT_POSTS]],
        "browser_url": track(url if test_copy else archive_url(config, f"post:{post.slug}")),
    }
    return _render(config, f"post:{post.slug}", "post", subject, track, context)


def _on_blog(config: Config, post: Post) -> bool:
    """A post with a page on the blog now, to list as more to read (a letter has none)."""
    return post.is_live(config.now) and not post.email_only


def render_digest(config: Config, posts: Sequence[Post], period_id: str) -> Newsletter:
    """The digest of `posts` (newest first), capped at `[digest] max_posts`."""
    track = _tracker(config, period_id)
    chosen = list(posts)[: config.digest.max_posts]
    subject = digest_subject(config, chosen)
    context = {
        "subject": subject,
        "preheader": " · ".join(p.title for p in chosen),
        "items": [_item(config, p, track) for p in chosen],
        "date": theme.local_format(config, config.now, DATE_FORMAT),
        "browser_url": track(archive_url(config, f"digest:{period_id}")),
    }
    return _render(config, f"digest:{period_id}", "digest", subject, track, context)


def render_welcome(config: Config, posts: Sequence[Post], frequency: str) -> Newsletter:
    """The welcome email after someone confirms: the latest `[newsletter] welcome_posts`
    live posts (given newest first), for `each` or `digest` readers."""
    track = _tracker(config, "welcome")
    chosen = [p for p in posts if _on_blog(config, p)][: config.newsletter.welcome_posts]
    subject = f"Welcome to {config.site.title}"
    context = {
        "subject": subject,
        "preheader": "Thank you for confirming your subscription.",
        "items": [_item(config, p, track) for p in chosen],
        "frequency": frequency,
        "browser_url": "",  # a welcome is archived nowhere; its button opens the blog
    }
    return _render(config, f"welcome:{frequency}", "welcome", subject, track, context)


def digest_subject(config: Config, posts: Sequence[Post]) -> str:
    """`[digest] subject` filled in for a digest of `posts` (newest first): the one place a
    digest's subject is made, so the email, its test copy and `check` agree."""
    others = len(posts) - 1
    values = {
        "first_title": posts[0].title if posts else "",
        "count": len(posts),
        "more": f", and {others} more" if others > 0 else "",
        "title": config.site.title,
        "date": theme.local_format(config, config.now, DATE_FORMAT),
    }
    try:
        return config.digest.subject.format(**values)
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        names = ", ".join(f"{{{name}}}" for name in values)
        raise ConfigError(f"[digest] subject: {exc!s}; only {names} can be used") from None


@dataclass(frozen=True)
class Item:
    """A post as a digest or a 'more from the blog' list shows it."""

    title: str
    summary: str
    date: str
    url: str
    image: Picture | None


def _item(config: Config, post: Post, track: Callable[[str], str]) -> Item:
    return Item(
        title=post.title,
        summary=post.summary,
        date=theme.local_format(config, post.date, DATE_FORMAT),
        url=track(post_url(config, post)),
        image=_picture(config, post),
    )


def _picture(config: Config, post: Post) -> Picture | None:
    """The front matter image, resolved against the site root as the site's pages do, at
    the email's content width (with its height, when the file is the site's own)."""
    return email_size(config, post.image, CONTENT_WIDTH) if post.image else None


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
    utm = urlencode({"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": campaign})

    def track(url: str) -> str:
        parts = urlsplit(url)
        if not config.newsletter.utm or not on_site(config.site.url, url) or "utm_" in parts.query:
            return url
        return parts._replace(query=f"{parts.query}&{utm}" if parts.query else utm).geturl()

    return track


def absolute_html(html: str, page_url: str, track: Callable[[str], str]) -> str:
    """Make every href/src in `html` absolute against the page, track links, size images,
    and leave out active content (`ACTIVE`, script links).

    Only attributes inside <a> and <img> tags are touched, so code samples that show HTML
    (escaped as text) keep what they say.
    """

    def attribute(match: re.Match) -> str:
        name, value = match.group(1).lower(), next(v for v in match.groups()[1:] if v is not None)
        url = urljoin(page_url, unescape(value))
        if name == "href" and urlsplit(NOT_IN_URLS.sub("", url)).scheme in SCRIPT_SCHEMES:
            return ""  # a link without its script: the words stay
        return f' {name}="{escape(track(url) if name == "href" else url)}"'

    def tag(match: re.Match) -> str:
        text = URL_ATTRIBUTE.sub(attribute, match.group(0))
        if match.group(1).lower() == "img" and not re.search(r"\swidth=", text, re.I):
            text = re.sub(r"\s*/?>$", f' width="{CONTENT_WIDTH}">', text)
        return text

    html = ACTIVE.sub("", PAGE_ONLY_LINK.sub("", html))
    return TAG.sub(tag, FOOTNOTE_REF.sub(r"\1", html))
