"""The site configuration: `config/site.toml`, then `PUBLISHER_<SECTION>_<KEY>` variables.

Every key is declared once, in `sections` (a dataclass per section, a field with a default
and a one-line doc per key). That single declaration drives parsing, validation, environment overrides, the
config file `publisher init` writes and the settings reference of the docs (generated
from `documented_keys` at build time). All problems in a file are collected and reported
together.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from publisher.docs import docs_page
from publisher.errors import ConfigError
from publisher.moved import moved_settings
from publisher.sections import (
    AdminSection,
    DatabaseSection,
    DeliverySection,
    DigestSection,
    DkimSection,
    InboundSection,
    NewsletterSection,
    SchedulerSection,
    SiteSection,
    SmtpSection,
    TrackingSection,
    WebSection,
)
from publisher.topics import Topic, parse_topics
from publisher.values import convert, parse_now, zone_name


@dataclass(frozen=True)
class Config:
    """The whole configuration, plus where the site lives and what time it is."""

    root: Path
    now: datetime
    site: SiteSection = SiteSection()
    newsletter: NewsletterSection = NewsletterSection()
    digest: DigestSection = DigestSection()
    delivery: DeliverySection = DeliverySection()
    smtp: SmtpSection = SmtpSection()
    database: DatabaseSection = DatabaseSection()
    web: WebSection = WebSection()
    dkim: DkimSection = DkimSection()
    inbound: InboundSection = InboundSection()
    scheduler: SchedulerSection = SchedulerSection()
    admin: AdminSection = AdminSection()
    tracking: TrackingSection = TrackingSection()
    topics: tuple[Topic, ...] = ()  # `[topics]`, a table of its own: see publisher.topics
    warnings: tuple[str, ...] = ()  # keys read from where an earlier version had them

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    @property
    def posts_dir(self) -> Path:
        return self.root / "posts"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def output_dir(self) -> Path:
        return self.site.output

    def local(self, moment: datetime) -> datetime:
        """`moment` (aware) in the site's time zone."""
        return moment.astimezone(self.tz)


SECTIONS: dict[str, type] = {
    name: hint for name, hint in get_type_hints(Config).items() if dataclasses.is_dataclass(hint)
}


def _section(
    name: str, cls: type, table: Mapping[str, Any], env: Mapping[str, str], problems: list[str]
) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for unknown in sorted(set(table) - known):
        problems.append(
            f"[{name}] {unknown}: unknown key (known: {', '.join(sorted(known))}; every key: "
            f"{docs_page('reference/settings.md')})"
        )
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        env_name = f"PUBLISHER_{name}_{f.name}".upper()
        if env_name in env:
            raw, origin, from_env = env[env_name], env_name, True
        elif f.name in table:
            raw, origin, from_env = table[f.name], f"[{name}] {f.name}", False
        else:
            continue
        try:
            value = convert(raw, hints[f.name], from_env)
        except ValueError as exc:
            problems.append(f"{origin}: {exc}, got {raw!r}")
            continue
        choices = f.metadata["choices"]
        if choices and value not in choices:
            problems.append(f"{origin}: expected one of {', '.join(choices)}, got {raw!r}")
            continue
        values[f.name] = value
    return cls(**values)


