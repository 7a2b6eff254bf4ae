"""`publisher check`: every problem a person should fix before the next build or send.

Each area contributes a function of (config, posts) -> Findings; they are listed here
explicitly rather than registered by import side effects, so `check` runs the same checks
however the program was started. A check that raises a PublisherError (a setting it
cannot use) counts as one error and the others still run.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import unescape
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from publisher.config import Config
from publisher.content.posts import Post, scan
from publisher.errors import PublisherError

if TYPE_CHECKING:
    from publisher.mail.message import Newsletter

GMAIL_CLIP_BYTES = 100_000
MAX_SUBJECT = 150
SHOUTING_LETTERS = 8  # capitals a subject may hold before the share of them counts
ABSOLUTE = re.compile(r"^(https?:|mailto:|tel:|cid:)", re.IGNORECASE)


@dataclass(frozen=True)
class Findings:
    """What the checks found: errors stop a build or a send; warnings are for a person."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    posts: int = 0  # post files looked at


def newsletters(config: Config, posts: Sequence[Post]) -> Findings:
    """The emails that could still be sent: size, alt text, links, header injection."""
    errors, warnings = lint(config, posts)
    return Findings(errors, warnings)


def upcoming_posts(config: Config, posts: Sequence[Post]) -> list[Post]:
    """Posts that may still be announced: email on, not a draft, scheduled or live within
    `[newsletter] announce_max_age` (the scheduler's own rule: older posts never go out)."""
    since = config.now - config.newsletter.announce_max_age
    return [p for p in posts if p.email and not p.draft and p.date >= since]


def lint(config: Config, posts: Sequence[Post]) -> tuple[list[str], list[str]]:
    """(errors, warnings) about every newsletter that could still be sent: queued posts,
    posts live within `announce_max_age`, and the next digest.

    Only those are rendered: premailer takes about 0.1 s per email, so rendering every
    post of a blog with 1,000 posts would make `check` take 10 s, for emails the scheduler
    will never send. Every title is still checked for header injection (cheap).

    Errors stop a send (a subject or name that would inject a header); warnings are things
    a person should look at (Gmail clipping, missing alt text, relative links, a missing
    postal address).
    """
    # Lazy: premailer and cryptography take ~200 ms to import, and every content command
    # (`publisher new`, `publisher build`) loads this module.
    # lazy: premailer and Jinja, only when there is an email to check
    from publisher.mail.message import NO_SENDER, PLACEHOLDERS, config_header_fields, header_errors
    from publisher.mail.newsletter import digest_subject, render_digest, render_post

    errors = header_errors(config_header_fields(config))
    errors += header_errors({f"{p.source}: title": p.title for p in posts})
    live = [p for p in posts if p.is_live(config.now)]
    errors += header_errors({"[digest] subject": digest_subject(config, live)})
    warnings = []
    if not config.newsletter.from_address.strip():
        errors.append(NO_SENDER)
    if not config.newsletter.postal_address:
        warnings.append("[newsletter] postal_address is empty: the law (CAN-SPAM) requires one")
    if not _aligned(config.newsletter.from_address.rpartition("@")[2], config.dkim.domain):
        warnings.append(
            f"[dkim] domain {config.dkim.domain} and the From address "
            f"{config.newsletter.from_address} differ: DMARC alignment fails"
        )
    rendered = [render_post(config, post, live) for post in upcoming_posts(config, posts)]
    if live:
        rendered.append(render_digest(config, live, "next"))
    slots = set(PLACEHOLDERS.values())
    for newsletter in rendered:
        warnings += _newsletter_warnings(newsletter, slots)
    return errors, warnings


def _aligned(sender: str, signer: str) -> bool:
    """Relaxed DMARC alignment, roughly: one domain is the other or a parent of it."""
    sender, signer = sender.lower(), signer.lower()
    return (
        not signer
        or sender.endswith("." + signer)
        or signer.endswith("." + sender)
        or (sender == signer)
    )


