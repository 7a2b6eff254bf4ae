"""Rendering newsletters: absolute URLs, UTM, inlined CSS, text part, digests, checks, previews."""

from __future__ import annotations

import email
import html
import re
from email import policy
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from click.testing import CliRunner

from publisher.checks import lint, subjects
from publisher.cli import main
from publisher.config import load_config
from publisher.content.posts import load_posts
from publisher.errors import ConfigError
from publisher.mail.message import PLACEHOLDERS
from publisher.mail.newsletter import digest_subject, render_digest, render_post
from publisher.mail.plaintext import html_to_text
from publisher.store import clicks
from publisher.store.db import Store
from publisher.web.previews import email_preview_routes

from conftest import link_target, message_to_ann, write_post

NOW = "2026-03-02T15:00:00+00:00"
UTM = "utm_source=newsletter&utm_medium=email&utm_campaign="
BODY = """\
Intro with [a relative link](../other-post/), [a root link](/about/), [external](https://example.com/x)
and [a mail](mailto:hi@example.org).

![A chart](chart.png)

## Tips

- Sleep [early](#tips)
- Keep it dark

```
<a href="keep-me.html">code keeps its text</a>
```
"""


def load(site: Path, **env: str):
    return load_config(site / "config" / "site.toml", now=NOW, env=env)


def sleep_post(site: Path, **front: str) -> None:
    fields = {"title": "Sleep well", "date": "2026-03-01 09:00", "summary": "Why sleep matters."}
    fields |= front
    write_post(site, "2026-03-01-sleep.md", "\n".join(f"{k}: {v}" for k, v in fields.items()), BODY)


def hrefs(html: str) -> list[str]:
    return [h.replace("&amp;", "&") for h in re.findall(r'<a\b[^>]*\bhref="([^"]*)"', html)]


def test_post_email_links_are_absolute_and_tracked(site: Path):
    sleep_post(site)
    config = load(site)
    newsletter = render_post(config, load_posts(config)[0])
    assert (newsletter.key, newsletter.kind, newsletter.subject) == (
        "post:sleep-well",
        "post",
        "Sleep well",
    )
    links = hrefs(newsletter.html)
    slots = set(PLACEHOLDERS.values())
    assert all(h in slots or h.startswith(("https://", "mailto:")) for h in links), links
    assert f"https://blog.example.org/posts/other-post/?{UTM}sleep-well" in links
    assert f"https://blog.example.org/about/?{UTM}sleep-well" in links
    assert f"https://blog.example.org/posts/sleep-well/?{UTM}sleep-well#tips" in links
    assert "https://example.com/x" in links  # other sites get no UTM
    assert "mailto:hi@example.org" in links
    assert 'src="https://blog.example.org/posts/sleep-well/chart.png"' in newsletter.html
    assert re.search(r'<img alt="A chart" src="[^"]+" width="536"', newsletter.html)
    assert '<a href="keep-me.html"' not in newsletter.html  # code shows its text unchanged
    assert '&lt;a href="keep-me.html"&gt;' in newsletter.html


def test_utm_can_be_turned_off(site: Path):
    sleep_post(site)
    config = load(site, PUBLISHER_NEWSLETTER_UTM="false")
    assert "utm_" not in render_post(config, load_posts(config)[0]).html


def test_css_is_inlined_and_media_rules_keep_important(site: Path):
    sleep_post(site)
    config = load(site)
    html = render_post(config, load_posts(config)[0]).html
    for tag in ("p", "h2", "li", "pre", "a", "img", "h1"):
        for element in re.findall(rf"<{tag}\b[^>]*>", html):
            assert "style=" in element, element
    style = re.search(r"<style>(.*?)</style>", html, re.DOTALL).group(1)
    assert "@media only screen and (max-width: 620px)" in style
    assert "width: 100% !important" in style
    assert "prefers-color-scheme: dark" in style
    assert '<meta name="color-scheme" content="light dark">' in html
    assert 'class="preheader"' in html and "Why sleep matters." in html
    assert html.startswith("<!DOCTYPE html>")


def test_footer_has_the_links_and_address(site: Path):
    sleep_post(site)
    config = load(site)
    newsletter = render_post(config, load_posts(config)[0])
    for content in (newsletter.html, newsletter.text):
        for slot, token in PLACEHOLDERS.items():  # the reader's goes in tracked links only
            assert (token in content) == (slot != "reader")
        assert "1 Main St, Springfield" in content
        assert "https://blog.example.org/posts/sleep-well/?" in content  # view in browser


