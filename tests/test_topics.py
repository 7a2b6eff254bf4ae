"""Topics: `[topics]` in the config, what subscribers choose (command line, CSV, the sign-up
form and the preferences page) and how the choice is kept."""

from __future__ import annotations

import io
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from publisher import store as st
from publisher import topics
from publisher.config import load_config
from publisher.errors import ConfigError
from publisher.schedule import tick as scheduler
from publisher.store import ledger
from publisher.store.db import Store, open_store
from publisher.subscribers.tokens import load_tokens
from publisher.web.app import create_app

from conftest import app_client, run_publisher, write_config, write_post, write_relay_config

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
TOPICS = """
[topics]
nutrition = { label = "Food and mood", tags = ["nutrition", "Food"] }
sleep = { label = "Sleep", tags = ["sleep"] }
anxiety = { label = "Anxiety and stress", tags = ["anxiety", "stress"] }
"""


def topics_site(site: Path) -> Path:
    write_config(site, TOPICS)
    return site


def write_csv(folder: Path, text: str, name: str = "list.csv") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --- The config --------------------------------------------------------------------


def test_topics_are_read_in_order_and_match_tags_in_any_case(site: Path) -> None:
    config = load_config(topics_site(site) / "config" / "site.toml", now=NOW, env={})
    assert [(t.name, t.label) for t in config.topics] == [
        ("nutrition", "Food and mood"),
        ("sleep", "Sleep"),
        ("anxiety", "Anxiety and stress"),
    ]
    assert topics.post_topics(["FOOD", "Stress", "walking"], config.topics) == (
        "nutrition",
        "anxiety",
    )
    assert topics.post_topics(["walking"], config.topics) == ()


def test_every_problem_of_the_topics_table_is_reported_at_once(site: Path) -> None:
    write_config(
        site,
        """
        [topics]
        Food = { label = "Food", tags = ["food"] }
        sleep = { tags = "sleep" }
        calm = { label = "Calm", tags = ["calm"], colour = "blue" }
        walks = "Walking"
        """,
    )
    with pytest.raises(ConfigError) as raised:
        load_config(site / "config" / "site.toml", now=NOW, env={})
    lines = str(raised.value).splitlines()
    assert len(lines) == 5
    assert "[topics] 'Food': a topic's name is stored with each reader" in lines[0]
    assert "(such as food)" in lines[0]
    assert lines[1].endswith(
        '[topics] sleep: label: expected the words readers see, such as "Food and mood"'
    )
    assert "[topics] sleep: tags: expected a list of the tags it covers" in lines[2]
    assert "[topics] calm: unknown key 'colour' (known: label, tags)" in lines[3]
    assert "[topics] walks: expected { label = ..., tags = [...] }" in lines[4]


def test_choices_from_text_are_checked_and_stored_sorted(site: Path) -> None:
    config = load_config(topics_site(site) / "config" / "site.toml", now=NOW, env={})
    assert topics.parse_choice("sleep; nutrition,sleep", config.topics) == "nutrition,sleep"
    assert topics.parse_choice(" ", config.topics) == ""
    with pytest.raises(
        ValueError, match=r"not a topic: 'food' \(topics: nutrition, sleep, anxiety\)"
    ):
        topics.parse_choice("food", config.topics)
    # A stored name the config no longer has is ignored: left with none, it is everything.
    assert topics.chosen("gone,sleep", config.topics) == {"sleep"}
    assert topics.reaches(["nutrition"], config.topics)("gone")


# --- The command line and CSV ------------------------------------------------------


def test_subscribers_add_with_topics_and_change_them(site: Path) -> None:
    topics_site(site)
    added = run_publisher("subscribers", "add", "ana@example.org", "--topics", "sleep,nutrition")
    assert added.returncode == 0, added.stderr
    assert added.stdout == "added: ana@example.org (active, each, topics nutrition,sleep)\n"
    changed = run_publisher("subscribers", "add", "ana@example.org", "--topics", "")
    assert changed.stdout == "updated: ana@example.org (active, each)\n"
    wrong = run_publisher("subscribers", "add", "bo@example.org", "--topics", "diet")
    assert wrong.returncode == 2
    assert wrong.stderr == (
        "error: --topics: not a topic: 'diet' (topics: nutrition, sleep, anxiety)\n"
    )
    listed = run_publisher("subscribers", "list", "--format", "csv").stdout.splitlines()
    assert listed[0].endswith(",topics") and listed[1].endswith(",")


