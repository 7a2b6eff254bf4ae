"""`publisher init`: a site of one's own (issue 13: there was no way to start one).

Real processes (`run_publisher`, a pseudo-terminal for the prompts), real files; the new
site must pass `check` and `build` at once, and nothing is ever written over.
"""

from __future__ import annotations

import os
import pty
import subprocess
import tomllib
from pathlib import Path

import pytest

from publisher.config import documented_keys, load_config
from publisher.starter.settings import config_text

from conftest import PUBLISHER, Html, broken_links, clean_environment, run_publisher

NOW = "2026-12-01T15:00:00+00:00"
FLAGS = [
    "--title",
    "Notes from the Garden",
    "--url",
    "https://garden.example.net/",
    "--timezone",
    "Europe/Berlin",
    "--from",
    "news@garden.example.net",
    "--postal-address",
    "1 Orchard Lane, Springfield",
]


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(monkeypatch)


def init(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """`publisher init` with no terminal (stdin from /dev/null), as a script runs it."""
    return subprocess.run(
        [PUBLISHER, "init", str(folder), "--now", NOW, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


STARTER_FILES = [
    ".gitignore",
    "config/site.toml",
    "posts/2026-12-01-welcome.md",
    "scheduling/crontab",
    "scheduling/publisher-tick.service",
    "scheduling/publisher-tick.timer",
    "scheduling/publisher.service",
    "templates/README.md",
]


def test_init_with_flags_makes_a_site_that_checks_and_builds(tmp_path: Path) -> None:
    root = tmp_path / "garden"
    made = init(root, *FLAGS)
    assert made.returncode == 0, made.stderr
    assert files(root) == STARTER_FILES
    assert "created config/site.toml" in made.stdout and "publisher check" in made.stdout

    config = load_config(root / "config" / "site.toml", NOW)
    assert (config.site.title, config.site.url) == (
        "Notes from the Garden",
        "https://garden.example.net",
    )
    assert (config.site.timezone, config.web.url) == ("Europe/Berlin", "https://garden.example.net")
    assert config.newsletter.from_name == "Notes from the Garden"
    assert config.newsletter.from_address == "news@garden.example.net"
    assert config.newsletter.postal_address == "1 Orchard Lane, Springfield"
    # The first post is dated in the site's zone (16:00 in Berlin) and live at once.
    post = (root / "posts/2026-12-01-welcome.md").read_text()
    assert 'title: "Welcome to Notes from the Garden"' in post and "date: 2026-12-01 16:00" in post

    checked = run_publisher("check", "--now", NOW, cwd=root)
    assert checked.returncode == 0 and "0 errors" in checked.stdout, checked.stderr
    assert "warning" not in checked.stderr, checked.stderr
    built = run_publisher("build", "--now", NOW, cwd=root)
    assert built.returncode == 0, built.stderr
    output = root / "public"
    index = Html((output / "index.html").read_text())
    assert index.text["h1"] == ["Notes from the Garden"]
    assert (
        index.find("a", href="/posts/welcome/") and (output / "tags/welcome/index.html").is_file()
    )
    assert broken_links(output) == []


def test_the_snippets_and_gitignore_name_this_site(tmp_path: Path) -> None:
    root = tmp_path / "my site"
    assert init(root, "--title", "Mine").returncode == 0
    cron = (root / "scheduling/crontab").read_text().splitlines()[-1]
    assert cron == f"*/5 * * * * cd '{root.resolve()}' && {PUBLISHER} tick >> publisher.log 2>&1"
    service = (root / "scheduling/publisher.service").read_text()
    assert (
        f"WorkingDirectory={root.resolve()}\n" in service
        and f"ExecStart={PUBLISHER} run\n" in service
    )
    tick = (root / "scheduling/publisher-tick.service").read_text()
    assert "Type=oneshot" in tick and f"ExecStart={PUBLISHER} tick\n" in tick
    assert "OnCalendar=*-*-* *:*:00" in (root / "scheduling/publisher-tick.timer").read_text()
    ignored = (root / ".gitignore").read_text().splitlines()
    assert {"/public/", "/data/", "/public.tmp-*", "*.env", "*.pem"} <= set(ignored)
    # What a build and a send make is all ignored: git sees only the sources.
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    assert run_publisher("build", "--now", NOW, cwd=root).returncode == 0
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert sorted(line[3:].strip('"') for line in status.splitlines()) == STARTER_FILES


def test_without_a_terminal_nothing_is_asked_and_defaults_fill_in(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    made = init(root)
    assert made.returncode == 0, made.stderr
    config = load_config(root / "config" / "site.toml", NOW)
    assert (config.site.title, config.site.url) == ("My blog", "http://127.0.0.1:8000")
    assert config.newsletter.from_address == ""
    assert "next: set [newsletter] from_address in config/site.toml" in made.stdout
    checked = run_publisher("check", "--now", NOW, cwd=root)
    assert checked.returncode == 2, checked.stderr  # no email could be sent: an error
    assert "error: [newsletter] from_address is empty: set it in config/site.toml" in checked.stderr
    built = run_publisher("build", "--now", NOW, cwd=root)
    assert built.returncode == 0, built.stderr  # the site builds without it


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--url", "blog.example.org", "error: --url: expected a URL such as https://"),
        ("--timezone", "Mars/Olympus", "error: --timezone: unknown time zone 'Mars/Olympus'"),
        ("--from", "not an address", "error: --from: not an address: An email address must"),
        (
            "--title",
            "Two\nlines",
            "error: --title: the title contains a control character (U+000A); write it on one",
        ),
        ("--title", "  ", "error: --title: the title is empty"),
    ],
)
def test_a_bad_flag_is_one_error_naming_it_and_nothing_is_written(
    tmp_path: Path, flag: str, value: str, message: str
) -> None:
    made = init(tmp_path / "site", flag, value)
    assert made.returncode == 2
    assert made.stderr.startswith(message) and len(made.stderr.splitlines()) == 1, made.stderr
    assert not (tmp_path / "site").exists()


def test_init_and_the_first_tick_say_the_live_posts_are_not_emailed(tmp_path: Path) -> None:
    """The first tick records what is live as the back catalogue, even a post written a
    minute ago: init says so before, the tick's line when it happens, each with the
    command that sends one."""
    root = tmp_path / "garden"
    made = init(root, *FLAGS)
    assert made.returncode == 0, made.stderr
    assert "`publisher tick` first runs are the back catalogue and are not emailed" in made.stdout
    assert "`publisher send SLUG` emails one of them" in made.stdout
    ticked = run_publisher("tick", "--now", NOW, cwd=root)
    assert ticked.returncode == 0, ticked.stderr
    assert "first run: 1 live posts recorded, not emailed (the back catalogue: live before " in (
        ticked.stdout
    )
    assert "`publisher send welcome` emails one)" in ticked.stdout


def test_init_names_every_bad_flag_at_once_with_what_to_write(tmp_path: Path) -> None:
    """Issue 20 item 27: all bad flags in one go; a time zone in another case is taken, a
    near miss is named; "Name <addr>" points to from_name."""
    made = init(
        tmp_path / "site",
        "--url",
        "garden",
        "--timezone",
        "Europe/Berln",
        "--from",
        "Garden Notes <news@garden.example.net>",
    )
    assert made.returncode == 2 and not (tmp_path / "site").exists()
    assert made.stderr.splitlines() == [
        "error: --url: expected a URL such as https://blog.example.org, got 'garden'",
        "error: --timezone: unknown time zone 'Europe/Berln'; did you mean 'Europe/Berlin'?",
        "error: --from: write the address alone (news@garden.example.net); the name readers "
        "see is [newsletter] from_name in config/site.toml (the site title until you change it)",
    ]
    made = init(tmp_path / "site", "--timezone", "europe/berlin", "--no-input")
    assert made.returncode == 0, made.stderr
    assert load_config(tmp_path / "site" / "config" / "site.toml", NOW).site.timezone == (
        "Europe/Berlin"
    )


@pytest.mark.parametrize("existing", STARTER_FILES)
def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path, existing: str) -> None:
    root = tmp_path / "site"
    (root / existing).parent.mkdir(parents=True)
    (root / existing).write_text("mine\n")
    made = init(root, "--title", "Other")
    assert made.returncode == 2
    assert made.stderr.startswith(f"error: {root / existing}: already exists"), made.stderr
    assert files(root) == [existing] and (root / existing).read_text() == "mine\n"


def test_init_into_a_folder_with_other_files_keeps_them(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("my notes\n")
    made = subprocess.run(
        [PUBLISHER, "init", "--now", NOW, "--title", "Here"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    assert files(tmp_path) == sorted([*STARTER_FILES, "README.md"])
    assert "next: publisher check" in made.stdout


def test_on_a_terminal_init_asks_and_asks_again_after_a_bad_answer(tmp_path: Path) -> None:
    """Click's prompts on a real pseudo-terminal; --title given, so it is not asked."""
    root = tmp_path / "asked"
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [PUBLISHER, "init", str(root), "--now", NOW, "--title", "Asked Blog"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "TZ": "UTC"},
    )
    os.close(terminal)
    # The terminal holds typed lines until each prompt reads one, as a person typing ahead.
    answers = ["nonsense", "https://asked.example.org", "", "me@asked.example.org", "2 Elm St"]
    for answer in answers:
        os.write(controller, answer.encode() + b"\r")
    transcript = read_all(controller)
    assert process.wait(timeout=30) == 0, transcript.decode()
    text = transcript.decode()
    assert "Site title" not in text
    assert "Error: expected a URL such as https://blog.example.org, got 'nonsense'" in text
    assert "Time zone of your dates [UTC]" in text
    config = load_config(root / "config" / "site.toml", NOW)
    assert (config.site.title, config.site.url, config.site.timezone) == (
        "Asked Blog",
        "https://asked.example.org",
        "UTC",
    )
    assert config.newsletter.from_address == "me@asked.example.org"
    assert config.newsletter.postal_address == "2 Elm St"


def read_all(controller: int) -> bytes:
    """What the terminal shows until the process closes it."""
    data = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the other side is closed
            return data
        if not chunk:
            return data
        data += chunk


def test_the_config_file_lists_every_key_of_the_schema_with_its_default() -> None:
    text = config_text("Anything", {("site", "title"): "Anything"})
    data = tomllib.loads(text)
    assert sorted((s, k) for s, table in data.items() for k in table) == sorted(
        (section, key) for section, key, _default, _doc in documented_keys()
    )
    for section, key, _default, doc in documented_keys():
        assert f"# {doc.split()[0]}" in text.split(f"[{section}]", 1)[1], (section, key)


def test_the_written_defaults_read_back_as_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "config" / "site.toml"
    path.parent.mkdir()
    path.write_text(config_text("Defaults", {}))
    written = load_config(path, NOW, env={})
    for section, key, default, _doc in documented_keys():
        if isinstance(default, Path) and default != Path(""):
            default = tmp_path / default  # relative paths resolve against the site
        assert getattr(getattr(written, section), key) == default, (section, key)
