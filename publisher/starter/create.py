"""Make a new site in a folder: config, a first post, a templates note, a .gitignore and
ready cron and systemd snippets; all of it or nothing.

The answers are checked one by one (`clean`) so a prompt can ask again and a flag can be
refused with its name; the files are planned in full before any is written, and a site is
never written over: if any target exists, nothing is written at all.
"""

from __future__ import annotations

import getpass
import json
import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2

from publisher.errors import PublisherError
from publisher.starter.settings import config_text
from publisher.subscribers.addresses import AddressError, control_character, normalize
from publisher.values import zone_name

FIRST_POST_SLUG = "welcome"


@dataclass(frozen=True)
class Answers:
    """What `publisher init` asks; everything else in the config starts at its default."""

    title: str = "My blog"
    url: str = "http://127.0.0.1:8000"
    timezone: str = "UTC"
    from_address: str = ""
    postal_address: str = ""


def _one_line(text: str, what: str) -> str:
    text = text.strip()
    if found := control_character(text):
        raise ValueError(f"{what} contains {found}; write it on one line")
    return text


def _title(text: str) -> str:
    if not (text := _one_line(text, "the title")):
        raise ValueError("the title is empty; every page and email shows it")
    return text


def _url(text: str) -> str:
    text = text.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected a URL such as https://blog.example.org, got {text!r}")
    return text


def _timezone(text: str) -> str:
    return zone_name(text)  # in any case; a near miss is named


def _address(text: str) -> str:
    if not text.strip():
        return ""  # `publisher check` fails until it is set; no email leaves without it
    try:
        return normalize(text, smtputf8=False).email
    except AddressError as exc:
        name, _, inside = text.strip().rstrip(">").rpartition("<")
        if name.strip() and "@" in inside:  # "Name <addr>": the name has its own setting
            raise ValueError(
                f"write the address alone ({inside.strip()}); the name readers see is "
                f"[newsletter] from_name in config/site.toml (the site title until you "
                f"change it)"
            ) from None
        raise ValueError(str(exc)) from None


CLEAN: dict[str, Callable[[str], str]] = {
    "title": _title,
    "url": _url,
    "timezone": _timezone,
    "from_address": _address,
    "postal_address": lambda text: _one_line(text, "the postal address"),
}


def local_timezone() -> str:
    """This machine's IANA time zone ($TZ, else /etc/localtime's link), or UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    localtime = Path("/etc/localtime")
    if localtime.is_symlink():
        candidates.append(str(localtime.resolve()).partition("zoneinfo/")[2])
    for name in filter(None, candidates):
        try:
            return _timezone(name)
        except ValueError:
            continue
    return "UTC"


def plan_files(root: Path, answers: Answers, now: datetime) -> dict[str, str]:
    """Every file of the new site (path relative to `root` -> text), nothing written yet."""
    root = root.resolve()
    local = now.astimezone(ZoneInfo(answers.timezone)).replace(second=0, microsecond=0)
    executable = Path(sys.executable).parent / "publisher"
    context = {
        **asdict(answers),
        "root": root.as_posix(),
        "publisher": executable.as_posix() if executable.exists() else "publisher",
        "user": getpass.getuser(),
        "date": f"{local:%Y-%m-%d %H:%M}",
        "slug": FIRST_POST_SLUG,
    }
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("publisher", "templates/starter"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # plain text files: Markdown, shell, systemd units
    )
    env.filters["yaml"] = lambda text: json.dumps(text, ensure_ascii=False)  # JSON is YAML
    env.filters["sh"] = shlex.quote
    values = {
        ("site", "title"): answers.title,
        ("site", "url"): answers.url,
        ("site", "timezone"): answers.timezone,
        ("newsletter", "from_name"): answers.title,
        ("newsletter", "from_address"): answers.from_address,
        ("newsletter", "postal_address"): answers.postal_address,
        ("web", "url"): answers.url,  # the subscribe form posts to the site's own host
    }
    files = {"config/site.toml": config_text(answers.title, values)}
    # Package data holds no dot-files and no dated names: these two are renamed.
    renamed = {
        "first-post.md": f"posts/{local:%Y-%m-%d}-{FIRST_POST_SLUG}.md",
        "gitignore": ".gitignore",
    }
    for name in env.list_templates():
        files[renamed.get(name, name)] = env.get_template(name).render(context)
    return files


def create_site(root: Path, answers: Answers, now: datetime) -> list[Path]:
    """Write the new site into `root` (created if needed); the paths written, in order.

    Refuses (exit 2, naming the file) when any of the files already exists, before
    writing anything: `init` never changes a site that is there.
    """
    files = plan_files(root, answers, now)
    taken = [name for name in files if (root / name).exists() or (root / name).is_symlink()]
    if taken:
        raise PublisherError(
            f"{root / taken[0]}: already exists; publisher init never overwrites a file: "
            "choose a new or empty folder"
            + (f" ({len(taken) - 1} more would be overwritten)" if len(taken) > 1 else "")
        )
    written = []
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as file:  # "x": a file made meanwhile stops us
            file.write(text)
        written.append(path)
    return written