def test_import_reads_topics_and_export_round_trips_consent(store, tmp_path: Path) -> None:
    """Everything that matters for consent survives export then import into another
    store: status, when and how each subscribed, confirmed and left, topics, frequency;
    and a suppressed address imported again stays suppressed."""
    config_topics = topics.parse_topics(
        {
            "nutrition": {"label": "Food", "tags": ["food"]},
            "sleep": {"label": "Sleep", "tags": ["s"]},
        },
        [],
    )
    listing = write_csv(
        tmp_path,
        "email,name,topics,frequency\n"
        'ana@example.org,Ana,"sleep, nutrition",digest\n'
        "bo@example.org,Bo,sleep;nutrition,\n"
        "cy@example.org,Cy,,each\n"
        "di@example.org,Di,diet,each\n",
    )
    problems = []
    summary = st.import_csv(
        store,
        listing,
        now=NOW,
        topics=config_topics,
        report=lambda line, problem: problems.append((line, problem)),
    )
    assert (summary.added, summary.skipped) == (3, {"invalid": 1})
    assert problems == [(5, "topics: not a topic: 'diet' (topics: nutrition, sleep)")]
    st.remove(store, "cy@example.org", now=NOW)
    st.subscribe_pending(store, "ed@example.org", now=NOW, source="web", topics="sleep")
    out = io.StringIO()
    st.export_csv(store, out, raw=True)

    other = open_store(f"sqlite:///{tmp_path / 'other.db'}", tmp_path)
    try:
        exported = write_csv(tmp_path, out.getvalue(), "export.csv")
        later = datetime(2026, 4, 1, tzinfo=UTC)
        assert st.import_csv(other, exported, now=later, topics=config_topics).added == 4
        keep = ("email", "status", "frequency", "source", "created_at", "confirmed_at")
        keep += ("unsubscribed_at", "topics")

        def rows(where):
            return [tuple(getattr(s, k) for k in keep) for s in st.iter_subscribers(where)]

        assert rows(other) == rows(store)
        assert [s.topics for s in st.iter_subscribers(other)] == [
            "nutrition,sleep",
            "nutrition,sleep",
            "",
            "sleep",
        ]
        # The unsubscribed address stays so, and a file saying otherwise changes nothing.
        again = write_csv(tmp_path, "email,status\ncy@example.org,active\n", "again.csv")
        summary = st.import_csv(other, again, now=later)
        assert summary.skipped == {"suppressed": 1}
        assert st.get_by_email(other, "cy@example.org").status == "unsubscribed"
        # A file can take an address off the list (it left elsewhere), never put one back.
        left = write_csv(tmp_path, "email,status\nana@example.org,unsubscribed\n", "left.csv")
        assert st.import_csv(other, left, now=later).updated == 1
        gone = st.get_by_email(other, "ana@example.org")
        assert (gone.status, gone.unsubscribed_at) == ("unsubscribed", later)
    finally:
        other.close()


# --- The web form and the preferences page -----------------------------------------


@pytest.fixture
def web(site: Path, live_server, database_url: str):
    topics_site(site)
    with app_client(live_server, database_url=database_url) as web:
        yield web


def test_form_topics_survive_confirmation(web) -> None:
    config, store, client = web
    form = {"email": "ana@example.com", "frequency": "each", "topics": ["sleep", "anxiety"]}
    assert client.post("/subscribe", data=form).status_code == 200
    pending = st.get_by_email(store, "ana@example.com")
    assert (pending.status, pending.topics) == ("pending", "anxiety,sleep")
    token = load_tokens(config).make(
        "confirm", pending.id, st.token_key(store, pending.id), config.now
    )
    assert client.post(f"/confirm?token={token}").status_code == 200
    confirmed = st.get_by_email(store, "ana@example.com")
    assert (confirmed.status, confirmed.topics) == ("active", "anxiety,sleep")

    # Signing up again cannot change an active subscriber's choice; unknown topics refused.
    client.post("/subscribe", data={**form, "topics": ["nutrition"]})
    assert st.get_by_email(store, "ana@example.com").topics == "anxiety,sleep"
    refused = client.post("/subscribe", data={**form, "email": "bo@example.com", "topics": "x"})
    assert refused.status_code == 400 and "Choose topics from the list" in refused.text
    assert st.get_by_email(store, "bo@example.com") is None
    none_ticked = {"email": "cy@example.com", "frequency": "each"}
    client.post("/subscribe", data=none_ticked)
    assert st.get_by_email(store, "cy@example.com").topics == ""


