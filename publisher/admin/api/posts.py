"""Posts: the list, write and change (`content.editing`: the same files git users edit,
checked as `publisher check` checks them, never over a version the writer did not see),
delete (to the trash), test copies, previews, and schedule, publish, unpublish.

An author writes drafts; anything a reader could see (a post that is not a draft, before
or after the change) needs `posts.publish`, checked next to the change.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import Field, StrictBool

from publisher.admin.api.models import COMMON, Answer, Model, Slug, answers
from publisher.admin.auth import Actor
from publisher.admin.console import Console
from publisher.admin.permissions import allow, may, require
from publisher.content import editing, frontmatter, history
from publisher.content.editing import PostFields
from publisher.content.posts import Post
from publisher.schedule.listing import list_posts

router = APIRouter(tags=["posts"], responses=COMMON)
IF_MATCH = Header(None, description="The post's ETag, as GET /posts/{slug} gave it.")


class PostRow(Answer):
    slug: str
    title: str
    date: str  # site time, ISO 8601 with its offset
    state: Literal["draft", "queued", "live", "error"]
    url: str
    email: str  # the email decision, in words
    sent: int | None
    recipients: int | None
    source: str


class PostBody(Model):
    """A post as the editor shows it. A date without an offset is site time."""

    title: str = Field(min_length=1, max_length=300)
    body: str = Field(max_length=1_000_000)
    date: datetime | None = None  # default: now
    tags: list[str] = Field(default=[], max_length=50)
    summary: str = Field("", max_length=2000)
    image: str = Field("", max_length=500)
    image_alt: str = Field("", max_length=500)
    draft: StrictBool = True
    email_at: datetime | None = None  # the announcement's time, when not the date's
    email_subject: str = Field("", max_length=300)  # instead of the title, in the email
    email_preheader: str = Field("", max_length=2000)  # instead of the summary, ditto
    email_only: StrictBool = False  # a letter: emailed and archived, no page


class PostChange(Model):
    """What to change; fields left out keep their value."""

    title: str | None = Field(None, min_length=1, max_length=300)
    body: str | None = Field(None, max_length=1_000_000)
    date: datetime | None = None
    tags: list[str] | None = Field(None, max_length=50)
    summary: str | None = Field(None, max_length=2000)
    image: str | None = Field(None, max_length=500)
    image_alt: str | None = Field(None, max_length=500)
    draft: StrictBool | None = None
    email_at: datetime | None = None  # null: back to when it goes live
    email_subject: str | None = Field(None, max_length=300)
    email_preheader: str | None = Field(None, max_length=2000)
    email_only: StrictBool | None = None


class PostFile(Answer):
    slug: str
    source: str  # posts/<date>-<slug>.md
    etag: str  # send it back as If-Match to change or delete the post
    title: str
    date: datetime
    tags: list[str]
    summary: str
    image: str
    image_alt: str
    draft: bool
    body: str
    email_at: datetime | None
    email_subject: str
    email_preheader: str
    email_only: bool


class Changed(Answer):
    """The file changed on disk since the version sent in If-Match: nothing was written."""

    detail: str
    current: str  # the file as it is now
    current_etag: str


class Trashed(Answer):
    slug: str
    trash: str  # where the file went


class Schedule(Model):
    date: datetime  # without an offset: site time


class TestSend(Model):
    to: str | None = None  # default: yourself (an author may send only to themselves)


class Sent(Answer):
    to: str
    subject_mark: str  # [DRAFT] or [TEST]
    outcome: str


class Published(Answer):
    post: PostFile
    tick: bool  # a scheduler pass started now to publish it (False: one was running)


WRITES = answers(404, 409, 428) | {412: {"model": Changed}}


def console_of(request: Request) -> Console:
    return request.app.state.console


def file_of(config, post: Post, text: str) -> PostFile:
    fields = editing.fields_of(config, post, text)
    return PostFile(
        slug=post.slug,
        source=post.source.as_posix(),
        etag=editing.etag(text.encode("utf-8")),
        title=fields.title,
        date=fields.date,
        tags=list(fields.tags),
        summary=fields.summary,
        image=fields.image,
        image_alt=fields.image_alt,
        draft=fields.draft,
        body=fields.body,
        email_at=fields.email_at,
        email_subject=fields.email_subject,
        email_preheader=fields.email_preheader,
        email_only=fields.email_only,
    )


def tagged(response: Response, file: PostFile) -> PostFile:
    """The post, its ETag also in the header (as HTTP caches and scripts expect)."""
    response.headers["etag"] = file.etag
    return file


def aware(console: Console, moment: datetime | None) -> datetime:
    """A date as given (naive: site time), or now."""
    if moment is None:
        return console.clock()
    return moment if moment.tzinfo else moment.replace(tzinfo=console.config.tz)


async def found(console: Console, slug: str) -> tuple[Post, str]:
    try:
        return await console.thread(editing.find, console.now_config(), slug)
    except editing.NotFound as exc:
        raise HTTPException(404, str(exc)) from None


def needs_match(if_match: str | None) -> str:
    if not if_match:
        raise HTTPException(
            428,
            "Send If-Match with the post's ETag (from GET), so a newer "
            "version is never overwritten.",
        )
    return if_match


async def save(
    request: Request,
    actor: Actor,
    action: str,
    post: Post | None,
    fields: PostFields,
    if_match: str,
    status: int = 200,
) -> tuple[PostFile, Post]:
    """Write `fields` over `post` (or a new post) with its audit row; the file's answer."""
    console = console_of(request)
    config = console.now_config()
    if not fields.draft or (post is not None and not post.draft):
        require(actor, "posts.publish")  # a reader could see it
    slug = post.slug if post else frontmatter.slugify(fields.title)
    saved = await console.change(
        request, actor.did(action, slug), editing.save, config, post, fields, if_match
    )
    await console.thread(commit, console, saved.path, f"{action} {slug}", actor)
    text = saved.path.read_text(encoding="utf-8")
    return file_of(config, saved.post, text), saved.post


