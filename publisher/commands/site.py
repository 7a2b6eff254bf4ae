"""Commands for the web site: build, serve.

Heavy modules (Jinja, Markdown, Starlette, uvicorn, rich) are imported inside the commands,
so `publisher build` starts fast and `publisher --help` pays for none of them.
"""

from __future__ import annotations

import sys
import threading

import click

from publisher.commands.options import Options, common_options, get_config

PROGRESS_THRESHOLD = 300  # pages; smaller builds finish before a bar is worth drawing
SPINNER_DELAY = 0.5  # seconds of reading posts before a spinner appears


class ProgressBar:
    """Rich progress for big builds, only on a terminal.

    Reading posts (the slow part of a first build) gets a spinner if it takes a while;
    writing pages gets a bar when there are many. Nothing is imported for small builds.
    """

    def __init__(self) -> None:
        self.enabled = sys.stdout.isatty()
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None
        self.bar = None
        self.task = None
        self.stage = ""

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        if total is None:
            self.timer = threading.Timer(SPINNER_DELAY, self._show, (stage, None))
            self.timer.daemon = True
            self.timer.start()
            return
        self._cancel_timer()
        if self.bar is None and total <= PROGRESS_THRESHOLD:
            return
        self._show(stage, total)
        self.bar.update(self.task, completed=done)

    def _show(self, stage: str, total: int | None) -> None:
        with self.lock:
            if self.bar is None:
                # lazy: each command loads only what it runs (start-up of the others)
                from rich.progress import Progress

                self.bar = Progress(transient=True)
                self.bar.start()
            if stage != self.stage:
                if self.task is not None:
                    self.bar.remove_task(self.task)
                self.task = self.bar.add_task(stage, total=total)
                self.stage = stage

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def close(self) -> None:
        self._cancel_timer()
        with self.lock:
            if self.bar is not None:
                self.bar.stop()


@click.command()
@click.option("--drafts", is_flag=True, help="Include drafts, marked as such (for previews).")
@click.option("--future", is_flag=True, help="Include posts scheduled for later, marked as such.")
@click.option("--deploy", is_flag=True, help="Then run [site] deploy, as a tick does.")
@common_options
def build(drafts: bool, future: bool, deploy: bool) -> None:
    """Build the site into the output folder, re-rendering only what changed."""
    # lazy: each command loads only what it runs (start-up of the others)
    from publisher.schedule import freshness
    from publisher.schedule.links import site_posts
    from publisher.site import build as site

    config = get_config()
    if deploy:
        if drafts or future:
            raise click.UsageError("--deploy publishes the live site: no --drafts or --future")
        _build_and_deploy(config)
        return
    freshness.forget(config)  # the next tick rebuilds (and deploys) the live site
    progress = ProgressBar()
    try:
        progress("reading posts", 0, None)
        posts = site_posts(config)  # at the addresses they went live at
        result = site.build(config, drafts, future, progress=progress, posts=posts)
    finally:
        progress.close()
    click.echo(result.summary())


def _build_and_deploy(config) -> None:
    # lazy: each command loads only what it runs (start-up of the others)
    from publisher.schedule.links import site_posts
    from publisher.schedule.publish import build_and_deploy

    summary, deployed = build_and_deploy(config, site_posts(config))
    click.echo(f"{summary}; deploy {deployed}")


@click.command()
@click.option("--port", default=8000, show_default=True, help="Port on 127.0.0.1.")
@common_options
def serve(port: int) -> None:
    """Preview the site with drafts and scheduled posts, rebuilding on every change."""
    # lazy: each command loads only what it runs (start-up of the others)
    from publisher.config import load_config
    from publisher.web.serve import sandbox
    from publisher.web.serve import serve as run
    from publisher.web.server import check_port

    options = click.get_current_context().find_root().ensure_object(Options)
    config = sandbox(get_config(), port)
    check_port("127.0.0.1", port)
    click.echo(
        f"previewing http://127.0.0.1:{port}/ (drafts and scheduled posts shown); Ctrl+C stops\n"
        f"its subscribe form and emails use a sandbox: subscribers in "
        f"{config.data_dir / 'sandbox'}, mail in {config.delivery.outbox}; "
        f"the real subscribers are never touched"
    )
    run(config, port, load=lambda: sandbox(load_config(options.config, options.now), port))


commands = [build, serve]