def _validate(config: Config, problems: list[str]) -> None:
    try:
        ZoneInfo(config.site.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        try:
            zone = zone_name(config.site.timezone)  # written in another case
            named = f"unknown time zone {config.site.timezone!r}; write {zone!r}"
        except ValueError as exc:
            named = str(exc)
        problems.append(f"[site] timezone: {named}")
    for section, name in (("site", "url"), ("web", "url")):
        url = getattr(getattr(config, section), name)
        if not url.startswith(("http://", "https://")):
            problems.append(f"[{section}] {name}: expected an http:// or https:// URL, got {url!r}")
    if not HEX_COLOR.fullmatch(config.site.accent_color):
        problems.append(
            "[site] accent_color: expected a CSS hex colour such as '#2b6a5d', "
            f"got {config.site.accent_color!r}"
        )
    for path in filter(None, (p.strip().strip("/") for p in config.site.old_feeds.split(","))):
        if {"", ".", ".."} & set(path.split("/")) or not FEED_PATH.fullmatch(path):
            problems.append(f"[site] old_feeds: {path!r} is not a feed file's path, as /atom.xml")
    if config.site.posts_per_page < 1:
        problems.append("[site] posts_per_page: expected at least 1")
    if config.digest.max_posts < 1:
        problems.append("[digest] max_posts: expected at least 1")
    if config.smtp.timeout <= 0 or config.smtp.data_timeout <= 0:
        problems.append("[smtp] timeout, data_timeout: expected a number of seconds over 0")
    if config.web.header_timeout <= 0:
        problems.append("[web] header_timeout: expected a number of seconds over 0")
    if config.delivery.connections < 1:
        problems.append("[delivery] connections: expected at least 1")
    local, at, domain = config.inbound.address.rpartition("@")
    if config.inbound.address and not (local and at and "." in domain and "+" not in local):
        problems.append(
            f"[inbound] address: expected an address such as bounces@news.example.org "
            f"(no '+'), got {config.inbound.address!r}"
        )
    elif len(local) > 22:  # 64 less "+unsub-", an 18-digit id, "-", a 16-character signature
        problems.append(
            f"[inbound] address: local part {local!r} leaves no room for the tokens; "
            "use at most 22 characters before '@'"
        )
    for arn in filter(None, (a.strip() for a in config.inbound.ses_topic_arns.split(","))):
        if not arn.startswith("arn:aws"):
            problems.append(
                f"[inbound] ses_topic_arns: expected ARNs such as "
                f"arn:aws:sns:eu-west-1:123456789012:ses-events, got {arn!r}"
            )
    mailbox = config.inbound.mailbox
    if mailbox and not mailbox.startswith(("imap://", "imaps://", "pop3://", "pop3s://")):
        problems.append(
            "[inbound] mailbox: expected imaps://USER@HOST/FOLDER or pop3s://USER@HOST, "
            f"got {mailbox!r}"
        )
    every = config.digest.every.lower()
    if every not in ("day", "month", *WEEKDAYS):
        problems.append(
            f"[digest] every: expected 'day', 'month' or a weekday name, got {config.digest.every!r}"
        )


FEED_PATH = re.compile(r"[^:?#\\]+\.(xml|atom|rss)")  # a file a feed reader asks for
HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def default_config_path(env: Mapping[str, str]) -> Path:
    return Path(env.get("PUBLISHER_CONFIG") or "config/site.toml")


def site_root(config_path: Path) -> Path:
    """The folder holding `config/`; relative paths in the config resolve against it."""
    folder = config_path.resolve().parent
    return folder.parent if folder.name == "config" else folder


def load_config(
    path: Path | str | None = None,
    now: datetime | str | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Read the config file, apply `PUBLISHER_*` overrides, validate, and resolve paths.

    A missing file is allowed only when `path` was not given: every key has a default.
    """
    env = os.environ if env is None else env
    explicit = path is not None or "PUBLISHER_CONFIG" in env
    config_path = Path(path) if path is not None else default_config_path(env)
    data: dict[str, Any] = {}
    if config_path.is_file():
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path}: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{config_path}: not UTF-8 text; save it as UTF-8") from None
    elif explicit:
        raise ConfigError(f"{config_path}: no such config file")

    problems: list[str] = []
    data, env, warnings = moved_settings(data, env)
    for unknown in sorted(set(data) - {*SECTIONS, "topics"}):
        problems.append(f"[{unknown}]: unknown section (known: {', '.join(SECTIONS)}, topics)")
    topics = parse_topics(data.get("topics"), problems)
    sections = {}
    for name, cls in SECTIONS.items():
        table = data.get(name, {})
        if not isinstance(table, dict):
            problems.append(f"{name}: expected a [{name}] table")
            table = {}
        sections[name] = _section(name, cls, table, env, problems)

    root = site_root(config_path)
    moment = (
        now
        if isinstance(now, datetime)
        else parse_now(now or env.get("PUBLISHER_NOW"), _zone(sections["site"]))
    )
    config = Config(
        root=root, now=moment.astimezone(UTC), topics=topics, warnings=warnings, **sections
    )
    _validate(config, problems)
    if problems:
        raise ConfigError("\n".join(f"{config_path}: {p}" for p in problems))
    return _resolve_paths(config)


def _zone(site: SiteSection) -> ZoneInfo | None:
    """The site's time zone, or None when it is not a known one (`_validate` says so)."""
    try:
        return ZoneInfo(site.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _resolve_paths(config: Config) -> Config:
    """Make every Path key absolute, relative to the site root."""
    changes = {}
    for name in SECTIONS:
        section = getattr(config, name)
        paths = {
            f.name: config.root / getattr(section, f.name)
            for f in dataclasses.fields(section)
            if isinstance(getattr(section, f.name), Path) and str(getattr(section, f.name)) != "."
        }
        if paths:
            changes[name] = dataclasses.replace(section, **paths)
    return dataclasses.replace(config, **changes)


def documented_keys() -> list[tuple[str, str, Any, str]]:
    """(section, key, default, doc) for every key: the docs' settings reference is built from
    this."""
    return [
        (name, f.name, f.default, f.metadata["doc"])
        for name, cls in SECTIONS.items()
        for f in dataclasses.fields(cls)
    ]
