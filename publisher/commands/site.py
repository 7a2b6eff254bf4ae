"""Commands for the web site: build, serve.

Heavy modules (Jinja, Markdown, Starlette, uvicorn, rich) are imported inside the commands,
so `publisher build` starts fast and `publisher --help` pays for none of them.
"""

from __future__ import annotations

import sys

import click

from publisher.cli import Options, common_options, get_config

PROGRESS_THRESHOLD = 300  # pages; smaller builds finish before a bar is worth drawing


class ProgressBar:
    """A rich progress bar over the pages being written; only on a terminal, only when big."""

    def __init__(self) -> None:
        self.bar = None
        self.task = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if total <= PROGRESS_THRESHOLD or not sys.stdout.isatty():
                return
            from rich.progress import Progress

            self.bar = Progress(transient=True)
            self.bar.start()
            self.task = self.bar.add_task("writing pages", total=total)
        self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@click.command()
@click.option("--drafts", is_flag=True, help="Include drafts, marked as such (for previews).")
@click.option("--future", is_flag=True, help="Include posts scheduled for later, marked as such.")
@common_options
def build(drafts: bool, future: bool) -> None:
    """Build the site into the output folder, re-rendering only what changed."""
    from publisher import site

    config = get_config()
    progress = ProgressBar()
    try:
        result = site.build(config, drafts=drafts, future=future, progress=progress)
    finally:
        progress.close()
    click.echo(result.summary())


@click.command()
@click.option("--port", default=8000, show_default=True, help="Port on 127.0.0.1.")
@common_options
def serve(port: int) -> None:
    """Preview the site with drafts and scheduled posts, rebuilding on every change."""
    from publisher.config import load_config
    from publisher.serve import serve as run

    options = click.get_current_context().find_root().ensure_object(Options)
    config = get_config()
    click.echo(
        f"previewing http://127.0.0.1:{port}/ (drafts and scheduled posts shown); Ctrl+C stops"
    )
    run(config, port, load=lambda: load_config(options.config, options.now))


commands = [build, serve]
