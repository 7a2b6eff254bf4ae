""" "Manage your subscription": whoever asks with an address on the list gets a one-time
link to their preferences page by email, for the reader who kept no old email.

The web app answers every request the same way, at once, and hands the address to a mailer
thread, which looks it up and mails (`send_link`): the page and its timing say nothing of
whether the address is on the list. An address gets at most one link every 10 minutes
(`store.manage.claim_link`); a link works for a day, once (`store.manage.use_link`).
"""

from __future__ import annotations

from datetime import datetime

from publisher.config import Config
from publisher.delivery.transports import Result, Transport
from publisher.mail.dkim import DkimSigner
from publisher.mail.message import sender
from publisher.mail.newsletter import inline_css
from publisher.site import theme
from publisher.store import manage, subscribers
from publisher.store.db import Store
from publisher.subscribers.addresses import AddressError
from publisher.subscribers.confirmations import EXPIRES, personal_message
from publisher.subscribers.tokens import EXPIRY, Tokens, manage_url


def subject(config: Config) -> str:
    return f"Your email preferences for {config.site.title}"


def send_link(
    config: Config, store: Store, tokens: Tokens, transport: Transport, email: str, now: datetime
) -> Result | None:
    """Mail the subscriber with address `email` a one-time link to their preferences;
    None when nobody has that address or one was mailed within 10 minutes."""
    try:
        found = subscribers.get_by_email(store, email)
    except AddressError:
        return None
    if found is None or not manage.claim_link(store, found.id, now):
        return None
    key = subscribers.token_key(store, found.id) or ""
    link = manage_url(config, tokens, found.id, key, now)
    expires = now + EXPIRY["manage"]
    env = theme.environment(config, "email")
    context = {
        "subject": subject(config),
        "preheader": "One link to your email preferences, as you asked.",
        "home_url": theme.absolute_url(config.site.url, ""),
        "subscriber": found,
        "manage_url": link,
        "expires_at": theme.local_format(config, expires, EXPIRES),
        "newsletter": config.newsletter,
    }
    text = theme.render(env, "manage.txt", **context)
    page = inline_css(theme.render(env, "manage.html", **context))
    data = personal_message(config, found, subject(config), text, page, now)
    if signer := DkimSigner.from_config(config):
        data = signer.sign_message(data)
    envelope = config.delivery.envelope_from or sender(config)
    return transport.send(envelope, found.email, data)
