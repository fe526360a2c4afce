"""Moving house: copy a SQLite database into an empty PostgreSQL one, then compare counts.

`orchestrator migrate-store --from sqlite:///data/orchestrator.db --to postgresql://…` copies
every table as stored (secrets stay sealed: keep the same `storage.encryption_key`), keeps the
order keys (message, outbox and health sequence numbers; the row order of conversations and
endpoints), moves the sequences past them, and checks that each table has as many rows on
both sides. Run it with the service stopped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import asyncpg

from .base import StoreError
from .postgres import PostgresStore, split_url
from .sqlite import SQLiteStore

# Table -> (columns read from SQLite, columns written to PostgreSQL). Explicit, in an order
# that satisfies the foreign keys.
TABLES: dict[str, tuple[str, str]] = {
    "clients": ("id, name, bot_id, created_on", "id, name, bot_id, created_on"),
    "client_tokens": ("id, client_id, digest", "id, client_id, digest"),
    "channel_configs": ("client_id, channel, version, config", "client_id, channel, version, config"),
    "webhooks": (
        "id, client_id, position, url, token, events",
        "id, client_id, position, url, token, events",
    ),
    "users": ("id, client_id, data", "id, client_id, data"),
    "user_tokens": ("id, user_id, digest", "id, user_id, digest"),
    "conversations": ("rowid, id, client_id, user_id, created_on", "seq, id, client_id, user_id, created_on"),
    "messages": (
        "seq, id, conversation_id, author_id, sent_on, payload, incoming_id",
        "seq, id, conversation_id, author_id, sent_on, payload, incoming_id",
    ),
    "endpoint_users": (
        "client_id, channel, identity, sender, user_id",
        "client_id, channel, identity, sender, user_id",
    ),
    "endpoints": (
        "rowid, client_id, channel, channel_version, identity, sender, thread, conversation_id",
        "seq, client_id, channel, channel_version, identity, sender, thread, conversation_id",
    ),
    "outbox": (
        "seq, client_id, webhook_id, ordering_key, body, status, attempts, next_attempt_at, last_error",
        "seq, client_id, webhook_id, ordering_key, body, status, attempts, next_attempt_at, last_error",
    ),
    "health_events": (
        "seq, client_id, channel, type, time, data",
        "seq, client_id, channel, type, time, data",
    ),
    "bot_states": ("conversation_id, bot_id, state", "conversation_id, bot_id, state"),
    "bot_user_vars": ("user_id, bot_id, vars", "user_id, bot_id, vars"),
    "timers": ("conversation_id, timer_id, due, data", "conversation_id, timer_id, due, data"),
    "turn_traces": ("conversation_id, turn, trace", "conversation_id, turn, trace"),
    "inbound_seen": ("client_id, channel, platform_id, seen_at", "client_id, channel, platform_id, seen_at"),
    "kv": ("key, value, updated_at", "key, value, updated_at"),
}
SEQUENCES = ("conversations", "messages", "endpoints", "outbox", "health_events")
CHUNK = 5_000


async def move(source: str, target: str, say: Callable[[str], None] = print) -> dict[str, int]:
    """Copy `source` (sqlite://) into `target` (postgresql://, empty); rows per table.
    StoreError when a URL is of the wrong kind, the target holds data, or counts differ."""
    if not source.startswith("sqlite://"):
        raise StoreError("--from: a sqlite:// URL")
    if not target.startswith(("postgresql://", "postgres://")):
        raise StoreError("--to: a postgresql:// URL")
    path = SQLiteStore.from_url(source)._path
    old = SQLiteStore(path)
    await old.open()  # brings the source to the latest schema
    await old.close()
    new = PostgresStore(target)
    await new.open()  # creates the schema
    await new.close()
    dsn, schema = split_url(target)
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema} if schema else {})
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    counts: dict[str, int] = {}
    try:
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM clients)"):
            raise StoreError("--to: the target database already holds clients; give an empty one")
        async with conn.transaction():
            for table, (read, write) in TABLES.items():
                columns = [c.strip() for c in write.split(",")]
                cursor = db.execute(f"SELECT {read} FROM {table}")
                copied = 0
                while rows := cursor.fetchmany(CHUNK):
                    await conn.copy_records_to_table(table, records=rows, columns=columns)
                    copied += len(rows)
                counts[table] = copied
                say(f"{table}: {copied} rows")
            for table in SEQUENCES:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'),"
                    f" COALESCE((SELECT MAX(seq) FROM {table}), 0) + 1, false)"
                )
        for table in TABLES:
            source_count = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            target_count = await conn.fetchval(f"SELECT COUNT(*) FROM {table}")
            if source_count != target_count:
                raise StoreError(f"{table}: {source_count} rows in the source, {target_count} copied")
    finally:
        db.close()
        await conn.close()
    return counts
