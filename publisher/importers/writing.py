"""Writing imported posts into `posts/`, in our front matter, never over an existing file.

Each post is written as `posts/<date>-<slug>.md` with an explicit `slug:` (so a later
change of title keeps its address), `draft: true` when the old tool would not have
published it, and its old addresses as `aliases:` (the one equal to its new address
left out). Each written file is read back with our own front matter reader, so anything
`publisher check` would refuse is reported now, with the new file's line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from publisher.config import Config
from publisher.content.frontmatter import old_path, read, slugify
from publisher.content.posts import scan
from publisher.importers import media
from publisher.importers.model import Fix, Harvest, ImportedPost, Skip, When

EXISTS = "imported before: its post exists and was left as it is"


@dataclass
class Report:
    """What an import did: the summary line ends the run."""

    written: list[str] = field(default_factory=list)  # posts/... of each new post
    drafts: int = 0
    copied: list[str] = field(default_factory=list)  # templates/site/static/... of each file
    skipped: list[Skip] = field(default_factory=list)
    fixes: list[Fix] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # `check`'s errors about what was written
    elsewhere: int = 0  # `check`'s errors about the rest of the site

    def summary(self) -> str:
        errors = len(self.checked) + self.elsewhere
        return (
            f"imported {_plural(len(self.written), 'post')} ({_plural(self.drafts, 'draft')}), "
            f"copied {_plural(len(self.copied), 'file')}, "
            f"skipped {_plural(len(self.skipped), 'file')}, "
            f"{_plural(len(self.fixes), 'thing')} to fix by hand; publisher check: "
            + (f"{_plural(errors, 'error')} (listed above)" if errors else "no errors")
        )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def write(harvest: Harvest, config: Config) -> Report:
    """Write every harvested post that is not there yet; report everything."""
    used = {str(source) for source in harvest.files.values()}
    report = Report(
        skipped=[skip for skip in harvest.skipped if skip.file not in used],
        fixes=list(harvest.fixes),
    )
    report.notes = [f"{note}: {_plural(n, 'post')}" for note, n in sorted(harvest.notes.items())]
    existing = {post.slug: post.source.as_posix() for post in scan(config).posts}
    taken: set[str] = set()  # the slugs of this run
    claimed: dict[str, str] = {}  # old address -> the new post it redirects to
    for post in harvest.posts:
        if not _settle(post, config, report):
            continue
        path = _path(post, config)
        if not path.exists() and (post.slug in taken or post.slug in existing):
            owner, slug = existing.get(post.slug, "another post"), post.slug
            post.slug = _rename(post, taken | existing.keys(), config)
            path = _path(post, config)
            renamed = Fix(
                str(post.origin),
                1,
                f"{owner} has the address {slug}: this post is {post.slug}; "
                "change its slug: if you like (its old addresses still work)",
            )
            report.fixes += [] if path.exists() else [renamed]
        taken.add(post.slug)
        shown = path.relative_to(config.root).as_posix()
        post.aliases = _old_paths(post, report, claimed, shown)
        data = front_matter(post).encode("utf-8")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("xb") as file:
                file.write(data)
        except FileExistsError:
            report.skipped.append(Skip(str(post.origin), EXISTS))
            continue
        fields = read(shown, data, config.tz)
        report.fixes += [Fix(shown, line, message) for line, message in fields.errors]
        report.written.append(shown)
        report.drafts += post.draft
    report.copied, copy_fixes = media.copy(harvest, config)
    report.fixes += copy_fixes
    report.fixes.sort(key=lambda fix: (fix.file, fix.line))
    return report


def _path(post: ImportedPost, config: Config, slug: str = "") -> Path:
    """posts/<date>-<slug>.md, dated in the site's time zone."""
    moment = post.date
    if isinstance(moment, datetime) and moment.tzinfo:
        moment = config.local(moment)
    return config.posts_dir / f"{moment:%Y-%m-%d}-{slug or post.slug}.md"


def _settle(post: ImportedPost, config: Config, report: Report) -> bool:
    """Fill in what our format requires, a date and a slug; False when it cannot be."""
    if post.date is None:
        post.date = config.local(config.now).replace(tzinfo=None, second=0, microsecond=0)
        post.draft = True
        report.fixes.append(
            Fix(
                str(post.origin),
                1,
                "no date: imported as a draft dated now; set date: and remove draft: true",
            )
        )
    post.slug = slugify(post.slug) or slugify(post.title)
    if not post.slug:
        report.skipped.append(
            Skip(str(post.origin), "no title or file name to make an address from")
        )
    return bool(post.slug)


def _rename(post: ImportedPost, taken: set[str], config: Config) -> str:
    """The first free `<slug>-<n>` for the post (two posts cannot share an address), or
    the one an earlier import of it wrote (so a second run finds its file)."""
    number = 2
    while True:
        slug = f"{post.slug}-{number}"
        if slug not in taken or _path(post, config, slug).exists():
            return slug
        number += 1


def _old_paths(
    post: ImportedPost, report: Report, claimed: dict[str, str], shown: str
) -> list[str]:
    """The post's old addresses, clean, without its new one (that is the page itself) and
    without one an earlier post of this run already redirects (it can only go to one)."""
    own = {f"posts/{post.slug}/", f"posts/{post.slug}/index.html", f"posts/{post.slug}"}
    found: list[str] = []
    for alias in post.aliases:
        try:
            path = old_path(alias)
        except ValueError as exc:
            report.fixes.append(Fix(str(post.origin), 1, f"old address {alias!r} {exc}"))
            continue
        if path in own or any(path.rstrip("/") == kept.strip("/") for kept in found):
            continue  # its new address, or one already kept (with or without a final /)
        if claimed.setdefault(path.rstrip("/"), shown) != shown:
            report.fixes.append(
                Fix(
                    str(post.origin),
                    1,
                    f"the old address /{path} was also another post's; it redirects to "
                    f"{claimed[path.rstrip('/')]}",
                )
            )
            continue
        found.append(f"/{path}")
    return found


def front_matter(post: ImportedPost) -> str:
    """The post file: our front matter (values as JSON strings, which are YAML), body."""
    lines = ["---", f"title: {_quoted(post.title)}", f"date: {_when(post.date)}"]
    if post.draft:
        lines.append("draft: true")
    if post.tags:
        lines.append(f"tags: [{', '.join(_quoted(tag) for tag in dict.fromkeys(post.tags))}]")
    lines.append(f"slug: {post.slug}")
    for key in ("summary", "description", "author", "image"):
        if getattr(post, key):
            lines.append(f"{key}: {_quoted(getattr(post, key))}")
    if post.aliases:
        lines += ["aliases:", *(f"  - {_quoted(alias)}" for alias in post.aliases)]
    body = post.body.strip("\n")
    return "\n".join([*lines, "---", "", body, ""]) if body else "\n".join([*lines, "---", ""])


def _quoted(text: str) -> str:
    return json.dumps(" ".join(text.split()), ensure_ascii=False)


def _when(moment: When | None) -> str:
    """A date as our front matter writes it: naive times are the site's."""
    if isinstance(moment, datetime):
        if moment.tzinfo:
            return moment.isoformat()
        return f"{moment:%Y-%m-%d %H:%M}" + (f":{moment:%S}" if moment.second else "")
    assert isinstance(moment, date)
    return moment.isoformat()
