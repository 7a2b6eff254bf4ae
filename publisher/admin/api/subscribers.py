"""Subscribers: search, add, import a CSV (dry run first, with a report of every skipped
row, and a progress answer for big files), export, erase. The same library functions as
`publisher subscribers`; audit rows name subscribers by id, never by address."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from starlette.responses import StreamingResponse

from publisher import store as subscriber_store
from publisher.admin.api.models import COMMON, Answer, Done, JobId, Model, answers
from publisher.admin.auth import Actor
from publisher.admin.console import Console
from publisher.admin.imports import Job
from publisher.admin.permissions import allow
from publisher.store import search as finder
from publisher.store.subscribers import Subscriber as Row
from publisher.topics import Topic, chosen

router = APIRouter(tags=["subscribers"], responses=COMMON)
PAGE = 50
Status = Literal["pending", "active", "unsubscribed", "bounced", "complained"]


class Subscriber(Answer):
    id: int
    email: str
    name: str
    status: str
    frequency: str
    source: str
    created: datetime
    confirmed: datetime | None
    unsubscribed: datetime | None
    bounces: int
    topics: list[str]  # the site's topics they chose, by name; none: every topic

    @classmethod
    def of(cls, row: Row, configured: Sequence[Topic]) -> Subscriber:
        return cls(
            id=row.id,
            email=row.email,
            name=row.name,
            status=row.status,
            frequency=row.frequency,
            source=row.source,
            created=row.created_at,
            confirmed=row.confirmed_at,
            unsubscribed=row.unsubscribed_at,
            bounces=row.bounce_count,
            topics=[t.name for t in configured if t.name in chosen(row.topics, configured)],
        )


class Found(Answer):
    subscribers: list[Subscriber]
    page: int
    more: bool  # another page follows
    total: int | None  # every match (not counted for a text search)


class NewSubscriber(Model):
    email: str
    name: str = ""
    frequency: Literal["each", "digest"] | None = None  # default: [newsletter] frequency
    status: Literal["active", "pending"] = "active"  # pending: a confirmation email goes out


class Added(Answer):
    outcome: str  # added, updated, unchanged
    subscriber: Subscriber


class Skipped(Answer):
    line: int
    problem: str


class ImportReport(Answer):
    """Where an import stands; its summary and skipped rows once done."""

    id: str
    file: str
    dry_run: bool
    state: str  # reading, done, failed
    rows: int  # data rows in the file
    added: int | None = None
    updated: int | None = None
    unchanged: int | None = None
    skipped: dict[str, int] | None = None  # reason: rows
    skipped_rows: list[Skipped] = []  # every skipped row (the first 10,000), by line
    error: str = ""

    @classmethod
    def of(cls, job: Job) -> ImportReport:
        done = job.summary
        return cls(
            id=job.id,
            file=job.file,
            dry_run=job.dry_run,
            state=job.state,
            rows=job.rows,
            added=done.added if done else None,
            updated=done.updated if done else None,
            unchanged=done.unchanged if done else None,
            skipped=done.skipped if done else None,
            skipped_rows=[Skipped(line=line, problem=p) for line, p in job.skipped],
            error=job.error,
        )


def console_of(request: Request) -> Console:
    return request.app.state.console


@router.get("/subscribers")
async def search(
    request: Request,
    query: str = Query("", max_length=320),
    status: Status | None = None,
    page: int = Query(1, ge=1, le=100_000),
    actor: Actor = allow("subscribers.read"),
) -> Found:
    """Newest first, `PAGE` a page: by status, and by address (from its start) or by any
    part of the address or name."""
    console = console_of(request)
    found, more, total = await console.read(finder.search, query, status, (page - 1) * PAGE, PAGE)
    people = [Subscriber.of(row, console.config.topics) for row in found]
    return Found(subscribers=people, page=page, more=more, total=total)


@router.post("/subscribers", status_code=201, responses=answers(409))
async def add(
    request: Request, new: NewSubscriber, actor: Actor = allow("subscribers.manage")
) -> Added:
    """Add an address (or update a current one's name and frequency); a suppressed or
    erased address is refused (409): only the person can subscribe again."""
    console = console_of(request)
    change = await console.thread(
        subscriber_store.add,
        console.store,
        new.email,
        now=console.clock(),
        name=new.name,
        status=new.status,
        frequency=new.frequency,
        source="api" if actor.via == "key" else "console",  # a program, or staff in the console
        smtputf8=console.config.smtp.smtputf8,
    )
    if change.outcome == "skipped":
        raise HTTPException(
            409, f"Not added: the address is {change.reason}; only the person can subscribe again."
        )
    if change.outcome != "unchanged":  # named by id, known once it is added
        entry = actor.did("subscriber.add", str(change.subscriber.id), change.outcome)
        await console.record(request, entry)
    subscriber = Subscriber.of(change.subscriber, console.config.topics)
    return Added(outcome=change.outcome, subscriber=subscriber)


@router.post("/subscribers/import", status_code=202)
async def import_file(
    request: Request,
    file: UploadFile = File(),
    dry_run: bool = Form(True),
    status: Literal["active", "pending"] = Form("active"),
    actor: Actor = allow("subscribers.manage"),
) -> ImportReport:
    """Start importing a CSV (columns email, name, frequency, in any order): a dry run
    unless `dry_run` is false. Ask `GET /subscribers/import/{id}` how it goes."""
    console = console_of(request)
    data = await file.read()
    name = file.filename or "upload.csv"
    entry = actor.did("subscribers.import", detail=f"{name}: {status}")
    job = console.imports.start(data, name, dry_run, status, entry)
    return ImportReport.of(job)


@router.get("/subscribers/import/{job_id}", responses=answers(404))
async def import_progress(
    request: Request, job_id: JobId, actor: Actor = allow("subscribers.read")
) -> ImportReport:
    job = console_of(request).imports.get(job_id)
    if job is None:
        raise HTTPException(404, "No such import (the last 20 are remembered).")
    return ImportReport.of(job)


@router.get(
    "/subscribers/export",
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def export(request: Request, actor: Actor = allow("subscribers.read")) -> StreamingResponse:
    """Every subscriber as CSV, as `publisher subscribers export` writes it."""
    store = console_of(request).store

    def chunks() -> Iterator[str]:  # Starlette runs it in a worker thread
        with tempfile.SpooledTemporaryFile(8 * 1024 * 1024, "w+", newline="") as spool:
            subscriber_store.export_csv(store, spool)
            spool.seek(0)
            while chunk := spool.read(64 * 1024):
                yield chunk

    return StreamingResponse(
        chunks(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="subscribers.csv"'},
    )


@router.delete("/subscribers/{subscriber_id}", responses=answers(404))
async def erase(
    request: Request, subscriber_id: int, actor: Actor = allow("subscribers.manage")
) -> Done:
    """Erase a subscriber's personal data, as `publisher subscribers forget` does; a
    salted hash keeps the address from being imported again."""
    console = console_of(request)
    found = await console.read(subscriber_store.get, subscriber_id)
    if found is None:
        raise HTTPException(404, f"No subscriber has id {subscriber_id}.")
    await console.change(
        request,
        actor.did("subscriber.erase", str(subscriber_id)),
        subscriber_store.forget,
        console.store,
        found.email,
        now=console.clock(),
        source="console",
    )
    return Done(message=f"subscriber {subscriber_id} erased")
