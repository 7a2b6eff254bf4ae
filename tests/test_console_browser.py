"""The staff console in headless Chromium, as staff use it: `publisher staff add` emails a
sign-in link, the link's page signs in by its button (a POST), the pages are walked, and
each is checked by axe-core in light and dark and for sideways scrolling at 375 px.

Screenshots for the docs: with PUBLISHER_SCREENSHOTS=docs/images the pages are written
there under stable names (console-*.png), otherwise into test-artifacts/.
"""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from publisher import store as st

from conftest import (
    horizontal_overflow,
    png,
    run_publisher,
    wait_for,
    write_config,
    write_post,
)

pytestmark = pytest.mark.browser
NOW = "2026-12-01T15:00:00Z"  # the console fixture's clock


def staff_add(console, email: str, role: str) -> str:
    """`publisher staff add` in a real process; the sign-in link from the email it sent."""
    done = run_publisher(
        "staff",
        "add",
        email,
        "--name",
        email.split("@")[0].title(),
        "--role",
        role,
        "--now",
        NOW,
        cwd=console.config.root,
        env={"PUBLISHER_WEB_URL": console.url},
    )
    assert done.returncode == 0, done.stderr
    outbox = console.config.delivery.outbox / "new"

    def mail():
        for file in sorted(outbox.glob("*.eml")) if outbox.is_dir() else []:
            message = message_from_bytes(file.read_bytes(), policy=policy.default)
            if message["To"].addresses[0].addr_spec == email:
                return message
        return None

    wait_for(mail, failure=lambda: f"no sign-in email to {email}: {done.stdout}")
    message = mail()
    return re.search(r"http\S+sign-in/link\S+", message.get_body(("plain",)).get_content()).group(0)


def sign_in(browser, link: str, width: int = 1280, scheme: str = "light"):
    """A browser context signed in by the link's button; its page and the errors seen."""
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(  # a preview reloaded while it loads is cancelled: that is no failure
        "requestfailed",
        lambda r: errors.append(f"failed: {r.url}") if "ABORTED" not in r.failure else None,
    )
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(link)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))
    return context, page, errors


def check_page(page, axe, name: str) -> list[str]:
    """axe-core in light and dark, and nothing wider than a 375 px phone."""
    found = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        found += [f"{name} ({scheme}): {problem}" for problem in axe(page)]
    size = page.viewport_size
    page.set_viewport_size({"width": 375, "height": 800})
    overflow = horizontal_overflow(page)
    if overflow:
        found.append(f"{name}: {overflow} px wider than a 375 px phone")
    page.set_viewport_size(size)
    page.emulate_media(color_scheme="light")
    return found


def outbox_mail(console, email: str) -> list:
    outbox = console.config.delivery.outbox / "new"
    found = []
    for file in sorted(outbox.glob("*.eml")) if outbox.is_dir() else []:
        message = message_from_bytes(file.read_bytes(), policy=policy.default)
        if message["To"].addresses[0].addr_spec == email:
            found.append(message)
    return found


