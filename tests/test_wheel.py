"""The package as a user gets it (issue 13): `pip install .` (not editable) then `publisher
build` said "template not found: index.html", the theme being looked up in the checkout.

Real parts: `python -m build` makes the sdist and, from it, the wheel; a fresh virtualenv
outside the checkout installs the wheel (pip's cache and configured package index, no
other network); the installed `publisher` starts a site with `init`, checks, builds it,
adds a subscriber and sends the first post into the file outbox; the subscriber app
answers with the theme's page. Nothing may come from the repository.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from conftest import REPO, Html, broken_links, free_port, wait_for

pytestmark = pytest.mark.slow
NOW = "2026-12-01T15:00:00+00:00"


def run(*args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    """(the virtualenv's bin folder, an environment without the checkout, the wheel)."""
    tmp = tmp_path_factory.mktemp("wheel")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PUBLISHER_", "PYTHON", "VIRTUAL_ENV"))
    }
    env["PUBLISHER_SECRET_KEY"] = "a test secret that is long enough to sign links"
    run(sys.executable, "-m", "build", "--outdir", tmp / "dist", REPO, cwd=tmp, env=env)
    wheel = next((tmp / "dist").glob("publisher-*.whl"))
    run(sys.executable, "-m", "venv", tmp / "venv", cwd=tmp, env=env)
    bin_dir = tmp / "venv" / "bin"
    run(bin_dir / "pip", "install", "-q", wheel, cwd=tmp, env=env)
    return bin_dir, env, wheel


def test_the_wheel_holds_the_whole_theme_and_the_starter(installed) -> None:
    _bin, _env, wheel = installed
    shipped = set(zipfile.ZipFile(wheel).namelist())
    theme = {
        p.relative_to(REPO).as_posix()
        for p in (REPO / "publisher" / "templates").rglob("*")
        if p.is_file()
    }
    assert theme - shipped == set()
    assert {"publisher/templates/site/index.html", "publisher/templates/email/post.html"} <= theme
    assert not [name for name in shipped if name.startswith(("tests/", "posts/", "config/"))]


def test_an_installed_wheel_starts_builds_and_sends_a_site_anywhere(
    installed, tmp_path: Path
) -> None:
    bin_dir, env, _wheel = installed
    publisher = bin_dir / "publisher"
    where = run(
        bin_dir / "python",
        "-c",
        "import publisher; print(publisher.__file__)",
        cwd=tmp_path,
        env=env,
    )
    assert not Path(where.stdout.strip()).is_relative_to(REPO)

    run(
        publisher,
        "init",
        "blog",
        "--now",
        NOW,
        "--title",
        "Field Notes",
        "--url",
        "https://notes.example.net",
        "--timezone",
        "Europe/Lisbon",
        "--from",
        "news@notes.example.net",
        "--postal-address",
        "3 Quay Road, Porto",
        cwd=tmp_path,
        env=env,
    )
    root = tmp_path / "blog"
    checked = run(publisher, "check", "--now", NOW, cwd=root, env=env)
    assert "0 errors, 0 warnings" in checked.stdout, checked.stderr
    run(publisher, "build", "--now", NOW, cwd=root, env=env)
    output = root / "public"
    index = Html((output / "index.html").read_text())
    assert index.text["h1"] == ["Field Notes"]
    assert index.find("a", href="/posts/welcome/")
    for static in ("style.css", "pygments.css", "favicon.svg", "theme.css"):
        assert (output / "static" / static).is_file(), static
    assert "medical" not in (output / "index.html").read_text().lower()
    assert broken_links(output) == []

    run(
        publisher,
        "subscribers",
        "add",
        "ann@example.com",
        "--name",
        "Ann",
        "--now",
        NOW,
        cwd=root,
        env=env,
    )
    run(publisher, "send", "welcome", "--now", NOW, cwd=root, env=env)
    sent = list((root / "data" / "outbox" / "new").iterdir())
    assert len(sent) == 1
    message = message_from_bytes(sent[0].read_bytes(), policy=policy.default)
    assert message["Subject"] == "Welcome to Field Notes"
    assert message["From"].addresses[0].addr_spec == "news@notes.example.net"
    assert message["To"].addresses[0].addr_spec == "ann@example.com"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "3 Quay Road, Porto" in html and "3 Quay Road, Porto" in text
    # The post's links go through the site's own click redirect (aggregate by default).
    assert re.search(r'href="https://notes\.example\.net/l/[0-9]+/[0-9]+/', html), html


def test_the_installed_subscriber_app_renders_the_theme(installed, tmp_path: Path) -> None:
    bin_dir, env, _wheel = installed
    run(bin_dir / "publisher", "init", "site", "--title", "Web Check", cwd=tmp_path, env=env)
    port = free_port()
    server = subprocess.Popen(
        [bin_dir / "publisher", "web", "--port", str(port)],
        cwd=tmp_path / "site",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/confirm?token=not-a-token"

        def answered() -> bool:
            try:
                urllib.request.urlopen(url, timeout=2)
            except urllib.error.HTTPError:
                return True
            except OSError:
                return False
            return True

        wait_for(answered, timeout=30)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=5)
        assert refused.value.code == 400
        page = refused.value.read().decode()
        assert "Web Check" in page and "/static/style.css" in page
    finally:
        server.terminate()
        server.wait(timeout=30)
