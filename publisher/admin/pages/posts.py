"""The posts' pages: the list, and the editor with its autosaved copy and live preview.

The editor's form is the post's front matter as fields and its body as Markdown; it works
as a plain form POST. With JavaScript (`static/editor.js`) the form is also kept as a
draft copy in the store every few seconds and on leaving a field (`store.drafts`), and the
preview beside it is reloaded from that copy; the page offers the copy back when it is
opened again after a closed tab or a crash.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from publisher.admin.api import posts as api
from publisher.admin.auth import Actor
from publisher.admin.pages import preview, versions
from publisher.admin.pages.forms import Flash, done, notices, problem, text
from publisher.admin.pages.render import page
from publisher.admin.permissions import allow, may, require
from publisher.config import Config
from publisher.content import editing, uploads
from publisher.content.posts import Post, scan
from publisher.errors import ContentError, ContentErrors, PublisherError
from publisher.schedule.listing import list_posts
from publisher.store.drafts import NEW_POST, Draft, discard_draft, get_draft, save_draft
from publisher.web.guard import content_policy

router = APIRouter(include_in_schema=False)

FIELDS = ("title", "date", "tags", "summary", "image", "image_alt", "body", "draft")
MAX_FIELD = 1024 * 1024  # a post file is at most 1 MB (content.posts)
NEW = "new"  # the editor's address of a post not created yet
# The Markdown editor (static/vendor/overtype) writes a few style attributes (its link
# tooltip's place); style elements and every other source stay as on every page.
EDITOR_STYLES = "style-src-attr 'unsafe-inline'"


@router.get("/posts")
async def posts_list(request: Request, actor: Actor = allow("posts.read")) -> Response:
    console = request.app.state.console
    rows = await console.thread(list_posts, console.now_config(), console.store)
    return page(request, "posts", section="posts", posts=rows)


# --- The editor ---------------------------------------------------------------------


def find_post(config: Config, slug: str) -> Post:
    """The post at `slug`, or 404 naming it."""
    try:
        return editing.find(config, slug)[0]
    except editing.NotFound as missing:
        raise HTTPException(404, str(missing)) from None


def file_fields(config: Config, post: Post) -> tuple[dict[str, str], str]:
    """The editor's fields of the post file as it is on disk, and the file's ETag."""
    data = (config.root / post.source).read_bytes()
    read = editing.fields_of(config, post, data.decode("utf-8"))
    fields = {
        "title": read.title,
        "date": config.local(read.date).strftime("%Y-%m-%dT%H:%M"),
        "tags": ", ".join(read.tags),
        "summary": read.summary,
        "image": read.image,
        "image_alt": read.image_alt,
        "body": read.body,
        "draft": "1" if read.draft else "",
    }
    return fields, editing.etag(data)


def blank_fields(config: Config) -> dict[str, str]:
    when = config.local(config.now).strftime("%Y-%m-%dT%H:%M")
    return {name: "" for name in FIELDS} | {"date": when, "draft": "1"}


def form_fields(form) -> dict[str, str]:
    """The editor's fields as sent, text only and capped (a hostile form is cut, not run)."""
    fields = {}
    for name in FIELDS:
        value = form.get(name)
        fields[name] = value[:MAX_FIELD] if isinstance(value, str) else ""
    return fields


def known_tags(posts: list[Post]) -> list[str]:
    return sorted({tag for post in posts for tag in post.tags}, key=str.lower)


async def show_editor(
    request: Request,
    actor: Actor,
    slug: str,
    fields: dict[str, str] | None = None,
    etag: str | None = None,
    status: int = 200,
    flashes: list[Flash] | None = None,
    conflict: list | None = None,
    restore: bool = False,
) -> Response:
    """The editor for `slug` (or a new post): the file's fields unless `fields` are given
    (a refused save shows what the person sent), and the stored copy offered back."""
    console = request.app.state.console
    config = request.app.state.console.now_config()
    found = await console.thread(scan, config)
    post = None if slug == NEW else next((p for p in found.posts if p.slug == slug), None)
    if slug != NEW and post is None:
        raise HTTPException(404, f"There is no post '{slug}'.")
    on_disk, disk_etag = (
        await console.thread(file_fields, config, post)
        if post
        else (
            blank_fields(config),
            "",
        )
    )
    stored: Draft | None = await console.read(get_draft, actor.member.id, draft_key(slug))
    if stored and (stored.fields == on_disk or fields is not None):
        stored = None  # nothing to offer: the copy is the file, or the form holds it
    shown = fields if fields is not None else on_disk
    if stored and restore:
        shown, stored = {**on_disk, **stored.fields}, None
    answer = page(
        request,
        "editor",
        status,
        section="posts",
        title=f"Edit: {post.title}" if post else "New post",
        post=await _described(request, post) if post else None,
        fields=shown,
        etag=etag if etag is not None else disk_etag,
        stored_draft=stored,
        conflict=conflict,
        known_tags=known_tags(found.posts),
        can_publish=may(actor.role, "posts.publish"),
        flashes=flashes if flashes is not None else notices(request, SAID),
        **_urls(request, slug),
    )
    answer.headers["content-security-policy"] = content_policy(config, EDITOR_STYLES)
    return answer