def test_preferences_page_changes_topics_with_its_form_token(web) -> None:
    config, store, client = web
    ana = st.add(store, "ana@example.com", now=NOW, topics="sleep").subscriber
    token = load_tokens(config).make("preferences", ana.id, st.token_key(store, ana.id), config.now)
    path = f"/preferences?token={token}"
    page = client.get(path).text
    boxes = re.findall(r'<input type="checkbox" name="topics" value="(\w+)"( checked)?>', page)
    assert boxes == [("nutrition", ""), ("sleep", " checked"), ("anxiety", "")]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    fields = {"frequency": "each", "name": "", "topics": ["nutrition", "anxiety"]}
    assert client.post(path, data={**fields, "csrf": "0.bad"}).status_code == 400
    assert st.get(store, ana.id).topics == "sleep"
    saved = client.post(path, data={**fields, "csrf": csrf})
    assert saved.status_code == 200 and "Saved." in saved.text
    assert st.get(store, ana.id).topics == "anxiety,nutrition"
    client.post(path, data={"frequency": "each", "name": "", "csrf": csrf})  # none ticked
    assert st.get(store, ana.id).topics == ""


# --- Who gets what -----------------------------------------------------------------

CHICAGO = ZoneInfo("America/Chicago")
T = datetime(2026, 3, 4, 10, 0, tzinfo=CHICAGO).astimezone(UTC)  # a Wednesday
EACH = {  # address -> chosen topics
    "nina@example.org": "nutrition",
    "sam@example.org": "sleep",
    "abe@example.org": "anxiety",
    "nell@example.org": "nutrition,sleep",
    "eve@example.org": "",
}
DIGEST = {
    "dana@example.org": "nutrition",
    "dora@example.org": "sleep",
    "dee@example.org": "",
    "dan@example.org": "nutrition,sleep",
    "ada@example.org": "anxiety",
}


def at(root: Path, moment: datetime):
    return load_config(root / "config" / "site.toml", now=moment, env={**os.environ})


def readers_site(site: Path, smtp_server) -> Path:
    write_relay_config(site, smtp_server.port, extra=TOPICS)
    write_post(site, "old.md", f"title: Old\ndate: {(T - timedelta(days=30)).isoformat()}")
    config = at(site, T - timedelta(days=30))
    with Store.open(config) as store:
        for frequency, readers in (("each", EACH), ("digest", DIGEST)):
            for email, chosen in readers.items():
                st.add(store, email, now=config.now, frequency=frequency, topics=chosen)
    assert scheduler.tick(at(site, T - timedelta(hours=1))).problems == []
    return site


def post(root: Path, slug: str, when: datetime, tags: str, **front: str) -> None:
    lines = [f"title: {slug.title()} news", f"slug: {slug}", f"date: {when.isoformat()}"]
    lines.append(f"tags: [{tags}]")
    lines += [f"{key}: {value}" for key, value in front.items()]
    write_post(root, f"{slug}.md", "\n".join(lines), f"All about {slug}.\n")


def sent_to(smtp_server, since: int = 0) -> dict[str, str]:
    """address -> subject of each message received after the first `since`."""
    return {
        rcpt: received.message["subject"]
        for received in smtp_server.received[since:]
        for rcpt in received.recipients
    }


def test_an_announcement_reaches_its_topics_readers_and_those_of_every_topic(
    site: Path, smtp_server
) -> None:
    readers_site(site, smtp_server)
    post(site, "food", T - timedelta(minutes=30), "food, walking")
    post(site, "general", T + timedelta(hours=1), "walking")  # in no topic: everyone
    first = scheduler.tick(at(site, T))
    assert first.campaigns == ["post:food (3 recipients)"]
    assert set(sent_to(smtp_server)) == {"nina@example.org", "nell@example.org", "eve@example.org"}

    later = len(smtp_server.received)
    scheduler.tick(at(site, T + timedelta(hours=2)))
    assert set(sent_to(smtp_server, later)) == set(EACH)


def test_queue_posts_and_dry_run_say_how_many_per_topic(site: Path, smtp_server) -> None:
    readers_site(site, smtp_server)
    post(site, "rest", T + timedelta(days=1), "sleep, anxiety")
    now = ["--now", (T + timedelta(minutes=1)).isoformat()]
    shown = run_publisher("queue", *now).stdout
    expected = "announced to 4 (Sleep 2, Anxiety and stress 1, every topic 1) when it goes live"
    assert expected in run_publisher("posts", *now).stdout
    assert "announced to 4 (Sleep 2, Anxiety and stress 1, every topic 1);" in shown
    later = ["--now", (T + timedelta(days=1, minutes=1)).isoformat()]
    dry = run_publisher("send", "rest", "--dry-run", *later)
    assert dry.stdout == (
        "post:rest: would be sent to 4 (Sleep 2, Anxiety and stress 1, every topic 1) "
        "subscribers; nothing sent (dry run)\n"
    )
    as_json = json.loads(run_publisher("queue", "--json", *now).stdout)
    assert as_json["posts"][0]["per_topic"] == {"sleep": 2, "anxiety": 1, "": 1}


