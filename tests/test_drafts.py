"""The console editor's autosaved copies in the store (SQLite and PostgreSQL): one per
person and post, replaced as they type, offered back newest first, dropped on save, and
created by the migration for a store from before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete

from publisher.store.db import open_store
from publisher.store.drafts import (
    NEW_POST,
    discard_draft,
    drafts_of,
    forget_staff_drafts,
    get_draft,
    save_draft,
)
from publisher.store.migrations import MIGRATIONS, _drafts
from publisher.store.schema import drafts, schema_version

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_a_copy_per_person_and_post_replaced_as_they_type(store) -> None:
    save_draft(store, 1, "spring-clinic", {"title": "Spring", "body": "Hé"}, '"e1"', NOW)
    later = NOW + timedelta(seconds=5)
    save_draft(store, 1, "spring-clinic", {"title": "Spring!", "body": "Hé ✓"}, '"e1"', later)
    save_draft(store, 2, "spring-clinic", {"title": "Theirs"}, '"e1"', NOW)
    save_draft(store, 1, NEW_POST, {"title": "Not created yet"}, "", NOW)

    mine = get_draft(store, 1, "spring-clinic")
    assert mine.fields == {"title": "Spring!", "body": "Hé ✓"}
    assert (mine.etag, mine.saved_at) == ('"e1"', later)
    assert get_draft(store, 2, "spring-clinic").fields == {"title": "Theirs"}
    assert [d.post for d in drafts_of(store, 1)] == ["spring-clinic", NEW_POST]
    assert get_draft(store, 3, "spring-clinic") is None

    discard_draft(store, 1, "spring-clinic")
    assert get_draft(store, 1, "spring-clinic") is None
    assert get_draft(store, 2, "spring-clinic") is not None  # someone else's copy stays
    forget_staff_drafts(store, 1)
    assert drafts_of(store, 1) == []


def test_an_old_store_gets_the_drafts_table(database_url: str, tmp_path: Path) -> None:
    before = open_store(database_url, tmp_path)  # made as the version before had it
    version = MIGRATIONS.index(_drafts) + 1
    with before.transaction() as conn:
        drafts.drop(conn)
        conn.execute(delete(schema_version).where(schema_version.c.version >= version))
    before.close()
    after = open_store(database_url, tmp_path)
    try:
        save_draft(after, 1, "a-post", {"title": "A"}, "", NOW)
        assert get_draft(after, 1, "a-post").fields == {"title": "A"}
    finally:
        after.close()
