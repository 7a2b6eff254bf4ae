"""A page at a post's old address that sends readers (and search engines) to the new one,
written when a live post's `slug:` changes, so links already emailed keep working."""

from __future__ import annotations

from html import escape
from pathlib import Path

PAGE = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<title>Moved</title>
<link rel="canonical" href="{url}">
<meta http-equiv="refresh" content="0; url={url}">
<meta name="robots" content="noindex">
</head>
<body>
<main><p>This post moved to <a href="{url}">{url}</a>.</p></main>
</body>
</html>
"""


def redirect_page(new_url: str, language: str = "en") -> str:
    """The HTML of a page that redirects to `new_url` (absolute)."""
    return PAGE.format(url=escape(new_url, quote=True), lang=escape(language, quote=True))


def write_redirects(output: Path, moves: dict[str, str], base_url: str, language: str) -> None:
    """For each old site path (/posts/old/) a redirect page to its new path, in `output`;
    an old path that is a page of the site again is left alone."""
    for old, new in moves.items():
        target = output / old.strip("/") / "index.html"
        if target.exists() and 'http-equiv="refresh"' not in target.read_text(errors="replace"):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(redirect_page(base_url + new, language), encoding="utf-8")
