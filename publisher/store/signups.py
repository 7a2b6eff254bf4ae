"""Sign-ups: the web form's subscribe requests and the confirmation emails they are owed.

A new address becomes pending and is sent a confirmation (double opt-in); only the
confirm link (`subscribers.confirm`) makes it active. The web app writes many sign-ups in
one transaction (`subscribe_many`, its group commit). Claiming a confirmation
(`claim_confirmation`) is atomic, so one address is never mailed twice at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Connection, Insert, bindparam, insert, select, update

from publisher.errors import StoreError
from publisher.store.db import Store, insert_or_skip
from publisher.store.schema import events, subscribers
from publisher.store.subscribers import (
    COLUMNS,
    Subscriber,
    check_choice,
    find_or_insert,
    update_subscriber,
)
from publisher.subscribers.addresses import Address, check_name, normalize
from publisher.vocabulary import FREQUENCIES

CONFIRM_INTERVAL = timedelta(minutes=10)  # at most one confirmation email per address
# A sign-up from the form mails these nothing: they are subscribed already, or their mail
# bounced or they reported it as spam, and anyone can type an address into the form. Staff
# can still send them a confirmation (`publisher subscribers add --send-confirmation`).
NOT_MAILED = ("active", "bounced", "complained")


def subscribe_pending(
    store: Store,
    email: str,
    *,
    now: datetime,
    name: str = "",
    frequency: str | None = None,
    topics: str = "",
    source: str = "web",
    smtputf8: bool = False,
) -> Subscriber:
    """A subscribe request from the web form: a new address becomes pending; a pending one
    gets the new name/frequency; active and suppressed ones are left as they are (the
    confirmation link, via `confirm`, is what reactivates). The caller sends a confirmation
    when the result's status is not in NOT_MAILED and `claim_confirmation` allows it.
    Refusals as `subscribers.add`."""
    check_choice(frequency, FREQUENCIES, "frequency")
    address = normalize(email, smtputf8=smtputf8)
    name = check_name(name)
    with store.transaction() as conn:
        signup = SignUp(address, name, frequency, topics)
        return _subscribe_pending(conn, store, signup, source, now)


@dataclass(frozen=True)
class SignUp:
    """One web sign-up for `subscribe_many`: the address already normalized."""

    address: Address
    name: str
    frequency: str | None
    topics: str = ""  # a stored choice (`publisher.topics.checked`): "" for every topic
    page: str = ""  # the site's page whose form it came from (`/posts/<slug>/`), if known

    def source(self, source: str) -> str:
        """Where it came from, as stored: `web:/posts/<slug>/` for a page's form."""
        return f"{source}:{self.page}"[:64] if self.page else source


def subscribe_many(
    store: Store, signups: list[SignUp], *, now: datetime, source: str = "web"
) -> list[tuple[Subscriber, bool] | Exception]:
    """`subscribe_pending` and `claim_confirmation` for each sign-up, all in one
    transaction (one commit for many requests: the web app's group commit). Each result
    is (subscriber, whether its confirmation email was claimed now), or the exception that
    sign-up raised: when one fails, the batch is rolled back and each sign-up is written
    again in a transaction of its own, so one failure leaves the others. A store that is
    locked or down fails them all at once: one at a time would make each wait again."""
    try:
        with store.transaction() as conn:
            return _subscribe_batch(conn, store, signups, now, source)
    except StoreError as exc:
        return [exc] * len(signups)
    except Exception as exc:
        if len(signups) == 1:
            return [exc]
    results: list[tuple[Subscriber, bool] | Exception] = []
    for signup in signups:
        try:
            results.extend(subscribe_many(store, [signup], now=now, source=source))
        except Exception as exc:
            results.append(exc)
    return results


@cache
def _new_pending_statement(dialect: str) -> Insert:
    """INSERT of a new pending sign-up with its confirmation claimed, built once a dialect."""
    return (
        insert_or_skip(dialect, subscribers, "email_key")
        .values(
            email=bindparam("email"),
            email_key=bindparam("email_key"),
            name=bindparam("name"),
            status="pending",
            frequency=bindparam("frequency"),
            source=bindparam("source"),
            created_at=bindparam("now"),
            confirm_sent_at=bindparam("now"),
            bounce_count=0,
            topics=bindparam("topics"),
        )
        .returning(*COLUMNS)
    )


