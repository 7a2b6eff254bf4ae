"""Writing a post file from the console's editor: the front matter keys the editor shows
replaced, every other line of the file kept (other keys, comments), checked as `publisher
check` reads it before anything is written, and never over a version the writer did not
see (the file's ETag, as HTTP's If-Match), so an edit made in git or another tab since is
never overwritten silently.

The file is written whole or not at all (a temporary file renamed over it). A new post is
`posts/<date>-<slug>.md`, as `publisher new` names it, and never replaces a file. A deleted
post moves to `data/trash/`, never lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from publisher.config import Config
from publisher.content import frontmatter
from publisher.content.posts import Post, parse_post, scan
from publisher.errors import ContentError, ContentErrors, PublisherError
from publisher.schedule.links import pinned_posts

EDITED = ("title", "date", "tags", "summary", "image", "image_alt", "draft")  # in this order
EMAILING = ("email_at", "email_subject", "email_preheader", "email_only")  # after them
TRASH = "trash"  # under the site's data folder: where deleted posts go
TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:")
CLOSING = re.compile(r"^---[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class PostFields:
    """What the editor edits: the front matter it shows and the body."""

    title: str
    date: datetime  # aware
    tags: tuple[str, ...]
    summary: str
    image: str
    image_alt: str
    draft: bool
    body: str
    email_at: datetime | None = None  # aware; None: when it goes live
    email_subject: str = ""
    email_preheader: str = ""
    email_only: bool = False


@dataclass(frozen=True)
class Saved:
    post: Post
    path: Path
    etag: str


class NotFound(PublisherError):
    """No post has this slug."""


class Stale(PublisherError):
    """The file changed on disk since the editor read it (HTTP 412); `current` is the file
    as it is now, for the person to compare with their version."""

    def __init__(self, source: str, current: str, mine: str):
        super().__init__(f"{source} was changed since you opened it; compare and save again")
        self.current = current
        self.mine = mine


def etag(data: bytes) -> str:
    """The version of a file's bytes, as an HTTP entity tag."""
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def post_text(config: Config, fields: PostFields, old: str = "") -> str:
    """The post file holding `fields`; `old` (the file as it was) gives the other keys and
    comments, kept in place before the edited keys."""
    kept = _other_lines(old)
    local = config.local(fields.date)
    lines = [f"title: {_quoted(fields.title)}", f"date: {local:%Y-%m-%d %H:%M}"]
    lines.append("tags: [" + ", ".join(_quoted(tag) for tag in fields.tags) + "]")
    for name in ("summary", "image", "image_alt"):
        value = getattr(fields, name).strip()
        if value:
            lines.append(f"{name}: {_quoted(value)}")
    lines.append(f"draft: {'true' if fields.draft else 'false'}")
    lines += _emailing(config, fields)
    body = fields.body.replace("\r\n", "\n")
    return "---\n" + "".join(line + "\n" for line in kept + lines) + "---\n\n" + body.lstrip("\n")


def _emailing(config: Config, fields: PostFields) -> list[str]:
    """The lines of the keys that say when and how the post is emailed, those set."""
    lines = []
    if fields.email_at is not None:
        lines.append(f"email_at: {config.local(fields.email_at):%Y-%m-%d %H:%M}")
    for name in ("email_subject", "email_preheader"):
        if value := getattr(fields, name).strip():
            lines.append(f"{name}: {_quoted(value)}")
    if fields.email_only:
        lines.append("email_only: true")
    return lines


def check(config: Config, source: str, text: str) -> Post:
    """The post `text` gives, read and checked as `publisher check` does (its pictures,
    its address among the others', its email...); ContentErrors (file, line, message)
    with every problem when `check` would report one."""
    from publisher import checks  # lazy: the checks load the mail code; `new` needs none

    result = parse_post(source, text.encode("utf-8"), config.tz)
    if result.errors or result.post is None:
        raise ContentErrors(ContentError(source, line, message) for line, message in result.errors)
    problems = checks.post_errors(config, result.post)
    if problems:
        raise ContentErrors(ContentError(source, line or 1, message) for line, message in problems)
    return result.post


