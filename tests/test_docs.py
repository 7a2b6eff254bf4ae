"""The documentation site: it builds with `mkdocs build --strict` (a broken link or anchor, a
missing page or a page left out of the nav fails), its internal links resolve in the built
HTML, and the generated reference holds every setting, command, option and front matter key
the program has (the docs site is described in docs/development.md)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from publisher.admin.api import document
from publisher.cli import COMMANDS, main
from publisher.config import documented_keys
from publisher.content.keys import FRONT_MATTER

from conftest import REPO, Html, broken_links

sys.path.insert(0, str(REPO / "tools"))
from docs_reference import operation_anchor, schema_anchor  # noqa: E402

COMMON = {"--debug", "--now", "--config", "--help"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.fail(
            "mkdocs is missing: run pip install -e '.[test]' again (it holds the docs extra)"
        )
    out = tmp_path_factory.mktemp("docs") / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr
    return out


def ids(built: Path, page: str) -> set[str]:
    return Html((built / page / "index.html").read_text(encoding="utf-8")).ids


def test_the_docs_build_strict_and_every_internal_link_resolves(built: Path) -> None:
    assert (built / "index.html").is_file()
    assert broken_links(built) == []


def test_every_setting_has_a_reference_entry(built: Path) -> None:
    anchors = ids(built, "reference/settings")
    missing = [f"[{s}] {k}" for s, k, _, _ in documented_keys() if f"{s}-{k}" not in anchors]
    assert missing == []


def test_every_command_and_option_has_a_reference_entry(built: Path) -> None:
    anchors = ids(built, "reference/commands")
    missing = [name for name in ("debug", "now", "config") if name not in anchors]
    for name in COMMANDS:
        command = main.get_command(click.Context(main), name)
        subs = command.commands.items() if isinstance(command, click.Group) else []
        for path, each in [([name], command), *(([name, s], c) for s, c in subs)]:
            anchor = "-".join(path)
            missing += [] if anchor in anchors else [anchor]
            missing += [
                f"{anchor} {option}"
                for param in each.params
                if isinstance(param, click.Option) and not set(param.opts) & COMMON
                for option in [max(param.opts, key=len)]
                if f"{anchor}-{option.lstrip('-')}" not in anchors
            ]
    assert missing == []


def test_every_front_matter_key_has_a_reference_entry(built: Path) -> None:
    anchors = ids(built, "reference/front-matter")
    assert [key.name for key in FRONT_MATTER if key.name not in anchors] == []


def test_every_admin_api_route_and_schema_has_a_reference_entry(built: Path) -> None:
    """The Admin API page is generated from the OpenAPI document: every operation (with
    the action it needs) and every schema it names has its entry."""
    spec = document()
    html = (built / "reference/admin-api/index.html").read_text(encoding="utf-8")
    anchors = Html(html).ids
    operations = [(m, p, op) for p, ms in spec["paths"].items() for m, op in ms.items()]
    assert len(operations) > 30
    missing = [
        f"{m.upper()} {p}" for m, p, _ in operations if operation_anchor(m, p) not in anchors
    ]
    missing += [
        name for name in spec["components"]["schemas"] if schema_anchor(name) not in anchors
    ]
    assert missing == []
    assert all(op["x-permission"] in html for _, _, op in operations)


def test_every_page_a_message_names_exists(built: Path) -> None:
    """`docs_page("...")` in the code (errors, --help) names a page of the built docs."""
    named = {
        (source.relative_to(REPO), page)
        for source in (REPO / "publisher").rglob("*.py")
        for page in re.findall(r"""docs_page\(["']([^"']+)["']\)""", source.read_text())
    }
    assert len(named) >= 5  # --help, a config key, a front matter key, the brake, upgrades
    pages = {
        p: built / p.removesuffix("index.md").removesuffix(".md") / "index.html" for _, p in named
    }
    assert [(str(f), p) for f, p in named if not pages[p].is_file()] == []


def test_help_names_the_docs() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert "Documentation: docs/index.md" in result.output
    assert "docs/reference/commands.md" in result.output


def test_the_crontab_advice_passes_the_secrets_to_publisher(tmp_path: Path) -> None:
    """The starter's crontab said `. /etc/publisher.env &&`, which sets the variables in
    cron's shell without exporting them: publisher never saw the SMTP password."""
    crontab = (REPO / "publisher/templates/starter/scheduling/crontab").read_text()
    advice = re.search(r"starting the\n# command with `([^`]+)`", crontab).group(1)
    env_file = tmp_path / "publisher.env"
    env_file.write_text("PUBLISHER_SMTP_PASSWORD=s3cret\n")
    command = advice.replace("/etc/publisher.env", str(env_file)) + " env"
    seen = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True).stdout
    assert "PUBLISHER_SMTP_PASSWORD=s3cret" in seen.splitlines()


def test_a_python_dash_m_command_for_users_says_how_to_get_its_module() -> None:
    """install.md said `python -m build` makes a wheel, but only the test extra installs
    `build`: a page that runs a module with `python -m` ships it or says how to get it."""
    for page in sorted((REPO / "docs").glob("**/*.md")):
        if page.name == "development.md":  # developers install the test extra
            continue
        text = " ".join(page.read_text().split())
        for module in set(re.findall(r"python3? -m ([\w.]+)", text)):
            top = module.split(".")[0]
            ships = top in sys.stdlib_module_names or top in {"pip", "publisher"}
            installed = re.search(rf"pip install( -\S+)* {re.escape(top)}\b", text)
            assert ships or installed, f"{page.name}: python -m {module}"
