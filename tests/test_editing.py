"""Post files written by the console's editor (`content.editing`): the edited keys
replaced and every other line kept, checked before writing, never over a newer version."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from publisher.config import load_config
from publisher.content.editing import PostFields, Stale, etag, save
from publisher.content.posts import load_posts, new_post
from publisher.errors import ContentErrors, PublisherError

from conftest import write_post

WHEN = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)  # 09:00 in America/Chicago


def fields(**changes) -> PostFields:
    values = dict(
        title="Meet Our New Therapist",
        date=WHEN,
        tags=("team", "news"),
        summary="Say hello to Sam.",
        image="",
        image_alt="",
        draft=True,
        body="Sam joins us in **January**.\n",
    )
    return PostFields(**(values | changes))


def test_a_new_post_is_named_as_publisher_new_names_it(site: Path) -> None:
    config = load_config()
    saved = save(config, None, fields(), "")
    assert saved.path == site / "posts/2026-12-03-meet-our-new-therapist.md"
    assert saved.etag == etag(saved.path.read_bytes())
    [post] = load_posts(config)
    assert (post.slug, post.title, post.date, post.tags) == (
        "meet-our-new-therapist",
        "Meet Our New Therapist",
        WHEN,
        ("team", "news"),
    )
    assert post.draft and post.summary == "Say hello to Sam."
    with pytest.raises(PublisherError, match="already exists"):
        save(config, None, fields(), "")


def test_other_keys_and_comments_stay_and_a_stale_version_is_refused(site: Path) -> None:
    path = write_post(
        site,
        "2026-12-01-hello.md",
        "title: Hello\n# a note for the team\ndate: 2026-12-01 09:00\ntags:\n- a\n- b\n"
        "author: Dr. Maya\nemail: false  # not announced\ndraft: true\n",
        "Old body.\n",
    )
    config = load_config()
    [post] = load_posts(config)
    version = etag(path.read_bytes())
    saved = save(config, post, fields(title="Hello again", draft=False), version)
    text = path.read_text()
    assert "# a note for the team" in text and "author: Dr. Maya" in text
    assert "email: false  # not announced" in text and "- a" not in text
    assert saved.post.title == "Hello again" and not saved.post.draft
    assert not saved.post.email  # the kept key still counts

    with pytest.raises(Stale) as stale:  # the version read before this save
        save(config, saved.post, fields(body="Mine.\n"), version)
    assert stale.value.current == text and "Mine." in stale.value.mine
    assert path.read_text() == text


def test_a_post_that_would_not_build_is_refused_and_nothing_written(site: Path) -> None:
    config = load_config()
    with pytest.raises(ContentErrors, match="title"):
        save(config, None, fields(title="Two\nlines"), "")
    assert list((site / "posts").iterdir()) == []
    path = new_post(config, "Draft one", WHEN)
    [post] = load_posts(config)
    before = path.read_text()
    with pytest.raises(ContentErrors, match="example text"):  # `publisher new`'s text, live
        save(
            config,
            post,
            fields(body=before.split("---\n", 2)[2], draft=False),
            etag(before.encode()),
        )
    assert path.read_text() == before
