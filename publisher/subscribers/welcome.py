"""The welcome email: sent once to whoever confirms (`[newsletter] welcome`), listing the
latest posts, from the theme's `email/welcome.html` and `welcome.txt`.

It is a newsletter to one reader, with their own unsubscribe and preferences links.
Confirming makes it owed (`welcome_due_at`); it is claimed in the store before it leaves,
so a second click on the confirm button never sends a second one. One that could not go out
(the relay down, or a "try later") is owed again, and the next tick sends it, unless it is
by then more than `LATE` old: a welcome days late would puzzle more than it greets.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from publisher.clock import Clock
from publisher.config import Config
from publisher.content.posts import Post, scan_logged
from publisher.delivery.transports import DEFERRED, SENT, Result, Transport, open_transport
from publisher.errors import ConfigError, DeliveryError
from publisher.mail.message import MessageBuilder
from publisher.mail.newsletter import render_welcome
from publisher.schedule.links import pin
from publisher.store import published
from publisher.store import subscribers as people
from publisher.store.db import Store
from publisher.store.newcomers import claim_welcome, owe_welcome
from publisher.subscribers.tokens import Tokens, load_tokens, recipient

log = logging.getLogger(__name__)

LATE = timedelta(days=2)


def send_welcome(
    config: Config,
    store: Store,
    tokens: Tokens,
    transport: Transport,
    subscriber: people.Subscriber,
    now: datetime,
    posts: Sequence[Post] | None = None,
) -> Result | None:
    """Welcome `subscriber` if they are owed it; None when not (or no longer). `posts`: the
    site's posts when the caller has them (read here otherwise).

    The message is made at `now`, not at `config.now`: the web app runs for weeks, and its
    Date, links and latest posts are those of the moment it is sent."""
    if not config.newsletter.welcome:
        return None
    due = claim_welcome(store, subscriber.id, now)
    if due is None:
        return None
    if now - due > LATE:
        log.warning("welcome to %s not sent: owed since %s, too late now", subscriber.email, due)
        return None
    config = replace(config, now=now)
    try:
        result = transport.send(
            _sender(config), subscriber.email, _message(config, store, tokens, subscriber, posts)
        )
    except (DeliveryError, ConfigError):  # the relay or a setting: owed until fixed
        owe_welcome(store, subscriber.id, due)
        raise
    if result.status == DEFERRED:
        owe_welcome(store, subscriber.id, due)
    if result.status != SENT:
        log.warning("welcome to %s: %s %s", subscriber.email, result.code, result.reply)
    return result


def send_owed(config: Config, store: Store, owed: Sequence[people.Subscriber]) -> str:
    """The tick's step: send the welcomes still owed; a line saying how many went out. A
    relay that is down raises DeliveryError, and they stay owed."""
    tokens = load_tokens(config)
    posts = _latest(store, config)  # read once for all of them
    transport = open_transport(config)
    clock = Clock(config.now)
    try:
        results = [send_welcome(config, store, tokens, transport, s, clock(), posts) for s in owed]
    finally:
        transport.close()
    sent = sum(1 for result in results if result is not None and result.status == SENT)
    return f"sent {sent} welcome email{'' if sent == 1 else 's'} owed"


def _message(
    config: Config,
    store: Store,
    tokens: Tokens,
    subscriber: people.Subscriber,
    posts: Sequence[Post] | None,
) -> bytes:
    if posts is None:
        posts = _latest(store, config)
    newsletter = render_welcome(config, posts, subscriber.frequency)
    key = people.token_key(store, subscriber.id)
    reader = recipient(config, tokens, subscriber.id, key or "", subscriber.email, subscriber.name)
    return MessageBuilder(config, newsletter).build(reader)


def _latest(store: Store, config: Config) -> list[Post]:
    """The posts the welcome lists, at the addresses they went live at (`links.pin`); a
    broken post is left out, not a failure."""
    return pin(scan_logged(config).publishable, published.seen(store))


def _sender(config: Config) -> str:
    return config.delivery.envelope_from or config.newsletter.from_address