def find(config: Config, slug: str) -> tuple[Post, str]:
    """The post with this slug and its file's text; NotFound when none has it. A live post
    answers to the slug it went live with, as `publisher posts` and the site name it."""
    for post in pinned_posts(config, scan(config).publishable):
        if post.slug == slug:
            return post, (config.root / post.source).read_text(encoding="utf-8")
    raise NotFound(f"no post has the slug {slug!r}; `publisher posts` lists them")


def fields_of(config: Config, post: Post, text: str) -> PostFields:
    """What the editor shows of a post file: its front matter keys and its body."""
    read = frontmatter.read(post.source.as_posix(), text.encode("utf-8"), config.tz)
    return PostFields(
        title=read.title,
        date=read.date or post.date,
        tags=read.tags,
        summary=read.summary,
        image=read.image,
        image_alt=read.image_alt,
        draft=read.draft,
        body=read.body.lstrip("\n"),
        email_at=read.email_at,
        email_subject=read.email_subject,
        email_preheader=read.email_preheader,
        email_only=read.email_only,
    )


def trash(config: Config, post: Post, if_match: str, now: datetime) -> Path:
    """Move the post's file to `data/trash/` (never deleted), if it is still the version
    `if_match` names; where it went."""
    path = config.root / post.source
    data = path.read_bytes()
    if etag(data) != if_match:
        raise Stale(post.source.as_posix(), data.decode("utf-8", "replace"), "")
    folder = config.data_dir / TRASH
    folder.mkdir(parents=True, exist_ok=True)
    moved = folder / f"{now:%Y%m%dT%H%M%S}-{path.name}"
    os.replace(path, moved)
    return moved


def save(config: Config, post: Post | None, fields: PostFields, if_match: str) -> Saved:
    """Write `fields` over `post`'s file (or a new file when `post` is None), if the file
    is still the version `if_match` names; nothing is written when it would not build."""
    if post is None:
        local = config.local(fields.date)
        path = config.posts_dir / f"{local:%Y-%m-%d}-{frontmatter.slugify(fields.title)}.md"
        old = b""
    else:
        path = config.root / post.source
        old = path.read_bytes()
    source = path.relative_to(config.root).as_posix()
    text = post_text(config, fields, old.decode("utf-8", "replace"))
    if post is not None and etag(old) != if_match:
        raise Stale(source, old.decode("utf-8", "replace"), text)
    saved = check(config, source, text)
    data = text.encode("utf-8")
    _write(path, data, new=post is None)
    [saved] = pinned_posts(config, [saved])  # a live post keeps its address (`find`)
    return Saved(saved, path, etag(data))


def _other_lines(old: str) -> list[str]:
    """The front matter lines of `old` that are not the edited keys (with their indented
    or listed continuation lines), in order."""
    if not old.startswith("---"):
        return []
    rest = old.split("\n", 1)[1] if "\n" in old else ""
    closing = CLOSING.search(rest)
    front = rest[: closing.start()] if closing else ""
    kept, skipping = [], False
    for line in front.splitlines():
        key = TOP_KEY.match(line)
        if key:
            skipping = key.group(1) in EDITED + EMAILING
        elif line.startswith("#"):  # a comment at the margin belongs to no value
            skipping = False
        if not skipping:
            kept.append(line)
    return kept


def _quoted(text: str) -> str:
    """A YAML double-quoted string (JSON's syntax is valid YAML), on one line."""
    return json.dumps(text, ensure_ascii=False)


def _write(path: Path, data: bytes, new: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".edit-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.chmod(temporary, 0o644)
        if new:
            try:
                os.link(temporary, path)  # fails if someone created it meanwhile
            except FileExistsError:
                raise PublisherError(
                    f"posts/{path.name} already exists; choose another title or date"
                ) from None
            os.unlink(temporary)
        else:
            os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
