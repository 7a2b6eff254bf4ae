"""The double opt-in email: one message with the confirm link, sent when someone subscribes.

Built with `email.message.EmailMessage` and `policy.SMTP` (CRLF line ends, folded headers):
a text part first, then HTML, both rendered from `templates/email/confirm.txt` and
`confirm.html`, DKIM-signed when `[dkim]` is set by the newsletters' signer
(`message.DkimSigner.sign_message`). It is a transactional message, so it has no
List-Unsubscribe: whoever does not click simply stays pending and never gets a newsletter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from . import theme
from .config import Config
from .message import DkimSigner
from .tokens import EXPIRY, Tokens, confirm_url


@dataclass(frozen=True)
class Outgoing:
    """A complete message for one recipient, as the transports take it."""

    envelope_from: str
    rcpt: str
    data: bytes


def subject(config: Config) -> str:
    return f"Confirm your subscription to {config.site.title}"


class Confirmations:
    """Builds confirmation emails; the templates are compiled once, not per message."""

    def __init__(self, config: Config, tokens: Tokens):
        self.config = config
        self.tokens = tokens
        self.env = theme.environment(config, "email")
        self.signer = DkimSigner.from_config(config)

    def build(self, subscriber, now: datetime) -> Outgoing:
        """The confirmation email for `subscriber` (anything with id, email and name).

        The link is signed at `now`, not at the config's start-up time: the web app runs
        for weeks, and each link's 7 days start when it is sent.
        """
        config = self.config
        context = {
            "subscriber": subscriber,
            "confirm_url": confirm_url(config, self.tokens, subscriber.id, now),
            "expires": now + EXPIRY["confirm"],
            "newsletter": config.newsletter,
        }
        sender = config.newsletter.from_address
        message = EmailMessage(policy=policy.SMTP)
        message["From"] = formataddr((config.newsletter.from_name, sender))
        message["To"] = formataddr((subscriber.name, subscriber.email))
        message["Subject"] = subject(config)
        message["Date"] = format_datetime(now)
        message["Message-ID"] = make_msgid("confirm", domain=sender.rpartition("@")[2] or None)
        message["Auto-Submitted"] = "auto-generated"
        if config.newsletter.reply_to:
            message["Reply-To"] = config.newsletter.reply_to
        message.set_content(theme.render(self.env, "confirm.txt", **context))
        message.add_alternative(theme.render(self.env, "confirm.html", **context), subtype="html")
        data = message.as_bytes()
        if self.signer:
            data = self.signer.sign_message(data)
        return Outgoing(config.delivery.envelope_from or sender, subscriber.email, data)
