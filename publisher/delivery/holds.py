"""Pausing and resuming a campaign by hand (the console), beside the safety brake.

A pause is a hold (`held`), as the brake's: `tick`, `run` and `send --resume` leave a held
campaign alone, and a run in progress stops within seconds (it looks at the campaign's
status when it weighs the brake). The note says who paused it. Resuming a pause sets the
campaign sending again; resuming a hold of the brake needs `force` (someone looked at the
list), and that run then sends with the brake off, as `publisher send --resume --force`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from publisher.errors import PublisherError
from publisher.inbound.brake import HELD
from publisher.store.db import Store
from publisher.store.schema import campaigns

PAUSED_BY = "paused by "  # how a hold made by a person starts its note


class CampaignNotFound(PublisherError):
    """No campaign has this key."""


class CannotResume(PublisherError):
    """The campaign is held by the brake and `force` was not given, or it is finished."""


def status(store: Store, key: str) -> tuple[int, str, str]:
    """(id, status, note) of the campaign with this key."""
    with store.read() as conn:
        row = conn.execute(
            select(campaigns.c.id, campaigns.c.status, campaigns.c.note).where(
                campaigns.c.key == key
            )
        ).first()
    if row is None:
        raise CampaignNotFound(f"no campaign {key!r}; `publisher campaigns` lists them")
    return row.id, row.status, row.note


def held_by_person(note: str) -> bool:
    return note.startswith(PAUSED_BY)


def paused_note(store: Store, campaign_id: int) -> str:
    """The note of a campaign a person paused, or "" (one read by primary key: a running
    campaign asks every few seconds)."""
    with store.read() as conn:
        row = conn.execute(
            select(campaigns.c.status, campaigns.c.note).where(campaigns.c.id == campaign_id)
        ).first()
    return row.note if row and row.status == HELD and held_by_person(row.note) else ""


def pause(store: Store, key: str, who: str, now: datetime) -> bool:
    """Hold an unfinished campaign; False when it was held already (or finished)."""
    campaign_id, current, _note = status(store, key)
    if current == "done":
        raise CannotResume(f"{key} is finished: there is nothing left to pause")
    when = f"{now:%Y-%m-%d %H:%M} UTC"
    with store.transaction() as conn:
        changed = conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id, campaigns.c.status.not_in([HELD, "done"]))
            .values(status=HELD, note=f"{PAUSED_BY}{who} at {when}; resume it to send the rest")
        ).rowcount
    return bool(changed)


def resume(store: Store, key: str, force: bool) -> int:
    """Let a held or paused campaign send again; its id. A hold of the brake needs
    `force`; the run that follows must then be forced too (`run_campaign(force=True)`)."""
    campaign_id, current, note = status(store, key)
    if current == "done":
        raise CannotResume(f"{key} is finished: every message went out or was given up")
    if current == HELD and not held_by_person(note) and not force:
        raise CannotResume(
            f"{key} is {note or 'held by the brake'}; look at the list, then resume with force"
        )
    with store.transaction() as conn:
        conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id, campaigns.c.status != "done")
            .values(status="paused" if current == HELD else current, note="")
        )
    return campaign_id
