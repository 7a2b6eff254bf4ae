"""What the benchmark scripts share: sites and corpora, config, databases, the SMTP sink,
and measuring a whole process from outside.

A script run as `python bench/x.py` has bench/ on sys.path already: `from common import ...`.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PUBLISHER = Path(sys.executable).parent / "publisher"
SECRET = "bench-secret-key, 32 bytes or longer"  # PUBLISHER_SECRET_KEY of every bench site
SLUG = "sleep-and-mood-why-your-nights-shape-your-days"  # a post of the sample site
# Postfix's smtp-sink unpacked without installing a mail server:
# cd /tmp && apt-get download postfix && dpkg -x postfix_*.deb /tmp/postfix-x
UNPACKED_SINK = Path("/tmp/postfix-x/usr/sbin/smtp-sink")


# --- Sites and corpora ---------------------------------------------------------------

WORDS = " ".join(
    [
        "sleep mood anxiety therapy patient clinic brain serotonin routine evidence study",
        "light morning evening walk nutrition omega inflammation stress cortisol habit",
        "support family medication dose trial result review symptom recovery balance",
        "practice breathing mindful journal energy focus attention memory gut vitamin",
    ]
).split(" ")
TAGS = [f"Topic {name}" for name in "ABCDEFGHIJKLMNOPQRSTUVWXYZ1234"]  # a pool of 30
CORPUS_SITE = """\
[site]
title = "Bench"
url = "https://bench.example.org"
timezone = "America/Chicago"
"""  # the [site] of a generated corpus


def sentence(rng: random.Random) -> str:
    words = rng.choices(WORDS, k=rng.randint(8, 18))
    return " ".join(words).capitalize() + "."


def body(rng: random.Random, number: int) -> str:
    """About 1,000 words: sections with headings, paragraphs, lists, links, some bold."""
    parts = []
    for section in range(6):
        parts.append(f"## Section {section + 1}: {rng.choice(WORDS)} and {rng.choice(WORDS)}")
        for _ in range(3):
            text = " ".join(sentence(rng) for _ in range(4))
            parts.append(text.replace(" brain ", " **brain** ", 1))
        items = [f"- {sentence(rng)} See [post {number - 1}](/posts/post-{number - 1}/)."]
        items += [f"{i}. {sentence(rng)}" for i in range(1, 4)] if section % 2 else []
        parts.append("\n".join(items))
    return "\n\n".join(parts) + "\n"


def write_config(root: Path, text: str) -> Path:
    """Write root/config/site.toml (folders made as needed)."""
    path = root / "config" / "site.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def copy_sample_site(root: Path) -> Path:
    """The repository's sample site (config, posts, templates) copied to `root`."""
    for name in ("config", "posts", "templates"):
        shutil.copytree(REPO / name, root / name)
    return root


def subscriber_rows(start: int, stop: int, created_at: datetime) -> list[dict]:
    """Active subscribers reader{start}@example.org .. reader{stop - 1}@, as store rows."""
    return [
        dict(
            email=f"reader{n}@example.org",
            email_key=f"reader{n}@example.org",
            name=f"Reader {n}",
            status="active",
            frequency="each",
            source="bench",
            created_at=created_at,
            bounce_count=0,
        )
        for n in range(start, stop)
    ]


def write_dkim_key(path: Path) -> bytes:
    """A new 2048-bit RSA key written to `path` (PEM, PKCS#8); the PEM bytes."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    return pem


def bench_env(**settings: str) -> dict[str, str]:
    """This environment without PUBLISHER_CONFIG, with the bench secret and `settings`.
    PYTHONDONTWRITEBYTECODE goes too: an installed publisher runs from cached bytecode, and
    compiling its modules again in every process would be timed as start-up."""
    dropped = {"PUBLISHER_CONFIG", "PYTHONDONTWRITEBYTECODE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    return {**env, "PUBLISHER_SECRET_KEY": SECRET, **settings}


def relay_env(port: int) -> dict[str, str]:
    """The settings that point a site's SMTP delivery at the sink on loopback."""
    return {
        "PUBLISHER_DELIVERY_TRANSPORT": "smtp",
        "PUBLISHER_SMTP_HOST": "127.0.0.1",
        "PUBLISHER_SMTP_PORT": str(port),
        "PUBLISHER_SMTP_SECURITY": "none",
        "PUBLISHER_SMTP_USERNAME": "",
        "PUBLISHER_SMTP_MAX_PER_CONNECTION": "1000",
    }


# --- Databases -----------------------------------------------------------------------


@contextmanager
def postgres_schema(url: str, prefix: str) -> Iterator[tuple[str, str]]:
    """A new, empty PostgreSQL schema, dropped afterwards: (its name, a URL scoped to it)."""
    import sqlalchemy

    base = sqlalchemy.engine.make_url(url).set(drivername="postgresql+psycopg")
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    engine = sqlalchemy.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    try:
        scoped = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield schema, scoped.render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def copy_subscribers(
    root: Path, url: str, size: int, created: datetime, topics: Callable[[int], str] | None = None
) -> float:
    """Migrate the PostgreSQL store at `url`, then COPY `size` active `each` subscribers
    in (reader<n>@example.org, their chosen topics `topics(n)`, none by default); the
    seconds the COPY and ANALYZE took."""
    import psycopg

    from publisher.store import open_store

    open_store(url, root).close()
    started = time.perf_counter()
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    naive = created.replace(tzinfo=None)
    columns = "email, email_key, name, status, frequency, source, created_at, bounce_count, topics"
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY subscribers ({columns}) FROM STDIN") as copy:
            for n in range(size):
                email = f"reader{n}@example.org"
                chosen = topics(n) if topics else ""
                copy.write_row(
                    (email, email, f"Reader {n}", "active", "each", "bench", naive, 0, chosen)
                )
        cur.execute("ANALYZE subscribers")
    return time.perf_counter() - started