def commit(console: Console, path: Path, message: str, actor: Actor) -> None:
    """Commit the file as its author when the site is a git repository."""
    member = actor.member
    history.commit_file(
        console.config, path, f"{message} (console)", member.name or member.email, member.email
    )


@router.get("/posts")
async def posts(request: Request, actor: Actor = allow("posts.read")) -> list[PostRow]:
    """Every post, newest first, then the files with errors: state, date, email, address."""
    console = console_of(request)
    rows = await console.thread(list_posts, console.now_config(), console.store)
    return [PostRow(**row.as_dict()) for row in rows]


@router.post("/posts", status_code=201, responses=WRITES)
async def create(
    request: Request, response: Response, new: PostBody, actor: Actor = allow("posts.write")
) -> PostFile:
    """Write a new post as `posts/<date>-<slug>.md`, as `publisher new` names it."""
    fields = PostFields(
        title=new.title,
        date=aware(console_of(request), new.date),
        tags=tuple(new.tags),
        summary=new.summary,
        image=new.image,
        image_alt=new.image_alt,
        draft=new.draft,
        body=new.body,
        email_at=None if new.email_at is None else aware(console_of(request), new.email_at),
        email_subject=new.email_subject,
        email_preheader=new.email_preheader,
        email_only=new.email_only,
    )
    file, _post = await save(request, actor, "post.create", None, fields, "")
    return tagged(response, file)


@router.get("/posts/{slug}", responses=answers(404))
async def read(
    request: Request, response: Response, slug: Slug, actor: Actor = allow("posts.read")
) -> PostFile:
    """The post's fields and body, and its ETag (also in the ETag header)."""
    console = console_of(request)
    post, text = await found(console, slug)
    return tagged(response, file_of(console.config, post, text))


@router.put("/posts/{slug}", responses=WRITES)
async def change(
    request: Request,
    response: Response,
    slug: Slug,
    body: PostChange,
    if_match: str | None = IF_MATCH,
    actor: Actor = allow("posts.write"),
) -> PostFile:
    """Change the fields given; 412 when the file changed since its ETag."""
    changes = body.model_dump(exclude_none=True)
    for name in ("date", "email_at"):
        if name in changes:
            changes[name] = aware(console_of(request), changes[name])
    if "email_at" in body.model_fields_set and body.email_at is None:
        changes["email_at"] = None  # null: announced when it goes live again
    if "tags" in changes:
        changes["tags"] = tuple(body.tags or ())
    return tagged(response, await edit(request, actor, "post.update", slug, changes, if_match))


@router.delete("/posts/{slug}", responses=WRITES)
async def delete(
    request: Request,
    slug: Slug,
    if_match: str | None = IF_MATCH,
    actor: Actor = allow("posts.write"),
) -> Trashed:
    """Move the post's file to the trash (`data/trash/`); 412 when it changed since."""
    console = console_of(request)
    post, _text = await found(console, slug)
    if not post.draft:
        require(actor, "posts.publish")
    moved = await console.change(
        request,
        actor.did("post.delete", slug),
        editing.trash,
        console.config,
        post,
        needs_match(if_match),
        console.clock(),
    )
    await console.thread(
        commit, console, console.config.root / post.source, f"post.delete {slug}", actor
    )
    return Trashed(slug=slug, trash=moved.relative_to(console.config.root).as_posix())