def _newsletter_warnings(newsletter: Newsletter, slots: set[str]) -> list[str]:
    """What a person should look at in one email; `slots` are the placeholder URLs."""
    found = []
    size = len(newsletter.html.encode("utf-8"))
    if size > GMAIL_CLIP_BYTES:
        found.append(f"HTML is {size // 1000} KB; Gmail clips messages over about 102 KB")
    if not newsletter.subject.strip():
        found.append("the subject is empty")
    elif newsletter.kind == "digest":  # a post's subject is checked with its file's name
        found += subject_problems(newsletter.subject)
    for tag in re.findall(r"<img\b[^>]*>", newsletter.html, re.IGNORECASE):
        if not re.search(r'\salt="[^"]+"', tag):
            found.append(f"an image has no alt text: {tag[:80]}")
    for url in re.findall(r'\b(?:href|src)="([^"]*)"', newsletter.html):
        if url not in slots and not ABSOLUTE.match(unescape(url)):
            found.append(f"a link is not absolute: {url!r}")
    return [f"{newsletter.key}: {message}" for message in found]


def subject_problems(subject: str) -> list[str]:
    """What makes a subject line cut short or look like spam: its length, capitals,
    exclamation marks (as spam filters and mail apps see them)."""
    found = []
    if len(subject) > MAX_SUBJECT:
        found.append(f"the subject is {len(subject)} characters (over {MAX_SUBJECT})")
    letters = [c for c in subject if c.isalpha()]
    capitals = sum(c.isupper() for c in letters)
    if capitals >= SHOUTING_LETTERS and capitals > len(letters) / 2:
        found.append("the subject is mostly CAPITALS, which spam filters score; use sentence case")
    if subject.count("!") > 1:
        found.append("the subject has several '!', which spam filters score; keep one at most")
    return found


def subjects(config: Config, posts: Sequence[Post]) -> Findings:
    """The subject of each email still to go out, by its post's file and the key it comes
    from (`email_subject`, else `title`), under the rules of `subject_problems`."""
    warnings = []
    for post in upcoming_posts(config, posts):
        key = "email_subject" if post.email_subject else "title"
        for problem in subject_problems(post.email_subject or post.title):
            warnings.append(f"{post.source}: {key}: {problem}")
    return Findings(warnings=warnings)


def secret(config: Config, _posts: Sequence[Post]) -> Findings:
    """A site that mails real people must sign its links with a secret it keeps, and one
    nobody can guess: the generated file is lost with the machine (every link in every sent
    email then breaks), a second machine would generate a different one, and a short secret
    lets anyone sign links (an error for SMTP, a warning before mail goes out)."""
    from publisher.subscribers import tokens  # lazy, as in `lint`: it loads mail.message

    smtp = config.delivery.transport == "smtp"
    if problem := tokens.weak_secret(config):
        return Findings(errors=[problem]) if smtp else Findings(warnings=[problem])
    if not smtp or not tokens.is_generated_secret(config):
        return Findings()
    return Findings(
        warnings=[
            f"[delivery] transport is smtp, but links are signed with the generated secret "
            f"in {config.data_dir / tokens.SECRET_FILE}: set the environment variable "
            f"{config.newsletter.secret_env} on every machine that sends or serves the links "
            f"(for example to the output of: {tokens.MAKE_SECRET})"
        ]
    )


def logo(config: Config, _posts: Sequence[Post]) -> Findings:
    """`[site] logo` naming a site file that is not among the theme's or the site's static
    files would be a broken image in every page header (a URL is not fetched)."""
    from publisher.site import theme  # lazy: jinja2 is only needed when a logo is set

    path = config.site.logo.lstrip("/")
    if not path or "://" in path or path in {name for _, name in theme.static_files(config)}:
        return Findings()
    return Findings(
        warnings=[
            f"[site] logo: no file {path!r} in the static files; put it in "
            f"{config.templates_dir.name}/site/{path} or write a URL"
        ]
    )


def pictures(config: Config, posts: Sequence[Post]) -> Findings:
    """Pictures readers would not see: an `image:` (email picture, og:image) in a format
    mail clients or social sites drop, or missing; the same in posts still to be emailed."""
    from publisher.mail import images  # lazy, as in `lint`: Jinja and the theme

    emailed = {post.source for post in upcoming_posts(config, posts)}
    return Findings(
        errors=[
            problem
            for post in posts
            for problem in images.problems(config, post, post.source in emailed)
        ]
    )


