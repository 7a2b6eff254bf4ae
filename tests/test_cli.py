"""The command line: every command is reachable and documented; errors are one line."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

from click import Group
from click.testing import CliRunner

from publisher.cli import COMMANDS, main
from publisher.config import documented_keys

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


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


def test_every_command_is_documented_in_the_readme() -> None:
    for name in COMMANDS:
        assert re.search(rf"`publisher {name}\b", README), f"publisher {name} not in README"


def test_every_config_key_is_documented_in_the_readme() -> None:
    for section, key, _default, _doc in documented_keys():
        table = README.split(f"**[{section}]**", 1)
        assert len(table) == 2, f"[{section}] has no table in README"
        rows = table[1].split("\n\n**[", 1)[0]
        assert f"| `{key}` |" in rows, f"[{section}] {key} not in README"


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
