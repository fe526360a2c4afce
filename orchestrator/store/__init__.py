"""Persistence: the `Store` interface and its backends (the only place with SQL)."""

from __future__ import annotations

from .base import Conflict, EndpointMapping, Store, StoreError, WebhookSpec

__all__ = ["Conflict", "EndpointMapping", "Store", "StoreError", "WebhookSpec", "open_store"]


def open_store(url: str, encryption_key: str = "") -> Store:
    """The store for a `storage.url` (not yet opened); secrets encrypted when a key is given."""
    if url.startswith("sqlite://"):
        from .secrets import SecretBox
        from .sqlite import SQLiteStore

        return SQLiteStore.from_url(url, SecretBox(encryption_key or None))
    raise StoreError(f"storage.url: no store for {url.split(':', 1)[0]}:// in this version")
