"""Secrets in the format of Botpress Messaging: `<uuid>.<base64 of 66 random bytes>` (125 chars).

Only a SHA-256 digest of the secret part is stored. The secret has 528 random bits, so a slow
password hash would add nothing; comparison is constant-time. `TokenCache` remembers verified
secrets so the hot path compares without hashing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections import OrderedDict


def new_secret() -> str:
    """88 characters of base64 from 66 random bytes."""
    return base64.b64encode(secrets.token_bytes(66)).decode()


def new_token() -> tuple[str, str, str]:
    """A fresh token: (token id, full token to hand out once, digest to store)."""
    token_id = str(uuid.uuid4())
    secret = new_secret()
    return token_id, f"{token_id}.{secret}", digest(secret)


def as_bytes(text: str) -> bytes:
    """A presented credential as bytes. aiohttp decodes header bytes as UTF-8 with
    `surrogateescape`, so a non-UTF-8 byte arrives as a lone surrogate: it is turned back into
    that byte here (and then simply fails to match) instead of raising."""
    return text.encode("utf-8", "surrogateescape")


def digest(secret: str) -> str:
    """The stored form of a secret."""
    return hashlib.sha256(as_bytes(secret)).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    """`<id>.<secret>` → (id, secret), or None when the shape is wrong."""
    token_id, dot, secret = token.partition(".")
    if not dot or not token_id or not secret:
        return None
    return token_id, secret


def matches(secret: str, stored_digest: str) -> bool:
    """Constant-time check of a presented secret against its stored digest."""
    return hmac.compare_digest(digest(secret).encode(), stored_digest.encode())


class TokenCache:
    """A bounded map of token id → (owner id, secret) for tokens already verified once."""

    def __init__(self, size: int = 50_000) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[str, str]] = OrderedDict()

    def check(self, token_id: str, owner_id: str, secret: str) -> bool:
        """True when this exact token was verified before for this owner."""
        entry = self._entries.get(token_id)
        if entry is None or entry[0] != owner_id:
            return False
        return hmac.compare_digest(as_bytes(entry[1]), as_bytes(secret))

    def remember(self, token_id: str, owner_id: str, secret: str) -> None:
        """Record a verified token, evicting the oldest when full."""
        self._entries[token_id] = (owner_id, secret)
        self._entries.move_to_end(token_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
