"""What the editor's preview shows: a post, saved or as typed, as its page and its email,
rendered by the same code as the site and the newsletter.

The preview runs inside the console, where the site may not be built or deployed yet: the
page's stylesheets and the pictures (uploads too) come from the console's copy of the
theme's static files (`STATIC`), so the preview looks like the site before it exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from publisher.config import Config
from publisher.content.posts import Post, parse_post
from publisher.errors import ContentError, ContentErrors
from publisher.mail.newsletter import render_post
from publisher.site import theme
from publisher.site.pages import make_entries, post_pages
from publisher.web.previews import preview, preview_recipient

NOTHING_YET = (
    '<!doctype html><html lang="en"><title>Preview</title>'
    "<p>Start writing: the preview shows here.</p></html>"
)
STATIC = "/site-static/"  # under the console's root: the theme's static files


def policy(console_origin: str) -> str:
    """What a preview may load and do: the console's copy of the site's styles and
    pictures (named by origin: 'self' means nothing in a sandbox), pictures on the web, no
    script, no form; links open outside the frame. Only the console may frame it."""
    return (
        f"default-src 'none'; style-src {console_origin} 'unsafe-inline'; "
        f"img-src {console_origin} data: https:; font-src {console_origin}; "
        "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; "
        "sandbox allow-popups allow-popups-to-escape-sandbox"
    )


@dataclass(frozen=True)
class Shown:
    """A rendered preview: the body and its media type."""

    body: str
    media_type: str


def read_post(config: Config, source: str, text: str) -> Post:
    """The post in `text` (a post file's contents) as the site reads it; ContentErrors
    with every problem (file, line, message) when it would not build."""
    result = parse_post(source, text.encode("utf-8"), config.tz)
    if result.post is None:
        raise ContentErrors(ContentError(source, line, message) for line, message in result.errors)
    return result.post


def show(config: Config, post: Post, posts: list[Post], view: str, root: str) -> Shown:
    """The post `as` its page, its email (HTML) or its plain-text email."""
    static = root + STATIC
    if view == "page":
        return Shown(_page(config, post, static), "text/html")
    message = preview(config, render_post(config, post, posts), preview_recipient(config))
    if view == "text":
        return Shown(message.part("plain"), "text/plain")
    site = config.site.url.rstrip("/") + "/static/"
    return Shown(message.part("html").replace(site, static), "text/html")


def _page(config: Config, post: Post, static: str) -> str:
    env = theme.site_environment(config)
    env.bytecode_cache = None  # the `url` filter below is folded into compiled templates
    env.filters["url"] = lambda url: _site_url(config, url, static)
    [page] = post_pages(make_entries(config, [post], drafts=True, future=True))
    html = theme.render(env, page.template, page_url=page.url, **page.context)
    # Pictures the post's text gives by the site's path (`/static/images/x.png`) too.
    return html.replace(f'="{_site_path(config)}static/', f'="{static}')


def _site_url(config: Config, url: str, static: str) -> str:
    """Static files from the console's copy; every other link to the site, absolute."""
    path = url.lstrip("/")
    if "://" not in url and path.startswith("static/"):
        return static + path[len("static/") :]
    return theme.absolute_url(config.site.url, url)


def _site_path(config: Config) -> str:
    return urlsplit(config.site.url).path.rstrip("/") + "/"
