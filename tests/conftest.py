"""Shared fixtures: a temporary site, a real SMTP server, a real browser, both databases.

Everything is real: files in a temp folder, aiosmtpd on a loopback port, Debian's Chromium
driven by Playwright, SQLite files, and PostgreSQL when PUBLISHER_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import os
import shutil
import socket
import textwrap
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("PUBLISHER_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"


_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nobody listens on, never the same one twice in a test run (two
    quick calls may otherwise get the same port back, and the second server then fails)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def write_config(root: Path, extra: str = "") -> Path:
    """A minimal but complete config for a test site; `extra` TOML is appended."""
    path = root / "config" / "site.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        textwrap.dedent(
            """\
            [site]
            title = "Test Clinic Blog"
            url = "https://blog.example.org"
            description = "A test site."
            timezone = "America/Chicago"

            [newsletter]
            from_name = "Test Clinic"
            from_address = "news@example.org"
            postal_address = "1 Main St, Springfield"

            [web]
            url = "https://blog.example.org"
            """
        )
        + textwrap.dedent(extra),
        encoding="utf-8",
    )
    return path


def write_post(root: Path, name: str, front: str, body: str = "Hello **world**.\n") -> Path:
    """Write posts/<name> with the given front matter (YAML, without the --- lines)."""
    path = root / "posts" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{textwrap.dedent(front).strip()}\n---\n\n{body}", encoding="utf-8")
    return path


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty site root (config, no posts) as the working directory, env cleaned."""
    for name in list(os.environ):
        if name.startswith("PUBLISHER_") and name != "PUBLISHER_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("PUBLISHER_SECRET_KEY", "test-secret-key, 32 bytes or longer")
    write_config(tmp_path)
    (tmp_path / "posts").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def sample_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repository's sample site (config, posts, templates) as the cwd."""
    root = tmp_path / "sample"
    for name in ("config", "posts", "templates"):
        shutil.copytree(REPO / name, root / name)
    for name in list(os.environ):
        if name.startswith("PUBLISHER_") and name != "PUBLISHER_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("PUBLISHER_SECRET_KEY", "test-secret-key, 32 bytes or longer")
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KB file system (tmpfs; needs root), to fill up or make read-only."""
    import subprocess

    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


# --- SMTP ---------------------------------------------------------------------------


@dataclass
class Received:
    envelope_from: str
    recipients: list[str]
    data: bytes
    at: float

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)


@dataclass
class SmtpServer:
    """A real aiosmtpd server on loopback; tests tweak `reject`, `defer` and `delay`."""

    host: str
    port: int
    received: list[Received] = field(default_factory=list)
    reject: set[str] = field(default_factory=set)  # RCPT answered 550
    defer: set[str] = field(default_factory=set)  # RCPT answered 451
    delay: float = 0.0  # seconds to wait in DATA
    lock: threading.Lock = field(default_factory=threading.Lock)

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [r.message for r in self.received]

    def recipients(self) -> list[str]:
        with self.lock:
            return [rcpt for r in self.received for rcpt in r.recipients]


class _Handler:
    def __init__(self, server: SmtpServer):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.server.reject:
            return "550 5.1.1 No such user"
        if address in self.server.defer:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        import asyncio
        import time

        if self.server.delay:
            await asyncio.sleep(self.server.delay)
        with self.server.lock:
            self.server.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, time.time())
            )
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    from aiosmtpd.controller import Controller

    port = free_port()
    server = SmtpServer("127.0.0.1", port)
    controller = Controller(_Handler(server), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


# --- Store ---------------------------------------------------------------------------


def insert_subscriber(store, email: str, name: str = "", status: str = "active", **values) -> int:
    """Write one subscriber row as it is, bypassing intake (as rows stored before today's
    checks, or by another tool, may be); returns its id."""
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from publisher.store.schema import subscribers

    row = dict(
        email=email,
        email_key=email.lower(),
        name=name,
        status=status,
        frequency="each",
        source="test",
        created_at=datetime(2026, 3, 1, tzinfo=UTC),
        bounce_count=0,
    )
    with store.transaction() as conn:
        return conn.execute(
            insert(subscribers).values(**row | values).returning(subscribers.c.id)
        ).scalar_one()


# --- Browser ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (no browser download)."""
    if not Path(CHROMIUM).exists():
        # CI installs Chromium (.ci/run): there, a missing browser is a failure, not a skip.
        missing = pytest.fail if os.environ.get("CI") else pytest.skip
        missing(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def artifacts() -> Path:
    """Folder for screenshots kept after the run (test-artifacts/, git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# --- HTTP ---------------------------------------------------------------------------


@pytest.fixture
def live_server():
    """Serve ASGI apps with a real uvicorn on loopback: `live_server(app[, port]) -> base URL`."""
    import time

    import uvicorn

    running = []

    def start(app, port: int | None = None) -> str:
        port = port or free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            proxy_headers=False,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on port {port}")
            time.sleep(0.01)
        running.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in running:
        server.should_exit = True
        thread.join(timeout=10)


# --- Databases ----------------------------------------------------------------------


def _postgres_url() -> str | None:
    return os.environ.get("PUBLISHER_TEST_DATABASE_URL") or None


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new schema on the test PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'publisher.db'}"
        return
    base = _postgres_url()
    if not base:
        pytest.skip("PUBLISHER_TEST_DATABASE_URL not set")
    import sqlalchemy

    url = sqlalchemy.engine.make_url(base).set(drivername="postgresql+psycopg")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def store(database_url: str, tmp_path: Path):
    """An open, migrated store on each database (`database_url`)."""
    from publisher.store.db import open_store

    opened = open_store(database_url, tmp_path)
    yield opened
    opened.close()
