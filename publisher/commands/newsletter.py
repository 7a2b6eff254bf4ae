"""Commands: preview."""

from __future__ import annotations

from pathlib import Path

import click

from publisher.commands.options import common_options, get_config
from publisher.content.lookup import find_post
from publisher.content.posts import load_posts


@click.command()
@click.argument("slug", required=False)
@click.option("--digest", is_flag=True, help="Preview the next digest instead of a post.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the files (default: data/email-preview).",
)
@common_options
def preview(slug: str | None, digest: bool, out: Path | None) -> None:
    """Write a post's email (or the next digest) as .html and .eml files and print their paths."""
    if bool(slug) == digest:
        raise click.UsageError("give a post's SLUG or --digest")
    # lazy: premailer, Jinja and the store, which `publisher --help` has no use for
    from publisher.mail import newsletter
    from publisher.schedule.links import pinned_posts
    from publisher.web import previews

    config = get_config()
    posts = pinned_posts(config, load_posts(config))
    if digest:
        rendered = previews.next_digest(config)
    else:
        rendered = newsletter.render_post(config, find_post(posts, slug), posts)
    found = previews.preview(config, rendered, previews.preview_recipient(config))
    folder = out or config.data_dir / "email-preview"
    folder.mkdir(parents=True, exist_ok=True)
    html_path = folder / f"{found.name}.html"
    eml_path = folder / f"{found.name}.eml"
    html_path.write_text(found.part("html"), encoding="utf-8")
    eml_path.write_bytes(found.message)
    click.echo(html_path)
    click.echo(eml_path)


commands = [preview]