def test_an_editor_writes_previews_tests_and_schedules_a_post_that_tick_sends(
    start_console, browser, axe, shots: Path, tmp_path: Path
) -> None:
    console = start_console()
    root = console.config.root
    write_post(
        root,
        "2026-11-20-sleep.md",
        "title: Sleep and mood\ndate: 2026-11-20 09:00\ntags: [sleep, mood]\n",
    )
    st.add(console.store, "reader@example.org", now=console.clock())
    publisher_here(console, "tick", "--now", NOW)  # the site has started: new posts are announced
    picture = tmp_path / "winter walk.png"
    picture.write_bytes(png(2400, 1200))
    link = staff_add(console, "ed@example.org", "editor")
    context, page, errors = sign_in(browser, link)
    problems: list[str] = []
    try:
        problems += check_page(page, axe, "overview")
        page.click("text=Write a post")
        # The body is in the Markdown editor: its toolbar, over the same field.
        assert page.locator(".overtype-container textarea#body[name=body]").count() == 1
        assert page.locator("[role=toolbar] button[aria-label]").count() > 5
        page.fill("#title", "Winter blues")
        page.fill("#date", "2026-12-02T09:00")
        page.fill("#tags", "mood, ")  # the site's tags are suggested for the next one
        suggested = page.eval_on_selector_all("#known-tags option", "os => os.map(o => o.value)")
        assert suggested == ["mood, sleep"]
        page.fill("#tags", "mood, winter")
        page.fill("#summary", "Short days and what helps.")
        page.fill("#body", "Short days, **long** nights.\n")
        page.locator("#summary").focus()  # leaving a field keeps a copy at once
        page.wait_for_selector("#autosave-status:has-text('Draft copy kept')")
        page.set_input_files("#picture", picture)
        page.fill("#image_alt", "A snowy path between bare trees")
        page.click("button[value=save]")
        page.wait_for_selector(".flash-ok")
        assert page.url.endswith("/admin/posts/winter-blues?done=save")
        post = root / "posts/2026-12-02-winter-blues.md"
        text = post.read_text()
        assert "draft: true" in text and 'image: "/static/uploads/2026/winter-walk-' in text
        stored = next((root / "templates/site/static/uploads/2026").glob("winter-walk-*.png"))
        assert stored.stat().st_size > 0
        problems += check_page(page, axe, "editor")

        # The preview: the page and the email, desktop and phone, from what is typed.
        page.fill("#body", "Short days, **long** nights. Light helps.\n")
        page.locator("#tags").focus()
        page.wait_for_selector("#autosave-status:has-text('Draft copy kept')")
        frame = page.frame_locator("#preview-frame")
        frame.locator("p", has_text="Light helps").first.wait_for()
        assert frame.locator("img.post-image").count() == 1
        page.screenshot(path=shots / "console-editor.png", full_page=True)
        page.click("[data-preview='as:email']")
        page.click("[data-preview='width:phone']")
        page.wait_for_selector("#preview-frame[data-shown='email:phone']")
        frame.locator("p", has_text="Light helps").first.wait_for()
        page.locator("#preview-frame").screenshot(path=shots / "console-preview.png")

        # Send me a test: saves, then a [DRAFT] copy lands in the outbox for me.
        page.click("button[value=test]")
        page.wait_for_selector(".flash-ok")
        wait_for(lambda: outbox_mail(console, "ed@example.org")[1:])  # after the sign-in link
        test = outbox_mail(console, "ed@example.org")[-1]
        assert test["Subject"] == "[DRAFT] Winter blues"
        assert "Light helps" in post.read_text()

        # Schedule: saves and queues it; the next tick at its time publishes and announces.
        page.click("button[value=schedule]")
        page.wait_for_selector(".flash-ok")
        assert "draft: false" in post.read_text()
        assert outbox_mail(console, "reader@example.org") == []
        ticked = publisher_here(console, "tick", "--now", "2026-12-02 09:05")
        assert "winter-blues" in ticked.stdout
        [announced] = outbox_mail(console, "reader@example.org")
        assert announced["Subject"] == "Winter blues"

        page.click("nav >> text=Campaigns")
        problems += check_page(page, axe, "campaigns")
        page.click("text=Winter blues")
        assert "1 of 1 finished" in page.inner_text("main")
        problems += check_page(page, axe, "campaign")
        page.screenshot(path=shots / "console-campaign.png", full_page=True)

        page.click("nav >> text=Posts")
        problems += check_page(page, axe, "posts")
        page.click("nav >> text=Overview")
        page.screenshot(path=shots / "console-dashboard.png", full_page=True)
        page.click("text=Sign out")
        page.goto(console.url + "/admin/posts")
        assert page.url.endswith("/admin/sign-in")
        problems += check_page(page, axe, "sign-in")
        assert errors == [], errors
    finally:
        context.close()
    assert problems == [], "\n".join(problems)


def publisher_here(console, *args: str):
    done = run_publisher(*args, cwd=console.config.root, env={"PUBLISHER_WEB_URL": console.url})
    assert done.returncode == 0, done.stderr
    return done


def test_an_admin_manages_people_and_an_author_only_drafts(
    site: Path, start_console, browser, axe, shots: Path
) -> None:
    write_config(site, '[topics]\nsleep = { label = "Sleep", tags = ["sleep"] }\n')
    console = start_console()
    root = console.config.root
    write_post(
        root, "2026-12-10-winter.md", "title: Winter blues\ndate: 2026-12-10 09:00\ndraft: true\n"
    )
    for n in range(3):
        st.add(console.store, f"reader{n}@example.org", now=console.clock(), name=f"Reader {n}")
    problems: list[str] = []

    context, page, errors = sign_in(browser, staff_add(console, "ad@example.org", "admin"))
    try:
        page.click("nav >> text=Subscribers")
        page.fill("#query", "reader1")
        page.click("button:has-text('Search')")
        assert page.locator("table:has(caption:text('Subscribers found')) tbody tr").count() == 1
        page.fill("#add-email", "new@example.org")
        page.click("button:has-text('Add')")
        page.wait_for_selector(".flash-ok")
        problems += check_page(page, axe, "subscribers")
        page.screenshot(path=shots / "console-subscribers.png", full_page=True)
        page.click("text=new@example.org")
        page.check("input[name=topics][value=sleep]")
        page.click("button:has-text('Save topics')")
        page.wait_for_selector(".flash-ok")
        assert st.get_by_email(console.store, "new@example.org").topics == "sleep"
        problems += check_page(page, axe, "subscriber")
        page.click("nav >> text=Staff")
        page.fill("#staff-email", "au@example.org")
        page.fill("#staff-name", "Au Thor")
        page.select_option("#staff-role", "author")
        page.click("button:has-text('Add')")
        page.wait_for_selector(".flash-ok")
        problems += check_page(page, axe, "staff")
        page.click("nav >> text=Audit log")
        assert "staff.add" in page.inner_text("main")
        problems += check_page(page, axe, "audit")
        assert errors == [], errors
    finally:
        context.close()

    mail = [m for m in outbox_mail(console, "au@example.org")]
    link = re.search(r"http\S+sign-in/link\S+", mail[-1].get_body(("plain",)).get_content())
    context, page, errors = sign_in(browser, link.group(0), width=375, scheme="dark")
    try:
        assert [a.inner_text() for a in page.locator("nav a").all()] == ["Overview", "Posts"]
        page.click("nav >> text=Posts")
        page.click("text=Winter blues")
        assert page.locator("button[value=schedule]").count() == 0
        page.fill("#body", "A first draft.\n")
        page.click("button[value=test]")
        page.wait_for_selector(".flash-ok")
        wait_for(lambda: outbox_mail(console, "au@example.org")[1:])
        assert outbox_mail(console, "au@example.org")[-1]["Subject"] == "[DRAFT] Winter blues"
        # The server says no, whatever the page shows: the API and a forged form alike.
        token = page.input_value("input[name=csrf_token]")
        answer = page.request.get(console.url + "/admin/api/staff")
        assert answer.status == 403
        forged = page.request.post(
            console.url + "/admin/posts/winter-blues",
            form={
                "csrf_token": token,
                "title": "Winter blues",
                "date": "2026-12-10T09:00",
                "body": "x",
                "action": "publish",
            },
        )
        assert (
            forged.status == 403
            and "draft: true" in (root / "posts/2026-12-10-winter.md").read_text()
        )
        page.click("text=Sign out")
        assert page.request.get(console.url + "/admin/api/me").status == 401
        assert errors == [], errors
    finally:
        context.close()
    assert problems == [], "\n".join(problems)


