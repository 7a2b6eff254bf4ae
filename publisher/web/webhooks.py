"""The providers' webhooks: `POST /webhooks/ses`, `/postmark`, `/mailgun`, `/sendgrid`.

Each request is authenticated first (`signatures`), then its body is read into reports
(`inbound.providers`) and applied as mailed bounces are (`inbound.effects.apply`), each
once, keyed by the provider's event id. The answers: 404 for a provider that is not set up,
401/403 for missing or wrong credentials, a bad, stale or replayed signature (nothing read,
nothing changed), 400 for a body that is not what the provider sends, 200 otherwise (also
for events that change nothing, so the provider does not retry them). Credentials and
signatures never reach a log line.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial

import anyio
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from publisher.config import Config
from publisher.errors import ConfigError
from publisher.inbound import effects, providers
from publisher.inbound.providers import Malformed, Report
from publisher.store.db import Store
from publisher.subscribers.tokens import Tokens
from publisher.web.endpoints import Endpoints
from publisher.web.signatures import (
    FETCH_ERRORS,
    Fetch,
    Replays,
    SnsVerifier,
    basic_auth,
    fetch_https,
    fresh,
    mailgun_signature,
    sendgrid_key,
    sendgrid_signature,
    sns_url,
)

log = logging.getLogger(__name__)

SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


class Refused(Exception):
    """A request answered with `status` and a short reason, before anything changed."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def apply_reports(
    store: Store, config: Config, tokens: Tokens, reports: list[Report], now: datetime
) -> list[effects.Outcome]:
    """Apply each report in its own transaction, as a mailed notice is applied."""
    outcomes = []
    for report in reports:
        notice = report.notice()
        try:
            outcome = effects.apply(store, config, tokens, notice, now, report.recipient)
        except IntegrityError:  # the same event, applied this instant by another request
            outcome = effects.Outcome(report.kind, "already processed", duplicate=True)
        outcomes.append(outcome)
    return outcomes