def test_a_digest_holds_only_each_readers_posts(site: Path, smtp_server) -> None:
    readers_site(site, smtp_server)
    post(site, "food", T + timedelta(hours=1), "nutrition")
    post(site, "sleepy", T + timedelta(hours=2), "sleep")
    monday = datetime(2026, 3, 9, 9, 1, tzinfo=CHICAGO).astimezone(UTC)
    for moment in (T + timedelta(hours=3), monday):
        assert scheduler.tick(at(site, moment)).problems == []
    digests = {
        rcpt: received.message
        for received in smtp_server.received
        for rcpt in received.recipients
        if rcpt in DIGEST
    }
    assert set(digests) == set(DIGEST) - {"ada@example.org"}  # nothing new in anxiety

    def titles(message) -> list[str]:
        text = message.get_body(("plain",)).get_content()
        return [line for line in text.splitlines() if line in ("Food news", "Sleepy news")]

    assert titles(digests["dana@example.org"]) == ["Food news"]
    assert titles(digests["dora@example.org"]) == ["Sleepy news"]
    assert titles(digests["dee@example.org"]) == ["Sleepy news", "Food news"]
    assert titles(digests["dan@example.org"]) == ["Sleepy news", "Food news"]
    assert digests["dana@example.org"]["subject"] == "Stay connected: Food news"
    assert digests["dee@example.org"]["subject"] == "Stay connected: Sleepy news, and 1 more"
    keys = {c.key: c.total for c in campaigns(at(site, monday)) if c.kind == "digest"}
    assert keys == {
        "digest:2026-03-09": 2,
        "digest:2026-03-09.nutrition": 1,
        "digest:2026-03-09.sleep": 1,
    }
    # The archive shows the whole digest once; each edition has its page for its link.
    index = (site / "public" / "newsletter" / "index.html").read_text()
    assert index.count("/newsletter/digest-2026-03-09") == 1
    assert (site / "public" / "newsletter" / "digest-2026-03-09.sleep" / "index.html").exists()


def test_changing_topics_on_the_preferences_page_changes_the_next_send(
    site: Path, smtp_server, live_server
) -> None:
    readers_site(site, smtp_server)
    config = at(site, T)
    with Store.open(config) as store:
        nina = st.get_by_email(store, "nina@example.org")
        key = st.token_key(store, nina.id)
    app = create_app(config)
    url = live_server(app)
    token = load_tokens(config).make("preferences", nina.id, key, config.now)
    with httpx.Client(base_url=url, timeout=10) as client:
        page = client.get(f"/preferences?token={token}").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        fields = {"frequency": "each", "name": "", "topics": ["sleep"], "csrf": csrf}
        assert client.post(f"/preferences?token={token}", data=fields).status_code == 200
    post(site, "food", T + timedelta(minutes=5), "nutrition")
    post(site, "sleepy", T + timedelta(minutes=10), "sleep")
    scheduler.tick(at(site, T + timedelta(minutes=6)))
    assert "nina@example.org" not in sent_to(smtp_server)
    before = len(smtp_server.received)
    scheduler.tick(at(site, T + timedelta(minutes=11)))
    assert sent_to(smtp_server, before)["nina@example.org"] == "Sleepy news"


def campaigns(config) -> list:
    with Store.open(config) as store:
        return ledger.list_campaigns(store)


def test_editions_take_each_reader_once_on_both_databases(store) -> None:
    from publisher.mail.message import Newsletter
    from publisher.store import audience

    for n, chosen in enumerate(["sleep", "sleep,nutrition", "", "nutrition", "sleep"]):
        st.add(store, f"r{n}@example.org", now=NOW, frequency="digest", topics=chosen)
    st.add(store, "each@example.org", now=NOW, topics="sleep")  # another frequency

    def edition(key: str):
        return Newsletter(key, "digest", "Subject", "<p>Hi</p>", "Hi")

    made = audience.create_campaigns(
        store,
        [
            (edition("digest:x"), lambda value: value == ""),
            (edition("digest:x.sleep"), lambda value: "sleep" in value),
            (edition("digest:x.none"), lambda value: False),
        ],
        "digest",
        NOW,
    )
    assert [(c.key, c.total, created) for c, created in made] == [
        ("digest:x", 1, True),
        ("digest:x.sleep", 3, True),
        ("digest:x.none", 0, True),
    ]
    again = audience.create_campaigns(store, [(edition("digest:x"), None)], "digest", NOW)
    assert [(c.key, created) for c, created in again] == [("digest:x", False)]