def test_the_editor_works_without_javascript_and_gives_back_a_closed_tabs_text(
    start_console, browser
) -> None:
    console = start_console()
    root = console.config.root
    write_post(root, "2026-11-20-sleep.md", "title: Sleep\ndate: 2026-11-20 09:00\ndraft: true\n")
    link = staff_add(console, "ed@example.org", "editor")
    context = browser.new_context(java_script_enabled=False)
    try:  # a plain form: the body is the page's own textarea, and saving works
        page = context.new_page()
        page.goto(link)
        page.click("main button[type=submit]")
        page.wait_for_url(re.compile(r"/admin/$"))  # signed in by the button's POST
        page.goto(console.url + "/admin/posts/sleep")
        assert page.locator(".overtype-container").count() == 0
        assert page.locator("textarea#body[name=body]").count() == 1
        page.fill("#body", "Written without a script.\n")
        page.click("button[value=save]")
        page.wait_for_selector(".flash-ok")
        assert "Written without a script." in (root / "posts/2026-11-20-sleep.md").read_text()
    finally:
        context.close()

    link = staff_add(console, "ed2@example.org", "editor")
    context, page, errors = sign_in(browser, link)
    try:  # typed in the Markdown editor, the tab closed before saving: nothing is lost
        page.goto(console.url + "/admin/posts/sleep")
        page.locator("#body").press_sequentially("Kept as I typed. ")
        page.wait_for_selector("#autosave-status:has-text('Draft copy kept')")
        asked: list[str] = []  # the browser asks before leaving; the answer is to stay
        page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
        with page.expect_event("dialog"):
            page.close(run_before_unload=True)
        assert asked == ["beforeunload"]
        page.close()  # then the tab is closed anyway, unsaved
        page = context.new_page()
        page.goto(console.url + "/admin/posts/sleep")
        page.click("text=Bring them back")
        assert "Kept as I typed." in page.input_value("#body")
        assert "Kept as I typed." not in (root / "posts/2026-11-20-sleep.md").read_text()
        assert errors == [], errors
    finally:
        context.close()


def test_the_reports_pages_read_in_light_and_dark(start_console, browser, axe, shots: Path) -> None:
    from datetime import UTC, datetime

    from conftest import count_clicks, insert_campaign

    console = start_console()
    started = datetime(2026, 12, 1, 9, tzinfo=UTC)
    campaign = insert_campaign(console.store, "post:hello", ["sent"] * 5, started_at=started)
    later = datetime(2026, 12, 1, 13, tzinfo=UTC)
    count_clicks(console.store, campaign, [(1, "a", started), (2, "b", later), (1, "c", later)])
    context, page, errors = sign_in(browser, staff_add(console, "ed@example.org", "editor"))
    problems: list[str] = []
    try:
        page.click("nav >> text=Reports")
        assert page.locator("svg.chart").count() >= 3
        problems += check_page(page, axe, "reports")
        page.goto(console.url + "/admin/campaigns/post:hello")
        page.click("text=Report: clicks, bounces, unsubscribes")
        assert "Read on" in page.inner_text("main")
        problems += check_page(page, axe, "campaign report")
        page.screenshot(path=shots / "console-report.png", full_page=True)
        assert errors == [], errors
    finally:
        context.close()
    assert problems == [], "\n".join(problems)