def test_text_part_is_readable_with_numbered_links(site: Path):
    sleep_post(site)
    config = load(site)
    text = render_post(config, load_posts(config)[0]).text
    assert "Sleep well\nMarch 1, 2026" in text
    assert "Tips\n----" in text
    assert "- Keep it dark" in text
    assert "a relative link [1]" in text
    assert f"[1] https://blog.example.org/posts/other-post/?{UTM}sleep-well" in text
    assert '    <a href="keep-me.html">code keeps its text</a>' in text
    assert all(len(line) <= 78 or "://" in line for line in text.splitlines())


def test_excerpt_mode_shows_summary_and_button(site: Path):
    sleep_post(site, image="cover.jpg")
    config = load(site, PUBLISHER_NEWSLETTER_CONTENT="excerpt")
    newsletter = render_post(config, load_posts(config)[0])
    assert "Read on the blog" in newsletter.html
    assert "Why sleep matters." in newsletter.text
    assert "Keep it dark" not in newsletter.html
    assert re.search(
        r'<img class="hero" src="https://blog\.example\.org/cover\.jpg" width="536" alt="Sleep well"',
        newsletter.html,
    )


def test_digest_is_newest_first_and_capped(site: Path):
    for day in range(1, 6):
        write_post(site, f"2026-02-0{day}-p.md", f"title: Post {day}\ndate: 2026-02-0{day} 09:00")
    write_post(site, "2026-03-05-future.md", "title: Future\ndate: 2026-03-05 09:00")
    config = load(site, PUBLISHER_DIGEST_MAX_POSTS="3")
    posts = [p for p in load_posts(config) if p.is_live(config.now)]
    newsletter = render_digest(config, posts, "2026-W10")
    assert newsletter.key == "digest:2026-W10" and newsletter.kind == "digest"
    assert newsletter.subject == "Stay connected: Post 5, and 2 more"
    titles = re.findall(r'class="item-title"[^>]*><a [^>]*>([^<]+)</a>', newsletter.html)
    assert titles == ["Post 5", "Post 4", "Post 3"]
    assert [line for line in newsletter.text.splitlines() if line.startswith("Post ")] == titles
    assert f"{UTM}2026-W10" in newsletter.html.replace("&amp;", "&")
    assert "Future" not in newsletter.html


def test_digest_subject_template_errors_are_clear(site: Path):
    config = load(site, PUBLISHER_DIGEST_SUBJECT="News {when}")
    with pytest.raises(ConfigError, match=r"\[digest\] subject: 'when'; only {first_title}, "):
        render_digest(config, [], "x")


def test_digest_subject_names_its_posts(site: Path):
    write_post(site, "a.md", "title: Food and mood\ndate: 2026-02-03 09:00")
    write_post(site, "b.md", "title: Sleep\ndate: 2026-02-02 09:00")
    config = load(site)
    posts = load_posts(config)
    assert digest_subject(config, posts[:1]) == "Stay connected: Food and mood"
    config = load(site, PUBLISHER_DIGEST_SUBJECT="{count} new: {first_title} on {title}, {date}")
    assert digest_subject(config, posts) == (
        "2 new: Food and mood on Test Clinic Blog, March 2, 2026"
    )


def test_digest_subject_moved_from_newsletter_is_still_read(site: Path):
    path = site / "config" / "old.toml"
    path.write_text('[newsletter]\ndigest_subject = "Our news, {date}"\n', encoding="utf-8")
    config = load_config(path, now=NOW, env={})
    assert config.digest.subject == "Our news, {date}"
    assert config.warnings == (
        "[newsletter] digest_subject is now [digest] subject; move it there",
    )
    config = load_config(path, now=NOW, env={"PUBLISHER_NEWSLETTER_DIGEST_SUBJECT": "Hi {title}"})
    assert config.digest.subject == "Hi {title}"
    assert (
        "PUBLISHER_NEWSLETTER_DIGEST_SUBJECT is now PUBLISHER_DIGEST_SUBJECT" in config.warnings[0]
    )


def test_plaintext_renderer():
    html = (
        "<h1>Title &amp; more</h1><p>One <a href='https://x.org/a'>link</a> and"
        " <a href='https://x.org/a'>again</a>.</p><ol><li>first</li><li>second<ul><li>inner</li>"
        "</ul></li></ol><blockquote><p>quoted</p></blockquote><script>alert(1)</script>"
        "<p>" + "word " * 40 + "</p>"
    )
    text = html_to_text(html)
    assert text.startswith("Title & more\n============\n\nOne link [1] and again [1].")
    assert "1. first\n2. second\n  - inner" in text
    assert "> quoted" in text and "alert" not in text
    assert text.endswith("[1] https://x.org/a\n")
    assert max(len(line) for line in text.splitlines()) <= 78


