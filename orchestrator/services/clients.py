"""Clients and their tokens: creation, authentication, names (the scope of channel webhooks)."""

from __future__ import annotations

import uuid

from .. import tokens
from ..store import Conflict, Store
from ..store.records import Client
from .errors import Forbidden


class ClientService:
    """Creates clients and checks their credentials; verified tokens are cached."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._verified = tokens.TokenCache()
        self._clients: dict[str, Client] = {}

    async def create(self, client_id: str | None = None) -> tuple[str, str]:
        """A new client with one token: (client id, token). Forbidden if the id is taken."""
        client_id = client_id or str(uuid.uuid4())
        token_id, token, token_digest = tokens.new_token()
        try:
            await self._store.create_client(client_id, token_id, token_digest)
        except Conflict as exc:
            raise Forbidden(f'client with id "{client_id}" already exists') from exc
        self._verified.remember(token_id, client_id, token.partition(".")[2])
        return client_id, token

    async def authenticate(self, client_id: str, token: str) -> Client | None:
        """The client when `token` is one of its tokens, else None (constant-time compare)."""
        parts = tokens.split_token(token)
        if parts is None:
            return None
        token_id, secret = parts
        if not self._verified.check(token_id, client_id, secret):
            row = await self._store.get_client_token(token_id)
            if row is None or row[0] != client_id or not tokens.matches(secret, row[1]):
                return None
            self._verified.remember(token_id, client_id, secret)
        return await self.get(client_id)

    async def get(self, client_id: str) -> Client | None:
        """A client by id (cached until `forget`: sync and rename change clients)."""
        client = self._clients.get(client_id)
        if client is None:
            client = await self._store.get_client(client_id)
            if client is not None:
                if len(self._clients) > 50_000:
                    self._clients.clear()
                self._clients[client_id] = client
        return client

    def forget(self, client_id: str) -> None:
        """Drop a cached client after it changed."""
        self._clients.pop(client_id, None)

    async def rename(self, client_id: str, name: str) -> bool:
        """Set the client's name (its webhook scope); False when it already had it."""
        changed = await self._store.rename_client(client_id, name)
        self._clients.clear()  # the name may have been taken from another client
        return changed

    async def by_scope(self, scope: str) -> Client | None:
        """The client a channel webhook URL names: by name first, then by id."""
        client = await self._store.get_client_by_name(scope)
        if client is None:
            try:
                uuid.UUID(scope)
            except ValueError:
                return None
            client = await self._store.get_client(scope)
        return client
