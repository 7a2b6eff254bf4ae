"""Who a campaign goes to: the active readers of a frequency whose topics it is for, taken
as the campaign's snapshot of recipients (one delivery row each) when it is created.

Readers' topics are a stored choice each (see `publisher.topics`). The distinct choices
are few (the sets of topics people actually picked), read with one GROUP BY over the
`subscribers_audience` index; which of them a newsletter reaches is decided in Python, and
its recipients are then one `topics IN (...)` in the INSERT ... SELECT that creates the
deliveries: a million readers cost one statement, not a loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    func,
    insert,
    literal,
    select,
    update,
)

from publisher.errors import StoreError
from publisher.store import clicks
from publisher.store.db import Store
from publisher.store.ledger import Campaign, get_campaign
from publisher.store.schema import QUEUED, campaigns, deliveries, subscribers
from publisher.topics import Wants


def _readers(frequency: str) -> ColumnElement[bool]:
    return and_(subscribers.c.status == "active", subscribers.c.frequency == frequency)


def choices(conn: Connection, frequency: str) -> dict[str, int]:
    """Each stored choice among the active readers of `frequency`, with their number."""
    query = (
        select(subscribers.c.topics, func.count())
        .where(_readers(frequency))
        .group_by(subscribers.c.topics)
    )
    return {value: count for value, count in conn.execute(query)}


def reader_choices(store: Store, frequency: str) -> dict[str, int]:
    """`choices` in a read of its own (for counts shown before anything is sent)."""
    with store.read() as conn:
        return choices(conn, frequency)


def audience(conn: Connection, frequency: str, wants: Wants | None) -> ColumnElement[bool]:
    """The WHERE clause of the readers of `frequency` a newsletter is for: those whose
    choice `wants` takes (all of them when `wants` is None). Read in `conn`, so a campaign
    is created from one view of the list."""
    readers = _readers(frequency)
    if wants is None:
        return readers
    taken = [value for value in choices(conn, frequency) if wants(value)]
    return and_(readers, subscribers.c.topics.in_(taken))


def create_campaign(
    store: Store, newsletter, frequency: str, now: datetime, wants: Wants | None = None
) -> tuple[Campaign, bool]:
    """The campaign for `newsletter.key`, created with its recipient snapshot if new: the
    active subscribers of `frequency` whose topics `wants` takes (all when None).

    Returns (campaign, created). The unique key makes a second campaign for the same post
    or digest impossible, however many processes try at once.
    """
    return create_campaigns(store, [(newsletter, wants)], frequency, now)[0]


def create_campaigns(
    store: Store, editions: Sequence[tuple[object, Wants | None]], frequency: str, now: datetime
) -> list[tuple[Campaign, bool]]:
    """`create_campaign` for several newsletters in one transaction (a digest's editions,
    each for the readers of some topics): all of them are created, or, when the first
    already exists, none is and those that exist are returned. A reader gets the first
    edition whose `wants` takes their topics, and the deliveries of all editions are one
    INSERT ... SELECT: one pass over the subscribers, however many editions."""
    first = editions[0][0].key
    if get_campaign(store, first) is None:
        try:
            with store.transaction() as conn:
                ids = [_insert_campaign(conn, newsletter, now) for newsletter, _ in editions]
                _snapshot(conn, ids, [wants for _, wants in editions], frequency)
            return [(get_campaign(store, n.key), True) for n, _ in editions]
        except StoreError:  # a unique violation when another process created them first
            if get_campaign(store, first) is None:
                raise
    found = (get_campaign(store, n.key) for n, _ in editions)
    return [(campaign, False) for campaign in found if campaign is not None]


def _insert_campaign(conn: Connection, newsletter, now: datetime) -> int:
    campaign_id = conn.execute(
        insert(campaigns)
        .values(
            key=newsletter.key,
            kind=newsletter.kind,
            subject=newsletter.subject,
            html=newsletter.html,
            text=newsletter.text,
            headers="{}",
            status="sending",
            note="",
            created_at=now,
            total=0,
        )
        .returning(campaigns.c.id)
    ).scalar_one()
    if clicks.CAMPAIGN_SLOT in newsletter.html:  # tracked links name the campaign by its id
        html, text = (part.replace(clicks.CAMPAIGN_SLOT, str(campaign_id)) for part in
                      (newsletter.html, newsletter.text))  # fmt: skip
        conn.execute(
            update(campaigns).where(campaigns.c.id == campaign_id).values(html=html, text=text)
        )
        clicks.add_links(conn, campaign_id, newsletter.links)
    return campaign_id


def _snapshot(conn: Connection, ids: list[int], wanted: list[Wants | None], frequency: str) -> None:
    """A queued delivery for each reader of `frequency` in the campaign (of `ids`) whose
    `wants` first takes their stored choice, then each campaign's total."""
    readers = _readers(frequency)
    if wanted == [None]:
        campaign, where = literal(ids[0]), readers
    else:
        owner = {}
        for value in choices(conn, frequency):
            taker = next(
                (i for i, w in zip(ids, wanted, strict=True) if w is None or w(value)), None
            )
            if taker is not None:
                owner[value] = taker
        campaign = case(owner, value=subscribers.c.topics) if owner else literal(ids[0])
        where = and_(readers, subscribers.c.topics.in_(list(owner)))
    recipients = select(campaign, subscribers.c.id, literal(QUEUED), literal(0)).where(where)
    conn.execute(
        insert(deliveries).from_select(
            ["campaign_id", "subscriber_id", "state", "attempts"], recipients
        )
    )
    totals = dict.fromkeys(ids, 0) | dict(  # rowcount of INSERT ... SELECT is not portable
        conn.execute(
            select(deliveries.c.campaign_id, func.count())
            .where(deliveries.c.campaign_id.in_(ids))
            .group_by(deliveries.c.campaign_id)
        ).all()
    )
    for campaign_id, total in totals.items():
        conn.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(total=total))
