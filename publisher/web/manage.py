""" "Manage your subscription" in the web app: `/manage` asks for an address and answers
every request alike, at once; a mailer thread then mails a one-time link to the preferences
when the address is on the list (`subscribers.manage`). The link (`/manage?token=...`)
shows a button; its POST spends the link and opens the preferences page.

Limited per client, as `/subscribe` is, and per address by the store (one link per 10
minutes), so the form can neither tell whether an address is on the list nor flood it.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from publisher.delivery.transports import open_transport
from publisher.errors import DeliveryError
from publisher.store import manage, subscribers
from publisher.subscribers import addresses
from publisher.subscribers.manage import send_link
from publisher.subscribers.tokens import preferences_url
from publisher.web.endpoints import Endpoints
from publisher.web.guard import ClientLimit
from publisher.web.signups import Mailer

log = logging.getLogger(__name__)

SENT = "If this address is on our list, a link to its preferences is on its way."


class ManageLinks:
    """The `/manage` route and its mailer thread."""

    def __init__(self, endpoints: Endpoints):
        self.endpoints = endpoints
        self.limit = ClientLimit(endpoints.config.web.subscribe_per_minute)
        self.mailer = Mailer(self.send, threads=1)

    def routes(self) -> list[Route]:
        return [Route("/manage", self.manage, methods=["GET", "POST"])]

    async def manage(self, request: Request) -> Response:
        if "token" in request.query_params:
            return await self.open(request)
        if request.method != "POST":
            return self.endpoints.pages.render("manage")
        client = request.client.host if request.client else "unknown"
        wait = self.limit.retry_after(client)
        endpoints = self.endpoints
        if wait:
            response = endpoints.answer(request, "too-many-requests", 429, "Too many requests.")
            response.headers["retry-after"] = str(wait)
            return response
        form = await request.form()
        if not form.get("website"):  # the honeypot: only bots fill it, and hear the same
            try:
                address = addresses.normalize(str(form.get("email", "")), smtputf8=True)
            except addresses.AddressError as exc:  # its syntax: says nothing about the list
                return endpoints.refuse(request, f"That address cannot be used: {exc}.")
            self.mailer.submit(address.email)
        return endpoints.answer(request, "manage-sent", 200, SENT)

    def send(self, email: str) -> None:
        """Look the address up and mail its link, in the mailer thread (after the answer)."""
        endpoints = self.endpoints
        transport = open_transport(endpoints.config)
        try:
            send_link(
                endpoints.config,
                endpoints.store,
                endpoints.tokens,
                transport,
                email,
                endpoints.clock(),
            )
        except DeliveryError as exc:
            log.warning("preferences link not sent: %s", exc)
        finally:
            transport.close()

    async def open(self, request: Request) -> Response:
        """GET shows one button (link scanners fetch links); its POST spends the link and
        goes to the preferences page, whose own link is in every email anyway."""
        endpoints = self.endpoints
        token = request.query_params["token"]
        subscriber = await endpoints.subscriber(request, "manage")
        if not subscriber:
            return endpoints.invalid_link(request)
        if request.method != "POST":
            return endpoints.pages.render("manage-open", token=token)
        key = await endpoints.store_call(subscribers.token_key, subscriber.id) or ""
        issued = endpoints.tokens.issued("manage", token, key)
        if not await endpoints.call(request, manage.use_link, subscriber.id, issued):
            return endpoints.invalid_link(request)
        now = endpoints.clock()
        url = preferences_url(endpoints.config, endpoints.tokens, subscriber.id, key, now)
        return RedirectResponse(url, status_code=303)