# --- checks -------------------------------------------------------------------------


def test_lint_warns_about_what_a_person_should_fix(site: Path):
    write_post(
        site,
        "2026-03-02-new.md",
        f"title: {'Long ' * 40}\ndate: 2026-03-02 08:00",
        "![](pic.png) and <a href='page.html'>raw link</a>",
    )
    config = load(site, PUBLISHER_NEWSLETTER_POSTAL_ADDRESS="", PUBLISHER_DKIM_DOMAIN="other.net")
    errors, warnings = lint(config, load_posts(config))
    assert errors == []
    joined = "\n".join(warnings)
    assert "postal_address is empty" in joined
    assert "DMARC alignment fails" in joined
    assert "an image has no alt text" in joined
    assert subjects(config, load_posts(config)).warnings == [
        "posts/2026-03-02-new.md: title: the subject is 199 characters (over 150)"
    ]
    assert "not absolute" not in joined  # raw HTML links in posts are rewritten too


def test_lint_warns_about_relative_links_in_site_templates(site: Path):
    sleep_post(site)
    override = site / "templates" / "email" / "post.html"
    override.parent.mkdir(parents=True)
    override.write_text(
        '{% extends "base.html" %}{% block content %}<a href="about.html">About</a>{% endblock %}'
    )
    config = load(site)
    errors, warnings = lint(config, load_posts(config))
    assert errors == []
    assert warnings == ["post:sleep-well: a link is not absolute: 'about.html'"]


def test_check_reports_header_injection_as_an_error_and_every_warning(site: Path):
    write_post(
        site, "2026-03-01-bad.md", 'title: "Hello\\r\\nBcc: victim@example.com"\ndate: 2026-03-01'
    )
    env = {"PUBLISHER_NEWSLETTER_POSTAL_ADDRESS": ""}
    result = CliRunner().invoke(main, ["check", "--now", NOW], env=env)
    assert result.exit_code == 2, result.output
    assert result.stdout == "checked 1 post: 1 error, 1 warning\n"
    [error, warning] = sorted(result.stderr.splitlines())
    assert error.startswith("error: ") and "contains a line break" in error
    assert warning == (
        "warning: [newsletter] postal_address is empty: the law (CAN-SPAM) requires one"
    )


def test_check_renders_only_newsletters_that_could_still_be_sent(
    site: Path, monkeypatch: pytest.MonkeyPatch
):
    """Old posts are never announced again, so their emails are not rendered (premailer
    takes ~0.1 s per email: a blog with 1,000 posts would take 10 s to check)."""
    from publisher.mail import newsletter

    dates = {
        "old": "2026-02-01 09:00",
        "edge": "2026-02-28 09:00",  # exactly announce_max_age (2 days) ago: still announced
        "recent": "2026-03-01 09:00",
        "queued": "2026-03-09 09:00",
        "draft": "2026-03-01 10:00\ndraft: true",
        "quiet": "2026-03-01 11:00\nemail: false",
    }
    for slug, date in dates.items():
        write_post(site, f"{slug}.md", f"title: {slug.title()}\ndate: {date}", "Text.")
    rendered = []

    def spy(real):
        def render(*args):
            result = real(*args)
            rendered.append(result.key)
            return result

        return render

    for name in ("render_post", "render_digest"):
        monkeypatch.setattr(newsletter, name, spy(getattr(newsletter, name)))
    config = load(site)
    assert lint(config, load_posts(config)) == ([], [])
    assert sorted(rendered) == ["digest:next", "post:edge", "post:queued", "post:recent"]


