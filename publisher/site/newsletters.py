"""The newsletter's web archive: every announcement and digest sent, as a page of the site.

Each campaign in the store becomes an `Issue`; `newsletter_pages` plans its page
(`/newsletter/<id>/`, the email as subscribers got it, without anything personal) and the
index of past issues (`/newsletter/`), as the build's other pages are planned. An email's
"View in browser" link (`archive_url`) points at its page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from markupsafe import Markup

from publisher.config import Config
from publisher.errors import StoreError
from publisher.mail.message import NAME_FALLBACK, NO_READER, PLACEHOLDERS
from publisher.site import theme
from publisher.site.pages import Page
from publisher.storefile import store_exists

ARCHIVED = ("sending", "paused", "done")  # a campaign that started going out
FOOTER = re.compile(r'(<td class="footer"[^>]*>).*?(</td>)', re.DOTALL)
DOCUMENT = re.compile(r"<head[^>]*>(.*?)</head>.*?<body([^>]*)>(.*)</body>", re.DOTALL)


@dataclass(frozen=True)
class Issue:
    """One sent newsletter as the archive shows it (also a feed item: `FeedPost`)."""

    id: str  # "post-<slug>" or "digest-<period>", from the campaign key
    kind: str  # post | digest
    title: str  # the subject
    date: datetime  # when it went out
    page: str  # the email's HTML, nothing personal left in it
    summary: str = ""
    author: str = ""
    tags: tuple = ()
    # False for a digest's edition for readers of some topics (`digest:<id>.<topics>`):
    # its page is there for its "View in browser" link, but the index and the feed show
    # the whole digest once.
    listed: bool = True

    @property
    def url(self) -> str:
        return archive_path(self.id)

    @property
    def html(self) -> str:
        """What a feed item carries: a line pointing at the page."""
        return f"<p>{escape(self.title)}</p>"


def issue_id(key: str) -> str:
    """`post-<slug>` of the campaign key `post:<slug>` (URL-safe: slugs and dates)."""
    return key.replace(":", "-")


def archive_path(ident: str) -> str:
    return f"newsletter/{ident}/"


def archive_url(config: Config, key: str) -> str:
    """The absolute URL of the page of the newsletter with campaign key `key`."""
    return theme.absolute_url(config.site.url, archive_path(issue_id(key)))


def load_issues(config: Config) -> list[Issue]:
    """Every campaign that started going out, newest first; none when the store is not
    there yet (a site that never sent). A store that is there but cannot be read stops the
    build, which leaves the site as it was: built without the archive, the deployed site
    would lose every issue's page."""
    if not store_exists(config.database.url, config.root):
        return []  # never sent anything: no store to create for a build
    from sqlalchemy.exc import SQLAlchemyError  # only now: a build without a store needs none

    from publisher.mail.tracking import untracked
    from publisher.store import clicks, ledger
    from publisher.store.db import Store

    try:
        with Store.open(config) as store:
            campaigns = ledger.list_campaigns(store)
            with store.read() as conn:
                targets = {
                    c.id: {n.number: n.url for n in clicks.links(conn, c.id)} for c in campaigns
                }
    except SQLAlchemyError as exc:
        raise StoreError(f"newsletter archive: {exc}; the site was left as it was") from None
    issues = [
        Issue(
            issue_id(c.key),
            c.kind,
            c.subject,
            c.started_at or c.created_at,
            public(config, untracked(c.html, targets[c.id])),
            listed=c.kind == "post" or "." not in c.key,
        )
        for c in campaigns
        if c.status in ARCHIVED and c.kind in ("post", "digest")
    ]
    return sorted(issues, key=lambda issue: (issue.date, issue.id), reverse=True)


def public(config: Config, html: str) -> str:
    """The email's HTML for everyone: the footer's personal lines (name, address, the
    reader's own links) become the postal address and a link to the other issues."""
    index = theme.absolute_url(config.site.url, "newsletter/")
    footer = (
        f'<p><a href="{escape(index)}">Every issue of the newsletter</a></p>'
        f"<p>{escape(config.newsletter.postal_address)}</p>"
    )
    html = FOOTER.sub(lambda m: m[1] + footer + m[2], html, count=1)
    values = {
        "name": NAME_FALLBACK,
        "email": "",
        "unsubscribe_url": index,
        "preferences_url": index,
        "reader": NO_READER,
    }
    for slot, token in PLACEHOLDERS.items():
        html = html.replace(token, escape(values[slot]))
    return html


def newsletter_pages(issues: Sequence[Issue]) -> list[Page]:
    """/newsletter/ listing every issue (each digest once), and a page per issue."""
    return [
        Page("newsletter/", "newsletters.html", {"issues": listed(issues)}),
        *(
            Page(i.url, "newsletter-issue.html", {"issue": i, **email_parts(i.page)})
            for i in issues
        ),
    ]


def email_parts(page: str) -> dict[str, Markup]:
    """The email's head, body attributes and body, which its page on the site wraps in
    the site's navigation, landmarks and subscribe form (a template with no <head> or
    <body> is all body)."""
    found = DOCUMENT.search(page)
    head, attributes, body = found.groups() if found else ("", "", page)
    return {"head": Markup(head), "body_attributes": Markup(attributes), "body": Markup(body)}


def listed(issues: Sequence[Issue]) -> list[Issue]:
    """The issues the index and the feed show: every post's, and each digest once."""
    return [issue for issue in issues if issue.listed]
