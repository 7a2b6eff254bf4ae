"""The command line: every command is reachable and has help; errors are one line (the
generated reference documents them: tests/test_docs.py)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from click import Group
from click.testing import CliRunner

from publisher.cli import COMMANDS, main

from conftest import fill_disk, run_publisher


def test_the_command_table_matches_the_command_modules() -> None:
    found = {
        command.name: module
        for module in set(COMMANDS.values())
        for command in importlib.import_module(f"publisher.commands.{module}").commands
    }
    assert found == COMMANDS


def test_every_command_has_help_and_takes_now_and_config() -> None:
    runner = CliRunner()
    for name in COMMANDS:
        command = main.get_command(None, name)
        paths = (
            [[name, sub] for sub in command.commands] if isinstance(command, Group) else [[name]]
        )
        for path in paths:
            result = runner.invoke(main, [*path, "--help"])
            assert result.exit_code == 0, result.output
            assert "--now" in result.output and "--config" in result.output, path


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "publisher", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "version" in result.stdout


def test_a_config_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "publisher", "check", "--now", "yesterday-ish"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: --now: expected an ISO 8601 time")
    assert "Traceback" not in result.stderr


def test_a_full_disk_is_one_error_line_and_exit_1(sample_site: Path, small_disk: Path) -> None:
    """Issue 10: a full disk printed a traceback (here while writing an email preview)."""
    fill_disk(small_disk / "filler")
    slug = "sleep-and-mood-why-your-nights-shape-your-days"
    failed = run_publisher("preview", slug, "--out", str(small_disk / "preview"), cwd=sample_site)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: No space left on device"], failed.stderr


@pytest.mark.parametrize("command", ["serve", "web"])
def test_a_taken_port_is_said_plainly_and_exit_2(site: Path, command: str) -> None:
    """`serve` printed "previewing ..." and then exited 3 with uvicorn's own lines."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_publisher(command, "--port", str(port), cwd=site)  # both on 127.0.0.1
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"error: port {port} is taken on 127.0.0.1: another program (or another publisher) "
        "listens there; stop it, or choose another port with --port"
    )
    assert "previewing" not in done.stdout and "subscriber app on" not in done.stderr


def test_an_unexpected_error_is_one_line_unless_debug(monkeypatch) -> None:
    """The last resort: a bug anywhere is one line and exit 1; --debug shows the traceback."""
    from publisher import config

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(config, "parse_now", broken)
    result = CliRunner().invoke(main, ["check", "--now", "2026-12-01"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "error: unexpected ZeroDivisionError: boom (--debug shows where)"
    ]