def test_check_reports_pictures_mail_clients_drop_and_missing_files(site: Path):
    """SVG (and WebP, AVIF) do not show in Gmail or Outlook, nor SVG as og:image; a local
    picture that does not exist shows nowhere. Each is an error naming the file and line."""
    static = site / "templates" / "site" / "static" / "images"
    static.mkdir(parents=True)
    (static / "moon.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    write_post(site, "a.md", "title: A\ndate: 2026-03-01 09:00\nimage: /static/images/moon.svg")
    write_post(site, "b.md", "title: B\ndate: 2026-03-01 10:00\nimage: /static/images/gone.png")
    body = "Text.\n\n![A chart](/static/images/chart.webp)\n"
    write_post(site, "c.md", "title: C\ndate: 2026-03-01 11:00", body)
    result = CliRunner().invoke(main, ["check", "--now", NOW])
    assert result.exit_code == 2, result.output
    errors = sorted(result.stderr.splitlines())
    assert errors == [
        "error: posts/a.md:4: image /static/images/moon.svg: SVG, which Gmail and Outlook do "
        "not show in email and social cards; use a PNG, JPEG or GIF file",
        "error: posts/b.md:4: image /static/images/gone.png: no such file in "
        "templates/site/static/; add it or fix the path",
        "error: posts/c.md:8: picture /static/images/chart.webp: WebP, which Gmail and "
        "Outlook do not show in emails; use a PNG, JPEG or GIF file",
    ]


def test_the_post_picture_is_in_every_email_with_width_height_and_alt(sample_site: Path):
    config = load_config(sample_site / "config" / "site.toml", now="2026-12-01T15:00:00Z", env={})
    posts = load_posts(config)
    sleep = next(p for p in posts if p.image.endswith("sleep.png"))
    picture = (
        '<img class="hero" src="https://blog.riverbend-psychiatry.example/static/images/'
        'sleep.png" width="536" height="281" alt="A crescent moon and stars over dark, rolling hills"'
    )
    for content in ("full", "excerpt"):
        excerpt = load_config(
            sample_site / "config" / "site.toml",
            now="2026-12-01T15:00:00Z",
            env={"PUBLISHER_NEWSLETTER_CONTENT": content},
        )
        assert picture in render_post(excerpt, sleep, posts).html, content
    digest = render_digest(config, [sleep], "2026-11-30").html
    assert picture.replace("<img", "<a").split(" src=")[0] not in digest  # a link around it
    assert 'width="536" height="281" alt="Sleep and Mood' in digest
    assert CliRunner().invoke(main, ["check", "--now", "2026-12-01T15:00:00Z"]).exit_code == 0


def test_check_wants_public_https_addresses_when_mail_goes_out(site: Path):
    env = {"PUBLISHER_DELIVERY_TRANSPORT": "smtp", "PUBLISHER_WEB_URL": "http://127.0.0.1:8000"}
    result = CliRunner().invoke(main, ["check", "--now", NOW], env=env)
    assert result.exit_code == 2
    assert (
        "error: [web] url http://127.0.0.1:8000 is not https and [delivery] transport is smtp"
        in result.stderr
    )
    env["PUBLISHER_WEB_URL"] = "https://localhost"
    result = CliRunner().invoke(main, ["check", "--now", NOW], env=env)
    assert "error: [web] url https://localhost is a local address" in result.stderr
    env["PUBLISHER_DELIVERY_TRANSPORT"] = "file"  # trying things out locally: fine
    assert CliRunner().invoke(main, ["check", "--now", NOW], env=env).exit_code == 0


def test_check_passes_a_clean_site(site: Path):
    sleep_post(site)
    result = CliRunner().invoke(main, ["check", "--now", NOW])
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.output


# --- previews -----------------------------------------------------------------------


def test_preview_command_writes_html_and_eml(site: Path, tmp_path: Path):
    sleep_post(site)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["preview", "sleep-well", "--out", str(out), "--now", NOW])
    assert result.exit_code == 0, result.output
    paths = [Path(line) for line in result.output.splitlines()]
    assert paths == [out / "post-sleep-well.html", out / "post-sleep-well.eml"]
    message = email.message_from_bytes(paths[1].read_bytes(), policy=policy.default)
    assert message["To"] == "Preview Reader <news@example.org>"
    assert "unsubscribe?token=0." in message["List-Unsubscribe"]
    assert "Hi Preview Reader," in paths[0].read_text()

    result = CliRunner().invoke(main, ["preview", "--digest", "--now", NOW])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == str(site / "data" / "email-preview" / "digest.html")

    result = CliRunner().invoke(main, ["preview", "nope", "--now", NOW])
    assert result.exit_code == 2 and "no post with the slug 'nope'" in result.output


def test_preview_routes(site: Path, live_server):
    from publisher.web.serve import preview_app

    sleep_post(site)
    config = load(site)
    base = live_server(preview_app(config, extra_routes=email_preview_routes(config)))
    client = httpx.Client(base_url=base)
    index = client.get("/_email/")
    assert index.status_code == 200 and 'href="post-sleep-well.html"' in index.text
    assert "Sleep well" in client.get("/_email/post-sleep-well.html").text
    assert "Read on the blog" in client.get("/_email/post-sleep-well.txt").text
    assert client.get("/_email/digest.eml").headers["content-type"] == "message/rfc822"
    assert client.get("/_email/post-nope.html").status_code == 404


