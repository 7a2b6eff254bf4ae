"""The console's secrets: sign-in links, session ids, CSRF tokens and API keys.

Each is 256 random bits (`secrets.token_urlsafe`); the store keeps only its SHA-256, so a
copy of the database signs nobody in. No signing key is involved: nothing to rotate, and a
secret is valid exactly as long as its row says.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "pk_"  # how an API key starts, so a leaked one is recognisable


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_api_key() -> str:
    return KEY_PREFIX + new_secret()


def hashed(secret: str) -> str:
    """What the store keeps of a link, session or key: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()
