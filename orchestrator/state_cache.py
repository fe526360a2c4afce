"""The bot state of active conversations, kept in memory between their turns.

Safe only where one process runs every turn of a conversation (the in-memory bus: a single
instance), because turns of one conversation are serialised by the runner's lock and the
runner is the only writer of bot state. The store stays the record: every turn still commits
its state before its replies go out; the cache only saves the read at the start of the next
turn. Entries hold what the last committed turn wrote; the user's variables are handed out as
copies, since a turn may change them in place before failing.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from .engine.state import copy_json
from .store.records import BotState


class StateCache:
    """Conversation states by (conversation, bot) and user variables by (user, bot), LRU."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._states: OrderedDict[tuple[str, str], dict[str, Any] | None] = OrderedDict()
        self._user_vars: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()

    def get(self, conversation_id: str, user_id: str, bot_id: str) -> BotState | None:
        """The state as the last turn committed it, or None when not cached."""
        key, user_key = (conversation_id, bot_id), (user_id, bot_id)
        if key not in self._states or user_key not in self._user_vars:
            return None
        self._states.move_to_end(key)
        self._user_vars.move_to_end(user_key)
        return BotState(conversation_id, bot_id, self._states[key], copy_json(self._user_vars[user_key]))

    def put(self, user_id: str, state: BotState) -> None:
        """Remember what a turn has just committed."""
        _put(self._states, (state.conversation_id, state.bot_id), state.state, self._size)
        _put(self._user_vars, (user_id, state.bot_id), state.user_vars, self._size)

    def forget(self, conversation_id: str, user_id: str) -> None:
        """Drop what is cached for a conversation and its user (after a failed turn)."""
        for key in [k for k in self._states if k[0] == conversation_id]:
            del self._states[key]
        for key in [k for k in self._user_vars if k[0] == user_id]:
            del self._user_vars[key]


def _put(table: OrderedDict[tuple[str, str], Any], key: tuple[str, str], value: Any, size: int) -> None:
    table[key] = value
    table.move_to_end(key)
    if len(table) > size:
        table.popitem(last=False)
