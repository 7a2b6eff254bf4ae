"""Links through the click redirect, and the reader part each recipient's links carry.

With `[tracking] clicks` on, a campaign's links to the site (to any address with
`all_links`) become `<[web] url>/l/<campaign>/<link>/<reader>`: the campaign's id, the
link's number in its link table (`store.clicks.Link`, the only place its target is kept),
and the reader part, filled in per recipient at sending (the `reader` slot):

- `a<tag>.<sent>.<signature>` when clicks are counted without names: `tag` is an HMAC of
  the subscriber id keyed by the campaign's salt, which is deleted when the campaign is a
  week old; the redirect only feeds it to the unique-clicker sketch. Without a salt the tag
  is empty and the click counts, but not as a unique clicker.
- `p<subscriber id>.<sent>.<signature>` with `clicks = "individual"`.
- `-` (`message.NO_READER`) in the web archive and in test copies: redirected, never counted.

`sent` is the Unix second the message was built, to tell a link scanner at the recipient's
gateway, which opens every link as the message arrives. The signature (HMAC-SHA256 with
the site secret over campaign, reader and time) makes a forged reader a 404: no one can
inflate counts, or in individual mode click in someone else's name.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from html import escape, unescape
from urllib.parse import urlsplit

from publisher.config import Config
from publisher.mail.message import NO_READER, PLACEHOLDERS, Newsletter
from publisher.store import clicks
from publisher.store.clicks import CAMPAIGN_SLOT, Link

ANCHOR = re.compile(r"""<a\b([^>]*?)\shref="([^"]*)"([^>]*)>(.*?)</a>""", re.I | re.S)
TAGS = re.compile(r"<[^>]+>")
ALT = re.compile(r"""\salt="([^"]*)\"""", re.I)
URL_IN_TEXT = re.compile(r"https?://[^\s<>()\"']+")
READER = re.compile(r"([ap])([0-9a-f]{0,16}|[0-9]{1,19})\.([0-9]{1,12})\.([A-Za-z0-9_-]{22})")
MAX_TEXT = 200  # characters of a link's text kept in the link table


def on_site(site_url: str, url: str) -> bool:
    """Whether `url` is on the site at `site_url` (same scheme, host and path prefix)."""
    site, parts = urlsplit(site_url.rstrip("/") + "/"), urlsplit(url)
    same_origin = (parts.scheme, parts.netloc) == (site.scheme, site.netloc)
    return same_origin and (parts.path + "/").startswith(site.path)


def tracked(config: Config, newsletter: Newsletter) -> Newsletter:
    """`newsletter` with its links through the redirect and their link table (as they are
    when clicks are off), and the open pixel when opens are on. The campaign id is
    `CAMPAIGN_SLOT` until the store knows it."""
    web = config.web.url.rstrip("/")
    html, text = newsletter.html, newsletter.text
    if config.tracking.opens == "on":
        pixel = f'<img src="{web}/o/{CAMPAIGN_SLOT}/{PLACEHOLDERS["reader"]}" width="1" height="1" alt="">'
        html = html.replace("</body>", pixel + "</body>", 1)
    if config.tracking.clicks == "off":
        return replace(newsletter, html=html)
    base = f"{web}/l/{CAMPAIGN_SLOT}/"
    numbers: dict[str, int] = {}
    found: list[Link] = []

    def counted(url: str) -> bool:
        wanted = config.tracking.all_links or on_site(config.site.url, url)
        plain = url.isprintable() and " " not in url  # nothing that could split a header
        return url.startswith(("https://", "http://")) and wanted and plain

    def redirect(url: str, text: str) -> str:
        if url not in numbers:
            numbers[url] = len(numbers) + 1
            found.append(Link(numbers[url], url, text))
        return f"{base}{numbers[url]}/{PLACEHOLDERS['reader']}"

    def anchor(match: re.Match) -> str:
        url = unescape(match[2])
        if not counted(url):
            return match[0]
        new = escape(redirect(url, link_text(match[4])))
        return f'<a{match[1]} href="{new}"{match[3]}>{match[4]}</a>'

    html = ANCHOR.sub(anchor, html)
    text = URL_IN_TEXT.sub(lambda m: redirect(m[0], "") if counted(m[0]) else m[0], text)
    return replace(newsletter, html=html, text=text, links=tuple(found))


