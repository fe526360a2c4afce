"""The PostgreSQL store: asyncpg with a pool, for several instances on one database.

Every write runs in its own transaction on a pooled connection, committed before the method
returns; concurrent writes use concurrent connections (PostgreSQL groups their commits
itself). A write whose caller goes away still completes. Migrations run under an advisory
lock, so instances starting together migrate once. Turns of one conversation are serialised
across instances by a session advisory lock (`turn_lock`), and the outbox is claimed with
`FOR UPDATE SKIP LOCKED` and a lease, so instances share deliveries and keep their order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeAlias, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from .. import jsonutil
from .base import Conflict, EndpointMapping, Store, StoreError, WebhookSpec
from .faults import BUSY, FULL, SLOW, UNAVAILABLE, FaultWatch, StorageFault, await_queued_write
from .records import (
    BotState,
    Client,
    Conversation,
    Delivery,
    HealthEvent,
    Message,
    OutboxEvent,
    StoredChannelConfig,
    StoredEndpoint,
    Timer,
    User,
    Webhook,
    iso,
    parse_iso,
    utcnow,
)
from .secrets import SecretBox
from .sqlite import migrations

T = TypeVar("T")
Conn: TypeAlias = asyncpg.Connection
Work = Callable[[Conn], Awaitable[T]]

MIGRATION_LOCK = 0x6F72_6368  # advisory lock key ("orch") held while migrating
# A conversation's last message time (the index on messages(conversation_id, sent_on) answers it).
LAST_MESSAGE = "SELECT MAX(m.sent_on) AS at FROM messages m WHERE m.conversation_id = c.id"
TURN_LOCK_SPACE = 0x7475  # first key of the two-key advisory lock of a conversation's turns
GRACE = 1.0  # seconds a write already running may overrun its deadline
FLUSHERS = 3  # write transactions under way at once
BATCH = 64  # most writes committed together
WEBHOOK_TTL = 2.0  # seconds a client's webhooks are cached for `wants_events`

# SQLSTATE classes and codes that are the environment's, not a bug.
_STATES = {
    "53100": FULL,  # disk_full
    "53200": UNAVAILABLE,  # out_of_memory
    "53300": BUSY,  # too_many_connections
    "55P03": BUSY,  # lock_not_available
    "40P01": BUSY,  # deadlock_detected
    "40001": BUSY,  # serialization_failure
    "57014": SLOW,  # query_canceled (statement_timeout)
    "57P01": UNAVAILABLE,  # admin_shutdown
    "57P02": UNAVAILABLE,  # crash_shutdown
    "57P03": UNAVAILABLE,  # cannot_connect_now
    "58030": UNAVAILABLE,  # io_error
    "25006": UNAVAILABLE,  # read_only_sql_transaction (a standby)
}


class _Rejected(Exception):
    """A write of a batch failed on its own terms (carried in `error`); the batch rolled back."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def classify_pg(exc: BaseException) -> StorageFault | None:
    """The fault a PostgreSQL error stands for, or None when it is not the environment's."""
    if isinstance(exc, StorageFault):
        return exc
    if isinstance(exc, TimeoutError):
        return StorageFault(SLOW, "a statement ran past storage.timeout")
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", "") or ""
        kind = _STATES.get(state) or (UNAVAILABLE if state.startswith("08") else None)
        return StorageFault(kind, str(exc)) if kind else None
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.InternalClientError | ConnectionError | OSError):
        return StorageFault(UNAVAILABLE, str(exc) or type(exc).__name__)
    return None


