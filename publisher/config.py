"""The site configuration: `config/site.toml`, then `PUBLISHER_<SECTION>_<KEY>` variables.

Every key is declared once below, as a dataclass field with a default and a one-line doc
(`doc=`). That single declaration drives parsing, validation, environment overrides, the
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
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from publisher.docs import docs_page
from publisher.errors import ConfigError
from publisher.moved import moved_settings
from publisher.topics import Topic, parse_topics
from publisher.values import convert, parse_now


def key(default: Any, doc: str, choices: tuple[str, ...] = ()) -> Any:
    """Declare a config key: its default, its one-line documentation, its allowed values."""
    return field(default=default, metadata={"doc": doc, "choices": choices})


@dataclass(frozen=True)
class SiteSection:
    title: str = key("My blog", "Site title, shown in every page header and email.")
    url: str = key("http://127.0.0.1:8000", "Public base URL of the site, without a trailing /.")
    description: str = key("", "One-sentence description for the home page and feeds.")
    language: str = key("en", "Language code of the content (html lang, feeds).")
    timezone: str = key("UTC", "IANA time zone in which dates are written and shown.")
    posts_per_page: int = key(10, "Posts per page of the index.")
    output: Path = key(Path("public"), "Folder the site is built into.")
    deploy: str = key("", "Optional shell command run after each successful scheduled build.")
    footer_note: str = key("", "A line at the foot of every page, e.g. a disclaimer; empty: none.")
    logo: str = key(
        "",
        "Image beside the title in the page header, and the favicon: a site path such as "
        "'static/logo.svg' (under templates/site/) or a URL; empty: the theme's favicon.",
    )
    accent_color: str = key(
        "#2f5f8f",
        "Colour of links, buttons and highlights on the site and in emails: a CSS hex "
        "colour such as '#2b6a5d' (dark enough for text on white).",
    )
    old_feeds: str = key(
        "",
        "Old feed paths, comma-separated ('/atom.xml, /index.xml'): the feed is written there "
        "too (RSS if named rss or index.xml), so old readers keep it; set by publisher import.",
    )


@dataclass(frozen=True)
class NewsletterSection:
    from_name: str = key("", "Sender name shown in the From header.")
    from_address: str = key("", "Sender address of every newsletter.")
    reply_to: str = key("", "Optional Reply-To address.")
    postal_address: str = key("", "Postal address printed in each email footer (CAN-SPAM).")
    content: str = key(
        "full", "Post emails carry the full text or an excerpt.", ("full", "excerpt")
    )
    frequency: str = key("each", "Default frequency of new subscribers.", ("each", "digest"))
    utm: bool = key(True, "Add UTM parameters to links to the site.")
    announce_max_age: timedelta = key(
        timedelta(days=2), "Only announce posts that went live this recently (e.g. '2d', '36h')."
    )
    import_threshold: int = key(
        3, "More old posts than this appearing in one tick are an import: none is emailed."
    )
    secret_env: str = key("PUBLISHER_SECRET_KEY", "Environment variable holding the signing key.")
    welcome: bool = key(True, "Send a welcome email (welcome.html/.txt) to whoever confirms.")
    welcome_posts: int = key(3, "Latest posts listed in the welcome email.")


@dataclass(frozen=True)
class DigestSection:
    every: str = key("monday", "Digest period: 'day', a weekday name, or 'month'.")
    at: time = key(time(9, 0), "Local time of day the digest is sent (HH:MM).")
    max_posts: int = key(10, "Most posts in one digest.")
    subject: str = key(
        "Stay connected: {first_title}{more}",
        "Subject: {first_title} (its newest post), {count} (posts), {more} (', and 2 more' "
        "or nothing), {title} (the site's), {date}.",
    )
    grace: timedelta = key(timedelta(days=1), "How late a missed digest may still be sent.")


@dataclass(frozen=True)
class DeliverySection:
    transport: str = key(
        "file", "How mail leaves: 'file' outbox or 'smtp' relay.", ("file", "smtp")
    )
    outbox: Path = key(Path("data/outbox"), "Maildir-style folder of the file transport.")
    connections: int = key(1, "Parallel SMTP connections.")
    rate_per_second: float = key(0.0, "Most messages per second across connections (0: no limit).")
    max_per_hour: int = key(0, "Most messages per hour (0: no limit).")
    max_attempts: int = key(5, "Attempts before a temporarily failing delivery is marked failed.")
    envelope_from: str = key("", "SMTP envelope sender (bounce address); default from_address.")
    bounce_limit: int = key(1, "Hard bounces (at sending or read later) that mark one bounced.")
    brake_after: int = key(1000, "Messages of a campaign sent before the brake may hold it.")
    max_bounce_rate: float = key(0.05, "Share of hard bounces that holds a campaign.")
    max_complaint_rate: float = key(0.003, "Share of complaints that holds a campaign.")


@dataclass(frozen=True)
class SmtpSection:
    host: str = key("localhost", "SMTP relay host.")
    port: int = key(587, "SMTP relay port.")
    security: str = key("starttls", "Connection security.", ("starttls", "ssl", "none"))
    username: str = key("", "SMTP user name; empty for no AUTH.")
    password_env: str = key("PUBLISHER_SMTP_PASSWORD", "Environment variable holding the password.")
    timeout: float = key(30.0, "Seconds before any network step gives up.")
    data_timeout: float = key(
        600.0,
        "Seconds to wait for the relay's answer to the end of a message (RFC 5321: 10 minutes); "
        "without one the message is counted 'unknown' and never sent again.",
    )
    max_per_connection: int = key(100, "Messages sent over one connection before reconnecting.")
    smtputf8: bool = key(
        False,
        "Accept addresses with a non-ASCII local part (josé@...); only for a relay offering SMTPUTF8.",
    )


@dataclass(frozen=True)
class DatabaseSection:
    url: str = key("sqlite:///data/publisher.db", "SQLAlchemy URL of the subscriber store.")


@dataclass(frozen=True)
class WebSection:
    url: str = key("http://127.0.0.1:8000", "Public base URL of the subscriber web app.")
    host: str = key("127.0.0.1", "Address `publisher web` listens on.")
    port: int = key(8000, "Port `publisher web` listens on.")
    subscribe_per_minute: int = key(10, "Most subscribe requests per client IP per minute.")
    trusted_proxies: str = key("", "Comma-separated proxy IPs whose X-Forwarded-For is trusted.")
    header_timeout: float = key(
        10.0,
        "Seconds a client has to send a request's headers (a new connection: from connecting); "
        "then 408 and the connection is closed (slow or stalled clients, slowloris).",
    )


@dataclass(frozen=True)
class DkimSection:
    domain: str = key("", "Signing domain (d=); empty disables DKIM.")
    selector: str = key("", "DKIM selector (s=).")
    private_key_path: Path = key(Path(""), "PEM private key file.")


@dataclass(frozen=True)
class InboundSection:
    address: str = key(
        "", "Mailbox that bounces and mailed unsubscribes come back to; empty: none (no VERP)."
    )
    mailbox: str = key(
        "", "IMAP or POP3 mailbox `tick` reads, as imaps://USER@HOST/FOLDER or pop3s://USER@HOST."
    )
    password_env: str = key("PUBLISHER_INBOUND_PASSWORD", "Variable holding its password.")
    soft_bounce_limit: int = key(3, "Soft bounces within soft_bounce_window that count as hard.")
    soft_bounce_window: timedelta = key(timedelta(days=7), "Window counting soft bounces.")
    ses_topic_arns: str = key(
        "", "Comma-separated SNS topic ARNs /webhooks/ses takes SES events from; empty: off."
    )
    postmark_credentials_env: str = key(
        "PUBLISHER_POSTMARK_WEBHOOK_AUTH",
        "Environment variable holding user:password of /webhooks/postmark; unset: off.",
    )
    mailgun_signing_key_env: str = key(
        "PUBLISHER_MAILGUN_SIGNING_KEY",
        "Environment variable holding the Mailgun webhook signing key; unset: off.",
    )
    sendgrid_public_key_env: str = key(
        "PUBLISHER_SENDGRID_PUBLIC_KEY",
        "Environment variable holding SendGrid's verification key (base64); unset: off.",
    )
    webhook_max_age: timedelta = key(
        timedelta(minutes=5), "Oldest signed webhook timestamp taken (Mailgun, SendGrid)."
    )


@dataclass(frozen=True)
class SchedulerSection:
    interval: int = key(60, "Seconds between passes of `publisher run`.")
    lock_wait: timedelta = key(timedelta(seconds=15), "Wait for a concurrent tick's build.")
    deploy_timeout: timedelta = key(timedelta(minutes=10), "Longest a `[site] deploy` may run.")


@dataclass(frozen=True)
class AdminSection:
    session_idle: timedelta = key(
        timedelta(hours=12), "Staff console: a session unused this long ends (e.g. '12h')."
    )
    session_lifetime: timedelta = key(
        timedelta(days=14), "Staff console: every session ends this long after sign-in."
    )
    link_lifetime: timedelta = key(
        timedelta(minutes=30), "How long a sign-in link asked for on /admin/sign-in works."
    )
    sign_in_per_hour: int = key(
        10, "Most sign-in requests per client IP, and per address, an hour."
    )
    api_per_minute: int = key(300, "Most Admin API requests per API key (and per client) a minute.")
    git_commit: bool = key(
        True, "Commit each post saved in the console, as its author, when posts/ is in git."
    )


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
        problems.append(
            f"[site] timezone: unknown time zone {config.site.timezone!r}; "
            "write an IANA name such as 'America/Chicago'"
        )
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
