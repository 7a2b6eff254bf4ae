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

from publisher.config import Config
from publisher.content.frontmatter import old_path, read, slugify
from publisher.importers.model import Fix, Harvest, ImportedPost, When


@dataclass
class Report:
    """What an import did: the summary line ends the run."""

    written: list[str] = field(default_factory=list)  # posts/... of each new post
    drafts: int = 0
    skipped: list[str] = field(default_factory=list)  # "FILE: why"
    fixes: list[Fix] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"imported {_plural(len(self.written), 'post')} ({_plural(self.drafts, 'draft')}), "
            f"skipped {_plural(len(self.skipped), 'file')}, "
            f"{_plural(len(self.fixes), 'thing')} to fix by hand"
        )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def write(harvest: Harvest, config: Config) -> Report:
    """Write every harvested post that is not there yet; report everything."""
    report = Report(skipped=list(harvest.skipped), fixes=list(harvest.fixes))
    report.notes = [f"{note}: {_plural(n, 'post')}" for note, n in sorted(harvest.notes.items())]
    slugs: set[str] = set()
    for post in harvest.posts:
        _settle(post, config, report, slugs)
        if not post.slug:
            continue
        local = (
            config.local(post.date)
            if isinstance(post.date, datetime) and post.date.tzinfo
            else post.date
        )
        name = f"{local:%Y-%m-%d}-{post.slug}.md"
        path = config.posts_dir / name
        shown = path.relative_to(config.root).as_posix()
        data = front_matter(post).encode("utf-8")
        fields = read(shown, data, config.tz)
        report.fixes += [Fix(shown, line, message) for line, message in fields.errors]
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("xb") as file:
                file.write(data)
        except FileExistsError:
            report.skipped.append(f"{post.origin}: {shown} exists and was left as it is")
            continue
        report.written.append(shown)
        report.drafts += post.draft
    report.fixes.sort(key=lambda fix: (fix.file, fix.line))
    return report


def _settle(post: ImportedPost, config: Config, report: Report, slugs: set[str]) -> None:
    """Fill in what our format requires: a date, a unique slug, clean old paths."""
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
    slug = slugify(post.slug) or slugify(post.title)
    if not slug:
        report.skipped.append(f"{post.origin}: no title or file name to make an address from")
        post.slug = ""
        return
    if slug in slugs:
        number = 2
        while f"{slug}-{number}" in slugs:
            number += 1
        report.fixes.append(
            Fix(
                str(post.origin),
                1,
                f"another post has the address {slug}: this one is "
                f"{slug}-{number}; change its slug: if you like (its old addresses still work)",
            )
        )
        slug = f"{slug}-{number}"
    slugs.add(slug)
    post.slug = slug
    own = {f"posts/{slug}/", f"posts/{slug}/index.html", f"posts/{slug}"}
    aliases = []
    for alias in post.aliases:
        try:
            path = old_path(alias)
        except ValueError as exc:
            report.fixes.append(Fix(str(post.origin), 1, f"old address {alias!r} {exc}"))
            continue
        if path not in own and f"/{path}" not in aliases:
            aliases.append(f"/{path}")
    post.aliases = aliases


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
