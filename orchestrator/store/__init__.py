"""Persistence: the `Store` interface and its backends (the only place with SQL)."""

from __future__ import annotations

from .base import Conflict, EndpointMapping, Store, StoreError, WebhookSpec
from .faults import FaultWatch, StorageFault

__all__ = [
    "Conflict",
    "EndpointMapping",
    "FaultWatch",
    "StorageFault",
    "Store",
    "StoreError",
    "WebhookSpec",
    "open_store",
]


def open_store(
    url: str, encryption_key: str = "", *, timeout: float = 5.0, watch: FaultWatch | None = None
) -> Store:
    """The store for a `storage.url` (not yet opened); secrets encrypted when a key is given;
    each call bounded by `timeout` seconds; faults reported to `watch`."""
    if url.startswith("sqlite://"):
        from .secrets import SecretBox
        from .sqlite import SQLiteStore

        return SQLiteStore.from_url(url, SecretBox(encryption_key or None), timeout=timeout, watch=watch)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore
        from .secrets import SecretBox

        return PostgresStore(url, SecretBox(encryption_key or None), timeout=timeout, watch=watch)
    raise StoreError(f"storage.url: no store for {url.split(':', 1)[0]}:// in this version")
