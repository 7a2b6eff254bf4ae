"""Apply a `Notice` to the store, once.

A notice acts only on the subscriber a genuine token names (the address it came back to,
or the returned message's Return-Path or List-Unsubscribe): anyone can write to the inbound
address, and a forged bounce must not unsubscribe a stranger. A notice with no genuine
token is recorded and reported, never acted on.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from publisher.config import Config
from publisher.delivery.transports import reason
from publisher.errors import StoreError
from publisher.inbound import brake, verp
from publisher.inbound.classify import (
    AUTO_REPLY,
    BOUNCE,
    COMPLAINT,
    OTHER,
    UNSUBSCRIBE,
    Notice,
    classify,
)
from publisher.inbound.parsing import within_bounds
from publisher.inbound.sources import Incoming, Waiting
from publisher.store import Store
from publisher.store import inbound as recorded
from publisher.subscribers.addresses import CONTROL
from publisher.subscribers.tokens import Tokens, load_tokens

log = logging.getLogger(__name__)
FAILED = "failed"  # the kind of a message that could not be read or applied


@dataclass(frozen=True)
class Outcome:
    """What one message was and what it did."""

    kind: str
    action: str
    subscriber_id: int | None = None
    duplicate: bool = False


@dataclass(frozen=True)
class _Owner:
    subscriber_id: int
    delivery_id: int | None
    unsubscribe: bool  # the tag was the mailto unsubscribe address


def process(
    store: Store, config: Config, tokens: Tokens, incoming: Incoming, now: datetime
) -> Outcome:
    """One incoming message from bytes to its effect; `Unreadable` past the bounds."""
    notice = within_bounds(lambda: classify(incoming.parsed(), incoming.raw, incoming.delivered_to))
    return apply(store, config, tokens, notice, now)


def process_all(
    store: Store,
    config: Config,
    messages: Iterable[Waiting],
    now: datetime,
    show: Callable[[Outcome], None] = lambda _outcome: None,
) -> list[Outcome]:
    """Process each message of a Maildir or mailbox on its own, filing it once its effects
    are in, or setting it aside when it cannot be handled: one bad message must not stop
    the bounces and unsubscribes behind it. A store that cannot be written stops the run
    (StoreError), leaving the messages for the next one."""
    tokens = load_tokens(config)
    outcomes = []
    for incoming, file_away in messages:
        try:
            outcome = process(store, config, tokens, incoming, now)
        except Exception as exc:
            why = set_aside(store, incoming, exc, now)
            outcome = Outcome(FAILED, f"could not be handled: {why}; {file_away(False)}")
        else:
            file_away(True)
        outcomes.append(outcome)
        show(outcome)
    return outcomes


def set_aside(store: Store, incoming: Incoming, exc: Exception, now: datetime) -> str:
    """Log and record why a message could not be handled, for `inbound --report`; raise
    when the store fails for every message (the next run reads them all again), not for
    this one only. The reason, one line."""
    if isinstance(exc, StoreError):
        store.ping()
    why = CONTROL.sub("?", reason(exc))
    key = "failed:sha256:" + hashlib.sha256(incoming.raw).hexdigest()
    log.error("inbound message %s could not be handled: %s", key, why)
    log.debug("inbound message %s", key, exc_info=exc)
    with store.transaction() as conn:
        if not recorded.seen(conn, key):  # POP3 leaves it there to be read again
            recorded.record(conn, key, now, FAILED, "set aside", why)
    return why


def apply(
    store: Store,
    config: Config,
    tokens: Tokens,
    notice: Notice,
    now: datetime,
    recipient: str = "",
) -> Outcome:
    """Record `notice` and do what it asks, in one transaction; a notice already read
    (same Message-ID) changes nothing. `recipient` is the address a provider's signed
    report (a webhook) names: it finds the subscriber when the report echoes no token."""
    with store.transaction() as conn:
        if recorded.seen(conn, notice.message_id):
            return Outcome(notice.kind, "already processed", duplicate=True)
        owner = _owner(conn, config, tokens, notice) or _addressee(conn, recipient)
        kind = UNSUBSCRIBE if notice.kind == OTHER and owner and owner.unsubscribe else notice.kind
        action = _act(conn, config, kind, notice, owner, now)
        subscriber_id = owner.subscriber_id if owner else None
        delivery_id = owner.delivery_id if owner else None
        if kind == COMPLAINT and subscriber_id and delivery_id is None:
            delivery_id = recorded.latest_delivery(conn, subscriber_id)
        recorded.record(
            conn, notice.message_id, now, kind, action, _detail(notice), subscriber_id, delivery_id
        )
        campaign_id = recorded.campaign_of(conn, delivery_id) if delivery_id else None
    if campaign_id and kind in (BOUNCE, COMPLAINT):
        brake.check(store, config, campaign_id, now)  # bounces come back after the sending
    return Outcome(kind, action, subscriber_id)


def _owner(conn, config: Config, tokens: Tokens, notice: Notice) -> _Owner | None:
    """The subscriber (and delivery) the first genuine token names."""
    for tag in verp.tags(config, [*notice.addressed_to, *notice.quoted]):
        if tag.kind == verp.BOUNCE:
            found = recorded.delivery_owner(conn, tag.number)
            if found and verp.genuine(tokens, tag, found[1]):
                return _Owner(found[0], tag.number, unsubscribe=False)
        else:
            key = recorded.subscriber_key(conn, tag.number)
            if key is not None and verp.genuine(tokens, tag, key):
                return _Owner(tag.number, None, unsubscribe=True)
    return None


def _addressee(conn, recipient: str) -> _Owner | None:
    """The subscriber a signed provider report names by address (no delivery known)."""
    found = recorded.subscriber_by_address(conn, recipient) if recipient else None
    return None if found is None else _Owner(found, None, unsubscribe=False)


def _act(conn, config: Config, kind: str, notice: Notice, owner: _Owner | None, now) -> str:
    if kind == AUTO_REPLY:
        return "ignored"
    if kind == OTHER:
        return "kept for a person to read"
    if owner is None:
        return "not ours: no genuine token, nothing done"
    detail = f"{notice.message_id} {_failure_text(notice)}".strip()
    who, delivery = owner.subscriber_id, owner.delivery_id
    if kind == COMPLAINT:
        return recorded.complaint(conn, who, now, f"{notice.message_id} {notice.detail}")
    if kind == UNSUBSCRIBE:
        return recorded.unsubscribe(conn, who, now, notice.message_id)
    limit = config.delivery.bounce_limit
    if kind == BOUNCE and notice.hard:
        return recorded.hard_bounce(conn, who, delivery, now, detail, limit)
    soft, window = config.inbound.soft_bounce_limit, config.inbound.soft_bounce_window
    return recorded.soft_bounce(conn, who, delivery, now, detail, soft, window, limit)


def _failure_text(notice: Notice) -> str:
    return "; ".join(
        " ".join(part for part in (f.status, f.diagnostic) if part) for f in notice.failures
    )[:500]


def _detail(notice: Notice) -> str:
    """What the report shows of a message: who sent it, its subject, its failures."""
    parts = [f"from {notice.sender}" if notice.sender else "", notice.subject, notice.detail]
    text = " | ".join(part for part in (*parts, _failure_text(notice)) if part)
    return CONTROL.sub("?", text)  # anyone can write here: no escapes reach a terminal
