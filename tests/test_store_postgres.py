"""PostgreSQL as a cluster's shared store: instances migrating at once, sharing the outbox,
serialising a conversation's turns, and faults mapped to 503s."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from orchestrator.store import StorageFault, StoreError, WebhookSpec, open_store
from orchestrator.store.faults import UNAVAILABLE
from orchestrator.store.postgres import PostgresStore, split_url
from orchestrator.store.records import Conversation, Message, OutboxEvent, User, utcnow

INSTANCES = 8


@pytest.fixture
async def stores(pg_url: str) -> AsyncIterator[list[PostgresStore]]:
    """Several stores on one schema, as several instances would be."""
    opened = [PostgresStore(pg_url) for _ in range(3)]
    for store in opened:
        await store.open()
    yield opened
    for store in opened:
        await store.close()


async def test_instances_starting_together_migrate_once(pg_url: str) -> None:
    started = time.perf_counter()
    instances = [PostgresStore(pg_url) for _ in range(INSTANCES)]
    await asyncio.gather(*(store.open() for store in instances))
    elapsed = time.perf_counter() - started
    dsn, schema = split_url(pg_url)
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema or "public"})
    try:
        versions = [r[0] for r in await conn.fetch("SELECT version FROM schema_version ORDER BY version")]
    finally:
        await conn.close()
    await asyncio.gather(*(store.close() for store in instances))
    assert versions == [1, 2]  # each migration applied exactly once
    print(f"{INSTANCES} instances opened (and migrated once) in {elapsed * 1000:.0f} ms")


async def test_a_conversations_turns_never_overlap_across_instances(stores: list[PostgresStore]) -> None:
    inside, overlaps, turns = 0, 0, 0

    async def turn(store: PostgresStore) -> None:
        nonlocal inside, overlaps, turns
        async with store.turn_lock("conv-1"):
            inside += 1
            overlaps += inside > 1
            await asyncio.sleep(0.005)  # the turn's work: other instances try to enter meanwhile
            inside -= 1
            turns += 1

    await asyncio.gather(*(turn(stores[n % 3]) for n in range(30)))
    assert (turns, overlaps) == (30, 0)
    # Another conversation is not held up by this one.
    async with stores[0].turn_lock("conv-1"):
        async with asyncio.timeout(2):
            async with stores[1].turn_lock("conv-2"):
                pass


async def test_instances_share_the_outbox_without_doubles(stores: list[PostgresStore]) -> None:
    first = stores[0]
    await first.create_client("c1", "t", "d")
    await first.apply_sync("c1", [], [WebhookSpec("h", "http://127.0.0.1:9/", "tok", None)], None, [])
    await first.create_user(User("u1", "c1"), [])
    await first.create_conversation(Conversation("conv", "c1", "u1", utcnow()), [])
    rows = [
        (
            Message(f"m{n}", "conv", "u1", utcnow(), {}),
            [OutboxEvent("c1", "message.new", {"n": n}, f"k{n % 20}")],
        )
        for n in range(200)
    ]
    await first.create_messages(rows)
    delivered: list[str] = []

    async def worker(store: PostgresStore) -> None:
        while True:
            claimed = await store.claim_deliveries(time.time(), 30, 10)
            if not claimed:
                if await store.delivery_counts("c1") == {"pending": 0, "failed": 0}:
                    return
                await asyncio.sleep(0.001)
                continue
            for delivery in claimed:
                delivered.append(delivery.body)
                await store.complete_delivery(delivery.seq)

    async with asyncio.timeout(20):
        await asyncio.gather(*(worker(store) for store in stores))
    assert sorted(delivered) == sorted({body for body in delivered})  # no event twice
    assert len(delivered) == 200
    numbers = [int(body.split('"n":')[1].rstrip("}")) for body in delivered]
    for key in range(20):  # per ordering key, in the order written
        of_key = [n for n in numbers if n % 20 == key]
        assert of_key == sorted(of_key)


async def test_unreachable_database_is_a_store_error_naming_it() -> None:
    store = open_store("postgresql://postgres@127.0.0.1:1/none", timeout=1)
    with pytest.raises(StoreError, match="cannot open PostgreSQL database: storage unavailable"):
        await store.open()


class Proxy:
    """A TCP relay to PostgreSQL on an ephemeral port that can go down and come back."""

    def __init__(self, target_port: int) -> None:
        self.target_port, self.port = target_port, 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_a_database_outage_is_storage_unavailable_then_recovers(pg_url: str) -> None:
    parts = urlsplit(pg_url)
    proxy = Proxy(parts.port or 5432)
    await proxy.start()
    via_proxy = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    store = PostgresStore(via_proxy, timeout=2)
    await store.open()
    await store.create_client("c1", "t", "d")
    await proxy.stop()
    with pytest.raises(StorageFault) as fault:
        await store.create_client("c2", "t2", "d")
    assert fault.value.kind == UNAVAILABLE
    with pytest.raises(StorageFault) as fault:
        await store.get_client("c1")
    assert fault.value.kind == UNAVAILABLE
    await proxy.start()  # the database is back (same port)
    await store.create_client("c2", "t2", "d")
    assert await store.get_client("c1") is not None
    await store.close()
    await proxy.stop()
