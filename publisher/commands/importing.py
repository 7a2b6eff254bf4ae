"""Command: import (a Jekyll, Hugo or Pelican blog into posts/)."""

from __future__ import annotations

from pathlib import Path

import click

from publisher.commands.options import common_options, config_file, get_config


@click.command("import")
@click.argument("tool", type=click.Choice(["jekyll", "hugo", "pelican"]))
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@common_options
def import_blog(tool: str, src: Path) -> None:
    """Convert the TOOL blog in folder SRC into posts/, its old addresses kept as redirects.

    Copies the pictures and files the posts use into templates/site/static/ and links them
    there. Reads nothing outside SRC (symbolic links are named, not followed) and never
    writes over a post or a file that exists. Lists the files skipped, each thing to fix by
    hand (file:line, what to do), what publisher check still finds in the new posts, and a
    summary line; exits 0 (2 when SRC is not a TOOL site).
    """
    from publisher.importers import blog  # lazy: each command loads only what it runs

    report = blog.import_blog(tool, src, get_config(), config_file())
    for line in blog.report_lines(report):
        click.echo(line)


commands = [import_blog]
