"""Shared fixtures: a temporary site, a real SMTP server, a real browser, both databases.

Everything is real: files in a temp folder, aiosmtpd on a loopback port, Debian's Chromium
driven by Playwright, SQLite files, and PostgreSQL when PUBLISHER_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import html
import http.server
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import pytest

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("PUBLISHER_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
PUBLISHER = str(Path(sys.executable).parent / "publisher")  # the installed console script
# Read before any fixture cleans PUBLISHER_* from the environment.
REGENERATE = bool(os.environ.get("PUBLISHER_REGENERATE"))


_handed_out: set[int] = set()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--regenerate",
        action="store_true",
        help="rewrite the expected output in tests/expected/ from this build (or set "
        "PUBLISHER_REGENERATE=1); review it with git diff before committing",
    )


@pytest.fixture
def regenerate(request: pytest.FixtureRequest) -> bool:
    """True when the expected output is to be rewritten rather than compared."""
    return request.config.getoption("--regenerate") or REGENERATE


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


def write_config(root: Path, *extra: str) -> Path:
    """A minimal but complete config for a test site; each `extra` TOML text is dedented
    and appended in order (e.g. a [delivery] section, then `relay_toml(port)`)."""
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
        + "".join(textwrap.dedent(text) for text in extra),
        encoding="utf-8",
    )
    return path


def write_post(root: Path, name: str, front: str, body: str = "Hello **world**.\n") -> Path:
    """Write posts/<name> with the given front matter (YAML, without the --- lines)."""
    path = root / "posts" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{textwrap.dedent(front).strip()}\n---\n\n{body}", encoding="utf-8")
    return path


def relay_toml(port: int, timeout: float | None = None, extra: str = "") -> str:
    """The [smtp] section for a relay on loopback without TLS (aiosmtpd, a raw socket);
    `extra` TOML keys are added to the section."""
    lines = ["[smtp]", 'host = "127.0.0.1"', f"port = {port}", 'security = "none"']
    if timeout is not None:
        lines.append(f"timeout = {timeout}")
    return "\n".join(lines) + "\n" + textwrap.dedent(extra).strip() + "\n"


def write_relay_config(
    root: Path,
    port: int,
    database_url: str = "",
    delivery: str = "",
    smtp: str = "",
    timeout: float | None = None,
    extra: str = "",
) -> Path:
    """`write_config` for a site that sends over SMTP to the loopback relay on `port`:
    [database] when `database_url` is given, [delivery] with transport "smtp" and the
    `delivery` keys, [smtp] from `relay_toml` with the `smtp` keys, then `extra` TOML."""
    database = f'[database]\nurl = "{database_url}"\n' if database_url else ""
    keys = textwrap.dedent(delivery).strip()
    delivery_section = '[delivery]\ntransport = "smtp"\n' + (keys + "\n" if keys else "")
    return write_config(root, database, delivery_section, relay_toml(port, timeout, smtp), extra)


# --- Processes ----------------------------------------------------------------------


def run_publisher(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    input: str | None = None,
) -> subprocess.CompletedProcess:
    """Run the `publisher` command to its end in a real process; text output captured.
    `env` is added to this process's environment; `input` is its standard input."""
    return subprocess.run(
        [PUBLISHER, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )


def start_publisher(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, **popen
) -> subprocess.Popen:
    """Start the `publisher` command in a real process (unbuffered, text); `popen` goes to
    subprocess.Popen (stdout=subprocess.PIPE, ...). `env` is added to this environment."""
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.Popen([PUBLISHER, *args], cwd=cwd, env=environment, text=True, **popen)


def wait_for(
    condition: Callable[[], object],
    timeout: float = 15.0,
    interval: float = 0.05,
    failure: Callable[[], str] = lambda: "timed out waiting",
) -> None:
    """Poll `condition` until it is true; after `timeout` seconds fail with `failure()`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(failure())
        time.sleep(interval)


# --- Built sites over HTTP ------------------------------------------------------------


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve `folder` (a built site) over real HTTP on loopback; yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


_REFRESH = re.compile(r'<meta http-equiv="refresh" content="0; url=([^"]+)">')


def follow_redirect(url: str) -> tuple[str, str]:
    """GET `url` (must answer 200 with a meta refresh), then the page it refreshes to, as
    a browser would; (final URL, its HTML). Fails when either is not 200."""
    with urllib.request.urlopen(url, timeout=10) as response:
        page = response.read().decode()
    match = _REFRESH.search(page)
    assert match, f"{url} has no meta refresh"
    target = urljoin(url, html.unescape(match.group(1)))
    with urllib.request.urlopen(target, timeout=10) as response:
        assert response.status == 200
        return response.url, response.read().decode()


# --- DKIM ---------------------------------------------------------------------------


def dkim_key(folder: Path) -> tuple[Path, bytes]:
    """A new 2048-bit RSA key written to folder/dkim.pem (PKCS#8): (path, DNS TXT record)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = folder / "dkim.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return path, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def dkim_signed_names(signature: str) -> list[str]:
    """The header names a DKIM-Signature's h= tag lists, in order."""
    tags = " ".join(signature.split())
    return re.search(r"h=([^;]+);", tags).group(1).replace(" ", "").split(":")


def dkim_dns(record: bytes, selector: str, domain: str = "example.org"):
    """A local DNS for dkimpy: answers the selector's TXT query with `record`."""
    wanted = f"{selector}._domainkey.{domain}.".encode()

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == wanted else None

    return lookup


# --- Sites --------------------------------------------------------------------------


def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PUBLISHER_* setting from outside (but the test database), a fixed secret key."""
    for name in list(os.environ):
        if name.startswith("PUBLISHER_") and name != "PUBLISHER_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("PUBLISHER_SECRET_KEY", "test-secret-key, 32 bytes or longer")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty site root (config, no posts) as the working directory, env cleaned."""
    clean_environment(monkeypatch)
    write_config(tmp_path)
    (tmp_path / "posts").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def copy_sample_site(root: Path) -> Path:
    """Copy the repository's sample site (config, posts, templates) to `root`."""
    for name in ("config", "posts", "templates"):
        shutil.copytree(REPO / name, root / name)
    return root


@pytest.fixture
def sample_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repository's sample site (config, posts, templates) as the cwd."""
    root = copy_sample_site(tmp_path / "sample")
    clean_environment(monkeypatch)
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KB file system (tmpfs; needs root), to fill up or make read-only."""
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


def fill_disk(path: Path) -> None:
    """Write `path` until its file system (a `small_disk`) is full."""
    try:
        with open(path, "wb") as filler:
            while True:
                filler.write(b"x" * 4096)
                filler.flush()
    except OSError:
        pass


# --- Pages ----------------------------------------------------------------------------


class Html(HTMLParser):
    """A page as tags with attributes, ids, and the text of its headings and title."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: dict[str, list[str]] = {}
        self._open: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        if tag in ("title", "h1", "script"):
            self._open.append(tag)
            self.text.setdefault(tag, []).append("")

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open:
            self.text[self._open[-1]][-1] += data

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            a
            for t, a in self.tags
            if t == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def meta(self, **attrs: str) -> str:
        return self.find("meta", **attrs)[0]["content"]

    @property
    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if "id" in a}


def page(output: Path, url: str) -> Html:
    return Html((output / url.strip("/") / "index.html").read_text(encoding="utf-8"))


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def broken_links(output: Path) -> list[str]:
    """Every internal href/src of every page that does not resolve to a file (and id) in output."""
    broken = []
    for file in output.rglob("*.html"):
        parsed = Html(file.read_text(encoding="utf-8"))
        for tag, attrs in parsed.tags:
            link = attrs.get("href") or attrs.get("src") if tag in ("a", "link", "img") else None
            if not link or urlsplit(link).scheme or link.startswith("//"):
                continue
            parts = urlsplit(link)
            if parts.path.startswith("/"):
                target = output / unquote(parts.path).lstrip("/")
            else:
                target = file.parent / unquote(parts.path) if parts.path else file
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{file.relative_to(output)}: {link}")
            elif parts.fragment and parts.fragment not in Html(target.read_text()).ids:
                broken.append(f"{file.relative_to(output)}: {link} (no such id)")
    return broken


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


def message_to_ann(config, rendered, token: str) -> EmailMessage:
    """The message MessageBuilder makes of `rendered` for Ann <ann@example.com>, parsed;
    her unsubscribe link carries token=`token`.a, her preferences link token=`token`.b."""
    from publisher.mail.message import MessageBuilder, Recipient

    ann = Recipient(
        "ann@example.com",
        "Ann",
        f"https://blog.example.org/unsubscribe?token={token}.a",
        f"https://blog.example.org/preferences?token={token}.b",
    )
    data = MessageBuilder(config, rendered).build(ann)
    return message_from_bytes(data, policy=policy.default)


# --- Store ---------------------------------------------------------------------------


def link_target(config, text: str, label: str) -> str:
    """Where the tracked link after `label` in an email's `text` goes: the target in its
    campaign's link table (the link itself is `<[web] url>/l/<campaign>/<number>/...`)."""
    from publisher.store import clicks
    from publisher.store.db import Store

    found = re.search(re.escape(label) + r"\s*https?://\S+/l/([0-9]+)/([0-9]+)/", text)
    assert found, f"no tracked link after {label!r} in {text!r}"
    with Store.open(config) as store, store.read() as conn:
        return clicks.links(conn, int(found[1]))[int(found[2]) - 1].url


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


@contextlib.contextmanager
def watched_page(browser, width: int, height: int = 800) -> Iterator[tuple[Any, list[str]]]:
    """A page at `width` px and the list its console errors, page errors and failed
    requests are written to; the context closes at the end."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("requestfailed", lambda request: errors.append(f"failed: {request.url}"))
    try:
        yield page, errors
    finally:
        context.close()


AXE_VERSION = "4.10.3"  # axe-core (MPL-2.0), fetched by npm into the run's temp folder


@pytest.fixture(scope="session")
def axe(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Any], list[str]]:
    """`axe(page) -> problems`: axe-core's WCAG 2 A/AA rules run on the page as it is shown
    now (its colour scheme included), each violation as one line with the elements it hit.
    axe-core comes from npm once per run (no copy in the repository); CI has npm, so there
    a failure to get it fails, elsewhere it skips."""
    folder = tmp_path_factory.mktemp("axe")
    npm = shutil.which("npm")
    done = None
    if npm:
        done = subprocess.run(
            [npm, "pack", f"axe-core@{AXE_VERSION}", "--silent", "--pack-destination", folder],
            capture_output=True,
            text=True,
            timeout=120,
        )
    if done is None or done.returncode != 0:
        missing = pytest.fail if os.environ.get("CI") else pytest.skip
        missing(f"axe-core not fetched by npm: {done.stderr if done else 'npm not installed'}")
    subprocess.run(["tar", "-xzf", next(folder.glob("*.tgz")), "-C", folder], check=True)
    source = (folder / "package" / "axe.min.js").read_text(encoding="utf-8")

    def run(page) -> list[str]:
        page.evaluate(source)  # through DevTools, so the page's CSP does not stop it
        found = page.evaluate(
            """async () => (await axe.run(document, {
                runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}
            })).violations.map(v => v.id + ': ' + v.help + ' at ' +
                v.nodes.map(n => n.target.join(' ')).join(', '))"""
        )
        return list(found)

    return run


def horizontal_overflow(page) -> int:
    """How many pixels the page is wider than the window (0: nothing scrolls sideways)."""
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


@pytest.fixture
def artifacts() -> Path:
    """Folder for screenshots kept after the run (test-artifacts/, git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# Read at import, before the fixtures clean PUBLISHER_* and move into a temp site.
SCREENSHOTS = os.environ.get("PUBLISHER_SCREENSHOTS")
SCREENSHOTS_FOLDER = Path(SCREENSHOTS).resolve() if SCREENSHOTS else None


@pytest.fixture
def shots(artifacts: Path) -> Path:
    """Where the docs' screenshots go: PUBLISHER_SCREENSHOTS=docs/images writes them there
    under stable names (so the docs show the current console and emails), otherwise
    test-artifacts/."""
    folder = SCREENSHOTS_FOLDER or artifacts
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- HTTP ---------------------------------------------------------------------------


@pytest.fixture
def live_server():
    """Serve ASGI apps with a real uvicorn on loopback: `live_server(app[, port]) -> base URL`."""
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


@contextlib.contextmanager
def app_client(live_server, **settings: str) -> Iterator[tuple[Any, Any, Any]]:
    """The subscriber web app of the site in the working directory on a loopback port,
    with `PUBLISHER_<KEY>` settings (`database_url=...`), `[web] url` the server itself:
    (config, store, an httpx client on it)."""
    import httpx

    from publisher.config import load_config
    from publisher.web.app import create_app

    port = free_port()
    env = {**os.environ, "PUBLISHER_WEB_URL": f"http://127.0.0.1:{port}"}
    env.update({f"PUBLISHER_{key.upper()}": value for key, value in settings.items()})
    config = load_config(env=env)
    app = create_app(config)
    url = live_server(app, port)
    with httpx.Client(base_url=url, timeout=10) as client:
        yield config, app.state.store, client


# --- Databases ----------------------------------------------------------------------


def _postgres_url() -> str | None:
    return os.environ.get("PUBLISHER_TEST_DATABASE_URL") or None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new schema on the test PostgreSQL (those
    runs are marked `postgres`: `pytest -m postgres` selects them, `-m "not postgres"` not)."""
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


def png(width: int, height: int) -> bytes:
    """A grey PNG of the given size, made without an imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + b"\x90" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def open_email(browser, html: str, width: int, scheme: str = "light", images: bool = True):
    """A page showing `html`; image requests are answered locally (or, without `images`,
    refused, as a mail client that blocks them does), nothing leaves the host."""
    page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    image = png(1200, 500)

    def answer(route) -> None:
        if route.request.resource_type != "image":
            route.fulfill(status=404, body="offline test")
        elif images:
            route.fulfill(body=image, content_type="image/png")
        else:
            route.abort("blockedbyclient")

    page.route("**/*", answer)
    page.set_content(html, wait_until="load")
    return page, errors


# --- Sample emails and SpamAssassin ---------------------------------------------------

SAMPLE_NOW = "2026-12-01T15:00:00+00:00"  # five sample posts live, one still queued
SPAMASSASSIN = shutil.which("spamassassin") or "/usr/bin/spamassassin"


@dataclass
class SampleSubscriber:
    id: int
    email: str
    name: str


def sample_emails(root: Path, env: dict[str, str] | None = None) -> dict[str, bytes]:
    """Every kind of email the site at `root` sends, as Ann's mail client receives it: each
    live post (full text), the first live post with an image as an excerpt, its `[TEST]`
    copy, the digest, a confirmation and the welcome email. `env` is added to the config's
    environment."""
    from datetime import datetime

    from publisher.config import load_config
    from publisher.content.posts import load_posts
    from publisher.mail.message import MessageBuilder, Recipient
    from publisher.mail.newsletter import render_digest, render_post, render_welcome
    from publisher.subscribers.confirmations import Confirmations
    from publisher.subscribers.tokens import load_tokens

    environment = {"PUBLISHER_SECRET_KEY": "test-secret-key, 32 bytes or longer", **(env or {})}

    def config_for(**more: str):
        return load_config(root / "config" / "site.toml", now=SAMPLE_NOW, env=environment | more)

    config = config_for()
    ann = Recipient(
        "ann@example.com",
        "Ann",
        f"{config.web.url}/unsubscribe?token=1.abcdefghijklmnopqrstuvwxyz0123456789",
        f"{config.web.url}/preferences?token=1.abcdefghijklmnopqrstuvwxyz0123456789",
    )
    posts = load_posts(config)
    live = [p for p in posts if p.is_live(config.now)]
    emails = {
        f"post-{p.slug}": MessageBuilder(config, render_post(config, p, posts)).build(ann)
        for p in live
    }
    pictured = next(p for p in live if p.image)
    excerpt = config_for(PUBLISHER_NEWSLETTER_CONTENT="excerpt")
    emails["excerpt"] = MessageBuilder(excerpt, render_post(excerpt, pictured, posts)).build(ann)
    test_copy = MessageBuilder(config, render_post(config, pictured, posts), mark="[TEST]")
    emails["test-copy"] = test_copy.build(ann)
    digest = render_digest(config, live, "2026-11-30")
    emails["digest"] = MessageBuilder(config, digest).build(ann)
    emails["welcome"] = MessageBuilder(config, render_welcome(config, posts, "each")).build(ann)
    confirmations = Confirmations(config, load_tokens(config))
    person = SampleSubscriber(1, "ann@example.com", "Ann")
    now = datetime.fromisoformat(SAMPLE_NOW)
    emails["confirmation"] = confirmations.build(person, "key", now).data
    return emails


def spamassassin_scores(messages: dict[str, bytes]) -> dict[str, tuple[float, list[str]]]:
    """SpamAssassin's score and rules for each message, local tests only (`-L -t`), in one
    run over an mbox (each run costs seconds of start-up)."""
    if not Path(SPAMASSASSIN).exists():
        missing = pytest.fail if os.environ.get("CI") else pytest.skip
        missing(f"{SPAMASSASSIN} not installed (apt-get install spamassassin)")
    mbox = b"".join(
        b"From sample@example.org Tue Dec  1 15:00:00 2026\n"
        + f"X-Publisher-Sample: {name}\r\n".encode()
        + data.replace(b"\r\n", b"\n").replace(b"\nFrom ", b"\n>From ")
        + b"\n"
        for name, data in messages.items()
    )
    run = subprocess.run(
        [SPAMASSASSIN, "-L", "-t", "--mbox"], input=mbox, capture_output=True, timeout=300
    )
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    found = {}
    for report in run.stdout.split(b"\nFrom ")[0:]:
        parsed = message_from_bytes(report.partition(b"\n")[2], policy=policy.compat32)
        status = " ".join(str(parsed["X-Spam-Status"] or "").split())
        score = float(status.split("score=", 1)[1].split()[0])
        rules = status.split("tests=", 1)[1].split()[0].split(",") if "tests=" in status else []
        found[str(parsed["X-Publisher-Sample"])] = (score, rules)
    return found


# --- The staff console --------------------------------------------------------------


class MovingClock:
    """A clock a test moves by hand (`advance`), for sessions' and links' expiry."""

    def __init__(self, start):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.now += timedelta(**delta)


@dataclass
class StaffConsole:
    """`publisher web` on loopback with the staff console, and ways to be its staff."""

    url: str
    config: Any
    app: Any
    clock: MovingClock

    @property
    def store(self):
        return self.app.state.store

    def client(self, **headers: str):
        """An HTTP client of the app that does not follow redirects."""
        import httpx

        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=10, headers=headers)

    def add_staff(self, email: str, role: str, name: str = "") -> str:
        """Add a staff member as `publisher staff add` does; their sign-in link."""
        from publisher.admin import accounts
        from publisher.store.audit import command_line

        invited = accounts.add(
            self.config, self.store, email, name, role, command_line(), self.clock()
        )
        return invited.link

    def sign_in(self, link: str, client=None):
        """Open a sign-in link and press its button, as the person does: a client holding
        the session cookie (sent by hand: httpx keeps `Secure` cookies off http) and the
        CSRF token in `X-CSRF-Token`; `client.cookie` is the session cookie."""
        client = client or self.client()
        page = client.get(link)
        assert page.status_code == 200, page.text
        token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
        answer = client.post("/admin/sign-in/link", data={"token": html.unescape(token)})
        assert answer.status_code == 303, answer.text
        cookie = re.search(r"publisher_session=([^;]+)", answer.headers["set-cookie"]).group(1)
        client.cookie = cookie
        client.headers["cookie"] = f"publisher_session={cookie}"
        client.headers["x-csrf-token"] = client.get("/admin/api/me").json()["csrf_token"]
        return client

    def staff(self, email: str, role: str):
        """A client signed in as a new staff member with this role."""
        return self.sign_in(self.add_staff(email, role))

    def api_key(self, email: str) -> str:
        from publisher.admin import accounts
        from publisher.store.audit import command_line

        return accounts.new_key(self.store, email, command_line(), self.clock())

    def outbox(self) -> list[EmailMessage]:
        folder = self.config.delivery.outbox / "new"
        files = sorted(folder.glob("*.eml"), key=lambda f: f.stat().st_mtime_ns)
        return [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]


