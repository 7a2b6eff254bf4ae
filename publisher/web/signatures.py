"""Who may post to the webhooks: each provider's own proof, checked before a body is read.

- Amazon SNS signs each message with RSA (SignatureVersion 1: SHA1withRSA, 2:
  SHA256withRSA) over its documented fields in order; the certificate is fetched from
  `SigningCertURL` only when that is https on `sns.<region>.amazonaws.com`, then cached.
- Mailgun: an HMAC-SHA256 of timestamp + token with the account's signing key.
- SendGrid: ECDSA P-256 with SHA-256 over timestamp + raw body, the public key given as
  base64 DER.
- Postmark: HTTP basic credentials set on the webhook.

Timestamps older than `[inbound] webhook_max_age` are refused, and `Replays` remembers the
signatures seen within that window, so a captured request cannot be replayed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http.client
import re
import threading
import urllib.request
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
# The fields each message type signs, in the order they are signed (AWS SNS documentation,
# "Verifying the signatures of Amazon SNS messages"); `Subject` only when present.
SNS_SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
SNS_SIGNED["UnsubscribeConfirmation"] = SNS_SIGNED["SubscriptionConfirmation"]
SNS_HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
CERTIFICATE_BYTES = 64 * 1024
FETCH_TIMEOUT = 10.0

Fetch = Callable[[str], bytes]
FETCH_ERRORS = (OSError, http.client.HTTPException)  # what fetching a URL may raise


def sns_url(url: object) -> bool:
    """Whether `url` is an https URL on an SNS host, the only place a certificate is
    fetched from or a subscription confirmed at (else anyone could sign with their own)."""
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    plain = parts.username is None and parts.password is None and port in (None, 443)
    return parts.scheme == "https" and plain and bool(SNS_HOST.fullmatch(parts.hostname or ""))


def fetch_https(url: str) -> bytes:
    """GET `url` over verified TLS, at most CERTIFICATE_BYTES (certificates are ~2 KB)."""
    request = urllib.request.Request(url, headers={"User-Agent": "publisher"})
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:  # noqa: S310
        return response.read(CERTIFICATE_BYTES)


class SnsVerifier:
    """Checks SNS message signatures; the signing certificates are cached by URL.

    `fetch` gets a URL's bytes (tests give one that serves their own certificate): it is
    only ever called with URLs `sns_url` accepted. It blocks, so run `verify` in a thread.
    """

    def __init__(self, fetch: Fetch = fetch_https, cache_size: int = 16):
        self.fetch = fetch
        self.cache_size = cache_size
        self.certificates: OrderedDict[str, rsa.RSAPublicKey] = OrderedDict()
        self.lock = threading.Lock()  # `verify` runs in several threads at once

    def verify(self, envelope: dict) -> bool:
        fields = SNS_SIGNED.get(_string(envelope.get("Type")))
        hash_type = SNS_HASHES.get(_string(envelope.get("SignatureVersion")))
        url = envelope.get("SigningCertURL")
        if fields is None or hash_type is None or not sns_url(url):
            return False
        signed = [name for name in fields if name != "Subject" or name in envelope]
        if not all(isinstance(envelope.get(name), str) for name in [*signed, "Signature"]):
            return False
        text = "".join(f"{name}\n{envelope[name]}\n" for name in signed)
        try:
            signature = base64.b64decode(envelope["Signature"], validate=True)
            key = self.certificate(url)
            key.verify(signature, text.encode(), padding.PKCS1v15(), hash_type())
        except (InvalidSignature, ValueError, *FETCH_ERRORS):  # forged, garbled, unreachable
            return False
        return True

    def certificate(self, url: str) -> rsa.RSAPublicKey:
        with self.lock:
            if url in self.certificates:
                self.certificates.move_to_end(url)
                return self.certificates[url]
        key = x509.load_pem_x509_certificate(self.fetch(url)).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("an SNS signing certificate holds an RSA key")
        with self.lock:
            self.certificates[url] = key
            if len(self.certificates) > self.cache_size:
                self.certificates.popitem(last=False)
        return key


def _string(value: object) -> str:
    """`value` when it is a string, else "" (hostile JSON may put a list where a key goes)."""
    return value if isinstance(value, str) else ""


def mailgun_signature(key: bytes, timestamp: str, token: str, signature: str) -> bool:
    expected = hmac.new(key, f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode())


def sendgrid_key(text: str) -> ec.EllipticCurvePublicKey:
    """The verification key SendGrid shows (base64 DER); ValueError when it is not one."""
    try:
        key = load_der_public_key(base64.b64decode(text.strip(), validate=True))
    except (binascii.Error, ValueError, TypeError):
        raise ValueError("not a base64 DER public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an elliptic curve (ECDSA) public key")
    return key


def sendgrid_signature(
    key: ec.EllipticCurvePublicKey, timestamp: str, payload: bytes, signature: str
) -> bool:
    try:
        der = base64.b64decode(signature, validate=True)
        key.verify(der, timestamp.encode() + payload, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def basic_auth(header: str, credentials: str) -> bool:
    """Whether an `Authorization: Basic ...` header carries `credentials` ("user:password")."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, credentials.encode())


def fresh(timestamp: str, now: datetime, max_age: timedelta) -> bool:
    """Whether a Unix `timestamp` is within `max_age` of `now`, either way (clocks drift)."""
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 11:
        return False  # 11 digits reach the year 5138; datetime stops at 9999
    return abs(now - datetime.fromtimestamp(int(timestamp), UTC)) <= max_age


class Replays:
    """Signatures seen lately: one seen within `max_age` is a replay. Only signatures that
    were genuine and fresh are remembered, so memory is bounded by the provider's traffic.
    In memory, per process: `publisher web` runs one, and the event ids recorded in the
    store keep a replay from changing anything even across a restart."""

    def __init__(self, max_age: timedelta):
        self.max_age = max_age
        self.seen: dict[str, datetime] = {}

    def first(self, signature: str, now: datetime) -> bool:
        """True (and remembered) the first time `signature` is shown, False after."""
        if len(self.seen) > 1000:
            self.seen = {k: at for k, at in self.seen.items() if now - at <= 2 * self.max_age}
        if signature in self.seen:
            return False
        self.seen[signature] = now
        return True

    def forget(self, signature: str) -> None:
        """A request that failed (the store was busy) may be retried with its signature."""
        self.seen.pop(signature, None)
