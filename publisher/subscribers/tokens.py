"""Signed links for confirm, unsubscribe and preferences: no login, nothing to guess.

A token is `<subscriber id>.<issued, unix seconds>.<signature>`; the signature is
HMAC-SHA256 with the site secret over purpose, id, time and the subscriber's own key
(`token_key`, random per subscriber), so a token made for one purpose is useless for
another, and one made for a subscriber acts on nobody once they are erased: the key goes
with the row, and ids are never reused. Only the exact form `make` writes is read.
Signatures are compared in constant time.

Confirm tokens expire after 7 days, and the one-time links "Manage your subscription"
mails (`manage`) after a day. Unsubscribe and preferences links have no expiry, by
design: an unsubscribe link in a years-old email must still work (RFC 8058, CAN-SPAM);
they die with the subscriber. Rows from before per-subscriber keys have the key "", and
their links are signed as they were then (`web` also refuses such a link when it is older
than the row, as a reused id's would be).

The secret comes from the environment variable named by `[newsletter] secret_env`
(PUBLISHER_SECRET_KEY). Without it one is generated into `data/secret.key` (mode 0600) on
first use, so a fresh site works; `publisher check` warns when such a site sends by SMTP.
"""

from __future__ import annotations

import base64
import hmac
import logging
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from publisher.config import Config
from publisher.errors import ConfigError, PublisherError
from publisher.mail.message import NO_READER, Recipient

log = logging.getLogger(__name__)

PURPOSES = ("confirm", "unsubscribe", "preferences", "manage")
EXPIRY: dict[str, timedelta | None] = {
    "confirm": timedelta(days=7),
    "unsubscribe": None,
    "preferences": None,
    "manage": timedelta(days=1),  # "Manage your subscription": once, within a day
}
SECRET_FILE = "secret.key"
MAKE_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"  # a strong secret
MIN_SECRET_BYTES = 32
NUMBER = "(0|[1-9][0-9]{0,18})"  # [0-9], not \d: ASCII digits only
CANONICAL = re.compile(rf"{NUMBER}\.{NUMBER}\.([A-Za-z0-9_-]{{43}})")  # 43: 32 bytes, base64
MAX_ID = 2**63 - 1  # the largest id both databases store (a 64-bit signed integer)


class TokenError(PublisherError):
    """A link that cannot be honoured; the web app shows a friendly page."""


class TokenInvalid(TokenError):
    """Malformed, tampered with, or signed for another purpose or with another secret."""


class TokenExpired(TokenError):
    """Genuine but too old (confirm links last 7 days)."""


@dataclass(frozen=True)
class Tokens:
    secret: bytes

    def make(self, purpose: str, subscriber_id: int, key: str, now: datetime) -> str:
        """A token for the subscriber whose `token_key` is `key`, signed at `now`."""
        issued = int(now.timestamp())
        return f"{subscriber_id}.{issued}.{self._sign(purpose, subscriber_id, issued, key)}"

    def short(self, purpose: str, number: int, key: str) -> str:
        """A signature that fits in an email address's local part (VERP): 16 characters of
        lower-case base32 (80 bits), since mail systems may change a local part's case and
        it holds only 64 characters. Bound to the subscriber's `key`, so it dies with them."""
        digest = hmac.digest(self.secret, f"{purpose}:{number}:{key}".encode(), "sha256")
        return base64.b32encode(digest[:10]).decode().lower()

    def subscriber_id(self, token: str) -> int:
        """The id a well-formed token names, not yet verified: look up that subscriber's
        key, then `read` with it. TokenInvalid when the token is not in canonical form."""
        return _parts(token)[0]

    def read(self, purpose: str, token: str, key: str, now: datetime) -> int:
        """The subscriber id in a genuine, unexpired `purpose` token; TokenError otherwise."""
        subscriber_id, issued = self._verified(purpose, token, key)
        limit = EXPIRY[purpose]
        if limit is not None and now.timestamp() - issued > limit.total_seconds():
            raise TokenExpired("this link has expired")
        return subscriber_id

    def issued(self, purpose: str, token: str, key: str) -> datetime:
        """When a genuine `purpose` token was signed (whole seconds, UTC), expired or not;
        TokenInvalid otherwise. The web app compares it with the last unsubscribe."""
        return datetime.fromtimestamp(self._verified(purpose, token, key)[1], UTC)

    def _verified(self, purpose: str, token: str, key: str) -> tuple[int, int]:
        """(subscriber id, issued unix seconds) of a token whose signature holds."""
        subscriber_id, issued, signature = _parts(token)
        if not hmac.compare_digest(signature, self._sign(purpose, subscriber_id, issued, key)):
            raise TokenInvalid("this link is not valid")
        return subscriber_id, issued

    def _sign(self, purpose: str, subscriber_id: int, issued: int, key: str) -> str:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown token purpose {purpose!r}")
        message = f"{purpose}:{subscriber_id}:{issued}" + (f":{key}" if key else "")
        digest = hmac.digest(self.secret, message.encode(), "sha256")  # one-shot: OpenSSL's
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _parts(token: str) -> tuple[int, int, str]:
    """(id, issued, signature) of a token in the exact form `make` writes: ASCII digits
    without leading zeros and a full-length signature. `int()` alone would also take
    `07`, ` 7` or Arabic-Indic digits, so several strings would stand for one token. An
    id no database holds (2^63 or more) is no subscriber's: looking it up would overflow."""
    parts = CANONICAL.fullmatch(token)
    if not parts or int(parts[1]) > MAX_ID:
        raise TokenInvalid("this link is not valid")
    return int(parts[1]), int(parts[2]), parts[3]


