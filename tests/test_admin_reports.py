"""Reports in the Admin API and the console, over real HTTP: the same numbers as the
command line, each table as CSV, charts with their tables, and who may see them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from test_reports import count_clicks

from publisher.store import subscribers as store_subscribers

from conftest import insert_campaign


def test_reports_as_json_csv_and_pages(console_on) -> None:
    console = console_on
    started = datetime(2026, 12, 1, 9, tzinfo=UTC)  # the console's clock: Dec 1, 15:00
    campaign = insert_campaign(console.store, "post:hello", ["sent"] * 4, started_at=started)
    count_clicks(
        console.store, campaign, [(1, "r1", started), (1, "r2", started), (3, "r1", started)]
    )
    who = store_subscribers.get_by_email(console.store, "post-hello-0@example.com").id
    store_subscribers.unsubscribe(
        console.store, who, now=started, campaign_id=campaign, reason="too-many"
    )
    editor = console.staff("ed@example.org", "editor")

    found = editor.get("/admin/api/reports/campaigns/post:hello").json()
    assert (found["delivered"], found["clicks"], found["unique_clickers"]) == (4, 3, 2)
    assert found["unsubscribes"] == 1 and found["click_rate"] == 0.5
    assert [(k["text"], k["clicks"]) for k in found["links"]] == [
        ("Read on", 2),
        ("An older post", 0),
        ("the study", 1),
    ]
    links = editor.get("/admin/api/reports/campaigns/post:hello/links.csv")
    assert links.headers["content-type"].startswith("text/csv")
    assert 'filename="post-hello-links.csv"' in links.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(links.text)))
    assert rows[1] == [
        "1",
        "Read on",
        "https://blog.example.org/posts/hello/?utm_source=newsletter",
        "2",
        "2",
        "0",
    ]
    assert editor.get("/admin/api/reports/campaigns/post:nothing").status_code == 404
    assert editor.get("/admin/api/reports/campaigns/post:hello/nope.csv").status_code == 422

    audience = editor.get("/admin/api/reports/audience", params={"since": "2026-11-30"}).json()
    assert [d["day"] for d in audience["days"]] == ["2026-11-30", "2026-12-01"]
    assert audience["days"][-1]["active"] == 3 and audience["days"][-1]["unsubscribed"] == 1
    reasons = editor.get("/admin/api/reports/audience/reasons.csv", params={"since": "2026-11-30"})
    assert "Too many emails,1" in reasons.text.splitlines()
    later = editor.get("/admin/api/reports/audience", params={"since": "2027-01-01"})
    assert later.status_code == 422 and "after today" in later.json()["detail"]
    posts = editor.get("/admin/api/reports/posts").json()
    assert posts["posts"][0]["slug"] == "hello"

    page = editor.get("/admin/reports/campaigns/post:hello")
    assert page.status_code == 200
    assert page.text.count('<svg class="chart"') == 2  # links and hours
    assert '<th scope="row">1</th>' in page.text and "Download as CSV" in page.text
    overview = editor.get("/admin/reports", params={"since": "2026-11-30"})
    assert overview.status_code == 200 and overview.text.count('<svg class="chart"') >= 3
    assert (
        'href="/admin/reports/campaigns/post:hello"'
        in editor.get("/admin/campaigns/post:hello").text
    )

    author = console.staff("au@example.org", "author")
    assert author.get("/admin/api/reports/audience").status_code == 403
    assert author.get("/admin/reports").status_code == 403
