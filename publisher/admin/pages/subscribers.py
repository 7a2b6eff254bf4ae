"""The subscribers' pages: counts (and readers per topic), search, one subscriber's page
with their topics to change, add, erase, export, and a CSV import shown as a dry run
(every row left out, and why) before anything is written."""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from publisher import store as st
from publisher import topics
from publisher.admin.api import subscribers as api
from publisher.admin.api import topics as topics_api
from publisher.admin.auth import Actor
from publisher.admin.pages.forms import done, notices, problem, text
from publisher.admin.pages.render import page
from publisher.admin.permissions import allow
from publisher.config import Config
from publisher.errors import PublisherError

router = APIRouter(include_in_schema=False)

SAID = {
    "added": "Added.",
    "erased": "Erased: the address and everything about it are gone; it is never imported again.",
    "imported": "Imported.",
    "topics": "Topics changed: the next emails follow them.",
}
MAX_CSV = 64 * 1024 * 1024


async def list_page(request: Request, status_code: int = 200, flashes=None) -> Response:
    console = request.app.state.console
    params = request.query_params
    query = params.get("query", "")[:320]
    status = params.get("status", "") if params.get("status", "") in st.STATUSES else ""
    number = int(params["page"]) if params.get("page", "").isdigit() else 1
    number = min(max(number, 1), 100_000)
    actor = request.state.actor
    found = await api.search(request, query, status or None, number, actor)
    counts = await console.read(st.counts)
    # Readers per topic read the whole list: on the list's front page, not on every search.
    front = console.config.topics and number == 1 and not query and not status
    site_topics = await topics_api.site_topics(request, actor) if front else None
    base = f"{request.scope.get('root_path', '')}/subscribers?"
    base += urlencode({"query": query, "status": status})
    pages = {
        "previous": f"{base}&page={number - 1}" if number > 1 else None,
        "next": f"{base}&page={number + 1}" if found.more else None,
    }
    return page(
        request,
        "subscribers",
        status_code,
        section="subscribers",
        people=found.subscribers,
        counts=counts,
        site_topics=site_topics,
        labels={t.name: t.label for t in console.config.topics},
        query=query,
        chosen=status,
        statuses=st.STATUSES,
        pages=pages,
        flashes=flashes if flashes is not None else notices(request, SAID),
    )


@router.get("/subscribers")
async def subscribers(request: Request, actor: Actor = allow("subscribers.read")) -> Response:
    return await list_page(request)


async def one_page(
    request: Request, subscriber_id: int, status_code: int = 200, flashes=None
) -> Response:
    """One subscriber: what the store holds about them, and their topics."""
    console = request.app.state.console
    row = await console.read(st.get, subscriber_id)
    if row is None:
        raise HTTPException(404, "No subscriber has this id: they may have been erased.")
    return page(
        request,
        "subscriber",
        status_code,
        section="subscribers",
        person=api.Subscriber.of(row, console.config.topics),
        topics=console.config.topics,
        flashes=flashes if flashes is not None else notices(request, SAID),
    )


@router.get("/subscribers/{subscriber_id}")
async def subscriber(
    request: Request, subscriber_id: int, actor: Actor = allow("subscribers.read")
) -> Response:
    return await one_page(request, subscriber_id)


@router.post("/subscribers/{subscriber_id}/topics")
async def choose_topics(
    request: Request, subscriber_id: int, actor: Actor = allow("subscribers.manage")
) -> Response:
    """The topics ticked on their page (none ticked: every topic), set as the API does."""
    form = await request.form()
    names = [name[:40] for name in form.getlist("topics") if isinstance(name, str)]
    try:
        chosen = topics_api.Chosen(topics=names[: topics.MAX_TOPICS + 1])
        await topics_api.choose_topics(request, subscriber_id, chosen, actor)
    except HTTPException as refused:
        if refused.status_code == 404:
            raise
        said = f"Not changed: {refused.detail}"
        return await one_page(request, subscriber_id, 422, problem(said))
    return done(request, f"/subscribers/{subscriber_id}", "topics")


@router.post("/subscribers/add")
async def add(request: Request, actor: Actor = allow("subscribers.manage")) -> Response:
    form = await request.form()
    new = api.NewSubscriber(email=text(form, "email"), name=text(form, "name", 200))
    try:
        await api.add(request, new, actor)
    except (PublisherError, HTTPException) as refused:
        said = getattr(refused, "detail", None) or f"Not added: {refused}"
        return await list_page(request, 400, problem(str(said)))
    return done(request, "/subscribers", "added")


@router.post("/subscribers/{subscriber_id}/erase")
async def erase(
    request: Request, subscriber_id: int, actor: Actor = allow("subscribers.manage")
) -> Response:
    await api.erase(request, subscriber_id, actor)
    return done(request, "/subscribers", "erased")


@router.post("/subscribers/import")
async def import_list(request: Request, actor: Actor = allow("subscribers.manage")) -> Response:
    """First the file alone: what importing would do (a dry run, nothing written). Then
    `upload` (the file kept in the console's folder) with `confirm`: the import."""
    config = request.app.state.console.now_config()
    form = await request.form()
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(MAX_CSV + 1)
        if len(data) > MAX_CSV:
            return await list_page(request, 413, problem("The file is over 64 MB; split it."))
        held = uploads_folder(config) / f"{secrets.token_hex(16)}.csv"
        held.write_bytes(data)
        name = upload.filename[:200]
        return await import_report(request, actor, held, name, dry_run=True)
    token = text(form, "upload", 40)
    held = uploads_folder(config) / f"{token}.csv"
    if not (token.isalnum() and held.exists()):
        return await list_page(request, 400, problem("Choose the CSV file again."))
    return await import_report(request, actor, held, text(form, "name", 200), dry_run=False)


def uploads_folder(config: Config) -> Path:
    """Where a CSV waits between its dry run and its import (names are random)."""
    folder = config.data_dir / "console-imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def import_report(
    request: Request, actor: Actor, held: Path, name: str, dry_run: bool
) -> Response:
    """Run the import (or its dry run) and show what it did, every row left out listed."""
    console = request.app.state.console
    config = request.app.state.console.now_config()
    skipped: list[tuple[int, str]] = []

    def run() -> st.ImportSummary:
        return st.import_csv(
            console.store,
            held,
            now=config.now,
            dry_run=dry_run,
            report=lambda line, why: skipped.append((line, why)),
            smtputf8=config.smtp.smtputf8,
        )

    try:
        if dry_run:
            summary = await console.thread(run)
        else:
            summary = await console.change(request, actor.did("subscribers.import", name), run)
    except PublisherError as refused:
        held.unlink(missing_ok=True)
        return await list_page(request, 400, problem(f"Not imported: {refused}"))
    if not dry_run:
        held.unlink(missing_ok=True)
    would = "Would be " if dry_run else ""
    figures = [
        ("Rows", summary.rows),
        (f"{would}added".capitalize(), summary.added),
        (f"{would}updated".capitalize(), summary.updated),
        ("Unchanged", summary.unchanged),
        ("Left out", sum(summary.skipped.values())),
    ]
    return page(
        request,
        "import",
        section="subscribers",
        file_name=name,
        figures=figures,
        skipped=skipped[:1000],
        done=not dry_run,
        upload=held.stem,
    )