# --- Processes -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_sink() -> Path | None:
    """Postfix's smtp-sink: unpacked in /tmp/postfix-x, on PATH or in /usr/sbin; or None."""
    for found in (UNPACKED_SINK, shutil.which("smtp-sink"), "/usr/sbin/smtp-sink"):
        if found and Path(found).exists():
            return Path(found)
    return None


def start_sink(
    path: Path | None, counters: Path | None = None
) -> tuple[subprocess.Popen, int, str]:
    """An SMTP sink in its own process on a free loopback port: (process, port, kind).
    smtp-sink at `path` if there is one (its `-c` counters go to `counters`), else aiosmtpd
    (which keeps no counters)."""
    port = free_port()
    if path and path.exists():
        env = dict(os.environ)
        libraries = path.parent.parent / "lib" / "postfix"  # for an unpacked smtp-sink
        if libraries.is_dir():
            env["LD_LIBRARY_PATH"] = str(libraries)
        command = [str(path), "-u", "nobody", "-c", f"127.0.0.1:{port}", "1000"]
        kind = "smtp-sink"
    elif counters:
        raise SystemExit("smtp-sink not found (it counts what it receives): " + sink_help())
    else:
        env = dict(os.environ)
        command = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
        kind = "aiosmtpd"
    if counters:
        with open(counters, "w") as out:
            sink = subprocess.Popen(command, env=env, stdout=out)
    else:
        sink = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return sink, port, kind
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the SMTP sink did not start on port {port}")


def sink_help() -> str:
    return f"apt-get install postfix, or unpack it to {UNPACKED_SINK.parents[2]}"


# One process measured from outside by a small wrapper, so that its peak RSS (and that of
# its workers) is its own, not the largest of every process this script has started.
MEASURE = (
    "import json, resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "done = subprocess.run(sys.argv[2:], capture_output=True, text=True,"
    " timeout=float(sys.argv[1]) or None)\n"
    "took = time.perf_counter() - start\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps([took, usage.ru_utime + usage.ru_stime, usage.ru_maxrss,"
    " done.returncode, done.stdout, done.stderr]))\n"
)


@dataclass
class Run:
    seconds: float  # wall clock, exec to exit
    cpu: float  # user + system, all processes: less sensitive to a busy machine
    peak_mb: float  # the largest RSS of the process or one of its workers
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"{self.seconds:.2f} s ({self.cpu:.2f} s CPU, {self.peak_mb:.0f} MB peak)"


def measured(
    command: list[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 0,
    check: bool = True,
) -> Run:
    """Run `command` to its end and measure it; with `check`, a failure ends the benchmark."""
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(timeout), *command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"could not measure {' '.join(command)}:\n{out.stderr}")
    seconds, cpu, peak_kb, code, stdout, stderr = json.loads(out.stdout)
    run = Run(seconds, cpu, peak_kb / 1024, code, stdout, stderr)
    if check and code != 0:
        raise SystemExit(f"{' '.join(command)} failed ({code}):\n{stdout}{stderr}")
    return run


def peak_rss_mb() -> float:
    """The peak RSS of this process so far."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process: steadier than wall time on a busy machine."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fill_store(
    url: str, root: Path, subscribers: int, campaigns: int, each: int, now: datetime
) -> None:
    """The console's benchmark store at `url`: `subscribers` active subscribers and
    `campaigns` campaigns of `each` deliveries (mostly sent, some failed and bounced; the
    newest two still sending), written with INSERT ... SELECT, then ANALYZE."""
    from sqlalchemy import insert, literal, select, text

    from publisher.store.db import open_store
    from publisher.store.schema import campaigns as campaign_table
    from publisher.store.schema import deliveries
    from publisher.store.schema import subscribers as subscriber_table

    store = open_store(url, root)
    batch = 10_000
    for start in range(0, subscribers, batch):
        rows = subscriber_rows(start, min(start + batch, subscribers), now - timedelta(days=400))
        with store.transaction() as conn:
            conn.execute(insert(subscriber_table), rows)
    for number in range(campaigns):
        sending = number >= campaigns - 2
        at = now - timedelta(days=campaigns - number)
        state = text(
            "CASE WHEN subscribers.id % 997 = 0 THEN 'failed' "
            "WHEN subscribers.id % 211 = 0 THEN 'bounced' "
            + ("WHEN subscribers.id % 3 = 0 THEN 'queued' " if sending else "")
            + "ELSE 'sent' END"
        )
        with store.transaction() as conn:
            campaign_id = conn.execute(
                insert(campaign_table)
                .values(
                    key=f"post:bench-post-{number}",
                    kind="post",
                    subject=f"Bench post {number}",
                    html="<p>bench</p>",
                    text="bench",
                    headers="{}",
                    status="sending" if sending else "done",
                    note="",
                    created_at=at,
                    started_at=at,
                    finished_at=None if sending else at + timedelta(hours=1),
                    total=min(each, subscribers),
                )
                .returning(campaign_table.c.id)
            ).scalar_one()
            recipients = select(
                literal(campaign_id), subscriber_table.c.id, state, literal(1), literal(at)
            ).where(subscriber_table.c.id <= each)
            conn.execute(
                insert(deliveries).from_select(
                    ["campaign_id", "subscriber_id", "state", "attempts", "sent_at"], recipients
                )
            )
        if number % 20 == 19:
            print(f"  {number + 1} campaigns written", flush=True)
    with store.transaction() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
    if store.is_sqlite:
        with store.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    store.close()
