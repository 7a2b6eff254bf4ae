"""The subscribers' pages: counts, search, add, erase, export, and a CSV import shown as
a dry run (every row left out, and why) before anything is written."""

from __future__ import annotations

import io
import secrets
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from publisher import store as st
from publisher.admin.auth import Actor
from publisher.admin.pages.forms import done, notices, problem, text
from publisher.admin.pages.render import current, page
from publisher.admin.permissions import allow
from publisher.config import Config
from publisher.errors import PublisherError
from publisher.store import subscriber_search

router = APIRouter(include_in_schema=False)

SAID = {
    "added": "Added.",
    "erased": "Erased: the address and everything about it are gone; it is never imported again.",
    "imported": "Imported.",
}
MAX_CSV = 64 * 1024 * 1024


async def list_page(request: Request, status_code: int = 200, flashes=None) -> Response:
    console = request.app.state.console
    query = request.query_params.get("query", "")[:320]
    status = request.query_params.get("status", "")
    status = status if status in st.STATUSES else ""
    after = request.query_params.get("after", "")[:320]
    people = await console.read(subscriber_search.search, query, status, after)
    counts = await console.read(st.counts)
    root = request.scope.get("root_path", "")
    more = len(people) == subscriber_search.PAGE
    base = f"{root}/subscribers?" + urlencode({"query": query, "status": status})
    last = urlencode({"after": people[-1].email.lower()}) if more else ""
    pages = {"previous": base if after else None, "next": f"{base}&{last}" if more else None}
    return page(
        request,
        "subscribers",
        status_code,
        section="subscribers",
        people=people,
        counts=counts,
        query=query,
        chosen=status,
        statuses=st.STATUSES,
        pages=pages,
        flashes=flashes if flashes is not None else notices(request, SAID),
    )


@router.get("/subscribers")
async def subscribers(request: Request, actor: Actor = allow("subscribers.read")) -> Response:
    return await list_page(request)


@router.post("/subscribers/add")
async def add(request: Request, actor: Actor = allow("subscribers.manage")) -> Response:
    console = request.app.state.console
    form = await request.form()
    email, name = text(form, "email"), text(form, "name", 200)
    try:
        await console.change(
            request,
            actor.did("subscriber.add", email),
            lambda: st.add(console.store, email, now=console.clock(), name=name, source="console"),
        )
    except PublisherError as refused:
        return await list_page(request, 400, problem(f"Not added: {refused}"))
    return done(request, "/subscribers", "added")


@router.post("/subscribers/{subscriber_id}/erase")
async def erase(
    request: Request, subscriber_id: int, actor: Actor = allow("subscribers.manage")
) -> Response:
    console = request.app.state.console
    person = await console.read(st.get, subscriber_id)
    if person is None:
        raise HTTPException(404, "There is no such subscriber (erased already?).")
    await console.change(
        request,
        actor.did("subscriber.erase", str(subscriber_id)),
        lambda: st.forget(console.store, person.email, now=console.clock(), source="console"),
    )
    return done(request, "/subscribers", "erased")


@router.get("/subscribers/export")
async def export(request: Request, actor: Actor = allow("subscribers.read")) -> Response:
    out = io.StringIO()
    await request.app.state.console.read(st.export_csv, out)
    name = f"subscribers-{current(request).local(current(request).now):%Y-%m-%d}.csv"
    disposition = f'attachment; filename="{name}"'
    return Response(
        out.getvalue(), media_type="text/csv", headers={"content-disposition": disposition}
    )


@router.post("/subscribers/import")
async def import_list(request: Request, actor: Actor = allow("subscribers.manage")) -> Response:
    """First the file alone: what importing would do (a dry run, nothing written). Then
    `upload` (the file kept in the console's folder) with `confirm`: the import."""
    config = current(request)
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
    config = current(request)
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
