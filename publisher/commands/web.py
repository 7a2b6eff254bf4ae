"""Commands: web."""

from __future__ import annotations

import click

from publisher.commands.options import common_options, get_config


@click.command()
@click.option("--host", help="Address to listen on (default [web] host).")
@click.option("--port", type=int, help="Port to listen on (default [web] port).")
@common_options
def web(host: str | None, port: int | None) -> None:
    """Run the subscriber web app (subscribe, confirm, unsubscribe, preferences).

    Put it behind a reverse proxy that terminates TLS; list the proxy's address in
    [web] trusted_proxies so the per-IP limit sees the real client from X-Forwarded-For.
    """
    # lazy: uvicorn and Starlette, only for this command
    import uvicorn

    from publisher.web.app import create_app
    from publisher.web.server import check_port, protocol

    config = get_config()
    host = host or config.web.host
    port = port or config.web.port
    check_port(host, port)
    app = create_app(config)
    click.echo(f"subscriber app on http://{host}:{port}/ (public URL {config.web.url})", err=True)
    # Proxy headers are handled inside the app, and only for [web] trusted_proxies. Idle
    # connections stay open longer than a proxy's own keep-alive (nginx: 60 s), so the
    # proxy never sends a request on a connection we are closing. Each request's head is
    # bounded in size and time (`server.BoundedHttp`).
    uvicorn.run(
        app,
        host=host,
        port=port,
        http=protocol(config),
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=75,
        log_level="info",
    )


commands = [web]
