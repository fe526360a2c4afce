"""Users and conversations of a client; every lookup enforces ownership (404 otherwise)."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import Any

from .. import tokens
from ..bus import Bus
from ..bus.topics import OUTBOX, OutboxWritten
from ..store import Store
from ..store.records import Conversation, User, utcnow
from . import events
from .errors import NotFound


class _Lru(OrderedDict[str, object]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self._size = size

    def put(self, key: str, value: object) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > self._size:
            self.popitem(last=False)


class UserService:
    """Creates and finds users; user rows never change, so they are cached."""

    def __init__(self, store: Store, bus: Bus) -> None:
        self._store, self._bus = store, bus
        self._cache = _Lru(50_000)
        self._verified = tokens.TokenCache()

    async def create(self, client_id: str) -> User:
        """A new user of the client (fires `user.new`)."""
        user = User(str(uuid.uuid4()), client_id)
        await self._store.create_user(user, [events.user_new(user)])
        await self._bus.publish(OUTBOX, OutboxWritten())
        self._cache.put(user.id, user)
        return user

    async def get(self, client_id: str, user_id: str) -> User:
        """The client's user, or NotFound."""
        user = self._cache.get(user_id)
        if user is None:
            user = await self._store.get_user(user_id)
            if user is not None:
                self._cache.put(user_id, user)
        if not isinstance(user, User) or user.client_id != client_id:
            raise NotFound()
        return user

    async def create_token(self, client_id: str, user_id: str) -> tuple[str, str]:
        """A token for one of the client's users: (token id, token)."""
        await self.get(client_id, user_id)
        token_id, token, token_digest = tokens.new_token()
        await self._store.create_user_token(token_id, user_id, token_digest)
        return token_id, token

    async def authenticate(self, client_id: str, user_id: str, token: str) -> User | None:
        """The client's user when `token` is one of its user tokens (constant-time compare)."""
        parts = tokens.split_token(token)
        if parts is None:
            return None
        token_id, secret = parts
        if not self._verified.check(token_id, user_id, secret):
            row = await self._store.get_user_token(token_id)
            if row is None or row[0] != user_id or not tokens.matches(secret, row[1]):
                return None
            self._verified.remember(token_id, user_id, secret)
        try:
            return await self.get(client_id, user_id)
        except NotFound:
            return None


class ConversationService:
    """Creates, finds and lists conversations; conversation rows are cached."""

    def __init__(self, store: Store, bus: Bus, users: UserService) -> None:
        self._store, self._bus, self._users = store, bus, users
        self._cache = _Lru(50_000)

    async def create(self, client_id: str, user_id: str) -> Conversation:
        """A new conversation owned by one of the client's users (fires `conversation.new`)."""
        await self._users.get(client_id, user_id)
        conversation = Conversation(str(uuid.uuid4()), client_id, user_id, utcnow())
        await self._store.create_conversation(conversation, [events.conversation_new(conversation)])
        await self._bus.publish(OUTBOX, OutboxWritten())
        self._cache.put(conversation.id, conversation)
        return conversation

    async def get(self, client_id: str, conversation_id: str) -> Conversation:
        """The client's conversation, or NotFound."""
        conversation = self._cache.get(conversation_id)
        if conversation is None:
            conversation = await self._store.get_conversation(conversation_id)
            if conversation is not None:
                self._cache.put(conversation_id, conversation)
        if not isinstance(conversation, Conversation) or conversation.client_id != client_id:
            raise NotFound()
        return conversation

    async def find(self, conversation_id: str) -> Conversation | None:
        """A conversation by id whatever its client (for internal callers)."""
        conversation = self._cache.get(conversation_id)
        if isinstance(conversation, Conversation):
            return conversation
        return await self._store.get_conversation(conversation_id)

    async def traces(self, client_id: str, conversation_id: str) -> list[dict[str, Any]]:
        """The bot's stored turn traces for one of the client's conversations, oldest first."""
        await self.get(client_id, conversation_id)
        return await self._store.list_traces(conversation_id)

    async def list_for_user(self, client_id: str, user_id: str, limit: int) -> list[Conversation]:
        """The user's conversations, most recently active first."""
        await self._users.get(client_id, user_id)
        return await self._store.list_conversations(user_id, limit)