def _subscribe_batch(
    conn: Connection, store: Store, signups: list[SignUp], now: datetime, source: str
) -> list[tuple[Subscriber, bool]]:
    """What `subscribe_pending` then `claim_confirmation` do for each sign-up in turn, with
    fewer statements: one SELECT finds the known addresses, a new address is one INSERT
    that also claims its confirmation (a new row has never had one), the events go in
    together at the end."""
    keys = list({signup.address.key for signup in signups})
    found = select(subscribers.c.email_key, *COLUMNS).where(subscribers.c.email_key.in_(keys))
    known = {row[0]: Subscriber(*row[1:]) for row in conn.execute(found)}
    insert_new = _new_pending_statement(conn.dialect.name)
    results = []
    new_events = []
    for signup in signups:
        check_choice(signup.frequency, FREQUENCIES, "frequency")
        address, name = signup.address, check_name(signup.name)
        current = known.get(address.key)
        if current is None:
            values = {
                "email": address.email,
                "email_key": address.key,
                "name": name,
                "frequency": signup.frequency or store.default_frequency,
                "source": signup.source(source),
                "now": now,
                "topics": signup.topics,
            }
            row = conn.execute(insert_new, values).first()
            if row is not None:
                current = known[address.key] = Subscriber(*row)
                new_events.append(
                    {
                        "subscriber_id": current.id,
                        "kind": "subscribed",
                        "at": now,
                        "source": signup.source(source),
                        "detail": "status=pending",
                    }
                )
                results.append((current, True))
                continue
        current = _subscribe_pending(
            conn, store, replace(signup, name=name), signup.source(source), now
        )
        known[address.key] = current
        claimed = current.status not in NOT_MAILED and _claim_confirmation(
            conn, current.id, now, CONFIRM_INTERVAL, None
        )
        results.append((current, claimed))
    if new_events:
        conn.execute(insert(events), new_events)
    return results


def _subscribe_pending(
    conn: Connection, store: Store, signup: SignUp, source: str, now: datetime
) -> Subscriber:
    """A new address becomes pending with the sign-up's choices; a pending one takes them
    (the person asked again, maybe choosing differently); others are left as they are."""
    frequency = signup.frequency
    chosen = frequency or store.default_frequency
    current, added = find_or_insert(
        conn, signup.address, signup.name, "pending", chosen, source, now, signup.topics
    )
    if added or current.status != "pending":
        return current
    values = {
        "name": signup.name or current.name,
        "frequency": frequency or current.frequency,
        "topics": signup.topics,
    }
    return update_subscriber(conn, current.id, **values)


def claim_confirmation(
    store: Store,
    subscriber_id: int,
    *,
    now: datetime,
    interval: timedelta = CONFIRM_INTERVAL,
    status: str | None = None,
) -> bool:
    """Record that a confirmation email goes out now, unless one went out within
    `interval` (or the subscriber's status is no longer `status`, when given): True means
    send it. Atomic, so two quick requests send one email."""
    with store.transaction() as conn:
        return _claim_confirmation(conn, subscriber_id, now, interval, status)


def _claim_confirmation(
    conn: Connection, subscriber_id: int, now: datetime, interval: timedelta, status: str | None
) -> bool:
    sent = subscribers.c.confirm_sent_at
    claim = update(subscribers).where(subscribers.c.id == subscriber_id)
    if status is not None:
        claim = claim.where(subscribers.c.status == status)
    result = conn.execute(
        claim.where(sent.is_(None) | (sent <= now - interval)).values(confirm_sent_at=now)
    )
    return result.rowcount == 1


def release_confirmation(store: Store, subscriber_id: int, *, claimed_at: datetime) -> None:
    """Undo the claim made at `claimed_at` because the email did not go out: the address
    is owed a confirmation again. A later claim (another time) is left alone."""
    with store.transaction() as conn:
        conn.execute(
            update(subscribers)
            .where(subscribers.c.id == subscriber_id, subscribers.c.confirm_sent_at == claimed_at)
            .values(confirm_sent_at=None)
        )
