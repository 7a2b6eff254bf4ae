"""Pictures and files the old posts use: found in the old blog, copied into the site, the
links rewritten, and each one that is missing reported with its file and line.

A file is looked for where the old tool served it from (`Layout.roots`): Jekyll the site
folder, Hugo `static/` and `content/` (a page bundle's own files), Pelican `content/`. What
the old site served at `/assets/a.png` is copied to `templates/site/static/assets/a.png`
(the theme's static folder, which every build copies) and linked as `/static/assets/a.png`.

References are read in Markdown links and images (`![](...)`, `[x]: ...`), HTML
attributes (`src`, `href`, `poster`), Pelican's `{static}`, `{attach}` and `{filename}`,
Jekyll's `{{ site.baseurl }}/...` and `{{ '/...' | relative_url }}`, and the `image:` key;
`body` leaves fenced code alone. A local reference that finds no file is reported
when it is a picture, a Pelican file link or names a file by its ending (`.pdf`, `.png`);
a link to a page is left alone. Everything goes through `tree`, so a file is read only
inside SRC and never through a link.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlsplit

from publisher.config import Config
from publisher.importers import tree
from publisher.importers.model import Fix, Harvest

MAX_FILE_BYTES = 20_000_000  # a picture or file copied into the site
FILE_SUFFIXES = set(
    [
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".svg",
        ".webp",
        ".avif",
        ".bmp",
        ".ico",
        ".tif",
        ".tiff",
        ".heic",
        ".pdf",
        ".zip",
        ".gz",
        ".tgz",
        ".csv",
        ".txt",
        ".json",
        ".xls",
        ".xlsx",
        ".doc",
        ".docx",
        ".ppt",
        ".pptx",
        ".odt",
        ".ods",
        ".odp",
        ".epub",
        ".mp3",
        ".m4a",
        ".ogg",
        ".oga",
        ".wav",
        ".mp4",
        ".m4v",
        ".webm",
        ".ogv",
        ".mov",
        ".ipynb",
        ".py",
        ".r",
    ]
)
POSTS = (".md", ".markdown", ".mkd", ".mkdn", ".mdown")  # a link to one is a page's
STATIC = "templates/site/static"
_LIQUID_URL = re.compile(
    r"""\{\{\s*(["'])(?P<quoted>[^"'{}]+)\1\s*\|\s*(?:relative_url|absolute_url)\s*\}\}"""
    r"""|(?:\{\{\s*site\.(?:base)?url\s*\}\})+(?P<prefixed>/[^\s)"'<>]*)"""
)
_PELICAN = re.compile(r"[{|](?:static|attach|filename)[}|](?P<path>[^\s)\"'<>]+)")
_INLINE = re.compile(r"\]\(\s*<?(?P<url>[^)\s>]+)")
_IMAGE = re.compile(r"!\[[^\[\]]*\]\(\s*<?(?P<url>[^)\s>]+)")
_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(?P<url>[^\s>]+)")
_ATTRIBUTE = re.compile(
    r"""<(?P<tag>\w+)\b[^>]*?\s(?P<name>src|href|poster)\s*=\s*(["'])(?P<url>[^"']+)\3"""
)
_PICTURE_TAGS = ("img", "source", "picture", "video")  # src=, poster=: a picture


@dataclass(frozen=True)
class Layout:
    """Where the old site's files are: the folders it served from its root, its own host
    names (an absolute link to it is a local one) and its path prefix (Jekyll baseurl)."""

    roots: tuple[Path, ...]
    hosts: frozenset[str] = frozenset()
    base: str = ""


class Media:
    """The files the posts of one import use; their copies are planned in `found.files`."""

    def __init__(self, found: Harvest, layout: Layout):
        self.found = found
        self.layout = layout

    def line(self, line: str, number: int, origin: Path) -> str:
        """One line of a post with its references rewritten (or reported)."""
        done: set[str] = set()  # the addresses Pelican's links became: looked up once

        def pelican(match: re.Match[str]) -> str:
            address = self._pelican(match, origin, number)
            done.add(address)
            return address

        line = _LIQUID_URL.sub(lambda m: self._unwrap(m, origin), line)
        line = _PELICAN.sub(pelican, line)
        pictures = {m.start("url") for m in _IMAGE.finditer(line)}
        found = [(m, m.start("url") in pictures) for m in _INLINE.finditer(line)]
        found += [(m, False) for m in _DEFINITION.finditer(line)]
        found += [(m, m.group("tag").lower() in _PICTURE_TAGS) for m in _ATTRIBUTE.finditer(line)]
        for match, picture in sorted(found, key=lambda f: f[0].start("url"), reverse=True):
            if match.group("url") in done:
                continue
            label = "picture" if picture else "file"
            new = self.address(match.group("url"), origin, number, label)
            line = line[: match.start("url")] + new + line[match.end("url") :]
        return line

    def image(self, url: str, origin: Path, number: int) -> str:
        """The `image:` at its new address; "" when its file is missing (reported: `check`
        refuses a post whose picture is missing)."""
        new = self.address(url, origin, number, "image:") if url else ""
        local = new == url and self._path(url) is not None
        return "" if local and self._locate(self._path(url) or "", origin) is not None else new

    def address(self, url: str, origin: Path, number: int, label: str, written: str = "") -> str:
        """The new address of the file `url` names, its copy planned; `url` itself when
        it is no file of the old site (reported, as `written`, when it should have been one)."""
        path = self._path(url)
        found = self._locate(path, origin) if path else None
        if isinstance(found, tuple):
            return self._plan(*found) + url[len(url.split("#")[0]) :]
        named = PurePosixPath(path or "").suffix.lower() in FILE_SUFFIXES
        if found and (not isinstance(found, Missing) or label != "file" or named):
            kept = "imported without it" if label == "image:" else "the link is kept as written"
            self.found.fix(origin, number, f"{label} {written or url}: {found}; {kept}")
        return url

    def _unwrap(self, match: re.Match[str], origin: Path) -> str:
        """A Jekyll URL helper around the path of a file: the path, looked up next; around
        a page's path it stays (and is reported as Liquid)."""
        path = match.group("quoted") or match.group("prefixed")
        named = PurePosixPath(urlsplit(path).path).suffix.lower() in FILE_SUFFIXES
        return path if named or isinstance(self._locate(path, origin), tuple) else match[0]

    def _pelican(self, match: re.Match[str], origin: Path, number: int) -> str:
        """`{static}/images/a.png` (from `content/`), `{attach}a.png` (from the post's
        folder): the file's new address; a missing one is reported and written as a plain
        path. `{filename}` to a post stays (and is reported as a Pelican link)."""
        path = match.group("path")
        if PurePosixPath(path.split("#")[0]).suffix.lower() in POSTS:
            return match.group(0)
        new = self.address(path, origin, number, "file", match.group(0))
        return new if new != path else "/" + path.lstrip("/")

    def _path(self, url: str) -> str | None:
        """The path of a URL to the old site, unquoted; None for another site, a page's
        own fragment, mail or data."""
        parts = urlsplit(url)
        other = parts.netloc and (parts.hostname or "") not in self.layout.hosts
        if parts.scheme not in ("", "http", "https") or other or not parts.path:
            return None
        return unquote(parts.path)

    def _locate(self, path: str, origin: Path) -> tuple[Path, Path] | str | None:
        """(the file, the root it was served from); why it cannot be used (`Missing` when
        there is none); None when the path is a post or a folder (a page)."""
        base = self.layout.base.rstrip("/")
        if path.startswith("/"):
            path = path[len(base) :] if base and path.startswith(base + "/") else path
            tries = [(root, root / path.lstrip("/")) for root in self.layout.roots]
        else:
            tries = [
                (r, origin.parent / path) for r in self.layout.roots if origin.is_relative_to(r)
            ]
            tries += [(root, root / path) for root in self.layout.roots]
        for root, candidate in tries:
            candidate = Path(os.path.normpath(candidate))
            if not candidate.is_relative_to(root) or not os.path.lexists(candidate):
                continue
            if not tree.inside(self.found.src, candidate):
                return tree.SYMLINK
            kind = candidate.lstat()
            if not stat.S_ISREG(kind.st_mode) or candidate.suffix.lower() in POSTS:
                return None
            if kind.st_size > MAX_FILE_BYTES:
                return f"over {tree.size(MAX_FILE_BYTES)}, not copied; put it on a file host"
            return candidate, root
        return Missing(f"no such file ({tries[0][1]})" if tries else "no such file")

    def _plan(self, source: Path, root: Path) -> str:
        """The file's address in the new site; its copy is planned."""
        target = "static/" + source.relative_to(root).as_posix()
        self.found.files.setdefault(target, source)
        return "/" + quote(target)


class Missing(str):
    """Why a reference finds no file: there is none where the old site had it."""


def hosts(url: object) -> frozenset[str]:
    """The host name of the old site's address (`url`, `baseURL`, `SITEURL`), if any."""
    host = urlsplit(str(url or "")).hostname
    return frozenset([host] if host else [])


def copy(found: Harvest, config: Config) -> tuple[list[str], list[Fix]]:
    """Copy the planned files into the site's static folder, never over a file: (what was
    copied, what to fix). A file already there with the same bytes is fine."""
    from publisher.site import theme  # lazy: Jinja, only for an import

    served = {path: source for source, path in theme.static_files(config)}
    copied, fixes = [], []
    for target, source in sorted(found.files.items()):
        destination = config.templates_dir / "site" / target
        shown = f"{STATIC}/{target.removeprefix('static/')}"
        try:
            data = tree.read(found.src, source, MAX_FILE_BYTES, "")
        except tree.Refused as problem:
            fixes.append(Fix(str(source), 1, f"not copied: {problem}"))
            continue
        if target in served:
            if served[target].read_bytes() != data:
                fixes.append(
                    Fix(
                        str(source),
                        1,
                        f"{shown} exists and differs; left as it is: the posts "
                        "that use the old file link to it, so compare the two",
                    )
                )
            continue
        try:
            _place(destination, data)
        except OSError as exc:  # a folder of that name, a full disk: this file only
            fixes.append(Fix(str(source), 1, f"not copied to {shown}: {exc.strerror}"))
            continue
        copied.append(shown)
    return copied, fixes


def _place(destination: Path, data: bytes) -> None:
    """Write a new file whole or not at all, never over one that exists (a link of the
    staged copy fails when the name is taken)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    staged = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    try:
        staged.write_bytes(data)
        os.link(staged, destination)
    finally:
        staged.unlink(missing_ok=True)