@router.get("/posts/{slug}")
async def editor(
    request: Request,
    slug: str,
    restore: Annotated[bool, Query()] = False,
    actor: Actor = allow("posts.read"),
) -> Response:
    return await show_editor(request, actor, slug, restore=restore)


SAID = {
    "save": "Saved.",
    "test": "Saved, and a test copy is on its way to you.",
    "schedule": "Saved and scheduled: it goes live, and is emailed, at its date.",
    "publish": "Published.",
    "unpublish": "Unpublished: it is a draft again and off the site.",
}
ACTIONS = {"save": "post.save", "test": "post.test", "schedule": "post.schedule"}
ACTIONS |= {"publish": "post.publish", "unpublish": "post.unpublish"}


@router.post("/posts/{slug}")
async def save_post(request: Request, slug: str, actor: Actor = allow("posts.write")) -> Response:
    """Save the editor's form to the post file, then do what the button asked: send a
    test copy, schedule, publish now or unpublish. A refused save shows the form again
    with the problems (422), or both versions side by side when the file changed (412)."""
    console = request.app.state.console
    config = request.app.state.console.now_config()
    form = await request.form()
    fields, action = form_fields(form), text(form, "action", 20) or "save"
    if action not in ACTIONS:
        raise HTTPException(400, f"Unknown button {action!r}.")
    post = None if slug == NEW else await console.thread(find_post, config, slug)
    if action in ("schedule", "publish", "unpublish"):
        require(actor, "posts.publish")
        fields["draft"] = "1" if action == "unpublish" else ""
    etag = text(form, "etag", 100)
    await console.read(save_draft, actor.member.id, draft_key(slug), fields, etag, console.clock())
    try:
        fields = await _with_picture(request, config, form, fields)
        parsed = parse_form(config, fields)
        if action == "publish":  # now, unless its date is past already
            parsed = dataclasses.replace(parsed, date=min(parsed.date, console.clock()))
        _file, saved = await api.save(request, actor, ACTIONS[action], post, parsed, etag)
    except editing.Stale as stale:
        rows = versions.side_by_side(stale.current, stale.mine)
        said = "Not saved: someone changed this post since you opened it."
        return await show_editor(
            request,
            actor,
            slug,
            fields,
            editing.etag(stale.current.encode()),
            412,
            problem(said),
            rows,
        )
    except ContentErrors as refused:
        said = "Not saved: the post has problems. Nothing was written."
        items = [f"line {e.line}: {e.message}" for e in refused.errors]
        return await show_editor(request, actor, slug, fields, etag, 422, problem(said, items))
    except PublisherError as refused:
        return await show_editor(
            request, actor, slug, fields, etag, 422, problem(f"Not saved: {refused}")
        )
    await console.read(discard_draft, actor.member.id, draft_key(slug))
    await console.read(discard_draft, actor.member.id, draft_key(saved.slug))
    if action == "test":
        mark = "[DRAFT]" if saved.draft else "[TEST]"
        to = actor.member.email
        entry = actor.did("post.test", saved.slug, "to self")
        await console.change(request, entry, api.test_send, config, saved, to, mark)
    elif action in ("publish", "unpublish"):
        console.sender.tick()  # a scheduler pass now, as the API's buttons start one
    return done(request, f"/posts/{saved.slug}", action)