class Webhooks:
    """The four endpoints, each on only when its secret (or SES topic) is configured."""

    def __init__(self, endpoints: Endpoints, fetch: Fetch = fetch_https):
        inbound = endpoints.config.inbound
        self.endpoints = endpoints
        self.fetch = fetch
        self.topics = {arn.strip() for arn in inbound.ses_topic_arns.split(",") if arn.strip()}
        self.sns = SnsVerifier(fetch)
        self.postmark_credentials = os.environ.get(inbound.postmark_credentials_env, "")
        self.mailgun_key = os.environ.get(inbound.mailgun_signing_key_env, "").encode()
        self.sendgrid_key = None
        if sendgrid := os.environ.get(inbound.sendgrid_public_key_env, ""):
            try:
                self.sendgrid_key = sendgrid_key(sendgrid)
            except ValueError as exc:
                raise ConfigError(
                    f"{inbound.sendgrid_public_key_env}: {exc}; paste the verification key "
                    "SendGrid shows for the signed event webhook"
                ) from None
        self.max_age = inbound.webhook_max_age
        self.replays = Replays(self.max_age)

    def routes(self) -> list[Route]:
        handlers = {
            "ses": self.ses,
            "postmark": self.postmark,
            "mailgun": self.mailgun,
            "sendgrid": self.sendgrid,
        }
        return [
            Route(f"/webhooks/{name}", self.answering(name, handler), methods=["POST"])
            for name, handler in handlers.items()
        ]

    def answering(self, provider: str, handler: Callable[[Request], Awaitable[Response]]):
        """`handler` with its refusals and malformed bodies answered as JSON errors."""

        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except Refused as exc:
                log.warning("webhook %s refused (%s): %s", provider, exc.status, exc.reason)
                response = JSONResponse({"ok": False, "error": exc.reason}, exc.status)
                if exc.status == 401:
                    response.headers["www-authenticate"] = 'Basic realm="webhooks"'
                return response
            except Malformed as exc:
                log.warning("webhook %s: malformed body: %s", provider, exc)
                return JSONResponse({"ok": False, "error": str(exc)}, 400)

        return endpoint

    # --- providers ----------------------------------------------------------------------

    async def ses(self, request: Request) -> Response:
        """SNS posts SES events, and once the subscription confirmation, as JSON text."""
        if not self.topics:
            raise Refused(404, "not configured")
        envelope = providers.loads(await request.body())
        if not isinstance(envelope, dict):
            raise Malformed("SNS: expected a JSON object")
        topic = envelope.get("TopicArn")
        if not isinstance(topic, str) or topic not in self.topics:  # before any fetching
            raise Refused(403, "topic not configured")
        if not await anyio.to_thread.run_sync(self.sns.verify, envelope):
            raise Refused(403, "bad signature")
        kind = envelope["Type"]
        if kind == "SubscriptionConfirmation":
            return await self.confirm_subscription(envelope)
        if kind != "Notification":
            return JSONResponse({"ok": True, "events": 0})
        reports = providers.ses(envelope["Message"], envelope["MessageId"])
        return await self.apply(request, "ses", reports)

    async def confirm_subscription(self, envelope: dict) -> Response:
        """Confirm by fetching the SubscribeURL, only on an SNS host (the signature is
        already checked, and so is the topic): SNS sends nothing before that."""
        url = envelope.get("SubscribeURL")
        if not sns_url(url):
            raise Malformed("SNS: SubscribeURL is not an https URL on an SNS host")
        try:
            await anyio.to_thread.run_sync(self.fetch, url)
        except FETCH_ERRORS as exc:
            log.warning("SNS subscription to %s not confirmed: %s", envelope["TopicArn"], exc)
            return JSONResponse({"ok": False, "error": "could not confirm"}, 502)
        log.info("SNS subscription to %s confirmed", envelope["TopicArn"])
        return JSONResponse({"ok": True, "confirmed": True})

    async def postmark(self, request: Request) -> Response:
        if not self.postmark_credentials:
            raise Refused(404, "not configured")
        header = request.headers.get("authorization", "")
        if not basic_auth(header, self.postmark_credentials):
            raise Refused(401, "bad credentials")
        reports = providers.postmark(providers.loads(await request.body()))
        return await self.apply(request, "postmark", reports)

    async def mailgun(self, request: Request) -> Response:
        """The signature is in the body, beside `event-data`: checked before that is read."""
        if not self.mailgun_key:
            raise Refused(404, "not configured")
        body = providers.loads(await request.body())
        signed = body.get("signature") if isinstance(body, dict) else None
        names = ("timestamp", "token", "signature")
        fields = [signed.get(name) for name in names] if isinstance(signed, dict) else []
        if not fields or not all(isinstance(value, str) for value in fields):
            raise Refused(403, "no signature")
        timestamp, token, signature = fields
        if not mailgun_signature(self.mailgun_key, timestamp, token, signature):
            raise Refused(403, "bad signature")
        return await self.once(
            request, "mailgun", timestamp, token, partial(providers.mailgun, body)
        )

    async def sendgrid(self, request: Request) -> Response:
        if self.sendgrid_key is None:
            raise Refused(404, "not configured")
        timestamp = request.headers.get(SENDGRID_TIMESTAMP, "")
        signature = request.headers.get(SENDGRID_SIGNATURE, "")
        payload = await request.body()
        if not sendgrid_signature(self.sendgrid_key, timestamp, payload, signature):
            raise Refused(403, "bad signature")

        def parse() -> list[Report]:
            return providers.sendgrid(providers.loads(payload))

        # What was signed, not the signature: an ECDSA signature has a twin (s, n - s)
        # that verifies too, so a replay could come with either.
        signed = hashlib.sha256(timestamp.encode() + b"\n" + payload).hexdigest()
        return await self.once(request, "sendgrid", timestamp, signed, parse)

    # --- shared steps -------------------------------------------------------------------

    async def once(
        self,
        request: Request,
        provider: str,
        timestamp: str,
        nonce: str,
        parse: Callable[[], list[Report]],
    ) -> Response:
        """Apply a signed request whose `timestamp` is fresh and whose `nonce` (Mailgun's
        token, a digest of what SendGrid signed) was not seen lately; a failure lets it be retried.
        The real time, not the app's clock: the provider signed at the real time."""
        now = datetime.now(UTC)
        if not fresh(timestamp, now, self.max_age):
            raise Refused(403, "stale timestamp")
        key = f"{provider}:{nonce}"
        if not self.replays.first(key, now):
            raise Refused(403, "replayed")
        try:
            return await self.apply(request, provider, parse())
        except BaseException:
            self.replays.forget(key)
            raise

    async def apply(self, request: Request, provider: str, reports: list[Report]) -> Response:
        endpoints = self.endpoints
        outcomes = await endpoints.call(
            request, apply_reports, endpoints.config, endpoints.tokens, reports
        )
        for outcome in outcomes:
            log.info(
                "webhook %s: %s: %s (subscriber %s)",
                provider,
                outcome.kind,
                outcome.action,
                outcome.subscriber_id,
            )
        duplicates = sum(outcome.duplicate for outcome in outcomes)
        return JSONResponse({"ok": True, "events": len(outcomes), "duplicates": duplicates})
