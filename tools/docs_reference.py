"""The generated reference pages of the docs site: an MkDocs hook (`mkdocs.yml`, `hooks:`).

Each page is written at build time from the one declaration the program itself reads: the
settings from the config schema (`publisher.config.SECTIONS`), the commands and their
options from the click app (every command of `publisher.cli.COMMANDS`, loaded as the CLI
loads it), the front matter keys from `publisher.content.keys.FRONT_MATTER`. Nothing here
lists a key, a command or an option by hand, so a new one is documented by construction.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Iterator

import click

from publisher.cli import main
from publisher.config import SECTIONS
from publisher.content.keys import FRONT_MATTER
from publisher.starter.settings import toml_value

# Options every command takes, documented once at the top of the commands page.
COMMON = ("--debug", "--now", "--config", "--help")

SETTINGS_INTRO = """\
# Settings

Every setting of `config/site.toml`, generated from the config schema of this version of
publisher (`publisher init` writes the same keys, each with its default and doc).

The file is `config/site.toml`, or the one named by `--config FILE` or `PUBLISHER_CONFIG`.
Every key is optional and every key can be set from the environment as
`PUBLISHER_<SECTION>_<KEY>` (`PUBLISHER_SMTP_PORT=2525`), which wins over the file.
Relative paths resolve against the site root (the folder holding `config/`). Durations
are written `90s`, `15m`, `36h`, `2d`. All problems in the file are reported together,
each naming the key. Secrets never go in the file: the signing key and the SMTP password
are read from the environment variables named by `[newsletter] secret_env` and `[smtp]
password_env`.
"""

COMMANDS_INTRO = """\
# Commands

Every command and option of `publisher`, generated from the command line itself (the same
text as `publisher COMMAND --help`).

Bad input prints `error: ...` lines and exits 2; a problem with the environment
(database, relay, deploy) exits 1; see [When things go wrong](../run/troubleshooting.md).
"""

FRONT_MATTER_INTRO = """\
# Front matter

The keys a post's front matter may hold, between the two `---` lines at its top,
generated from the declaration the post reader uses. Keys are lowercase; any other key is
reported as a warning naming it. How to write a post: [Writing and scheduling a
post](../staff/writing.md).
"""


def settings_page() -> str:
    """Every section and key of the config schema, as tables with an anchor per key."""
    parts = [SETTINGS_INTRO]
    for section, cls in SECTIONS.items():
        parts.append(f"\n## [{section}] {{#{section}}}\n\n")
        parts.append("| key | default | meaning |\n|---|---|---|\n")
        for field in dataclasses.fields(cls):
            doc = field.metadata["doc"]
            if field.metadata["choices"]:
                doc += f" One of: {', '.join(f'`{c}`' for c in field.metadata['choices'])}."
            env = f"PUBLISHER_{section}_{field.name}".upper()
            default = toml_value(field.default)
            default = "(empty)" if default == '""' else f"`{default}`"
            parts.append(
                f'| <span id="{section}-{field.name}"></span>`{field.name}` | {default} | '
                f"{cell(doc)}<br>Environment: `{env}` |\n"
            )
    return "".join(parts)


def commands_page() -> str:
    """Every command, subcommand and option of the click app, in the order of `--help`."""
    root = click.Context(main, info_name="publisher")
    parts = [COMMANDS_INTRO, "\n## Options of every command {#options}\n\n"]
    parts.append(options_table(root, main.params))
    for path, command, ctx in walk(root):
        anchor = "-".join(path)
        parts.append(f"\n## publisher {' '.join(path)} {{#{anchor}}}\n\n")
        parts.append(f"```\n{command.get_usage(ctx)}\n```\n\n")
        parts.append(prose(inspect.cleandoc(command.help or command.short_help or "")) + "\n")
        own = [p for p in command.params if not (set(p.opts) & set(COMMON))]
        if isinstance(command, click.Group):
            names = ", ".join(f"[{name}](#{anchor}-{name})" for name in command.commands)
            parts.append(f"\nSubcommands: {names}.\n")
        elif own:
            parts.append("\n" + options_table(ctx, own, anchor))
    return "".join(parts)


def walk(ctx: click.Context) -> Iterator[tuple[list[str], click.Command, click.Context]]:
    """(path, command, context) for every command and subcommand, loaded as the CLI does."""
    group = ctx.command
    assert isinstance(group, click.Group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        sub = click.Context(command, parent=ctx, info_name=name)
        path = [*ctx.command_path.split()[1:], name]
        yield path, command, sub
        if isinstance(command, click.Group):
            yield from walk(sub)


def options_table(ctx: click.Context, params: list[click.Parameter], prefix: str = "") -> str:
    """Options with their metavar and help; arguments are named in the usage line. Each
    row's anchor is the command and the long option name: `send-to` for `send --to`."""
    rows = ["| option | meaning |\n|---|---|\n"]
    for param in params:
        record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
        if record is None:  # an argument, or a hidden option
            continue
        names, help_text = record
        name = max(param.opts, key=len).lstrip("-")
        anchor = f"{prefix}-{name}" if prefix else name
        rows.append(f'| <span id="{anchor}"></span>`{names}` | {cell(prose(help_text))} |\n')
    return "".join(rows)


def front_matter_page() -> str:
    """Every front matter key the post reader knows, required ones first as declared."""
    rows = ["| key | required | meaning |\n|---|---|---|\n"]
    for key in FRONT_MATTER:
        required = "yes" if key.required else "no"
        rows.append(f'| <span id="{key.name}"></span>`{key.name}` | {required} | {key.doc} |\n')
    return FRONT_MATTER_INTRO + "\n" + "".join(rows)


def prose(text: str) -> str:
    """Help text as Markdown: click's `\\b` markers dropped, `<` and `>` outside code spans
    escaped (so `posts/<date>-<slug>.md` is not taken for an HTML tag)."""
    text = text.replace("\b\n", "").replace("\b", "")
    pieces = re.split(r"(`[^`]*`)", text)
    return "".join(
        piece if piece.startswith("`") else piece.replace("<", "&lt;").replace(">", "&gt;")
        for piece in pieces
    )


def cell(text: str) -> str:
    """Text for one table cell: one line, a literal | escaped."""
    return " ".join(text.split()).replace("|", "\\|")


PAGES = {
    "reference/settings.md": settings_page,
    "reference/commands.md": commands_page,
    "reference/front-matter.md": front_matter_page,
}


def on_files(files, config):  # noqa: ANN001, ANN201 (MkDocs' hook signature)
    """Add the generated pages to the build, as if they were files in docs/."""
    from mkdocs.structure.files import File

    for path, make in PAGES.items():
        files.append(File.generated(config, path, content=make()))
    return files