@pytest.fixture
def start_console(site: Path, live_server):
    """Start `publisher web` (SQLite unless `database_url` is given) at a clock the test
    moves; `[web] url` is the server itself."""
    from datetime import UTC, datetime

    from publisher.config import load_config
    from publisher.web.app import create_app

    def start(database_url: str | None = None, **settings: str) -> StaffConsole:
        port = free_port()
        env = {**os.environ, "PUBLISHER_WEB_URL": f"http://127.0.0.1:{port}"}
        if database_url:
            env["PUBLISHER_DATABASE_URL"] = database_url
        env.update({f"PUBLISHER_{k.upper()}": v for k, v in settings.items()})
        config = load_config(env=env)
        clock = MovingClock(datetime(2026, 12, 1, 15, 0, tzinfo=UTC))
        app = create_app(config, clock=clock)
        return StaffConsole(live_server(app, port), config, app, clock)

    return start


@pytest.fixture
def console(start_console) -> StaffConsole:
    """The staff console on SQLite."""
    return start_console()


@pytest.fixture
def console_on(start_console, database_url: str) -> StaffConsole:
    """The staff console on SQLite, and on PostgreSQL when PUBLISHER_TEST_DATABASE_URL is set."""
    return start_console(database_url)


def insert_campaign(store, key: str, states: list[str], started_at=None, **values) -> int:
    """A campaign row with one delivery per entry of `states` (each to a new subscriber
    `<key>-<n>@example.com`), as a send would leave them ("failed 550": failed with that
    SMTP code); returns the campaign's id."""
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from publisher.store.schema import campaigns, deliveries

    started = started_at or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    row = dict(
        key=key,
        kind="post",
        subject=f"About {key}",
        html="",
        text="",
        status="done",
        created_at=started,
        started_at=started,
        total=len(states),
    )
    people = [
        insert_subscriber(store, f"{key.replace(':', '-')}-{n}@example.com")
        for n in range(len(states))
    ]
    with store.transaction() as conn:
        campaign_id = conn.execute(
            insert(campaigns).values(**row | values).returning(campaigns.c.id)
        ).scalar_one()
        conn.execute(
            insert(deliveries),
            [
                {
                    "campaign_id": campaign_id,
                    "subscriber_id": who,
                    "state": state.partition(" ")[0],
                    "smtp_code": int(state.partition(" ")[2] or 0) or None,
                    "attempts": 1,
                }
                for who, state in zip(people, states, strict=True)
            ],
        )
    return campaign_id


LINKS = [  # (number, url, text) of the link table `count_clicks` writes
    (1, "https://blog.example.org/posts/hello/?utm_source=newsletter", "Read on"),
    (2, "https://blog.example.org/posts/older/", "An older post"),
    (3, "https://elsewhere.example/study", "the study"),
]


def count_clicks(store, campaign_id: int, taken: list, scanners=()):
    """The campaign's link table (LINKS) and these clicks (link, reader, when) and scanner
    clicks (link, when), written as the redirect's group commit writes them."""
    from publisher.store import clicks

    tally = clicks.Tally()
    for link, who, at in taken:
        tally.clicks[campaign_id, link, clicks.hour_of(at)] += 1
        tally.sketch(campaign_id, link).add(who)
        tally.sketch(campaign_id, clicks.WHOLE_CAMPAIGN).add(who)
    for link, at in scanners:
        tally.scanners[campaign_id, link, clicks.hour_of(at)] += 1
    with store.transaction() as conn:
        clicks.add_links(conn, campaign_id, [clicks.Link(*link) for link in LINKS])
        clicks.write(conn, tally)