TRACKED_HREF = re.compile(r'href="[^"]*/l/[0-9]+/([0-9]+)/' + PLACEHOLDERS["reader"] + '"')
PIXEL = re.compile(r'<img src="[^"]*/o/[0-9]+/' + PLACEHOLDERS["reader"] + '"[^>]*>')


def untracked(html: str, targets: dict[int, str]) -> str:
    """A campaign's stored HTML with its links pointing straight at their targets (by
    number) and no open pixel: the archive's copy, which nobody's reading should count."""
    html = PIXEL.sub("", html)
    return TRACKED_HREF.sub(lambda m: f'href="{escape(targets.get(int(m[1]), ""))}"', html)


def link_text(inner: str) -> str:
    """What a link says: its text, else its picture's alt text, on one line."""
    words = " ".join(unescape(TAGS.sub(" ", inner)).split())
    if not words and (alt := ALT.search(inner)):
        words = " ".join(unescape(alt[1]).split())
    return words[:MAX_TEXT]


@dataclass(frozen=True)
class Reader:
    """A genuine reader part: who (a tag, or a subscriber id in individual mode) and when
    the message was sent."""

    tag: str  # "a<tag>" or "p<id>": what the unique-clicker sketch counts; "a" counts none
    subscriber_id: int | None  # only from an individual-mode link
    sent: datetime


@dataclass(frozen=True)
class ClickSigner:
    """Makes and reads the reader parts of one site's links."""

    secret: bytes

    def _sign(self, campaign_id: int, who: str, sent: int) -> str:
        digest = hmac.digest(self.secret, f"click:{campaign_id}:{who}:{sent}".encode(), "sha256")
        return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")

    def reader(
        self, individual: bool, campaign_id: int, salt: str | None, subscriber_id: int,
        sent: datetime,
    ) -> str:  # fmt: skip
        """The reader part of `subscriber_id`'s links in the campaign's email."""
        if individual:
            who = f"p{subscriber_id}"
        elif salt:
            tag = hmac.digest(salt.encode(), str(subscriber_id).encode(), "sha256")
            who = "a" + tag[:8].hex()
        else:
            who = "a"
        stamp = int(sent.timestamp())
        return f"{who}.{stamp}.{self._sign(campaign_id, who, stamp)}"

    def read(self, campaign_id: int, value: str) -> Reader | None:
        """The reader a link's part names; None when it is not one this site signed."""
        match = READER.fullmatch(value)
        if not match:
            return None
        who, stamp = match[1] + match[2], int(match[3])
        if not hmac.compare_digest(match[4], self._sign(campaign_id, who, stamp)):
            return None
        if match[1] == "p" and not match[2].isdigit():
            return None
        person = int(match[2]) if match[1] == "p" else None
        return Reader(who, person, datetime.fromtimestamp(stamp, UTC))


def readers(
    config: Config, store, campaign_id: int, secret: bytes
) -> Callable[[int, datetime], str]:
    """A function giving each recipient's reader part in the campaign's email (the slot is
    in its links only when clicks were on as it was created, or its pixel when opens were)."""
    if config.tracking.clicks == "off" and config.tracking.opens == "off":
        return lambda subscriber_id, sent: NO_READER
    with store.read() as conn:
        salt = clicks.salt(conn, campaign_id)
    signer = ClickSigner(secret)
    individual = config.tracking.clicks == "individual"
    return partial(signer.reader, individual, campaign_id, salt)