def test_inlining_is_quiet_and_leaves_logging_alone(site: Path, capfd):
    import logging

    sleep_post(site)
    config = load(site)
    root_level, root_handlers = logging.getLogger().level, list(logging.getLogger().handlers)
    render_post(config, load_posts(config)[0])
    assert capfd.readouterr().err == ""  # no cssutils 'Unknown Property' noise
    assert logging.getLogger().level == root_level
    assert logging.getLogger().handlers == root_handlers


@pytest.mark.parametrize("kind", ["post", "digest"])
def test_every_produced_eml_is_complete(site: Path, kind: str):
    sleep_post(site, image="cover.jpg")
    config = load(site)
    posts = load_posts(config)
    rendered = (
        render_post(config, posts[0], posts)
        if kind == "post"
        else render_digest(config, posts, "w")
    )
    message = message_to_ann(config, rendered, "7")
    for header in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Id"):
        assert message[header], header
    # no mailto: nothing reads a mailbox without [inbound] (tests/test_inbound.py)
    assert message["List-Unsubscribe"] == "<https://blog.example.org/unsubscribe?token=7.a>"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "__PUBLISHER_" not in text + html
    assert all(h.startswith(("https://", "mailto:")) for h in hrefs(html)), hrefs(html)
    body = re.sub(r"<!--.*?-->", "", html[html.index("<body") :], flags=re.DOTALL)  # Outlook's
    for element in re.findall(r"<(?:p|a|td|h1|h2|li|img)\b[^>]*>", body):
        assert "style=" in element, element
    for url in ("token=7.a", "token=7.b", "https://blog.example.org/posts/sleep-well/?"):
        assert url in text


