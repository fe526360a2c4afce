"""The in-memory bot state of active conversations."""

from orchestrator.state_cache import StateCache
from orchestrator.store.records import BotState


def test_a_committed_state_is_served_back_with_user_variables_as_copies():
    cache = StateCache(size=2)
    assert cache.get("c1", "u1", "bot") is None
    cache.put("u1", BotState("c1", "bot", {"turns": 1}, {"tags": ["a"]}))
    got = cache.get("c1", "u1", "bot")
    assert got == BotState("c1", "bot", {"turns": 1}, {"tags": ["a"]})
    got.user_vars["tags"].append("changed in place by a turn that then failed")
    assert cache.get("c1", "u1", "bot").user_vars == {"tags": ["a"]}
    assert cache.get("c1", "u1", "other-bot") is None  # another bot's state is its own


def test_forget_and_least_recently_used_eviction():
    cache = StateCache(size=2)
    for n in (1, 2):
        cache.put(f"u{n}", BotState(f"c{n}", "bot", {"n": n}, {}))
    cache.get("c1", "u1", "bot")  # c1 used last: c2 goes first
    cache.put("u3", BotState("c3", "bot", {"n": 3}, {}))
    assert cache.get("c2", "u2", "bot") is None
    assert cache.get("c1", "u1", "bot") is not None
    cache.forget("c1", "u1")
    assert cache.get("c1", "u1", "bot") is None
    assert cache.get("c3", "u3", "bot").state == {"n": 3}