def parse_form(config: Config, fields: dict[str, str]) -> editing.PostFields:
    """The form's text as the post's fields; ContentErrors naming the field otherwise."""
    problems = []
    try:
        date = datetime.strptime(fields["date"], "%Y-%m-%dT%H:%M").replace(tzinfo=config.tz)
    except ValueError:
        problems.append(ContentError("date", 0, "give the date and time, such as 2026-12-03 09:00"))
        date = config.now
    if not fields["title"].strip():
        problems.append(ContentError("title", 0, "give the post a title"))
    if problems:
        raise ContentErrors(problems)
    tags = tuple(dict.fromkeys(t.strip() for t in fields["tags"].split(",") if t.strip()))
    return editing.PostFields(
        title=fields["title"].strip(),
        date=date,
        tags=tags,
        summary=fields["summary"],
        image=fields["image"],
        image_alt=fields["image_alt"],
        draft=bool(fields["draft"]),
        body=fields["body"],
    )


async def _with_picture(
    request: Request, config: Config, form, fields: dict[str, str]
) -> dict[str, str]:
    """The form's fields with an uploaded picture stored and set as the post's image."""
    picture = form.get("picture")
    if not isinstance(picture, UploadFile) or not picture.filename:
        return fields
    data = await picture.read(uploads.MAX_BYTES + 1)
    console = request.app.state.console
    stored = await console.thread(uploads.save_picture, config, data, picture.filename, config.now)
    return fields | {"image": stored.url}


def draft_key(slug: str) -> str:
    return NEW_POST if slug == NEW else slug


async def _described(request: Request, post: Post):
    """The post's row of the list: its state and email decision."""
    console = request.app.state.console
    rows = await console.thread(list_posts, console.now_config(), console.store)
    return next((row for row in rows if row.slug == post.slug), None)


def _urls(request: Request, slug: str) -> dict[str, str]:
    root = request.scope.get("root_path", "")
    base = f"{root}/posts/{slug}"
    return {"save_url": base, "draft_url": f"{base}/draft", "preview_url": f"{base}/preview"}


@router.post("/posts/{slug}/draft")
async def keep_draft(request: Request, slug: str, actor: Actor = allow("posts.write")) -> Response:
    """The editor's autosave: the form as typed, kept as the person's copy (not an edit of
    the post, so no audit row: the post itself is unchanged until it is saved)."""
    console = request.app.state.console
    form = await request.form()
    fields = form_fields(form)
    etag = form.get("etag") if isinstance(form.get("etag"), str) else ""
    key = NEW_POST if slug == NEW else slug
    now = console.clock()
    await console.read(save_draft, actor.member.id, key, fields, etag, now)
    saved_at = request.app.state.console.now_config().local(now).strftime("%H:%M:%S")
    return JSONResponse({"saved_at": saved_at})


@router.post("/posts/{slug}/draft/discard")
async def throw_away(request: Request, slug: str, actor: Actor = allow("posts.write")) -> Response:
    key = NEW_POST if slug == NEW else slug
    await request.app.state.console.read(discard_draft, actor.member.id, key)
    return RedirectResponse(_urls(request, slug)["save_url"], 303)


@router.get("/posts/{slug}/preview")
async def show_preview(
    request: Request,
    slug: str,
    view: Annotated[str, Query(alias="as", pattern="^(page|email|text)$")] = "page",
    draft: Annotated[bool, Query()] = False,
    actor: Actor = allow("posts.preview"),
) -> Response:
    """The post as a page, an email or a plain-text email: from the person's draft copy
    when `draft` (what the editor holds now), else from the file."""
    console = request.app.state.console
    config = request.app.state.console.now_config()
    stored = await console.read(get_draft, actor.member.id, NEW_POST if slug == NEW else slug)
    root = request.scope.get("root_path", "")

    def render() -> preview.Shown:
        found = scan(config)
        post = next((p for p in found.posts if p.slug == slug), None)
        if draft and stored:
            source = post.source.as_posix() if post else "posts/new.md"
            old = (config.root / post.source).read_text("utf-8", "replace") if post else ""
            text = editing.post_text(config, parse_form(config, stored.fields), old)
            post = preview.read_post(config, source, text)
        if post is None:
            return preview.Shown(preview.NOTHING_YET, "text/html")
        return preview.show(config, post, found.posts, view, root)

    try:
        shown = await console.thread(render)
    except PublisherError as problem:
        return PlainTextResponse(f"This post does not build yet:\n{problem}", status_code=422)
    own = f"{request.url.scheme}://{request.url.netloc}"
    headers = {"content-security-policy": preview.policy(own), "x-frame-options": "SAMEORIGIN"}
    if shown.media_type == "text/plain":
        return PlainTextResponse(shown.body, headers=headers)
    return Response(shown.body, media_type="text/html", headers=headers)