def load_tokens(config: Config) -> Tokens:
    """Tokens signed with the configured secret (generated on first use if there is none)."""
    secret = os.environ.get(config.newsletter.secret_env, "")
    if secret:
        if problem := weak_secret(config):
            log.warning("%s", problem)
        return Tokens(secret.encode())
    return Tokens(_generated_secret(config.data_dir / SECRET_FILE).encode())


def weak_secret(config: Config) -> str:
    """Why the secret in the environment is too short to sign links with, or "": a short
    one can be guessed, and whoever guesses it can sign any link."""
    name = config.newsletter.secret_env
    size = len(os.environ.get(name, "").encode())
    if size == 0 or size >= MIN_SECRET_BYTES:
        return ""
    return (
        f"{name} is {size} byte{'s' if size != 1 else ''} long; a signing secret needs at "
        f"least {MIN_SECRET_BYTES} (for example the output of: {MAKE_SECRET})"
    )


def is_generated_secret(config: Config) -> bool:
    """True when tokens are signed with the generated file, not a secret from the environment."""
    return not os.environ.get(config.newsletter.secret_env, "")


def _generated_secret(path: Path) -> str:
    """Read the generated secret, creating it atomically (0600) if it does not exist."""
    if not path.exists():
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")
            try:
                os.link(temporary, path)  # fails if another process won the race: use theirs
                log.warning(
                    "generated a signing secret in %s; set the environment variable of "
                    "[newsletter] secret_env in production",
                    path,
                )
            except FileExistsError:
                pass
            finally:
                temporary.unlink()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot create the signing secret: {exc.strerror}") from None
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the signing secret: {exc}") from None
    if len(secret) < 16:
        raise ConfigError(f"{path}: signing secret too short; delete the file to regenerate it")
    return secret


def _url(
    config: Config,
    tokens: Tokens,
    purpose: str,
    subscriber_id: int,
    key: str,
    now: datetime | None,
) -> str:
    """The page's URL with a token signed at `now`. A long-running process (the web app)
    passes the current time, since `config.now` is its start-up time; CLI commands may
    leave it out."""
    token = tokens.make(purpose, subscriber_id, key, config.now if now is None else now)
    return f"{config.web.url.rstrip('/')}/{purpose}?token={token}"  # URL-safe as made


def confirm_url(
    config: Config, tokens: Tokens, subscriber_id: int, key: str, now: datetime | None = None
) -> str:
    return _url(config, tokens, "confirm", subscriber_id, key, now)


def unsubscribe_url(
    config: Config,
    tokens: Tokens,
    subscriber_id: int,
    key: str,
    now: datetime | None = None,
    campaign_id: int | None = None,
) -> str:
    """The unsubscribe page's link; in a campaign's message it names the campaign (not
    signed: it only says, in the campaign's report, which email someone left from)."""
    url = _url(config, tokens, "unsubscribe", subscriber_id, key, now)
    return url if campaign_id is None else f"{url}&campaign={campaign_id}"


def preferences_url(
    config: Config, tokens: Tokens, subscriber_id: int, key: str, now: datetime | None = None
) -> str:
    return _url(config, tokens, "preferences", subscriber_id, key, now)


def manage_url(config: Config, tokens: Tokens, subscriber_id: int, key: str, now: datetime) -> str:
    """The one-time link "Manage your subscription" mails (it opens the preferences)."""
    return _url(config, tokens, "manage", subscriber_id, key, now)


def recipient(
    config: Config,
    tokens: Tokens,
    subscriber_id: int,
    key: str,
    email: str,
    name: str,
    unsubscribe_address: str = "",
    now: datetime | None = None,
    campaign_id: int | None = None,
    reader: str = NO_READER,
) -> Recipient:
    """A newsletter's recipient with their unsubscribe and preferences links (signed at
    `now`, else `config.now`); subscriber 0 with key "" (test sends, previews) gets links
    that show "not valid". `reader` is the reader part of their tracked links
    (`mail.tracking`)."""
    return Recipient(
        email=email,
        name=name,
        unsubscribe_url=unsubscribe_url(config, tokens, subscriber_id, key, now, campaign_id),
        preferences_url=preferences_url(config, tokens, subscriber_id, key, now),
        unsubscribe_address=unsubscribe_address,
        reader=reader,
    )
