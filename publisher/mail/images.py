"""Pictures in emails: which formats mail clients show, and each local picture's size.

Gmail and Outlook drop SVG (and WebP, AVIF, HEIC in many versions), and social sites do not
take SVG as `og:image`: `check` reports them (`problems`), with a missing local file. An
email's pictures get width and height (`email_size`), so the layout does not jump while
they load and Outlook does not show them at their natural size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import imagesize

from publisher.config import Config
from publisher.content.posts import Post
from publisher.site import theme

DROPPED = {".svg": "SVG", ".svgz": "SVG", ".webp": "WebP", ".avif": "AVIF", ".heic": "HEIC"}
SHOWN = "PNG, JPEG or GIF"
IMG_SRC = re.compile(r"""<img\b[^>]*?\ssrc\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


@dataclass(frozen=True)
class Picture:
    """An image as an email shows it: absolute URL and the size to give it."""

    url: str
    width: int
    height: int | None  # None when the file is not ours to measure


def local_file(config: Config, url: str) -> Path | None:
    """The theme's static file behind a URL on the site, or None."""
    path = theme.site_path(config, url)
    return dict((p, s) for s, p in theme.static_files(config)).get(path) if path else None


def email_size(config: Config, url: str, width: int) -> Picture:
    """`url` absolute, at most `width` wide, with the height its file's proportions give."""
    absolute = theme.absolute_url(config.site.url, url)
    source = local_file(config, url)
    size = imagesize.get(source) if source else (-1, -1)
    if size[0] <= 0 or size[1] <= 0:
        return Picture(absolute, width, None)
    shown = min(width, int(size[0]))
    return Picture(absolute, shown, round(size[1] * shown / size[0]))


def dropped_format(url: str) -> str:
    """'SVG' for a picture mail clients do not show, else ''."""
    return DROPPED.get(PurePosixPath(urlsplit(url).path).suffix.lower(), "")


def problems(config: Config, post: Post, emailed: bool) -> list[str]:
    """`FILE:LINE: ...` for each picture of `post` a reader will not see: its `image:` (the
    email's picture and the `og:image`) in a format mail clients or social sites drop or
    missing; when `emailed`, the same for pictures in its body."""
    lines = _source_lines(config, post)
    found = []
    pictures = [("image", post.image)] if post.image else []
    pictures += [("picture", src) for src in IMG_SRC.findall(post.html)] if emailed else []
    for label, url in pictures:
        line = _line_of(lines, url, "image:" if label == "image" else "")
        where = f"{post.source}:{line}: {label} {url}"
        kind = dropped_format(url)
        if kind:
            users = "email and social cards" if label == "image" else "emails"
            found.append(
                f"{where}: {kind}, which Gmail and Outlook do not show in {users}; "
                f"use a {SHOWN} file"
            )
        elif _ours(config, url, label) and not local_file(config, url):
            found.append(f"{where}: no such file in templates/site/static/; add it or fix the path")
    return found


def _ours(config: Config, url: str, label: str) -> bool:
    """A picture the site serves from its theme: a relative `image:` or a root-relative
    picture (a picture relative to a post's page is not looked up)."""
    local = "://" not in url and (label == "image" or url.startswith("/"))
    return local and theme.site_path(config, url) is not None


def _source_lines(config: Config, post: Post) -> list[str]:
    try:
        return (config.root / post.source).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []


def _line_of(lines: list[str], text: str, key: str) -> int:
    """The first line holding `text` (after `key`, when given), 1 when none does."""
    for number, line in enumerate(lines, 1):
        if text in line and (not key or line.lstrip().startswith(key)):
            return number
    return 1
