"""The config file's sections: a dataclass per `[section]`, a field per key, each declared
once with its default and its one-line doc (`key`). `config` reads the file into them and
validates what one key cannot say alone; `starter` and the docs' settings reference are
written from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Any


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
    health_related: bool = key(
        False,
        "The site is about health (a practice, a clinic): check warns about tracking that "
        "tells which reader read what (HIPAA, GDPR).",
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
class TrackingSection:
    clicks: str = key(
        "aggregate",
        "Clicks on emails' links: counted per link and hour, tied to no one ('aggregate'), "
        "per subscriber ('individual', said in the footer), or not at all ('off': direct links).",
        ("aggregate", "individual", "off"),
    )
    opens: str = key(
        "off",
        "Email opens by a pixel: 'on' counts them per hour, tied to no one (machine opens, "
        "such as Apple Mail's, included).",
        ("off", "on"),
    )
    all_links: bool = key(
        False, "Count clicks on links to other sites too, not just links to the site."
    )
