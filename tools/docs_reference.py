"""The generated reference pages of the docs site: an MkDocs hook (`mkdocs.yml`, `hooks:`).

Each page is written at build time from the one declaration the program itself reads: the
settings from the config schema (`publisher.config.SECTIONS`), the commands and their
options from the click app (every command of `publisher.cli.COMMANDS`, loaded as the CLI
loads it), the front matter keys from `publisher.content.keys.FRONT_MATTER`, the Admin
API from its OpenAPI document (`publisher.admin.api.document()`, what
`/admin/api/openapi.json` serves). Nothing here lists a key, a command, an option or a
route by hand, so a new one is documented by construction.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Iterator

import click

from publisher.admin.api import SERVER, document
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


ADMIN_API_INTRO = """\
# Admin API

Every route of the Admin API, generated from its OpenAPI document (the one
`publisher web` serves at `/admin/api/openapi.json`, from the same declarations that
validate each request). How to use it, with examples: [The staff console](../run/console.md).

Each route says the action it needs and the roles that have it; without a signed-in
person the answer is 401, for a role that may not, 403. Errors are JSON with a `detail`
sentence (and `problems`, each with its line, when a post would not pass `publisher check`).
"""


def admin_api_page() -> str:
    """Every operation of the OpenAPI document, grouped by its tag, then every schema."""
    spec = document()
    parts = [ADMIN_API_INTRO]
    by_tag: dict[str, list[tuple[str, str, dict]]] = {}
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            by_tag.setdefault(operation["tags"][0], []).append((method, path, operation))
    for tag, operations in by_tag.items():
        parts.append(f"\n## {tag.capitalize()} {{#{tag}}}\n")
        for method, path, operation in operations:
            parts.append(operation_section(method, path, operation))
    parts.append("\n## Schemas {#schemas}\n\nThe request and response bodies named above.\n")
    for name, schema in spec["components"]["schemas"].items():
        parts.append(schema_section(name, schema))
    return "".join(parts)


def operation_anchor(method: str, path: str) -> str:
    """`get-posts-slug` for GET /posts/{slug}: stable while the route is."""
    return f"{method}-" + re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")


def schema_anchor(name: str) -> str:
    return "schema-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def operation_section(method: str, path: str, operation: dict) -> str:
    anchor = operation_anchor(method, path)
    lines = [f"\n### {method.upper()} {SERVER}{path} {{#{anchor}}}\n\n"]
    lines.append(f"**{operation.get('summary', '')}.** {prose(operation.get('description', ''))}\n")
    action = operation.get("x-permission")
    if action:
        roles = ", ".join(operation.get("x-roles", [])) or "nobody"
        lines.append(f"\nNeeds `{action}`: {roles}.\n" if action != "public" else "\nPublic.\n")
    if operation.get("parameters"):
        lines.append("\n| parameter | in | required | type |\n|---|---|---|---|\n")
        for param in operation["parameters"]:
            required = "yes" if param.get("required") else "no"
            kind = type_of(param.get("schema", {}))
            lines.append(f"| `{param['name']}` | {param['in']} | {required} | {kind} |\n")
    body = operation.get("requestBody", {}).get("content", {})
    for media, content in body.items():
        lines.append(f"\nRequest body ({media}): {type_of(content.get('schema', {}))}.\n")
    lines.append("\n| status | meaning | body |\n|---|---|---|\n")
    for status, answer in sorted(operation["responses"].items()):
        content = answer.get("content", {})
        kinds = "; ".join(f"{type_of(c.get('schema', {}))} ({m})" for m, c in content.items())
        lines.append(f"| {status} | {cell(answer.get('description', ''))} | {kinds} |\n")
    return "".join(lines)


def schema_section(name: str, schema: dict) -> str:
    lines = [f"\n### {name} {{#{schema_anchor(name)}}}\n\n"]
    if schema.get("description"):
        lines.append(prose(inspect.cleandoc(schema["description"])) + "\n\n")
    properties = schema.get("properties", {})
    if not properties:
        return "".join(lines) + f"{type_of(schema)}.\n"
    required = set(schema.get("required", []))
    lines.append("| field | type | required | default |\n|---|---|---|---|\n")
    for field, spec in properties.items():
        default = f"`{spec['default']!r}`" if "default" in spec else ""
        need = "yes" if field in required else "no"
        lines.append(f"| `{field}` | {type_of(spec)} | {need} | {cell(default)} |\n")
    return "".join(lines)


def type_of(schema: dict) -> str:
    """A JSON schema as a few words: `string`, list of [Post](#schema-post), ..."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{schema_anchor(name)})"
    if "anyOf" in schema:
        return " or ".join(type_of(option) for option in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(f"`{value}`" for value in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {type_of(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {type_of(schema['additionalProperties'])}"
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


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
    "reference/admin-api.md": admin_api_page,
}


def on_files(files, config):  # noqa: ANN001, ANN201 (MkDocs' hook signature)
    """Add the generated pages to the build, as if they were files in docs/."""
    from mkdocs.structure.files import File

    for path, make in PAGES.items():
        files.append(File.generated(config, path, content=make()))
    return files
