"""Each live post's email decision, in words: what the tick line, the log, `queue` and
`posts` say, so that no post goes live without its email being sent or explained."""

from __future__ import annotations

from publisher.store.published import Record

SAME_POST = "the same post as"  # the start of a renamed post's reason (calendar._decide)


def describe(
    record: Record, announced: int | None, next_digest: str, split: str = "", at: str = ""
) -> str:
    """ "announced to 3; in the digest of 2026-03-09", or "not emailed: <reason>; ...".

    `announced` is the recipients of its `post:<slug>` campaign when one exists (sent by a
    tick or by hand); `next_digest` the id of the digest a waiting post goes in; `split`
    the recipients per topic (`topics.Reach.split`); `at` when an announcement still to
    come goes out (its `email_at`), when not at the next tick.
    """
    parts = []
    if announced is not None:
        parts.append(f"announced to {announced:,}{split}" + (f" at {at}" if at else ""))
    elif record.announce:
        parts.append(f"announced at {at or 'the next tick'}")
    if record.in_digest:
        key = record.digest_key or f"digest:{next_digest}"
        parts.append(f"in the digest of {key.removeprefix('digest:')}")
    if not parts and record.reason.startswith(SAME_POST):  # its email went (or not) before
        return f"not emailed again: {record.reason}"
    if not parts:
        return f"not emailed: {record.reason}; `publisher send {record.slug}` sends it"
    if record.reason and announced is None:
        parts.append(f"not announced: {record.reason}")
    return "; ".join(parts)
