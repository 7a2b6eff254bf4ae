"""DKIM signatures (relaxed/relaxed, rsa-sha256) for newsletters and confirmation emails.

The RSA signature is made by OpenSSL, through `cryptography`: dkimpy's pure-Python RSA
takes 5 ms per message. A newsletter's `MessageBuilder` hands `DkimSigner.sign` the
canonical body it assembled from pieces canonicalized once (`canonical_body`); any other
complete message is signed with `sign_message`. Tests verify the signatures with dkimpy.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import TYPE_CHECKING

from publisher.config import Config
from publisher.errors import ConfigError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

# `cryptography` is imported by a signer, when there is a key: a site without DKIM, and
# the site build (which reads the email module for its archive pages), never load it.

PER_RECIPIENT = ("Date", "To", "Message-ID", "List-Unsubscribe")  # each message's own
SIGNED_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Feedback-ID",
    "Reply-To",
)
# Named once more in h= than the message has them (RFC 6376 8.15): a From added on the
# way, which a reader's client might show instead, then breaks the signature.
OVERSIGNED = ("From",)

WSP_RUN = re.compile(rb"[ \t]+")
TRAILING_WSP = re.compile(rb"[ \t]+(?=\r\n|$)")


def canonical_body(chunk: bytes) -> bytes:
    """DKIM relaxed body canonicalization of a chunk that starts and ends a line."""
    if b"  " not in chunk and b"\t" not in chunk and b" \r\n" not in chunk:
        return chunk if not chunk.endswith(b" ") else chunk.rstrip(b" ")
    return TRAILING_WSP.sub(b"", WSP_RUN.sub(b" ", chunk))


def whole_body(body: bytes) -> bytes:
    """DKIM relaxed canonicalization of a complete body: empty lines at its end dropped, and
    a non-empty body ending in exactly one CRLF."""
    canonical = canonical_body(body).rstrip(b"\r\n")
    return canonical + b"\r\n" if canonical else b""


def canonical_header(name: str, value: str) -> bytes:
    """DKIM relaxed header canonicalization: lower-case name, unfolded, spaces squeezed."""
    value = " ".join(value.replace("\r\n", "").split())
    return f"{name.lower()}:{value}\r\n".encode()


def parse_headers(head: bytes) -> list[tuple[str, str]]:
    """(name, value) of each header in a CRLF header block, folded values kept as is."""
    fields = re.split(rb"\r\n(?![ \t])", head.strip(b"\r\n"))
    return [
        (name.decode("ascii"), value.decode("ascii").lstrip(" "))
        for name, _, value in (f.partition(b":") for f in fields)
    ]


def _fold_names(names: list[str], width: int = 70) -> str:
    """`a:b:c` folded after a colon before a line grows past `width` (RFC 6376 allows
    whitespace around the colons of h=)."""
    lines = [""]
    for name in names:
        if lines[-1] and len(lines[-1]) + len(name) + 1 > width:
            lines.append("")
        lines[-1] += (":" if lines[-1] else "") + name
    return ":\r\n   ".join(lines)


class DkimSigner:
    """Signs messages with a relaxed/relaxed rsa-sha256 DKIM-Signature header.

    Set up for a campaign with `shared` (the headers every recipient's message has), `sign`
    canonicalizes only the per-recipient headers; `sign_message` signs any one complete
    message, such as a confirmation email, with the same code.
    """

    def __init__(self, domain: str, selector: str, key: rsa.RSAPrivateKey, shared: bytes = b""):
        self.domain = domain
        self.selector = selector
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        self.key = key
        self.padding = padding.PKCS1v15()
        self.hash = hashes.SHA256()
        fixed = dict(parse_headers(shared)) if shared else {}
        self.names = [n for n in SIGNED_HEADERS if n in fixed or n in PER_RECIPIENT]
        self.fixed = {n: canonical_header(n, fixed[n]) for n in self.names if n in fixed}
        self.prefix = self._prefix(self.names)

    @classmethod
    def from_config(cls, config: Config, shared: bytes = b"") -> DkimSigner | None:
        dkim = config.dkim
        if not dkim.domain:
            return None
        if not dkim.selector or str(dkim.private_key_path) in ("", "."):
            raise ConfigError("[dkim] domain is set: set selector and private_key_path too")
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        try:
            key = serialization.load_pem_private_key(dkim.private_key_path.read_bytes(), None)
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(f"[dkim] private_key_path: {exc}") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigError("[dkim] private_key_path: expected an RSA private key")
        return cls(dkim.domain, dkim.selector, key, shared)

    def sign(self, personal: list[tuple[str, str]], canonical_body: bytes) -> bytes:
        """The DKIM-Signature header line for a message with these per-recipient headers."""
        own = {name: canonical_header(name, text) for name, text in personal}
        signed = b"".join(own.get(n) or self.fixed[n] for n in self.names)
        return self._header(self.prefix, signed, canonical_body)

    def sign_message(self, data: bytes) -> bytes:
        """`data` (a complete CRLF message) with its DKIM-Signature header in front.

        Signs the SIGNED_HEADERS the message has; when a header occurs twice, the last one,
        as verifiers pick it.
        """
        head, _, body = data.partition(b"\r\n\r\n")
        present = {name.lower(): value for name, value in parse_headers(head)}
        names = [n for n in SIGNED_HEADERS if n.lower() in present]
        signed = b"".join(canonical_header(n, present[n.lower()]) for n in names)
        return self._header(self._prefix(names), signed, whole_body(body)) + data

    def _prefix(self, names: list[str]) -> str:
        return (
            f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={self.domain}; s={self.selector};\r\n"
            f" h={_fold_names([n.lower() for n in (*names, *OVERSIGNED)])};\r\n bh="
        )

    def _header(self, prefix: str, signed_headers: bytes, canonical_body: bytes) -> bytes:
        """The signature over the canonical headers and body: `prefix` completed and signed."""
        body_hash = base64.b64encode(hashlib.sha256(canonical_body).digest()).decode()
        value = f"{prefix}{body_hash};\r\n b="
        signed = signed_headers + canonical_header("DKIM-Signature", value)[:-2]
        signature = self.key.sign(signed, self.padding, self.hash)
        b64 = base64.b64encode(signature).decode()
        folded = "\r\n  ".join(b64[i : i + 72] for i in range(0, len(b64), 72))
        return f"DKIM-Signature: {value}{folded}\r\n".encode("ascii")
