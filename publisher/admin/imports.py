"""CSV imports started from the console: each runs in a thread of its own after the upload
is answered, so a file of a million rows does not hold a request (or a proxy) open; the
console asks how it is going (`Imports.get`) until it is done.

The import itself is `store.import_csv`, what `publisher subscribers import` runs: a dry
run first (nothing written, every row that would be skipped reported), then the real one.
The uploaded file is kept, readable by its owner only, until its import ends.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from publisher.errors import PublisherError
from publisher.store.audit import Entry
from publisher.store.csvio import ImportSummary, import_csv
from publisher.store.db import Store

log = logging.getLogger(__name__)

KEPT = 20  # finished imports remembered for their report
MOST_REPORTED = 10_000  # skipped rows listed in a report; the counts cover them all


@dataclass
class Job:
    """One import: where it stands, and its report once done."""

    id: str
    file: str  # the uploaded file's name, as the person's computer called it
    dry_run: bool
    status: str  # active|pending: what the added subscribers become
    rows: int  # data rows in the file (lines less the header), counted on upload
    state: str = "reading"  # reading, done, failed
    summary: ImportSummary | None = None
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, why)
    error: str = ""


class Imports:
    def __init__(
        self,
        store: Store,
        folder: Path,
        clock: Callable[[], datetime],
        smtputf8: bool,
        audited: Callable[..., Any],
    ):
        self.store = store
        self.folder = folder  # where uploads wait: the site's data folder
        self.clock = clock
        self.smtputf8 = smtputf8  # [smtp] smtputf8, as the command line passes it
        self.audited = audited  # `Console.audited`: the import with its audit row
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()

    def start(self, data: bytes, name: str, dry_run: bool, status: str, entry: Entry) -> Job:
        """Keep the upload and import it in the background; the job to ask about."""
        job = Job(secrets.token_urlsafe(12), name[:200], dry_run, status, rows(data))
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.folder / f"import-{job.id}.csv"
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
            file.write(data)
        with self.lock:
            self.jobs[job.id] = job
            for old in list(self.jobs)[:-KEPT]:
                del self.jobs[old]
        threading.Thread(target=self.work, args=(job, path, entry), name=f"import-{job.id}").start()
        return job

    def work(self, job: Job, path: Path, entry: Entry) -> None:
        def report(line: int, problem: str) -> None:
            if len(job.skipped) < MOST_REPORTED:
                job.skipped.append((line, problem))

        def importing() -> ImportSummary:
            return import_csv(
                self.store,
                path,
                now=self.clock(),
                status=job.status,
                dry_run=job.dry_run,
                report=report,
                smtputf8=self.smtputf8,
            )

        try:
            job.summary = importing() if job.dry_run else self.audited(entry, importing)
            job.state = "done"
        except PublisherError as exc:
            job.state, job.error = "failed", str(exc).replace(str(path), job.file)
        except Exception as exc:  # reported on the job, not lost in a thread
            log.exception("import %s failed", job.id)
            job.state, job.error = "failed", f"unexpected {type(exc).__name__}: {exc}"
        finally:
            path.unlink(missing_ok=True)

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)


def rows(data: bytes) -> int:
    """Data rows in a CSV file's bytes (lines less the header; quoted line breaks aside)."""
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    return max(0, lines - 1)
