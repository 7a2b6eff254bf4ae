"""The app's pages, rendered with the blog's theme."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import HTMLResponse

from publisher.config import Config
from publisher.site import theme
from publisher.subscribers.addresses import readable


@dataclass
class Pages:
    """Renders the app's pages with the site's templates (`templates/site/web/*.html`).

    The app may live on another host than the blog, so every link and stylesheet in the
    blog's layout points at the blog by absolute URL.
    """

    config: Config

    def __post_init__(self) -> None:
        self.env = theme.site_environment(self.config)
        self.env.filters["url"] = lambda url: theme.absolute_url(self.config.site.url, url)
        self.env.filters["readable"] = readable  # an address's domain in Unicode
        # Jinja folds `'static/style.css' | url` into the compiled template, so templates
        # compiled for the blog (its bytecode cache) must not be reused with this filter.
        self.env.bytecode_cache = None

    def render(self, name: str, status: int = 200, **context: object) -> HTMLResponse:
        html = theme.render(self.env, f"web/{name}.html", **context)
        return HTMLResponse(html, status_code=status)