def split_url(url: str) -> tuple[str, str | None]:
    """(the DSN asyncpg takes, the schema named by `?schema=`) of a `storage.url`."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    scheme = "postgresql" if parts.scheme in ("postgres", "postgresql") else parts.scheme
    return urlunsplit((scheme, parts.netloc, parts.path, rest, parts.fragment)), schema


class PostgresStore(Store):
    """Store backed by a PostgreSQL database (`postgresql://user@host:port/db[?schema=name]`).

    Each call is bounded by `timeout` seconds: waiting for a free connection past it is
    `storage busy` (nothing applied); a statement running past it is `storage slow`."""

    def __init__(
        self,
        url: str,
        secrets: SecretBox | None = None,
        *,
        timeout: float = 5.0,
        watch: FaultWatch | None = None,
        pool_size: int = 10,
    ) -> None:
        self._dsn, self._schema = split_url(url)
        self._secrets = secrets or SecretBox()
        self._timeout = timeout
        self._watch = watch or FaultWatch()
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._locks: asyncpg.Pool | None = None  # connections that hold turn locks
        self._writes: set[asyncio.Task[Any]] = set()  # the flushers
        self._pending: list[tuple[Work[Any], asyncio.Future[Any]]] = []
        self._flushing = 0
        self._webhooks: dict[str, tuple[float, list[Webhook]]] = {}

    # -- lifecycle

    async def open(self) -> None:
        settings = {"search_path": self._schema} if self._schema else {}
        try:
            self._pool = await asyncpg.create_pool(
                self._dsn,
                min_size=1,
                max_size=self._pool_size,
                command_timeout=self._timeout,
                server_settings=settings,
                timeout=self._timeout,
                reset=_keep_session,  # nothing session-wide is set on these: save a round trip
            )
            self._locks = await asyncpg.create_pool(
                self._dsn,
                min_size=0,
                max_size=self._pool_size * 4,
                server_settings=settings,
                timeout=self._timeout,
            )
            await self._migrate()
        except BaseException as exc:
            await self.close()
            if isinstance(exc, StoreError):
                raise
            fault = classify_pg(exc)
            if fault is not None:
                raise StoreError(f"cannot open PostgreSQL database: {fault}") from exc
            raise

    async def close(self) -> None:
        if self._writes:
            await asyncio.wait(self._writes)  # writes already accepted are committed first
        for pool in (self._locks, self._pool):
            if pool is not None:
                await pool.close()
        self._pool = self._locks = None

    async def _migrate(self) -> None:
        known = migrations("postgres")
        latest = known[-1][0] if known else 0
        async with self._conn() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            if current > latest:
                raise StoreError(
                    f"database schema version {current} is newer than this code knows ({latest}); "
                    "upgrade the orchestrator"
                )
            for version, sql in known:
                if version > current:
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version)

    @contextlib.asynccontextmanager
    async def _conn(self) -> AsyncIterator[Conn]:
        if self._pool is None:
            raise StoreError("the store is not open")
        try:
            conn = await self._pool.acquire(timeout=self._timeout)
        except TimeoutError:
            fault = StorageFault(BUSY, f"no database connection free within {self._timeout:g} s")
            self._watch.failed(fault)
            raise fault from None
        except Exception as exc:
            raise self._fault_or(exc) from exc
        try:
            yield conn
        finally:
            await self._pool.release(conn)

    def _fault_or(self, exc: BaseException) -> BaseException:
        fault = classify_pg(exc)
        if fault is None:
            return exc
        self._watch.failed(fault)
        return fault

    async def _write(self, work: Work[T]) -> T:
        """Run `work` in a transaction, committed before this returns (rolled back if it
        raises); it completes even when the caller is cancelled.

        Group commit: up to `FLUSHERS` transactions run at once; writes that arrive while all
        are busy go together into the next one (one commit, one WAL flush for the lot). Should
        one of them fail, the batch is rolled back and each write runs again on its own, so a
        write fails only for its own reasons."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        future: asyncio.Future[Any] = loop.create_future()
        entry = (work, future)
        self._pending.append(entry)
        if self._flushing < FLUSHERS:
            self._flushing += 1
            task = asyncio.create_task(self._flush())
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)
        deadline = started + self._timeout + GRACE
        waiting = "no database connection free within"
        result = await await_queued_write(
            future, entry, self._queue, deadline, waiting, self._timeout, self._watch
        )
        if self.observe is not None:
            self.observe("write", loop.time() - started)
        return result

    def _queue(self) -> list[Any]:
        """The writes waiting for the next batch."""
        return self._pending

    async def _flush(self) -> None:
        try:
            while self._pending:  # no await between the last check and the count going down
                batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
                try:
                    results = await self._transact([work for work, _ in batch])
                except _Rejected:  # one write failed on its own terms: each alone, then
                    outcomes = [await self._alone(work) for work, _ in batch]
                except BaseException as exc:  # a fault (or a failed commit): nothing was written
                    outcomes = [(False, exc)] * len(batch)
                else:
                    outcomes = [(True, result) for result in results]
                for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._flushing -= 1

    async def _alone(self, work: Work[Any]) -> tuple[bool, Any]:
        try:
            return True, (await self._transact([work]))[0]
        except _Rejected as rejected:
            return False, rejected.error
        except asyncpg.DeadlockDetectedError as exc:
            return False, self._fault_or(exc)
        except BaseException as exc:
            return False, exc

    async def _transact(self, works: list[Work[Any]]) -> list[Any]:
        """Run writes in one transaction; `_Rejected` (rolled back) when one fails for its own
        reasons, the StorageFault when the database does."""
        async with self._conn() as conn:
            try:
                async with conn.transaction():
                    results = []
                    for work in works:
                        try:
                            results.append(await work(conn))
                        except asyncpg.UniqueViolationError as exc:
                            raise _Rejected(Conflict(str(exc))) from exc
                        except (StoreError, Conflict) as exc:
                            raise _Rejected(exc) from exc
                        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError) as exc:
                            if len(works) == 1:
                                raise
                            # Locks taken in another order by a concurrent batch (of another
                            # instance): run each write on its own instead.
                            raise _Rejected(exc) from exc
                        except Exception as exc:
                            if classify_pg(exc) is None:
                                raise _Rejected(exc) from exc
                            raise
            except _Rejected:
                raise
            except Exception as exc:
                raise self._fault_or(exc) from exc
        self._watch.succeeded()
        return results

    async def _read(self, fetch: Callable[[Conn], Awaitable[T]]) -> T:
        """Run a read; once more on a fresh connection when the first one had been lost (a
        database restart or a failover closes every pooled connection)."""
        started = time.perf_counter()
        for attempt in (1, 2):
            async with self._conn() as conn:
                try:
                    rows = await fetch(conn)
                    if self.observe is not None:
                        self.observe("read", time.perf_counter() - started)
                    return rows
                except TimeoutError:
                    fault = StorageFault(SLOW, f"a read took over {self._timeout:g} s")
                    self._watch.failed(fault)
                    raise fault from None
                except Exception as exc:
                    found = classify_pg(exc)
                    if attempt == 1 and found is not None and found.kind == UNAVAILABLE:
                        continue
                    raise self._fault_or(exc) from exc
        raise AssertionError("unreachable")

    async def _one(self, sql: str, *args: Any) -> Any:
        return await self._read(lambda conn: conn.fetchrow(sql, *args))

    async def _all(self, sql: str, *args: Any) -> list[Any]:
        return await self._read(lambda conn: conn.fetch(sql, *args))

    async def _write_events(self, conn: Conn, events: Sequence[OutboxEvent]) -> None:
        """One outbox row per event and webhook that takes it, read in this transaction."""
        now = utcnow().timestamp()
        for event in events:
            body = jsonutil.dumps({"type": event.type, "data": event.data})
            await conn.execute(
                "INSERT INTO outbox (client_id, webhook_id, ordering_key, body, next_attempt_at)"
                " SELECT $1, id, id || ':' || $2, $3, $4 FROM webhooks WHERE client_id = $1"
                " AND (events IS NULL OR events::jsonb ? $5) ORDER BY position",
                event.client_id,
                event.ordering_key,
                body,
                now,
                event.type,
            )

    # -- cluster

    @contextlib.asynccontextmanager
    async def turn_lock(self, conversation_id: str) -> AsyncIterator[None]:
        """Hold the conversation's advisory lock for the turn (across every instance). The lock
        lives on its own connection, so an instance that dies releases it at once."""
        if self._locks is None:
            raise StoreError("the store is not open")
        key = zlib.crc32(conversation_id.encode()) - 2**31  # int4, as pg_advisory_lock(int, int) takes
        try:
            conn = await self._locks.acquire(timeout=self._timeout)
            await conn.execute("SELECT pg_advisory_lock($1, $2)", TURN_LOCK_SPACE, key)
        except Exception as exc:
            raise self._fault_or(exc) from exc
        try:
            yield
        finally:
            try:
                await conn.execute("SELECT pg_advisory_unlock($1, $2)", TURN_LOCK_SPACE, key)
            except Exception:  # the connection broke: the server dropped its locks with it
                await self._locks.release(conn, timeout=1)
            else:
                await self._locks.release(conn)

    # -- clients and sync

    async def create_client(self, client_id: str, token_id: str, token_digest: str) -> None:
        async def work(conn: Conn) -> None:
            await conn.execute(
                "INSERT INTO clients (id, created_on) VALUES ($1, $2)", client_id, iso(utcnow())
            )
            await conn.execute(
                "INSERT INTO client_tokens (id, client_id, digest) VALUES ($1, $2, $3)",
                token_id,
                client_id,
                token_digest,
            )

        try:
            await self._write(work)
        except Conflict:
            raise Conflict(client_id) from None

    async def get_client(self, client_id: str) -> Client | None:
        row = await self._one("SELECT id, name, bot_id FROM clients WHERE id = $1", client_id)
        return Client(*row) if row else None

    async def get_client_by_name(self, name: str) -> Client | None:
        row = await self._one("SELECT id, name, bot_id FROM clients WHERE name = $1", name)
        return Client(*row) if row else None

    async def rename_client(self, client_id: str, name: str) -> bool:
        async def work(conn: Conn) -> bool:
            row = await conn.fetchrow("SELECT name FROM clients WHERE id = $1 FOR UPDATE", client_id)
            if row and row[0] == name:
                return False
            await conn.execute("UPDATE clients SET name = NULL WHERE name = $1", name)
            await conn.execute("UPDATE clients SET name = $1 WHERE id = $2", name, client_id)
            return True

        return await self._write(work)

    async def get_client_token(self, token_id: str) -> tuple[str, str] | None:
        row = await self._one("SELECT client_id, digest FROM client_tokens WHERE id = $1", token_id)
        return (row[0], row[1]) if row else None

    async def apply_sync(
        self,
        client_id: str,
        channels: Sequence[StoredChannelConfig],
        webhooks: Sequence[WebhookSpec],
        bot_id: str | None,
        health: Sequence[HealthEvent],
    ) -> None:
        async def work(conn: Conn) -> None:
            await conn.execute("SELECT 1 FROM clients WHERE id = $1 FOR UPDATE", client_id)
            await conn.execute("DELETE FROM channel_configs WHERE client_id = $1", client_id)
            await conn.executemany(
                "INSERT INTO channel_configs (client_id, channel, version, config) VALUES ($1,$2,$3,$4)",
                [
                    (client_id, c.channel, c.version, self._secrets.seal(jsonutil.dumps(c.config)))
                    for c in channels
                ],
            )
            keep = [w.id for w in webhooks]
            gone = await conn.fetch(
                "SELECT id FROM webhooks WHERE client_id = $1 AND NOT (id = ANY($2::text[]))",
                client_id,
                keep,
            )
            gone_ids = [r[0] for r in gone]
            await conn.execute(
                "DELETE FROM outbox WHERE webhook_id = ANY($1::text[]) AND status = 'pending'", gone_ids
            )
            await conn.execute("DELETE FROM webhooks WHERE id = ANY($1::text[])", gone_ids)
            for position, hook in enumerate(webhooks):
                events = jsonutil.dumps(list(hook.events)) if hook.events is not None else None
                await conn.execute(
                    "INSERT INTO webhooks (id, client_id, position, url, token, events)"
                    " VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (id) DO UPDATE SET"
                    " position = excluded.position, events = excluded.events",
                    hook.id,
                    client_id,
                    position,
                    hook.url,
                    self._secrets.seal(hook.token),
                    events,
                )
            await conn.execute("UPDATE clients SET bot_id = $1 WHERE id = $2", bot_id, client_id)
            for event in health:
                await _insert_health(conn, client_id, event)

        await self._write(work)
        self._webhooks.pop(client_id, None)

    async def _cached_webhooks(self, client_id: str) -> list[Webhook]:
        """A client's webhooks, cached for `WEBHOOK_TTL` s (a sync on another instance is seen
        within that; the outbox rows themselves are always written from the table)."""
        now = time.monotonic()
        cached = self._webhooks.get(client_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        rows = await self._all(
            "SELECT id, client_id, url, token, events FROM webhooks WHERE client_id = $1 ORDER BY position",
            client_id,
        )
        hooks = [_webhook(r, self._secrets) for r in rows]
        if len(self._webhooks) > 10_000:
            self._webhooks.clear()
        self._webhooks[client_id] = (now + WEBHOOK_TTL, hooks)
        return hooks

    async def wants_events(self, client_id: str, event_type: str) -> bool:
        return any(hook.wants(event_type) for hook in await self._cached_webhooks(client_id))

    async def list_webhooks(self, client_id: str) -> list[Webhook]:
        self._webhooks.pop(client_id, None)
        return list(await self._cached_webhooks(client_id))

    async def list_channel_configs(self, client_id: str) -> list[StoredChannelConfig]:
        rows = await self._all(
            "SELECT client_id, channel, version, config FROM channel_configs WHERE client_id = $1"
            " ORDER BY channel",
            client_id,
        )
        return [StoredChannelConfig(r[0], r[1], r[2], jsonutil.loads(self._secrets.open(r[3]))) for r in rows]

    # -- users and conversations

    async def create_user(self, user: User, events: Sequence[OutboxEvent]) -> None:
        async def work(conn: Conn) -> None:
            data = jsonutil.dumps(user.data) if user.data is not None else None
            await conn.execute(
                "INSERT INTO users (id, client_id, data) VALUES ($1,$2,$3)", user.id, user.client_id, data
            )
            await self._write_events(conn, events)

        await self._write(work)

    async def get_user(self, user_id: str) -> User | None:
        row = await self._one("SELECT id, client_id, data FROM users WHERE id = $1", user_id)
        if not row:
            return None
        return User(row[0], row[1], jsonutil.loads(row[2]) if row[2] is not None else None)

    async def create_user_token(self, token_id: str, user_id: str, token_digest: str) -> None:
        async def work(conn: Conn) -> None:
            await conn.execute(
                "INSERT INTO user_tokens (id, user_id, digest) VALUES ($1,$2,$3)",
                token_id,
                user_id,
                token_digest,
            )

        await self._write(work)

    async def get_user_token(self, token_id: str) -> tuple[str, str] | None:
        row = await self._one("SELECT user_id, digest FROM user_tokens WHERE id = $1", token_id)
        return (row[0], row[1]) if row else None

    async def create_conversation(self, conversation: Conversation, events: Sequence[OutboxEvent]) -> None:
        async def work(conn: Conn) -> None:
            await _insert_conversation(conn, conversation)
            await self._write_events(conn, events)

        await self._write(work)

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        row = await self._one(
            "SELECT id, client_id, user_id, created_on FROM conversations WHERE id = $1", conversation_id
        )
        return Conversation(row[0], row[1], row[2], parse_iso(row[3])) if row else None

    async def list_conversations(self, user_id: str, limit: int) -> list[Conversation]:
        sql = (
            "SELECT id, client_id, user_id, created_on FROM conversations c"
            f" CROSS JOIN LATERAL ({LAST_MESSAGE}) last WHERE user_id = $1"
            " ORDER BY last.at IS NOT NULL, last.at DESC NULLS LAST, created_on DESC, seq DESC"
        )
        args: tuple[Any, ...] = (user_id,)
        if limit:
            sql += " LIMIT $2"
            args += (limit,)
        rows = await self._all(sql, *args)
        return [Conversation(r[0], r[1], r[2], parse_iso(r[3])) for r in rows]

    async def recent_conversations(
        self, client_id: str, limit: int
    ) -> list[tuple[Conversation, datetime | None]]:
        rows = await self._all(
            "SELECT id, client_id, user_id, created_on, last.at FROM conversations c"
            f" CROSS JOIN LATERAL ({LAST_MESSAGE}) last"
            " WHERE client_id = $1 ORDER BY COALESCE(last.at, created_on) DESC, seq DESC LIMIT $2",
            client_id,
            limit,
        )
        return [
            (Conversation(r[0], r[1], r[2], parse_iso(r[3])), parse_iso(r[4]) if r[4] else None) for r in rows
        ]

    async def list_clients(self, limit: int) -> list[Client]:
        rows = await self._all("SELECT id, name, bot_id FROM clients ORDER BY created_on, id LIMIT $1", limit)
        return [Client(r[0], r[1], r[2]) for r in rows]

    # -- messages

    async def create_messages(
        self,
        messages: Sequence[tuple[Message, Sequence[OutboxEvent]]],
        seen: tuple[str, str, str] | None = None,
    ) -> bool:
        async def work(conn: Conn) -> bool:
            if seen is not None and await _seen_before(conn, *seen):
                return False
            await self._insert_messages(conn, messages)
            return True

        return await self._write(work)

    async def _insert_messages(
        self, conn: Conn, messages: Sequence[tuple[Message, Sequence[OutboxEvent]]]
    ) -> None:
        if messages:
            await conn.executemany(
                "INSERT INTO messages (id, conversation_id, author_id, sent_on, payload, incoming_id)"
                " VALUES ($1,$2,$3,$4,$5,$6)",
                [
                    (
                        m.id,
                        m.conversation_id,
                        m.author_id,
                        iso(m.sent_on),
                        jsonutil.dumps(m.payload),
                        m.incoming_id,
                    )
                    for m, _ in messages
                ],
            )
            await self._write_events(conn, [e for _, events in messages for e in events])

    async def get_message(self, message_id: str) -> Message | None:
        row = await self._one(
            "SELECT id, conversation_id, author_id, sent_on, payload, incoming_id FROM messages"
            " WHERE id = $1",
            message_id,
        )
        return _message(row) if row else None

    async def list_messages(self, conversation_id: str, limit: int, until: datetime | None) -> list[Message]:
        sql = (
            "SELECT id, conversation_id, author_id, sent_on, payload, incoming_id FROM messages"
            " WHERE conversation_id = $1"
        )
        args: list[Any] = [conversation_id]
        if until is not None:
            args.append(iso(until))
            sql += f" AND sent_on <= ${len(args)}"
        sql += " ORDER BY sent_on DESC, seq DESC"
        if limit:
            args.append(limit)
            sql += f" LIMIT ${len(args)}"
        return [_message(r) for r in await self._all(sql, *args)]

    async def delete_message(self, message_id: str) -> bool:
        async def work(conn: Conn) -> bool:
            return (
                await conn.fetchval("DELETE FROM messages WHERE id = $1 RETURNING 1", message_id) is not None
            )

        return await self._write(work)

    async def delete_conversation_messages(self, conversation_id: str) -> int:
        async def work(conn: Conn) -> int:
            status = await conn.execute("DELETE FROM messages WHERE conversation_id = $1", conversation_id)
            return _rowcount(status)

        return await self._write(work)

    # -- endpoints

    async def map_endpoint(
        self,
        client_id: str,
        endpoint: StoredEndpoint,
        new_ids: tuple[str, str],
        created_on: datetime,
        events_for: Callable[[EndpointMapping], list[OutboxEvent]],
    ) -> EndpointMapping:
        key = (client_id, endpoint.channel, endpoint.identity, endpoint.sender)

        async def work(conn: Conn) -> EndpointMapping:
            # One endpoint maps on one instance at a time (the first message of a new sender
            # may reach two instances at once).
            lock = zlib.crc32("\x1f".join((*key, endpoint.thread)).encode()) - 2**31
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", TURN_LOCK_SPACE + 1, lock)
            row = await conn.fetchrow(
                "SELECT conversation_id FROM endpoints WHERE client_id = $1 AND channel = $2"
                " AND identity = $3 AND sender = $4 AND thread = $5",
                *key,
                endpoint.thread,
            )
            user_row = await conn.fetchrow(
                "SELECT user_id FROM endpoint_users WHERE client_id = $1 AND channel = $2"
                " AND identity = $3 AND sender = $4",
                *key,
            )
            new_user = user_row is None
            user_id = new_ids[0] if new_user else user_row[0]
            if new_user:
                await conn.execute("INSERT INTO users (id, client_id) VALUES ($1, $2)", user_id, client_id)
                await conn.execute(
                    "INSERT INTO endpoint_users (client_id, channel, identity, sender, user_id)"
                    " VALUES ($1,$2,$3,$4,$5)",
                    *key,
                    user_id,
                )
            new_conversation = row is None
            conversation_id = new_ids[1] if new_conversation else row[0]
            if new_conversation:
                await _insert_conversation(
                    conn, Conversation(conversation_id, client_id, user_id, created_on)
                )
                await conn.execute(
                    "INSERT INTO endpoints (client_id, channel, channel_version, identity, sender,"
                    " thread, conversation_id) VALUES ($1,$2,$3,$4,$5,$6,$7)",
                    client_id,
                    endpoint.channel,
                    endpoint.channel_version,
                    endpoint.identity,
                    endpoint.sender,
                    endpoint.thread,
                    conversation_id,
                )
            mapping = EndpointMapping(user_id, conversation_id, new_user, new_conversation)
            await self._write_events(conn, events_for(mapping))
            return mapping

        return await self._write(work)

    async def list_endpoints(self, conversation_id: str) -> list[StoredEndpoint]:
        rows = await self._all(
            "SELECT channel, identity, sender, thread, channel_version FROM endpoints"
            " WHERE conversation_id = $1 ORDER BY seq",
            conversation_id,
        )
        return [StoredEndpoint(*r) for r in rows]

    # -- webhook outbox

    async def claim_deliveries(
        self,
        now: float,
        lease: float,
        limit: int,
        *,
        per_webhook: int | None = None,
        in_flight: Mapping[str, int] | None = None,
    ) -> list[Delivery]:
        taken = Counter(in_flight or {})

        async def work(conn: Conn) -> list[Delivery]:
            # Rows another instance is claiming are skipped, not waited for; one leased by an
            # earlier claim is the oldest pending of its key but not due, so its key waits.
            cursor = conn.cursor(
                "SELECT o.seq, o.client_id, o.webhook_id, w.url, w.token, o.body, o.attempts"
                " FROM outbox o LEFT JOIN webhooks w ON w.id = o.webhook_id"
                " WHERE o.status = 'pending' AND o.next_attempt_at <= $1"
                " AND o.seq = (SELECT MIN(p.seq) FROM outbox p"
                "              WHERE p.ordering_key = o.ordering_key AND p.status = 'pending')"
                " ORDER BY o.seq FOR UPDATE OF o SKIP LOCKED",
                now,
                prefetch=max(limit, 50),
            )
            rows, removed = [], []
            async for row in cursor:
                if row[3] is None:  # the webhook was removed by a later sync
                    removed.append(row[0])
                elif per_webhook is None or taken[row[2]] < per_webhook:
                    taken[row[2]] += 1
                    rows.append(row)
                    if len(rows) >= limit:
                        break
            if removed:
                await conn.execute("DELETE FROM outbox WHERE seq = ANY($1::bigint[])", removed)
            claimed = [
                Delivery(seq, client_id, webhook_id, url, self._secrets.open(token), body, attempts)
                for seq, client_id, webhook_id, url, token, body, attempts in rows
            ]
            if claimed:
                await conn.execute(
                    "UPDATE outbox SET next_attempt_at = $1 WHERE seq = ANY($2::bigint[])",
                    now + lease,
                    [d.seq for d in claimed],
                )
            return claimed

        return await self._write(work)

    async def trim_outbox(self, max_rows: int) -> list[tuple[str, str, int]]:
        async def work(conn: Conn) -> list[tuple[str, str, int]]:
            over = await conn.fetch(
                "SELECT client_id, webhook_id, COUNT(*) - $1 FROM outbox"
                " GROUP BY client_id, webhook_id HAVING COUNT(*) > $1",
                max_rows,
            )
            for _, webhook_id, excess in over:
                # Failed rows go first, then the oldest pending ones.
                await conn.execute(
                    "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE webhook_id = $1"
                    " ORDER BY status = 'pending', seq LIMIT $2)",
                    webhook_id,
                    excess,
                )
            return [(client_id, webhook_id, int(excess)) for client_id, webhook_id, excess in over]

        return await self._write(work)

    async def complete_delivery(self, seq: int) -> None:
        async def work(conn: Conn) -> None:
            await conn.execute("DELETE FROM outbox WHERE seq = $1", seq)

        await self._write(work)

    async def retry_delivery(self, seq: int, attempts: int, next_at: float, error: str) -> None:
        async def work(conn: Conn) -> None:
            await conn.execute(
                "UPDATE outbox SET attempts = $1, next_attempt_at = $2, last_error = $3 WHERE seq = $4",
                attempts,
                next_at,
                error,
                seq,
            )

        await self._write(work)

    async def fail_delivery(self, seq: int, attempts: int, error: str) -> None:
        async def work(conn: Conn) -> None:
            await conn.execute(
                "UPDATE outbox SET status = 'failed', attempts = $1, last_error = $2 WHERE seq = $3",
                attempts,
                error,
                seq,
            )

        await self._write(work)

    async def next_delivery_at(self) -> float | None:
        row = await self._one("SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'")
        return row[0] if row else None

    async def outbox_counts(self) -> dict[str, int]:
        rows = await self._all("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        return {"pending": 0, "failed": 0, **{status: int(count) for status, count in rows}}

    async def delivery_counts(self, client_id: str) -> dict[str, int]:
        rows = await self._all(
            "SELECT status, COUNT(*) FROM outbox WHERE client_id = $1 GROUP BY status", client_id
        )
        counts = {"pending": 0, "failed": 0}
        counts.update({status: int(count) for status, count in rows})
        return counts

    # -- health

    async def add_health_event(
        self, client_id: str, event: HealthEvent, events: Sequence[OutboxEvent]
    ) -> None:
        async def work(conn: Conn) -> None:
            await _insert_health(conn, client_id, event)
            await self._write_events(conn, events)

        await self._write(work)

    async def list_health(self, client_id: str, per_channel: int) -> dict[str, list[HealthEvent]]:
        rows = await self._all(
            "SELECT channel, type, time, data FROM health_events WHERE client_id = $1 ORDER BY seq DESC",
            client_id,
        )
        result: dict[str, list[HealthEvent]] = {}
        for channel, type_, at, data in rows:
            events = result.setdefault(channel, [])
            if len(events) < per_channel:
                loaded = jsonutil.loads(data) if data is not None else None
                events.append(HealthEvent(channel, type_, parse_iso(at), loaded))
        return result

    # -- bots

    async def get_bot_state(self, conversation_id: str, user_id: str, bot_id: str) -> BotState:
        row = await self._one(
            "SELECT (SELECT state FROM bot_states WHERE conversation_id = $1 AND bot_id = $2),"
            " (SELECT vars FROM bot_user_vars WHERE user_id = $3 AND bot_id = $2)",
            conversation_id,
            bot_id,
            user_id,
        )
        state = jsonutil.loads(row[0]) if row[0] else None
        user_vars = jsonutil.loads(row[1]) if row[1] else {}
        return BotState(conversation_id, bot_id, state, user_vars)

    async def save_turn(
        self,
        user_id: str,
        state: BotState,
        timers: Sequence[Timer],
        trace: dict[str, Any] | None,
        keep_traces: int,
        replies: Sequence[tuple[Message, Sequence[OutboxEvent]]] = (),
    ) -> None:
        conversation_id = state.conversation_id

        async def work(conn: Conn) -> None:
            await self._insert_messages(conn, replies)
            await conn.execute(
                "INSERT INTO bot_states (conversation_id, bot_id, state) VALUES ($1,$2,$3)"
                " ON CONFLICT (conversation_id) DO UPDATE SET bot_id = excluded.bot_id,"
                " state = excluded.state",
                conversation_id,
                state.bot_id,
                jsonutil.dumps(state.state),
            )
            await conn.execute(
                "INSERT INTO bot_user_vars (user_id, bot_id, vars) VALUES ($1,$2,$3)"
                " ON CONFLICT (user_id, bot_id) DO UPDATE SET vars = excluded.vars",
                user_id,
                state.bot_id,
                jsonutil.dumps(state.user_vars),
            )
            await conn.execute("DELETE FROM timers WHERE conversation_id = $1", conversation_id)
            if timers:
                await conn.executemany(
                    "INSERT INTO timers (conversation_id, timer_id, due, data) VALUES ($1,$2,$3,$4)",
                    [(t.conversation_id, t.timer_id, iso(t.due), jsonutil.dumps(t.data)) for t in timers],
                )
            if trace is not None and keep_traces > 0:
                await conn.execute(
                    "INSERT INTO turn_traces (conversation_id, turn, trace) SELECT $1,"
                    " COALESCE(MAX(turn), 0) + 1, $2 FROM turn_traces WHERE conversation_id = $1",
                    conversation_id,
                    jsonutil.dumps(trace),
                )
                await conn.execute(
                    "DELETE FROM turn_traces WHERE conversation_id = $1 AND turn <= ("
                    " SELECT MAX(turn) FROM turn_traces WHERE conversation_id = $1) - $2",
                    conversation_id,
                    keep_traces,
                )

        await self._write(work)

    async def due_timers(self, now: datetime, limit: int) -> list[Timer]:
        rows = await self._all(
            "SELECT conversation_id, timer_id, due, data FROM timers WHERE due <= $1 ORDER BY due LIMIT $2",
            iso(now),
            limit,
        )
        return [Timer(r[0], r[1], parse_iso(r[2]), jsonutil.loads(r[3])) for r in rows]

    async def claim_timer(self, timer: Timer, until: datetime) -> bool:
        async def work(conn: Conn) -> bool:
            found = await conn.fetchval(
                "UPDATE timers SET due = $1 WHERE conversation_id = $2 AND timer_id = $3 AND due = $4"
                " RETURNING 1",
                iso(until),
                timer.conversation_id,
                timer.timer_id,
                iso(timer.due),
            )
            return found is not None

        return await self._write(work)

    async def delete_timer(self, conversation_id: str, timer_id: str) -> None:
        async def work(conn: Conn) -> None:
            await conn.execute(
                "DELETE FROM timers WHERE conversation_id = $1 AND timer_id = $2", conversation_id, timer_id
            )

        await self._write(work)

    async def list_traces(self, conversation_id: str) -> list[dict[str, Any]]:
        rows = await self._all(
            "SELECT turn, trace FROM turn_traces WHERE conversation_id = $1 ORDER BY turn", conversation_id
        )
        return [{"turn": turn, **jsonutil.loads(trace)} for turn, trace in rows]

    # -- channels

    async def seen_inbound(self, client_id: str, channel: str, platform_id: str) -> bool:
        async def work(conn: Conn) -> bool:
            return await _seen_before(conn, client_id, channel, platform_id)

        return await self._write(work)

    async def get_kv(self, key: str) -> Any | None:
        row = await self._one("SELECT value FROM kv WHERE key = $1", key)
        return jsonutil.loads(row[0]) if row else None

    async def set_kv(self, key: str, value: Any) -> None:
        async def work(conn: Conn) -> None:
            await conn.execute(
                "INSERT INTO kv (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key)"
                " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                key,
                jsonutil.dumps(value),
                time.time(),
            )

        await self._write(work)

    async def prune(self, seen_before: float, values_before: float) -> int:
        async def work(conn: Conn) -> int:
            seen = await conn.execute("DELETE FROM inbound_seen WHERE seen_at < $1", seen_before)
            values = await conn.execute("DELETE FROM kv WHERE updated_at < $1", values_before)
            return _rowcount(seen) + _rowcount(values)

        return await self._write(work)


async def _keep_session(conn: Conn) -> None:
    """The main pool's connections hold no session state (no LISTEN, no session locks)."""


def _rowcount(status: str) -> int:
    """The row count of a command status such as `DELETE 3`."""
    return int(status.rsplit(" ", 1)[-1])


def _webhook(row: Sequence[Any], secrets: SecretBox) -> Webhook:
    events = tuple(jsonutil.loads(row[4])) if row[4] is not None else None
    return Webhook(row[0], row[1], row[2], secrets.open(row[3]), events)


async def _seen_before(conn: Conn, client_id: str, channel: str, platform_id: str) -> bool:
    """Record a platform message id; True when it had been recorded already."""
    status = await conn.execute(
        "INSERT INTO inbound_seen (client_id, channel, platform_id, seen_at) VALUES ($1,$2,$3,$4)"
        " ON CONFLICT DO NOTHING",
        client_id,
        channel,
        platform_id,
        time.time(),
    )
    return _rowcount(status) == 0


def _message(row: Sequence[Any]) -> Message:
    return Message(row[0], row[1], row[2], parse_iso(row[3]), jsonutil.loads(row[4]), row[5])


async def _insert_conversation(conn: Conn, conversation: Conversation) -> None:
    await conn.execute(
        "INSERT INTO conversations (id, client_id, user_id, created_on) VALUES ($1,$2,$3,$4)",
        conversation.id,
        conversation.client_id,
        conversation.user_id,
        iso(conversation.created_on),
    )


async def _insert_health(conn: Conn, client_id: str, event: HealthEvent) -> None:
    data = jsonutil.dumps(event.data) if event.data is not None else None
    await conn.execute(
        "INSERT INTO health_events (client_id, channel, type, time, data) VALUES ($1,$2,$3,$4,$5)",
        client_id,
        event.channel,
        event.type,
        iso(event.time),
        data,
    )
