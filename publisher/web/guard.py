"""The guard around every request: security headers, the body cap (larger for the
providers' webhooks and the console), HEAD served as GET, the per-client limit on
`/subscribe`, and the access log (tokens redacted, clicks left out)."""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from collections.abc import Callable
from urllib.parse import unquote_plus, urlsplit

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

from publisher.config import Config

MAX_BODY = 16 * 1024
# Larger bodies some paths take, the longest prefix first: SendGrid posts webhook batches
# of up to 768 KB (SNS up to 256 KB); a post saved in the console is up to 1 MB of text
# (2 as JSON); a CSV of subscribers can be big.
BODY_CAPS = (
    ("/admin/api/subscribers/import", 64 * 1024 * 1024),
    ("/admin/subscribers/import", 64 * 1024 * 1024),  # the console's page for it
    ("/webhooks/", 1024 * 1024),
    ("/admin/posts/", 24 * 1024 * 1024),  # the editor's form with a picture (uploads.MAX_BYTES)
    ("/admin/", 4 * 1024 * 1024),
)


OWN_HEADERS = {b"content-security-policy", b"x-frame-options"}  # a response may set its own


def body_cap(path: str) -> int:
    return next((cap for prefix, cap in BODY_CAPS if path.startswith(prefix)), MAX_BODY)


def origin(url: str) -> str:
    """scheme://host[:port] of a URL: what browsers send in `Origin`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def content_policy(config: Config, *more: str) -> str:
    """Every page's Content-Security-Policy, with `more` directives for one page. Styles
    and images may come from the blog's origin, since the pages reuse its theme; nothing
    else loads, and no one may frame the pages."""
    blog, app = origin(config.site.url), origin(config.web.url)
    return "; ".join(
        [
            f"default-src 'self'; style-src 'self' {blog}; img-src 'self' {blog} data:",
            f"font-src 'self' {blog}; form-action 'self' {app}; frame-ancestors 'none'",
            "base-uri 'none'; object-src 'none'",
            *more,
        ]
    )


def security_headers(config: Config) -> list[tuple[bytes, bytes]]:
    """Headers set on every response (a response may set its own `OWN_HEADERS`)."""
    headers = {
        "content-security-policy": content_policy(config),
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "cache-control": "no-store",
        "cross-origin-opener-policy": "same-origin",
    }
    if urlsplit(config.web.url).scheme == "https":  # browsers then never try plain HTTP
        headers["strict-transport-security"] = "max-age=31536000"
    return [(k.encode(), v.encode()) for k, v in headers.items()]


QUERY_FIELD = re.compile(r"([?&])([^&=#?\s]*)=[^&#\s]*")


TRACKED_PATHS = ("/l/", "/o/")  # a click or an open: counted, never logged
ACCESS_LOG = logging.getLogger("uvicorn.access")


class RedactTokens(logging.Filter):
    """The access log prints each request's query string, and a link's token is as
    good as a password for that subscriber: keep the path and the other fields, hide it.
    A field is the token when its name reads `token` as the app decodes it (`%74oken`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                QUERY_FIELD.sub(_redacted, arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


def _redacted(field: re.Match) -> str:
    if unquote_plus(field[2]) != "token":
        return field[0]
    return f"{field[1]}{field[2]}=[redacted]"


REDACT_TOKENS = RedactTokens()


class Guard:
    """The outermost layer: security headers on every response, the body cap, HEAD served
    as GET without a body, and an error page (with those headers) instead of a bare 500
    when something unexpected breaks."""

    def __init__(self, app: ASGIApp, headers: list[tuple[bytes, bytes]], error_page: Callable):
        self.app = app
        self.headers = headers
        self.error_page = error_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        method = scope["method"]
        head = method == "HEAD"
        if head:  # the click redirect counts a HEAD as a link scanner's (web/clicks.py)
            scope = {**scope, "method": "GET", "publisher.head": True}

        async def send_secured(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                _log_access(scope, method, message["status"])
                message = {**message, "headers": self._secured(message.get("headers", []))}
            elif head:
                message = {**message, "body": b""}
            await send(message)

        cap = body_cap(scope["path"])
        declared = Headers(scope=scope).get("content-length", "0")
        if not (declared.isascii() and declared.isdigit()) or int(declared) > cap:
            await self.error_page(413)(scope, receive, send_secured)
            return
        received = 0

        async def receive_capped() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > cap:  # a chunked body that grew past the cap
                raise HTTPException(413)
            return message

        try:
            await self.app(scope, receive_capped, send_secured)
        except Exception:
            if not started:
                await self.error_page(500)(scope, receive, send_secured)
            raise

    def _secured(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """`headers` with the security headers set, but for a CSP or frame option the
        response set itself (the console's preview frame)."""
        present = {name.lower() for name, _ in headers}
        ours = [
            (name, value)
            for name, value in self.headers
            if not (name in present and name in OWN_HEADERS)
        ]
        replaced = {name for name, _ in ours}
        return [h for h in headers if h[0].lower() not in replaced] + ours


def _log_access(scope: Scope, method: str, status: int) -> None:
    """Uvicorn's access log line, written here instead (`server.BoundedHttp` turns
    uvicorn's off): clicks and opens are left out before anything is formatted, since
    their paths carry a reader's tag and a logging filter runs only after the record is
    made (a quarter of a click's CPU time)."""
    if scope["path"].startswith(TRACKED_PATHS) or not ACCESS_LOG.isEnabledFor(logging.INFO):
        return
    path = get_path_with_query_string(scope)
    client = get_client_addr(scope)
    ACCESS_LOG.info('%s - "%s %s HTTP/%s" %d', client, method, path, scope["http_version"], status)


class ClientLimit:
    """At most `limit` hits per key (a client's IP, an address, an API key) in any `window`
    seconds (a minute unless given), a sliding log per key; outgoing mail has its own pace
    (`delivery.throttle.TokenBucket`).

    In memory and per process: `publisher web` runs one process. Keys idle for a window
    are dropped when the table grows, so memory stays bounded by recent clients.
    """

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic, window: float = 60):
        self.limit = limit
        self.clock = clock
        self.window = window
        self.hits: dict[str, deque[float]] = {}

    def retry_after(self, key: str) -> int:
        """0 when `key` may go ahead now (and the hit is counted), else seconds to wait."""
        now = self.clock()
        hits = self.hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1, int(hits[0] + self.window - now) + 1)
        hits.append(now)
        if len(self.hits) > 10_000:
            self.hits = {k: v for k, v in self.hits.items() if v and v[-1] > now - self.window}
        return 0