def old_addresses(config: Config, posts: Sequence[Post]) -> Findings:
    """The redirects that posts ask for with `aliases:` (published and queued posts): one
    that would take a page of the site stops the build, so say it before."""
    # lazy: Jinja and the site's planning, only for `check`
    from publisher.site import pages, redirects

    entries = pages.make_entries(config, posts, drafts=False, future=True)
    planned = pages.plan_pages(config, entries)
    moved = redirects.post_redirects(entries)
    found = redirects.problems(moved, redirects.site_files(config, planned))
    return Findings(errors=[str(error) for error in found])


def public_urls(config: Config, _posts: Sequence[Post]) -> Findings:
    """Mail sent over SMTP links to the site and the web app: without an https address
    List-Unsubscribe has no https URI (RFC 8058 one-click fails, and Gmail and Yahoo
    require it of bulk senders), and a loopback address works for nobody who reads it."""
    if config.delivery.transport != "smtp":
        return Findings()
    errors = []
    for key, url in (("[web] url", config.web.url), ("[site] url", config.site.url)):
        parts = urlsplit(url)
        if parts.scheme != "https":
            errors.append(
                f"{key} {url} is not https and [delivery] transport is smtp: unsubscribe "
                f"links need https (RFC 8058); set the public https address"
            )
        elif _loopback(parts.hostname or ""):
            errors.append(
                f"{key} {url} is a local address and [delivery] transport is smtp: links "
                f"in the emails would work for nobody; set the public https address"
            )
    return Findings(errors=errors)


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def moved(config: Config, posts: Sequence[Post]) -> Findings:
    """Live posts whose `slug:` changed since they went live (their old address redirects),
    and posts asking for an address another post went live at."""
    from publisher.schedule.links import check_moves  # lazy: the store, only for this

    errors, warnings = check_moves(config, posts)
    return Findings(errors, warnings)


def unfinished_drafts(config: Config, posts: Sequence[Post]) -> Findings:
    """Drafts that still hold `publisher new`'s example text: fine while a draft, an error
    once it is not; said now, so taking it out of draft is no surprise."""
    from publisher.content import frontmatter
    from publisher.content.posts import untouched_placeholders

    warnings = []
    for post in (p for p in posts if p.draft):
        try:
            data = (config.root / post.source).read_bytes()
        except OSError:  # a post being written (the console's check before it saves)
            continue
        fields = frontmatter.read(post.source.as_posix(), data, config.tz)
        for line, message in untouched_placeholders(fields.body, fields.body_line):
            warnings.append(f"{post.source}:{line}: {message} (before draft: false)")
    return Findings(warnings=warnings)


def tracking(config: Config, _posts: Sequence[Post]) -> Findings:
    """A health-related site that counts opens or clicks per person (privacy.py)."""
    from publisher.privacy import health_warnings

    return Findings(warnings=health_warnings(config))


CHECKS: list[Callable[[Config, Sequence[Post]], Findings]] = [
    newsletters,
    subjects,
    secret,
    logo,
    old_addresses,
    pictures,
    public_urls,
    moved,
    unfinished_drafts,
    tracking,
]


def run(config: Config) -> Findings:
    """Scan every post, then run every check over the good ones; collect everything."""
    result = scan(config)
    errors = [str(error) for error in result.errors]
    warnings = [*config.warnings, *result.warnings]
    for check in CHECKS:
        try:
            found = check(config, result.posts)
        except PublisherError as exc:
            found = Findings(errors=[str(exc)])
        errors += found.errors
        warnings += found.warnings
    return Findings(errors, warnings, posts=result.files)


def post_errors(config: Config, post: Post) -> list[tuple[int | None, str]]:
    """The errors `check` would report about `post` if it were saved now, as (line,
    message): every check run over the site's posts with this version in place of its
    file (which may not exist yet). Errors about other posts or the settings are theirs."""
    found = scan(config)
    posts = [post, *(p for p in found.publishable if p.source != post.source)]
    errors: list[tuple[int | None, str]] = [
        (post.slug_line, f"slug '{post.slug}' is also used by {other.source}; change the title")
        for other in posts[1:]
        if other.slug == post.slug
    ]
    prefix = f"{post.source}:"
    for check in CHECKS:
        try:
            findings = check(config, posts)
        except PublisherError:  # a setting's problem, not this post's
            continue
        for error in (e for e in findings.errors if e.startswith(prefix)):
            line, _, message = error[len(prefix) :].partition(": ")
            number = line.strip()
            if number.isdigit():
                errors.append((int(number), message))
            else:
                errors.append((None, error[len(prefix) :].strip()))
    return errors
