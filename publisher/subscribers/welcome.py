"""The welcome email: sent once to whoever confirms (`[newsletter] welcome`), listing the
latest posts, from the theme's `email/welcome.html` and `welcome.txt`.

It is a newsletter to one reader, with their own unsubscribe and preferences links. It is
claimed in the store before it leaves (a `welcomed` event), so a second click on the
confirm button never sends a second one; one that fails is logged and not retried.
"""

from __future__ import annotations

import logging
from datetime import datetime

from publisher.config import Config
from publisher.content.posts import scan_logged
from publisher.delivery.transports import SENT, Result, Transport
from publisher.mail.message import MessageBuilder
from publisher.mail.newsletter import render_welcome
from publisher.store import subscribers as people
from publisher.store.db import Store
from publisher.store.newcomers import claim_welcome
from publisher.subscribers.tokens import Tokens, recipient

log = logging.getLogger(__name__)


def send_welcome(
    config: Config,
    store: Store,
    tokens: Tokens,
    transport: Transport,
    subscriber: people.Subscriber,
    now: datetime,
) -> Result | None:
    """Welcome `subscriber` unless they were welcomed since they confirmed; None then."""
    if not config.newsletter.welcome or not claim_welcome(store, subscriber.id, now):
        return None
    posts = scan_logged(config).publishable  # a broken post is left out, not a failure
    newsletter = render_welcome(config, posts, subscriber.frequency)
    key = people.token_key(store, subscriber.id)
    reader = recipient(config, tokens, subscriber.id, key or "", subscriber.email, subscriber.name)
    data = MessageBuilder(config, newsletter).build(reader)
    sender = config.delivery.envelope_from or config.newsletter.from_address
    result = transport.send(sender, subscriber.email, data)
    if result.status != SENT:
        log.warning("welcome to %s: %s %s", subscriber.email, result.code, result.reply)
    return result
