"""Preview server: the site with drafts and scheduled posts, rebuilt whenever a file changes.

The preview is built into `data/preview/`, never into the real output, so a draft cannot
leak into a deploy of `public/`. A failed build does not stop the server: every request
gets a page with the error (refreshing itself) until a save fixes it. Other parts of the
project add their own routes (email previews, the subscriber app) through `extra_routes`.
It answers only requests for its own names (`OWN_HOSTS`): a page on another site may make
its visitor's browser resolve that site's name to 127.0.0.1 (DNS rebinding), and must not
read the drafts so.
"""

from __future__ import annotations

import dataclasses
import html
import threading
import traceback
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from publisher.config import Config
from publisher.errors import PublisherError
from publisher.site.build import BuildResult, build
from publisher.site.theme import DEFAULT_TEMPLATES

OWN_HOSTS = ["127.0.0.1", "localhost"]  # `serve` listens on 127.0.0.1 only; others get 400
ERROR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Build failed</title>
<style>body{{font:1rem/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem}}
pre{{white-space:pre-wrap;background:#fdf0ef;border-left:4px solid #b3261e;padding:1rem}}</style>
</head><body><h1>The site did not build</h1><pre>{error}</pre>
<p>Fix it and save: this page reloads by itself and shows the site once it builds.</p>
</body></html>
"""


class PreviewSite:
    """The latest preview build, or the error that stopped it; rebuilt on change."""

    def __init__(self, load: Callable[[], Config]):
        self.load = load
        config = load()
        self.output = config.data_dir / "preview"
        self.watched = [config.posts_dir, config.templates_dir, config.root / "config"]
        self.watched.append(DEFAULT_TEMPLATES)
        self.error: str | None = None
        self.result: BuildResult | None = None
        self.builds = 0

    def rebuild(self) -> None:
        try:
            self.result = build(self.load(), drafts=True, future=True, output=self.output)
            self.error = None
        except PublisherError as exc:
            self.error = str(exc)
        except Exception:  # a preview shows any failure instead of dying
            self.error = traceback.format_exc()
        self.builds += 1

    def watch(self, stop: threading.Event) -> None:
        """Rebuild after each batch of changes until `stop` is set (runs in a thread)."""
        # lazy: the server and watcher, only once serving starts
        import watchfiles

        paths = [p for p in dict.fromkeys(self.watched) if p.exists()]
        for _changes in watchfiles.watch(*paths, stop_event=stop, debounce=200, step=50):
            self.rebuild()


def preview_app(
    config: Config,
    extra_routes: Sequence[BaseRoute] = (),
    load: Callable[[], Config] | None = None,
) -> Starlette:
    """The preview as an ASGI app: `extra_routes` first, then the built site.

    `load` re-reads the configuration before each rebuild (default: keep `config`).
    The first build runs at start-up; a thread watches posts, templates and config.
    """
    preview = PreviewSite(load or (lambda: config))
    files = StaticFiles(directory=preview.output, html=True, check_dir=False)
    prefix = urlsplit(config.site.url).path.rstrip("/")

    async def site(scope: Scope, receive: Receive, send: Send) -> None:
        if preview.error is not None:
            page = ERROR_PAGE.format(error=html.escape(preview.error))
            response = HTMLResponse(page, status_code=500, headers={"Cache-Control": "no-store"})
            await response(scope, receive, send)
        elif prefix and not scope["path"].startswith(prefix + "/"):
            await RedirectResponse(prefix + "/")(scope, receive, send)
        else:
            path = scope["path"][len(prefix) :]
            await files({**scope, "path": path, "root_path": ""}, receive, send)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        preview.rebuild()
        stop = threading.Event()
        watcher = threading.Thread(target=preview.watch, args=(stop,), daemon=True)
        watcher.start()
        yield
        stop.set()
        watcher.join(timeout=5)

    app = Starlette(
        routes=[*extra_routes, Mount("/", app=site)],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=OWN_HOSTS)],
        lifespan=lifespan,
    )
    app.state.preview = preview
    return app


def sandbox(config: Config, port: int) -> Config:
    """The config `serve` runs with: the site, its subscribe form and every link in the
    previewed emails at the preview's own address, and its own store and outbox under
    `data/sandbox/`, so trying the form never touches the real subscribers or mails anyone.
    """
    base = f"http://127.0.0.1:{port}"
    folder = config.data_dir / "sandbox"
    return dataclasses.replace(
        config,
        site=dataclasses.replace(config.site, url=base, deploy=""),
        web=dataclasses.replace(config.web, url=base, trusted_proxies=""),
        database=dataclasses.replace(config.database, url=f"sqlite:///{folder / 'publisher.db'}"),
        delivery=dataclasses.replace(config.delivery, transport="file", outbox=folder / "outbox"),
    )


def serve(config: Config, port: int, load: Callable[[], Config] | None = None) -> None:
    """Run the preview on 127.0.0.1:`port` until interrupted."""
    # lazy: the server and watcher, only once serving starts
    import uvicorn

    from publisher.web.app import preview_routes
    from publisher.web.previews import email_preview_routes

    routes = [*email_preview_routes(config), *preview_routes(config)]
    app = preview_app(config, extra_routes=routes, load=load)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