def test_preview_digest_is_the_digest_tick_sends(site: Path, smtp_server):
    """`preview --digest` at T and the digest `tick` sends at T: the same posts, in the same
    order (on main the preview showed the five newest back-catalogue posts instead)."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from publisher.schedule import tick as scheduler
    from publisher.store import Store
    from publisher.store.subscribers import add

    from conftest import write_relay_config

    write_relay_config(site, smtp_server.port, extra='[digest]\nevery = "monday"\nat = "09:00"\n')
    monday = datetime(2026, 3, 9, 9, 0, tzinfo=ZoneInfo("America/Chicago")).astimezone(UTC)
    for day in range(1, 7):  # back catalogue, live before the first tick
        write_post(site, f"old-{day}.md", f"title: Old {day}\ndate: 2026-02-0{day} 09:00")
    first = load_config(site / "config" / "site.toml", now=monday - timedelta(days=6))
    with Store.open(first) as store:
        add(store, "dee@example.org", now=first.now, frequency="digest")
    assert scheduler.tick(first).problems == []
    for day, title in ((4, "Wednesday"), (5, "Thursday"), (6, "Friday")):
        write_post(site, f"new-{day}.md", f"title: {title} notes\ndate: 2026-03-0{day} 09:00")
    write_post(site, "quiet.md", "title: Quiet\ndate: 2026-03-07 09:00\nemail: false")
    moment = (monday + timedelta(minutes=1)).isoformat()

    out = site / "preview"
    result = CliRunner().invoke(main, ["preview", "--digest", "--out", str(out), "--now", moment])
    assert result.exit_code == 0, result.output
    preview = email.message_from_bytes((out / "digest.eml").read_bytes(), policy=policy.default)
    assert scheduler.tick(load_config(site / "config" / "site.toml", now=moment)).problems == []
    [sent] = [m for m in smtp_server.messages() if m["Subject"] == preview["Subject"]]

    def titles(message) -> list[str]:
        html = message.get_body(preferencelist=("html",)).get_content()
        return re.findall(r'class="item-title"[^>]*><a [^>]*>([^<]+)</a>', html)

    assert titles(preview) == ["Friday notes", "Thursday notes", "Wednesday notes"]
    assert titles(sent) == titles(preview)


def test_preview_send_to_and_a_subscriber_get_the_same_message(site: Path, live_server):
    """One code path: `preview`, /_email/ and `send --to` show byte for byte what a
    subscriber receives, once the personal tokens (and the [TEST] marks) are set aside."""
    from publisher.web.serve import preview_app

    from conftest import run_publisher

    sleep_post(site)
    out = site / "preview"
    at = ("--now", NOW)
    assert run_publisher("preview", "sleep-well", "--out", str(out), *at).returncode == 0
    add = run_publisher("subscribers", "add", "news@example.org", "--name", "Preview Reader", *at)
    assert add.returncode == 0, add.stderr
    test = run_publisher("send", "sleep-well", "--to", "news@example.org", *at)
    assert test.returncode == 0, test.stderr
    assert re.fullmatch(
        r"sent a \[TEST\] copy of post:sleep-well to news@example.org \(saved as \S+\.eml\)\n",
        test.stdout,
    )
    sent = run_publisher("send", "sleep-well", *at)
    assert "campaign created for 1 subscriber\n" in sent.stdout, sent.stdout + sent.stderr
    test_copy, received = [f.read_bytes() for f in sorted((site / "data/outbox/new").glob("*.eml"))]
    preview = (out / "post-sleep-well.eml").read_bytes()
    with Store.open(load(site)) as store, store.read() as conn:
        targets = {link.number: link.url for link in clicks.links(conn, 1)}

    def direct(text: str) -> str:
        """The subscriber's copy with its links through the click redirect (previews and
        test copies count no clicks) pointing at their targets, and the MIME boundary (made
        from the content, so from those links) set aside."""
        tracked = r"https://blog\.example\.org/l/1/([0-9]+)/[\w.-]+"
        text = re.sub(tracked, lambda m: targets[int(m[1])], html.unescape(text))
        return re.sub(r"==publisher-[0-9a-f]+", "==publisher-B", text)

    # A subscriber's links: the signed token, and the campaign their unsubscribe counts for.
    token = re.compile(r"token=[\w.=-]+(?:&(?:amp;)?campaign=\d+)?")
    browser = re.compile(r'https://[^"\s]+(?="[^>]*>View in browser)|(?<=View in browser: )\S+')

    def tokens_aside(data: bytes, test_marks: bool = False) -> list[list[str]]:
        """Every header and decoded part, with the signed tokens and the Date (the time
        each message is built) set aside (and, for the test copy, its [TEST] marks, and the
        name, Message-ID, "View in browser" link (the post's) and so MIME boundary it has)."""
        message = email.message_from_bytes(data, policy=policy.default)
        found = []
        aside = {"Date", "Message-ID"} if test_marks else {"Date"}
        for part in (message, *message.iter_parts()):
            lines = [f"{k}: {v}" for k, v in part.items() if k not in aside]
            lines += [part.get_content()] if part is not message else []
            text = token.sub("token=T", "\n".join(lines))
            if test_marks:
                text = re.sub(r'boundary="[^"]+"', "", browser.sub("BROWSER", text))
                text = text.replace("Subject: [TEST] ", "Subject: ").replace(
                    "Hi there", "Hi Reader"
                )
                text = text.replace("To: news@example.org", "To: Reader <news@example.org>")
            found.append(direct(text.replace("Preview Reader", "Reader")))
        return found

    assert tokens_aside(received) == tokens_aside(preview)
    assert tokens_aside(test_copy, test_marks=True) == tokens_aside(preview, test_marks=True)

    config = load(site)
    base = live_server(preview_app(config, extra_routes=email_preview_routes(config)))
    client = httpx.Client(base_url=base)
    message = email.message_from_bytes(received, policy=policy.default)
    for kind, subtype in (("html", "html"), ("txt", "plain")):
        shown = client.get(f"/_email/post-sleep-well.{kind}").text
        part = message.get_body(preferencelist=(subtype,)).get_content().replace("\r\n", "\n")
        shown, part = direct(shown), direct(part)
        assert token.sub("T", shown) == token.sub("T", part)


def test_send_puts_the_issue_in_the_web_archive_and_a_test_copy_links_the_post(site: Path):
    """Issue 20 item 16: after `send SLUG`, "View in browser" was a 404 and /newsletter/
    said "No newsletter sent yet" until someone ran `build`; a [TEST] copy linked an issue
    page that will never exist."""
    from conftest import run_publisher

    sleep_post(site)
    at = ("--now", NOW)
    assert run_publisher("subscribers", "add", "ann@example.org", *at).returncode == 0
    test = run_publisher("send", "sleep-well", "--to", "me@example.org", *at)
    assert test.returncode == 0, test.stderr
    [copy] = (site / "data/outbox/new").glob("*.eml")
    text = email.message_from_bytes(copy.read_bytes(), policy=policy.default)
    text = text.get_body(preferencelist=("plain",)).get_content()
    assert "View in browser: https://blog.example.org/posts/sleep-well/?utm_" in text
    copy.unlink()

    sent = run_publisher("send", "sleep-well", *at)
    assert sent.returncode == 0, sent.stderr
    assert "newsletter archive: " in sent.stdout, sent.stdout
    [received] = (site / "data/outbox/new").glob("*.eml")
    message = email.message_from_bytes(received.read_bytes(), policy=policy.default)
    text = message.get_body(("plain",)).get_content()
    path = urlsplit(link_target(load(site), text, "View in browser:")).path
    assert path == "/newsletter/post-sleep-well/"
    assert "Sleep well" in (site / "public" / path.strip("/") / "index.html").read_text()
    index = (site / "public/newsletter/index.html").read_text()
    assert "No newsletter sent yet" not in index and 'href="/newsletter/post-sleep-well/"' in index


def test_scripts_frames_forms_and_javascript_links_are_left_out_of_the_email(site: Path):
    """Issue 20 item 20: a post's raw <script>, <iframe>, <form> and javascript: links
    reached the email, where mail clients drop or flag them (`check` warns about them)."""
    body = (
        "Intro.\n\n<script>track()</script>\n\n"
        '<iframe src="https://maps.example.com/embed">Map</iframe>\n\n'
        '<form action="https://evil.example.net/login"><input name="pw"> Log in</form>\n\n'
        "A [trap](javascript:alert(1)) and "
        '<a href=" jav&#x09;ascript:alert(2)">another</a> and <EMBED src="x.swf">.\n\n'
        "<script>unclosed()\n"
    )
    write_post(site, "a.md", "title: A\ndate: 2026-03-01 09:00", body)
    config = load(site)
    newsletter = render_post(config, load_posts(config)[0])
    for part in (newsletter.html.lower(), newsletter.text.lower()):
        for left_out in ("<script", "track()", "<iframe", "<form", "log in", "<embed", "unclosed"):
            assert left_out not in part
        assert "javascript" not in part and "ascript:" not in part
    assert "trap" in newsletter.text and "another" in newsletter.text


def test_text_part_headings_code_and_footnotes_read_as_text():
    """Issue 20 item 19: h3 came out as `### ...`, footnotes as `[^1]` beside the numbered
    links `[1]`, and code ran to 230 columns."""
    code = "result = compute(" + ", ".join(f"argument_{n}" for n in range(12)) + ")"
    html = (
        "<h3>A simple routine</h3><p>Text.</p><h4>Smaller</h4>"
        f"<pre><code>{code}\n    short = 1</code></pre>"
    )
    text = html_to_text(html)
    assert text.startswith("A simple routine\n~~~~~~~~~~~~~~~~\n\nText.\n\nSmaller\n\n")
    assert "#" not in text
    code_lines = text.split("Smaller\n\n")[1].splitlines()
    assert max(len(line) for line in code_lines) <= 78 and len(code_lines) == 4
    assert code_lines[0].startswith("    result = compute(argument_0,")
    assert code_lines[1].startswith("      argument_")  # a continuation, indented further
    assert code_lines[3] == "        short = 1"
    assert " ".join(line.strip() for line in code_lines[:3]) == code


def test_every_text_part_of_the_sample_site_fits_78_columns(tmp_path: Path):
    """Issue 20 item 19 on the sample site's emails: 'More from the blog' lines ran to 272
    columns (title and URL on one line), footnotes read [^1] beside links [1], and the
    author was left out. A URL cannot be broken: it stands on its own line, after at most
    a short label."""
    from conftest import copy_sample_site, sample_emails

    root = copy_sample_site(tmp_path / "sample")
    texts = {}
    for name, data in sample_emails(root).items():
        message = email.message_from_bytes(data, policy=policy.default)
        text = message.get_body(preferencelist=("plain",)).get_content()
        texts[name] = text.replace("\r\n", "\n")
    for name, text in texts.items():
        for line in text.splitlines():
            label = re.sub(r"https?://\S+", "", line)
            assert len(line) <= 78 or (label != line and len(label) <= 20), (name, line)
    sleep = texts["post-sleep-and-mood-why-your-nights-shape-your-days"]
    assert "[^" not in sleep and "###" not in sleep
    assert "lever.\u00b9" in sleep and "\n\u00b9 Freeman et al., 2017 (reference 1)." in sleep
    assert "A simple wind-down routine\n~~~~" in sleep
    assert re.search(r"\n.* min read · Dr\. [^\n]+\n", sleep), sleep[:300]


def test_each_email_says_what_to_do_next(tmp_path: Path):
    """Issue 20 item 18: the welcome had no visible call to action and its "View in
    browser" opened the home page; full-text emails had no "read on the blog / reply /
    forward" line; every digest link read "Read more"."""
    from conftest import copy_sample_site, sample_emails

    root = copy_sample_site(tmp_path / "sample")
    parts = {}
    for name, data in sample_emails(root).items():
        message = email.message_from_bytes(data, policy=policy.default)
        html = message.get_body(preferencelist=("html",)).get_content()
        text = message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
        parts[name] = (html, text)

    def link_texts(html: str) -> list[str]:
        return [re.sub(r"<[^>]+>", "", t).strip() for t in re.findall(r"<a\b[^>]*>(.*?)</a>", html)]

    html, text = parts["welcome"]
    assert re.search(r'<a [^>]*class="button"[^>]*>Visit [^<]+</a>', html), html
    assert "View in browser" not in html + text
    titles = re.findall(r'class="item-title"[^>]*><a [^>]*>([^<]+)</a>', html)
    assert titles and all(f"Read \u201c{title}\u201d" in link_texts(html) for title in titles)
    html, text = parts["post-sleep-and-mood-why-your-nights-shape-your-days"]  # full text
    for words in ("Read on the blog", "reply to this email", "Forward it"):
        assert words in html and words in text, words
    html, _ = parts["digest"]
    reads = [t for t in link_texts(html) if t.startswith("Read")]
    assert len(reads) > 2 and len(set(reads)) == len(reads) and "Read more" not in reads


def test_an_archived_issue_is_a_page_of_the_site(site: Path):
    """Issue 20 item 18: an issue's page was the bare email, with no main landmark,
    canonical link, description, site navigation or subscribe form, and /newsletter/ was
    linked from no blog page."""
    from conftest import run_publisher

    sleep_post(site)
    at = ("--now", NOW)
    assert run_publisher("subscribers", "add", "ann@example.org", *at).returncode == 0
    sent = run_publisher("send", "sleep-well", *at)
    assert sent.returncode == 0, sent.stderr
    page = (site / "public/newsletter/post-sleep-well/index.html").read_text()
    assert page.count("<main") == 1 and "</main>" in page
    url = "https://blog.example.org/newsletter/post-sleep-well/"
    assert f'<link rel="canonical" href="{url}">' in page
    description = re.search(r'<meta name="description" content="([^"]+)">', page)
    assert description and "Sleep well" in description.group(1)
    nav = re.search(r'<nav aria-label="Main"[^>]*>(.*?)</nav>', page, re.DOTALL).group(1)
    assert 'href="/"' in nav and 'href="/newsletter/"' in nav
    assert re.search(r'<form method="post" action="[^"]+/subscribe">', page)
    assert "token=" not in page and "ann@example.org" not in page
    for blog_page in ("index.html", "posts/sleep-well/index.html", "archive/index.html"):
        assert 'href="/newsletter/"' in (site / "public" / blog_page).read_text(), blog_page


def test_text_part_lays_out_tables_and_footnotes():
    """On main: table rows wrapped raggedly with a blank line after the header row, and
    footnotes came out as 'ends.2 [2]' and '↩ [6]', numbered links to the web page."""
    from publisher.mail.newsletter import absolute_html

    narrow = (
        "<table><thead><tr><th>Food</th><th>Serving</th></tr></thead><tbody>"
        "<tr><td>Oats</td><td>1 cup</td></tr><tr><td>Salmon</td><td>120 g</td></tr></tbody></table>"
    )
    assert (
        html_to_text(narrow) == "Food    Serving\n------  -------\nOats    1 cup\nSalmon  120 g\n"
    )
    wide = narrow.replace("1 cup", "one cup, cooked in water or milk, with fruit " * 2)
    assert html_to_text(wide).startswith("Oats\n  Serving: one cup, cooked in water or milk")
    post = (
        '<p>It ends.<sup id="fnref:a"><a class="footnote-ref" href="#fn:a">1</a></sup></p>'
        '<div class="footnote"><hr><ol><li id="fn:a"><p>Freeman, 2017.&#160;'
        '<a class="footnote-backref" href="#fnref:a" title="Jump back">&#8617;</a></p></li>'
        "</ol></div>"
    )
    html = absolute_html(post, "https://blog.example.org/posts/p/", lambda url: url)
    assert "href" not in html and "&#8617;" not in html
    assert html_to_text(html) == "It ends.¹\n\n--------------------\n\n¹ Freeman, 2017.\n"
