"""`publisher check`: every problem a person should fix before the next build or send.

Each area contributes a function of (config, posts) -> Findings; they are listed here
explicitly rather than registered by import side effects, so `check` runs the same checks
however the program was started. A check that raises a PublisherError (a setting it
cannot use) counts as one error and the others still run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from publisher.config import Config
from publisher.content.posts import Post, scan
from publisher.errors import PublisherError


@dataclass(frozen=True)
class Findings:
    """What the checks found: errors stop a build or a send; warnings are for a person."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    posts: int = 0  # post files looked at


def newsletters(config: Config, posts: Sequence[Post]) -> Findings:
    """The emails that could still be sent: size, alt text, links, header injection."""
    from publisher.mail import newsletter

    errors, warnings = newsletter.lint(config, posts)
    return Findings(errors, warnings)


def secret(config: Config, _posts: Sequence[Post]) -> Findings:
    """A site that mails real people must sign its links with a secret it keeps, and one
    nobody can guess: the generated file is lost with the machine (every link in every sent
    email then breaks), a second machine would generate a different one, and a short secret
    lets anyone sign links (an error for SMTP, a warning before mail goes out)."""
    from publisher.subscribers import tokens

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
            "(for example to the output of: python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')"
        ]
    )


CHECKS: list[Callable[[Config, Sequence[Post]], Findings]] = [newsletters, secret]


def run(config: Config) -> Findings:
    """Scan every post, then run every check over the good ones; collect everything."""
    result = scan(config)
    errors = [str(error) for error in result.errors]
    warnings = list(result.warnings)
    for check in CHECKS:
        try:
            found = check(config, result.posts)
        except PublisherError as exc:
            found = Findings(errors=[str(exc)])
        errors += found.errors
        warnings += found.warnings
    return Findings(errors, warnings, posts=result.files)
