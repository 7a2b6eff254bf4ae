"""The Jinja environments shared by the site, the emails and the web app.

Templates are looked up in the site's own `templates/` first, then in the default theme
shipped inside the package (package data, so an installed wheel has it too), so a site overrides only the files it wants to change.
Autoescape is on and undefined names are errors (`StrictUndefined`), so a typo in a
template fails the build with the template's name and line instead of printing nothing.
The site's environment (`site_environment`) adds its URL filters and a bytecode cache, and
gives the site's own pictures their width and height (`Sizes`): the file's, read from its
header, so the browser keeps their room while they load and the text does not jump.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import imagesize
import jinja2
from markupsafe import Markup

from publisher.config import Config
from publisher.errors import TemplateError
from publisher.privacy import notice
from publisher.site.cache import cache_folder

DEFAULT_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
DIGEST_PERIODS = {"day": "daily", "month": "monthly"}  # any weekday: "weekly"
IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
SRC = re.compile(r"""\ssrc\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
SIZED = re.compile(r"\s(width|height)\s*=", re.IGNORECASE)


def environment(config: Config, folder: str) -> jinja2.Environment:
    """An environment over `<site>/templates/<folder>` and the default theme's `<folder>`."""
    paths = [config.templates_dir / folder, DEFAULT_TEMPLATES / folder]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(p) for p in dict.fromkeys(paths) if p.is_dir()]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["localtime"] = lambda moment, fmt="%B %-d, %Y": local_format(config, moment, fmt)
    env.filters["absolute"] = lambda url: absolute_url(config.site.url, url)
    env.filters["mix"] = mix_colors
    env.globals["site"] = config.site
    env.globals["privacy"] = notice(config)  # what the site counts, from [tracking]
    return env


def site_environment(config: Config) -> jinja2.Environment:
    """The theme's environment plus what site pages need: URLs under the site's own path."""
    env = environment(config, "site")
    env.bytecode_cache = jinja2.FileSystemBytecodeCache(str(cache_folder(config)))
    root = urlsplit(config.site.url).path.rstrip("/") + "/"
    env.filters["url"] = lambda url: url if "://" in url else root + url.lstrip("/")
    env.filters["isotime"] = lambda moment: config.local(moment).isoformat()
    env.globals["subscribe"] = {
        "url": config.web.url.rstrip("/") + "/subscribe",
        "manage_url": config.web.url.rstrip("/") + "/manage",
        "frequency": config.newsletter.frequency,
        "period": DIGEST_PERIODS.get(config.digest.every.lower(), "weekly"),
        "topics": config.topics,
    }
    sizes = Sizes(config)
    env.filters["size"] = sizes.attributes
    env.filters["sized_pictures"] = sizes.sized
    return env


def static_files(config: Config) -> list[tuple[Path, str]]:
    """(source, output path) of the theme's static files; the site's own override the default."""
    found: dict[str, Path] = {}
    for folder in (
        DEFAULT_TEMPLATES / "site" / "static",
        config.templates_dir / "site" / "static",
    ):
        for source in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if source.is_file():
                found["static/" + source.relative_to(folder).as_posix()] = source
    return [(source, path) for path, source in sorted(found.items())]


def site_path(config: Config, url: str) -> str | None:
    """`static/images/x.png` for a URL on the site (root-relative or absolute), else None."""
    base = urlsplit(config.site.url.rstrip("/") + "/")
    parts = urlsplit(absolute_url(config.site.url, url))
    if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
        return None
    path = unquote(parts.path)
    return path[len(base.path) :] if path.startswith(base.path) else None


class Sizes:
    """Width and height of the site's own pictures (its static files) for one environment:
    the files are listed once, and each picture's header is read once."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.files: dict[str, Path] | None = None
        self.known: dict[str, tuple[int, int] | None] = {}

    def of(self, url: str) -> tuple[int, int] | None:
        """(width, height) of the picture at `url` when the site serves it, else None."""
        if url not in self.known:
            self.known[url] = self._measure(url)
        return self.known[url]

    def _measure(self, url: str) -> tuple[int, int] | None:
        path = site_path(self.config, url)
        if path is None:
            return None
        if self.files is None:
            self.files = {p: s for s, p in static_files(self.config)}
        source = self.files.get(path)
        try:
            width, height = imagesize.get(source) if source else (-1, -1)
        except (OSError, ValueError):
            return None
        return (int(width), int(height)) if width > 0 and height > 0 else None

    def attributes(self, url: str) -> Markup:
        """` width="W" height="H"` for a template's <img> of `url`, or nothing."""
        size = self.of(url)
        return Markup(' width="%d" height="%d"') % size if size else Markup("")

    def sized(self, html: str) -> Markup:
        """A post's HTML with width and height given to each of the site's pictures that
        has neither (a size written in the Markdown's HTML wins)."""

        def add(match: re.Match[str]) -> str:
            tag, src = match.group(0), SRC.search(match.group(0))
            url = src.group(1).replace("&amp;", "&") if src else ""
            if SIZED.search(tag) or not url.startswith(("/", "http:", "https:")):
                return tag  # sized already, or relative to the page: not a theme file
            return tag[:4] + str(self.attributes(url)) + tag[4:]  # text: Markup would escape

        return Markup(IMG.sub(add, html))


def mix_colors(color: str, other: str, amount: float) -> str:
    """`color` moved `amount` (0 to 1) of the way towards `other`, both CSS hex colours:
    CSS's color-mix() for emails, whose clients do not know it (a light accent for dark mode)."""
    a, b = _rgb(color), _rgb(other)
    return "#" + "".join(f"{round(x + (y - x) * amount):02x}" for x, y in zip(a, b, strict=True))


def _rgb(color: str) -> tuple[int, int, int]:
    digits = color.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    red, green, blue = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
    return red, green, blue


def local_format(config: Config, moment: datetime, fmt: str) -> str:
    """Format an aware time in the site's time zone."""
    return config.local(moment).strftime(fmt)


def absolute_url(base: str, url: str) -> str:
    """`url` made absolute against the site's base URL (which may have a path)."""
    return urljoin(base.rstrip("/") + "/", url.lstrip("/")) if "://" not in url else url


def render(env: jinja2.Environment, name: str, **context: object) -> str:
    """Render a template, turning Jinja's errors into a one-line TemplateError."""
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{exc.filename or exc.name}:{exc.lineno}: {exc.message}") from exc
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template not found: {exc.name}") from exc
    except jinja2.TemplateError as exc:  # undefined names, and errors raised by filters
        raise TemplateError(f"{_template_location(exc, name)}: {exc.message}") from exc
    except (ArithmeticError, AttributeError, LookupError, TypeError, ValueError) as exc:
        raise TemplateError(f"{_template_location(exc, name)}: {exc}") from exc


def _template_location(exc: BaseException, fallback: str) -> str:
    """The template file and line where a render error happened, from the traceback."""
    tb = exc.__traceback__
    location = fallback
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith((".html", ".xml", ".txt")):
            location = f"{Path(filename).name}:{tb.tb_lineno}"
        tb = tb.tb_next
    return location
