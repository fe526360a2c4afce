"""The store's contract on every backend (SQLite and PostgreSQL): ordering, tie-breaks,
errors, the outbox claim, encryption at rest, retention, timers and migrations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.store import Conflict, Store, StoreError, WebhookSpec, open_store
from orchestrator.store.records import (
    BotState,
    Conversation,
    HealthEvent,
    Message,
    OutboxEvent,
    StoredChannelConfig,
    StoredEndpoint,
    Timer,
    User,
)

KEY = "Qr1v0hzxbQ6nFCOm0sW1f3C1zsr6jVOtYkHzpPKQ8nA="
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = open_store(store_url, KEY)
    await opened.open()
    yield opened
    await opened.close()


async def client_with_hook(
    store: Store, client_id: str = "c1", events: tuple[str, ...] | None = None
) -> None:
    await store.create_client(client_id, f"tok-{client_id}", "digest")
    hook = WebhookSpec(f"hook-{client_id}", "http://127.0.0.1:9/hook", "secret-token", events)
    await store.apply_sync(client_id, [], [hook], None, [])


async def conversation(
    store: Store, client_id: str = "c1", conv_id: str = "conv1", user_id: str = "u1"
) -> None:
    if await store.get_user(user_id) is None:
        await store.create_user(User(user_id, client_id), [])
    await store.create_conversation(Conversation(conv_id, client_id, user_id, T0), [])


def msg(message_id: str, conv_id: str, at: datetime, author: str | None = "u1") -> Message:
    return Message(message_id, conv_id, author, at, {"type": "text", "text": message_id})


async def test_clients_conflict_rename_and_tokens(store: Store) -> None:
    await store.create_client("a", "ta", "da")
    with pytest.raises(Conflict):
        await store.create_client("a", "ta2", "d")
    assert await store.get_client_token("ta2") is None  # the failed create left nothing
    await store.create_client("b", "tb", "db")
    assert await store.rename_client("a", "desk") is True
    assert await store.rename_client("a", "desk") is False
    assert await store.rename_client("b", "desk") is True  # taken from its holder
    assert (await store.get_client("a")).name is None  # type: ignore[union-attr]
    assert (await store.get_client_by_name("desk")).id == "b"  # type: ignore[union-attr]
    assert await store.get_client_token("ta") == ("a", "da")
    assert [c.id for c in await store.list_clients(10)] == ["a", "b"]


async def test_messages_order_newest_first_with_ties_by_insertion(store: Store) -> None:
    await store.create_client("c1", "t", "d")
    await conversation(store)
    same = T0 + timedelta(seconds=1)
    await store.create_messages([(msg("m1", "conv1", T0), []), (msg("m2", "conv1", same), [])])
    await store.create_messages([(msg("m3", "conv1", same), [])])
    assert [m.id for m in await store.list_messages("conv1", 0, None)] == ["m3", "m2", "m1"]
    assert [m.id for m in await store.list_messages("conv1", 2, None)] == ["m3", "m2"]
    assert [m.id for m in await store.list_messages("conv1", 0, T0)] == ["m1"]  # until is inclusive
    assert (await store.get_message("m2")).payload == {"type": "text", "text": "m2"}  # type: ignore[union-attr]
    assert await store.delete_message("m2") is True
    assert await store.delete_message("m2") is False
    assert await store.delete_conversation_messages("conv1") == 2


async def test_conversations_by_activity(store: Store) -> None:
    await store.create_client("c1", "t", "d")
    await conversation(store, conv_id="old")
    await conversation(store, conv_id="quiet")
    await conversation(store, conv_id="busy")
    await store.create_messages([(msg("m1", "old", T0 + timedelta(seconds=1)), [])])
    await store.create_messages([(msg("m2", "busy", T0 + timedelta(seconds=2)), [])])
    assert [c.id for c in await store.list_conversations("u1", 0)] == ["quiet", "busy", "old"]
    assert [c.id for c in await store.list_conversations("u1", 1)] == ["quiet"]
    recent = await store.recent_conversations("c1", 10)
    assert [(c.id, last) for c, last in recent] == [
        ("busy", T0 + timedelta(seconds=2)),
        ("old", T0 + timedelta(seconds=1)),
        ("quiet", None),
    ]


async def test_user_tokens(store: Store) -> None:
    await store.create_client("c1", "t", "d")
    await store.create_user(User("u1", "c1", {"name": "Ada"}), [])
    await store.create_user_token("ut", "u1", "udigest")
    assert await store.get_user_token("ut") == ("u1", "udigest")
    assert await store.get_user_token("nope") is None
    assert (await store.get_user("u1")).data == {"name": "Ada"}  # type: ignore[union-attr]


async def test_secrets_are_encrypted_at_rest(store: Store, store_url: str) -> None:
    await store.create_client("c1", "t", "d")
    config = StoredChannelConfig("c1", "telegram", "1.0.0", {"botToken": "very-secret"})
    await store.apply_sync("c1", [config], [WebhookSpec("h", "http://x/", "hook-secret", None)], None, [])
    assert (await store.list_channel_configs("c1"))[0].config == {"botToken": "very-secret"}
    assert (await store.list_webhooks("c1"))[0].token == "hook-secret"
    raw = await raw_rows(store_url, "SELECT config FROM channel_configs UNION ALL SELECT token FROM webhooks")
    assert raw and all(value.startswith("enc:v1:") and "secret" not in value for value in raw)
    await store.close()
    without_key = open_store(store_url)
    await without_key.open()
    with pytest.raises(StoreError, match="encryption_key"):
        await without_key.list_channel_configs("c1")
    await without_key.close()
    await store.open()


async def raw_rows(url: str, sql: str) -> list[str]:
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return [r[0] for r in db.execute(sql)]
    import asyncpg

    from orchestrator.store.postgres import split_url

    dsn, schema = split_url(url)
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema or "public"})
    try:
        return [r[0] for r in await conn.fetch(sql)]
    finally:
        await conn.close()


async def test_outbox_claims_one_per_key_in_order_and_caps_per_webhook(store: Store) -> None:
    await client_with_hook(store)
    await conversation(store)
    events = [OutboxEvent("c1", "message.new", {"n": n}, f"key{n % 2}") for n in range(6)]
    await store.create_messages([(msg(f"m{n}", "conv1", T0), [e]) for n, e in enumerate(events)])
    assert await store.delivery_counts("c1") == {"pending": 6, "failed": 0}
    now = 1e12
    first = await store.claim_deliveries(now, 30, 10)
    assert [d.body for d in first] == [
        '{"type":"message.new","data":{"n":0}}',
        '{"type":"message.new","data":{"n":1}}',
    ]
    assert first[0].token == "secret-token" and first[0].url == "http://127.0.0.1:9/hook"
    assert await store.claim_deliveries(now, 30, 10) == []  # both keys are leased
    await store.complete_delivery(first[0].seq)
    await store.retry_delivery(first[1].seq, 1, now, "HTTP 500")
    again = await store.claim_deliveries(now, 30, 10, per_webhook=2, in_flight={"hook-c1": 1})
    assert [d.body for d in again] == ['{"type":"message.new","data":{"n":1}}']
    assert again[0].attempts == 1
    await store.fail_delivery(again[0].seq, 2, "gave up")
    assert await store.delivery_counts("c1") == {"pending": 4, "failed": 1}
    assert await store.next_delivery_at() is not None


async def test_outbox_rows_only_for_webhooks_that_take_the_event(store: Store) -> None:
    await client_with_hook(store, events=("conversation.started",))
    await conversation(store)
    await store.create_messages([(msg("m1", "conv1", T0), [OutboxEvent("c1", "message.new", {}, "k")])])
    assert await store.delivery_counts("c1") == {"pending": 0, "failed": 0}
    assert await store.wants_events("c1", "conversation.started")
    assert not await store.wants_events("c1", "message.new")


async def test_trim_outbox_drops_failed_first_then_oldest(store: Store) -> None:
    await client_with_hook(store)
    await conversation(store)
    rows = [
        (msg(f"m{n}", "conv1", T0), [OutboxEvent("c1", "message.new", {"n": n}, f"k{n}")]) for n in range(5)
    ]
    await store.create_messages(rows)
    claimed = await store.claim_deliveries(1e12, 30, 10)
    await store.fail_delivery(claimed[3].seq, 1, "x")
    assert await store.trim_outbox(3) == [("c1", "hook-c1", 2)]
    left = await store.claim_deliveries(2e12, 30, 10)
    assert [d.body for d in left] == [
        '{"type":"message.new","data":{"n":1}}',
        '{"type":"message.new","data":{"n":2}}',
        '{"type":"message.new","data":{"n":4}}',
    ]


async def test_a_removed_webhooks_pending_rows_go(store: Store) -> None:
    await client_with_hook(store)
    await conversation(store)
    await store.create_messages([(msg("m1", "conv1", T0), [OutboxEvent("c1", "message.new", {}, "k")])])
    await store.apply_sync("c1", [], [], None, [])
    assert await store.delivery_counts("c1") == {"pending": 0, "failed": 0}
    assert await store.claim_deliveries(1e12, 30, 10) == []


async def test_inbound_dedupe_and_retention(store: Store) -> None:
    await store.create_client("c1", "t", "d")
    await conversation(store)
    assert await store.seen_inbound("c1", "telegram", "p1") is False
    assert await store.seen_inbound("c1", "telegram", "p1") is True
    assert await store.create_messages([(msg("m1", "conv1", T0), [])], ("c1", "telegram", "p2")) is True
    assert await store.create_messages([(msg("m2", "conv1", T0), [])], ("c1", "telegram", "p2")) is False
    assert await store.get_message("m2") is None
    await store.set_kv("choices:conv1", {"1": "yes"})
    assert await store.get_kv("choices:conv1") == {"1": "yes"}
    assert await store.prune(0, 0) == 0
    assert await store.prune(1e12, 1e12) == 3  # two platform ids and one value
    assert await store.seen_inbound("c1", "telegram", "p1") is False
    assert await store.get_kv("choices:conv1") is None


async def test_endpoint_mapping_is_atomic(store: Store) -> None:
    await store.create_client("c1", "t", "d")
    endpoint = StoredEndpoint("telegram", "bot", "sender", "thread", "1.0.0")
    mappings = await asyncio.gather(
        *(store.map_endpoint("c1", endpoint, (f"u{n}", f"conv{n}"), T0, lambda _: []) for n in range(5))
    )
    assert len({(m.user_id, m.conversation_id) for m in mappings}) == 1
    assert sum(m.new_conversation for m in mappings) == 1
    assert await store.list_endpoints(mappings[0].conversation_id) == [endpoint]


async def test_turns_state_timers_traces_and_health(store: Store) -> None:
    await store.create_client("c1", "t", "d")
    await conversation(store)
    for turn in range(4):
        state = BotState("conv1", "bot", {"turn": turn}, {"name": "Ada"})
        timer = Timer("conv1", "remind", T0 + timedelta(minutes=turn), {"turn": turn})
        await store.save_turn("u1", state, [timer], {"steps": [turn]}, keep_traces=2)
    loaded = await store.get_bot_state("conv1", "u1", "bot")
    assert (loaded.state, loaded.user_vars) == ({"turn": 3}, {"name": "Ada"})
    assert [t["turn"] for t in await store.list_traces("conv1")] == [3, 4]
    await conversation(store, conv_id="conv2")  # same user: a later turn elsewhere
    await store.save_turn(
        "u1", BotState("conv2", "bot", {}, {"name": "Bob"}), [], {"steps": []}, keep_traces=1
    )
    assert (await store.get_bot_state("conv1", "u1", "bot")).user_vars == {"name": "Bob"}  # user-wide
    assert [t["turn"] for t in await store.list_traces("conv1")] == [3, 4]  # trimming is per conversation
    assert await store.due_timers(T0, 10) == []
    [due] = await store.due_timers(T0 + timedelta(minutes=5), 10)
    assert due.data == {"turn": 3}
    later = T0 + timedelta(hours=1)
    taken = await asyncio.gather(*(store.claim_timer(due, later) for _ in range(3)))
    assert sorted(taken) == [False, False, True]  # one taker: the timer fires once
    assert await store.due_timers(T0 + timedelta(minutes=5), 10) == []  # leased
    assert [t.timer_id for t in await store.due_timers(later, 10)] == ["remind"]  # due again
    await store.delete_timer("conv1", "remind")
    assert await store.due_timers(later, 10) == []
    replies = [(msg("r1", "conv1", T0, author=None), [])]
    await store.save_turn("u1", BotState("conv1", "bot", {}, {}), [], None, 0, replies)
    assert (await store.get_message("r1")) is not None  # replies stored with the turn
    await store.add_health_event("c1", HealthEvent("telegram", "configured", T0), [])
    await store.add_health_event("c1", HealthEvent("telegram", "sync", T0 + timedelta(seconds=1)), [])
    health = await store.list_health("c1", 1)
    assert [e.type for e in health["telegram"]] == ["sync"]


async def test_a_schema_newer_than_the_code_is_refused(store: Store, store_url: str) -> None:
    await store.close()
    await raw_exec(store_url, "INSERT INTO schema_version (version) VALUES (9999)")
    newer = open_store(store_url)
    with pytest.raises(StoreError, match="newer than this code"):
        await newer.open()
    await raw_exec(store_url, "DELETE FROM schema_version WHERE version = 9999")
    await store.open()


async def raw_exec(url: str, sql: str) -> None:
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            db.execute(sql)
        return
    import asyncpg

    from orchestrator.store.postgres import split_url

    dsn, schema = split_url(url)
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema or "public"})
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_a_failing_write_does_not_take_concurrent_writes_down(store: Store) -> None:
    await store.create_client("taken", "t0", "d0")
    ids = [f"client-{n}" for n in range(30)]
    results = await asyncio.gather(
        *(store.create_client(client_id, f"t-{client_id}", "d") for client_id in ids),
        store.create_client("taken", "t-again", "d"),  # fails in the middle of a batch
        *(store.create_client(f"late-{n}", f"t-late-{n}", "d") for n in range(30)),
        return_exceptions=True,
    )
    assert results[:30] == [None] * 30 and results[31:] == [None] * 30
    assert isinstance(results[30], Conflict)
    assert all([await store.get_client(client_id) for client_id in ids])
    assert await store.get_client_token("t-again") is None  # the failed write left nothing


async def test_a_write_whose_caller_gave_up_is_still_committed(store_url: str) -> None:
    store = open_store(store_url)
    await store.open()
    write = asyncio.create_task(store.create_client("c", "t", "d"))
    await asyncio.sleep(0)  # the write is queued…
    write.cancel()  # …and its caller goes away
    with pytest.raises(asyncio.CancelledError):
        await write
    await store.close()  # closing waits for accepted writes
    reopened = open_store(store_url)
    await reopened.open()
    assert await reopened.get_client("c") is not None
    await reopened.close()