@router.post("/posts/{slug}/schedule", responses=WRITES)
async def schedule(
    request: Request,
    response: Response,
    slug: Slug,
    when: Schedule,
    if_match: str | None = IF_MATCH,
    actor: Actor = allow("posts.publish"),
) -> PostFile:
    """Take the post out of draft to go live (and be emailed) at `date`."""
    console = console_of(request)
    changes = {"date": aware(console, when.date), "draft": False}
    file = await edit(request, actor, "post.schedule", slug, changes, if_match)
    return tagged(response, file)


async def edit(
    request: Request, actor: Actor, action: str, slug: str, changes: dict, if_match: str | None
) -> PostFile:
    """Change some fields of the post's file (the PUT and the buttons)."""
    console = console_of(request)
    post, text = await found(console, slug)
    current = editing.fields_of(console.config, post, text)
    fields = PostFields(**(vars(current) | changes))
    file, _ = await save(request, actor, action, post, fields, needs_match(if_match))
    return file


@router.post("/posts/{slug}/publish", status_code=202, responses=WRITES)
async def publish(
    request: Request,
    slug: Slug,
    if_match: str | None = IF_MATCH,
    actor: Actor = allow("posts.publish"),
) -> Published:
    """Publish now: out of draft, dated now if its date is still to come, and a scheduler
    pass started at once (it builds the site and sends the announcement)."""
    console = console_of(request)
    post, text = await found(console, slug)
    date = min(editing.fields_of(console.config, post, text).date, console.clock())
    changes = {"date": date, "draft": False}
    file = await edit(request, actor, "post.publish", slug, changes, if_match)
    return Published(post=file, tick=console.sender.tick())


@router.post("/posts/{slug}/unpublish", status_code=202, responses=WRITES)
async def unpublish(
    request: Request,
    slug: Slug,
    if_match: str | None = IF_MATCH,
    actor: Actor = allow("posts.publish"),
) -> Published:
    """Back to draft: a scheduler pass starts at once and takes it off the site."""
    file = await edit(request, actor, "post.unpublish", slug, {"draft": True}, if_match)
    return Published(post=file, tick=console_of(request).sender.tick())


@router.post("/posts/{slug}/test", responses=answers(404, 502))
async def test(
    request: Request, slug: Slug, send: TestSend, actor: Actor = allow("posts.test")
) -> Sent:
    """A [DRAFT] or [TEST] copy of the post's email to `to` (default: yourself)."""
    console = console_of(request)
    to = send.to or actor.member.email
    if to.lower() != actor.member.email.lower() and not may(actor.role, "posts.publish"):
        raise HTTPException(403, "An author sends test copies to themselves only.")
    post, _text = await found(console, slug)
    mark = "[DRAFT]" if post.draft else "[TEST]"
    result = await console.change(
        request,
        actor.did("post.test", slug, "to self" if to == actor.member.email else "to another"),
        test_send,
        console.now_config(),
        post,
        to,
        mark,
    )
    return Sent(to=to, subject_mark=mark, outcome=f"{result.code or ''} {result.reply}".strip())


def test_send(config, post: Post, to: str, mark: str):
    from publisher.delivery.campaigns import send_test
    from publisher.mail.newsletter import render_post

    posts = blog_posts(config)
    return send_test(config, render_post(config, post, posts, test_copy=True), to, mark=mark)


def blog_posts(config) -> list[Post]:
    """Every post at the address it went live at: an email's 'more from the blog' links
    lead where the site has the page (`links.pinned_posts`), as `publisher send` does."""
    from publisher.content.posts import load_posts
    from publisher.schedule.links import pinned_posts

    return pinned_posts(config, load_posts(config))


TEXT = {"schema": {"type": "string"}}


@router.get(
    "/posts/{slug}/preview",
    responses=answers(404) | {200: {"content": {"text/html": TEXT, "text/plain": TEXT}}},
)
async def preview(
    request: Request,
    slug: Slug,
    view: Literal["page", "email", "text"] = Query("page", alias="as"),
    actor: Actor = allow("posts.preview"),
) -> Response:
    """What `publisher serve` shows (`as=page`) or `/_email/` (`email`, `text`)."""
    console = console_of(request)
    post, _text = await found(console, slug)
    shown = await console.thread(render_preview, console.now_config(), post, view)
    if view == "text":
        return PlainTextResponse(shown)
    return HTMLResponse(shown)


def render_preview(config, post: Post, view: str) -> str:
    from publisher.mail.newsletter import render_post
    from publisher.web import previews

    if view == "page":
        return previews.page_html(config, post)
    message = previews.preview(
        config, render_post(config, post, blog_posts(config)), previews.preview_recipient(config)
    )
    return message.part("plain" if view == "text" else "html")
