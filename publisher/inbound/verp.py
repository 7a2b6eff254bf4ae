"""The addresses mail comes back to, each carrying a signed token (VERP).

With `[inbound] address = "bounces@news.example.org"`, the message of delivery 42 leaves
with the envelope sender `bounces+42-<signature>@news.example.org`: a bounce comes back to
that address, naming the delivery (and so the campaign and subscriber) without reading
anything the bouncing server wrote. The List-Unsubscribe `mailto:` is
`bounces+unsub-7-<signature>@...` for subscriber 7. Signatures are bound to the
subscriber's token key, so they die with the subscriber (`forget`); a forged or stale
address names nobody.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from publisher.config import Config
from publisher.subscribers.tokens import Tokens

BOUNCE, UNSUBSCRIBE = "bounce", "mail-unsubscribe"
TAG = re.compile(r"(unsub-)?(0|[1-9][0-9]{0,17})-([a-z2-7]{16})")


@dataclass(frozen=True)
class Tag:
    """A token found in an address: which kind, the delivery or subscriber id, its
    signature (to check against the key of the subscriber it names)."""

    kind: str
    number: int
    signature: str


def mailbox(config: Config) -> tuple[str, str] | None:
    """(local part, domain) of `[inbound] address`, or None when no mailbox is set up."""
    address = config.inbound.address
    if not address:
        return None
    local, _, domain = address.rpartition("@")
    return local, domain


def bounce_address(config: Config, tokens: Tokens, delivery_id: int, key: str) -> str:
    """The envelope sender of delivery `delivery_id`; "" without `[inbound]`."""
    return _address(config, f"{delivery_id}-{tokens.short(BOUNCE, delivery_id, key)}")


def unsubscribe_address(config: Config, tokens: Tokens, subscriber_id: int, key: str) -> str | None:
    """The List-Unsubscribe mailto address of a subscriber; None without `[inbound]`."""
    signature = tokens.short(UNSUBSCRIBE, subscriber_id, key)
    return _address(config, f"unsub-{subscriber_id}-{signature}")


def _address(config: Config, tag: str) -> str:
    box = mailbox(config)
    return "" if box is None else f"{box[0]}+{tag}@{box[1]}"


def tags(config: Config, addresses: list[str]) -> list[Tag]:
    """The tokens in those of `addresses` that are our mailbox's, in order, unverified."""
    box = mailbox(config)
    if box is None:
        return []
    local, domain = box[0].lower(), box[1].lower()
    found = []
    for address in addresses:
        mine, _, at = address.lower().rpartition("@")
        base, plus, tag = mine.partition("+")
        if at != domain or base != local or not plus:
            continue
        match = TAG.fullmatch(tag)
        if match:
            kind = UNSUBSCRIBE if match[1] else BOUNCE
            found.append(Tag(kind, int(match[2]), match[3]))
    return found


def genuine(tokens: Tokens, tag: Tag, key: str) -> bool:
    """Whether `tag` was signed for the subscriber whose token key is `key`."""
    return hmac.compare_digest(tag.signature, tokens.short(tag.kind, tag.number, key))
