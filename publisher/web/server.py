"""How `publisher web` reads HTTP: uvicorn's httptools protocol, with bounds on a request's head.

Uvicorn puts no limit on the size of a request's headers and no time limit on them once a
connection has sent a first byte: a 50 MB header was read whole (the process grew by
100 MB), and connections sending a header a byte at a time (slowloris) stayed open for
good. `BoundedHttp` answers 431 to a head (request line and headers) over `MAX_HEAD`
bytes and 408 to one not complete `[web] header_timeout` seconds after its first byte, and
closes a new connection that sends nothing in that time. Its answer is followed by a
lingering close, as nginx does: what the client still sends is read and dropped for a
moment, so the client reads the answer instead of a connection reset. `check_port` says
plainly when the port is taken, before anything starts (`web` and `serve`).
"""

from __future__ import annotations

import asyncio
import errno
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from publisher.config import Config
from publisher.errors import PublisherError

MAX_HEAD = 32 * 1024  # bytes; browsers send 1 to 2 KB, nginx refuses over 4 lines of 8 KB
LINGER = 2.0  # seconds a refused connection is read and dropped before it is closed
REFUSALS = {
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
}


class BoundedHttp(HttpToolsProtocol):
    """Uvicorn's httptools protocol, counting and timing each request's head."""

    header_timeout = 10.0  # `[web] header_timeout`: set by `protocol`

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.access_log = False  # written by the app's Guard instead (web/guard.py)
        self.in_head = True  # reading a request line and headers
        self.head_bytes = 0
        self.refused = False
        self.head_timer: asyncio.TimerHandle | None = None
        self._time_head()  # a new connection must send its first request in time

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return  # lingering: dropped
        if self.in_head:
            self.head_bytes += len(data)
            if self.head_timer is None:
                self._time_head()
        super().data_received(data)
        if self.in_head and self.head_bytes > MAX_HEAD:
            self._refuse(431)

    def on_headers_complete(self) -> None:
        self.in_head = False
        self._stop_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.in_head, self.head_bytes = True, 0  # the next request's head, timed from its start

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def _time_head(self) -> None:
        self.head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _stop_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if not self.in_head or self.transport.is_closing():
            return
        if self.head_bytes:
            self._refuse(408)
        else:
            self.transport.close()  # it never asked for anything: nothing to answer

    def _refuse(self, status: int) -> None:
        """Answer `status` and close, unless a response to an earlier request on this
        connection is still being written (pipelining): then close at once."""
        self._stop_timer()
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()
            return
        self.refused = True
        reason = REFUSALS[status]
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s"
            % (status, reason, len(reason), reason)
        )
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the client reads the answer, then the end
        self.loop.call_later(LINGER, self.transport.close)


def protocol(config: Config) -> type[BoundedHttp]:
    """The protocol class for uvicorn's `http` option, with `config`'s header timeout."""
    return type("BoundedHttp", (BoundedHttp,), {"header_timeout": config.web.header_timeout})


def check_port(host: str, port: int) -> None:
    """A PublisherError (exit 2) when `host`:`port` cannot be listened on, said before
    anything starts: uvicorn would print its own start-up lines, then exit 3."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PublisherError(_bind_problem(host, port, exc)) from None


def _bind_problem(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} is taken on {host}: another program (or another publisher) "
            "listens there; stop it, or choose another port with --port"
        )
    if exc.errno == errno.EACCES:
        return f"port {port} on {host}: not allowed (ports under 1024 need root); use --port"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
