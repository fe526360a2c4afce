"""Item 14: the outbox claim SQL (due AND pending, oldest pending per key first) and its lease."""

from __future__ import annotations

from pathlib import Path

from orchestrator.store.base import WebhookSpec
from orchestrator.store.records import OutboxEvent, User
from orchestrator.store.sqlite import SQLiteStore


async def _store(tmp_path: Path) -> SQLiteStore:
    store = SQLiteStore(str(tmp_path / "outbox.db"))
    await store.open()
    await store.create_client("c1", "t1", "digest")
    await store.apply_sync("c1", [], [WebhookSpec("w1", "http://127.0.0.1:1/hook", "tok", None)], None, [])
    return store


async def _event(store: SQLiteStore, user_id: str, key: str) -> None:
    event = OutboxEvent("c1", "user.new", {"userId": user_id}, key)
    await store.create_user(User(user_id, "c1", None), [event])


async def test_only_due_pending_deliveries_are_claimed(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    try:
        await _event(store, "u1", "k1")
        [first] = await store.claim_deliveries(now=9e12, lease=30, limit=10)
        await store.fail_delivery(first.seq, 1, "gone")  # failed: never claimed again (status)
        await _event(store, "u2", "k2")
        [second] = await store.claim_deliveries(now=9e12, lease=30, limit=10)
        assert second.seq != first.seq
        await store.retry_delivery(second.seq, 1, next_at=9e12 + 100, error="HTTP 500")
        assert await store.claim_deliveries(now=9e12 + 50, lease=30, limit=10) == []  # not due yet
        [again] = await store.claim_deliveries(now=9e12 + 100, lease=30, limit=10)
        assert again.seq == second.seq
    finally:
        await store.close()


async def test_a_claim_is_leased_and_a_key_is_delivered_oldest_first(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    try:
        await _event(store, "u1", "same")
        await _event(store, "u2", "same")
        await _event(store, "u3", "other")
        claimed = await store.claim_deliveries(now=9e12, lease=30, limit=10)
        bodies = sorted(d.body for d in claimed)
        assert len(claimed) == 2 and not any('"u2"' in b for b in bodies)  # u2 waits behind u1
        assert await store.claim_deliveries(now=9e12 + 1, lease=30, limit=10) == []  # leased
        leased = await store.claim_deliveries(now=9e12 + 31, lease=30, limit=10)
        assert len(leased) == 2  # the lease ran out: claimable again, still u2 held back
        first = next(d for d in leased if '"u1"' in d.body)
        await store.complete_delivery(first.seq)
        after = await store.claim_deliveries(now=9e12 + 62, lease=30, limit=10)
        assert any('"u2"' in d.body for d in after)
        await store.fail_delivery(next(d for d in after if '"u2"' in d.body).seq, 3, "x")
    finally:
        await store.close()
