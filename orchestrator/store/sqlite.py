"""The SQLite store: one long-lived aiosqlite connection in WAL mode.

Writes are serialised by an asyncio lock and each runs in its own transaction, committed before
the method returns (so before the request that caused it is answered). Reads share the same
connection: aiosqlite runs every statement on one thread, in order.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from .. import jsonutil
from .base import Conflict, EndpointMapping, Store, StoreError, WebhookSpec
from .faults import SLOW, FaultWatch, StorageFault, await_queued_write, classify
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
from .sqlite_thread import check as check_private_api
from .sqlite_thread import run_on_thread

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], Any]

GRACE = 1.0  # seconds a write already running may overrun its deadline before the caller is answered


def migrations(dialect: str) -> list[tuple[int, str]]:
    """(version, SQL) of every migration for a dialect, in order."""
    found = []
    for entry in resources.files("orchestrator.store.migrations").iterdir():
        name = entry.name
        if name.endswith(f".{dialect}.sql"):
            found.append((int(name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


class SQLiteStore(Store):
    """Store backed by one SQLite file (or `:memory:`).

    A file database has a second, read-only connection for reads, so reads keep being answered
    while writes wait for a lock or fail for lack of space (WAL lets readers and a writer work
    at once). Every call is bounded by `timeout` seconds: a write still waiting for the
    database then fails with `storage busy` without being applied; one already running that
    overruns it by more than `GRACE` is answered `storage slow` (it may still complete)."""

    def __init__(
        self,
        path: str,
        secrets: SecretBox | None = None,
        *,
        timeout: float = 5.0,
        watch: FaultWatch | None = None,
    ) -> None:
        self._path = path
        self._secrets = secrets or SecretBox()
        self._timeout = timeout
        self._watch = watch or FaultWatch()
        self._pending: list[tuple[Work, asyncio.Future[Any], float]] = []
        self._flushing = False
        self._busy_ms: int | None = None  # the busy_timeout the writer connection has now
        self._flusher: asyncio.Task[None] | None = None
        self._db: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._webhooks: dict[str, list[Webhook]] = {}

    @classmethod
    def from_url(
        cls,
        url: str,
        secrets: SecretBox | None = None,
        *,
        timeout: float = 5.0,
        watch: FaultWatch | None = None,
    ) -> SQLiteStore:
        """`sqlite:///relative/path.db`, `sqlite:////absolute/path.db` or `sqlite://:memory:`."""
        path = url.removeprefix("sqlite://")
        if (path.startswith("/") and not path.startswith("//")) or path.startswith("//"):
            path = path[1:]
        return cls(path or ":memory:", secrets, timeout=timeout, watch=watch)

    # -- lifecycle

    async def open(self) -> None:
        check_private_api()  # a new aiosqlite that changed it fails here, naming what changed
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = await aiosqlite.connect(self._path, isolation_level=None)
        except Exception as exc:  # aiosqlite wraps sqlite3 errors of every kind
            raise StoreError(f"cannot open SQLite database {self._path}: {exc}") from exc
        busy = f"PRAGMA busy_timeout={int(self._timeout * 1000)}"
        try:
            for pragma in (
                "PRAGMA journal_mode=WAL",
                "PRAGMA synchronous=NORMAL",
                "PRAGMA foreign_keys=ON",
                busy,
            ):
                await self._db.execute(pragma)
            await self._migrate()
            if self._path != ":memory:":
                self._reader = await aiosqlite.connect(self._path, isolation_level=None)
                await self._reader.execute(busy)
                await self._reader.execute("PRAGMA query_only=ON")
        except BaseException as exc:
            await self.close()
            fault = classify(exc)
            if fault is not None and not isinstance(exc, StoreError):
                raise StoreError(f"cannot open SQLite database {self._path}: {fault}") from exc
            raise

    async def close(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            await self._flusher  # writes already accepted are committed first
        for db in (self._reader, self._db):
            if db is not None:
                await db.close()
        self._db = self._reader = None

    async def _migrate(self) -> None:
        await self._conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = await self._one("SELECT MAX(version) FROM schema_version")
        current = row[0] or 0
        known = migrations("sqlite")
        latest = known[-1][0] if known else 0
        if current > latest:
            raise StoreError(
                f"database schema version {current} is newer than this code knows ({latest}); "
                "upgrade the orchestrator"
            )
        for version, sql in known:
            if version > current:
                await self._write(partial(_apply_migration, version, sql))

    @property
    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("the store is not open")
        return self._db

    @property
    def _read_conn(self) -> aiosqlite.Connection:
        return self._reader or self._conn

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` in a transaction on the connection's thread, committed before this returns
        (its own changes rolled back if it raises). A cancelled caller's write still completes.

        Adaptive group commit: writes that arrive while a commit is under way are run together
        in the next one, each in its own savepoint, so many concurrent writes cost one thread
        round trip and one commit, and a lone write costs no wait at all. The deadline is one
        timer (`faults.await_queued_write`), not a timeout context and a shielded task per write."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        future: asyncio.Future[Any] = loop.create_future()
        entry = (work, future, started + self._timeout)
        self._pending.append(entry)
        if not self._flushing:
            self._flushing = True
            self._flusher = asyncio.create_task(self._flush())
        deadline = started + self._timeout + GRACE
        waiting = "the database stayed locked for"
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
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                db = self._conn
                # SQLite waits for another process's lock no longer than the earliest deadline
                # (in steps of 100 ms: the statement that sets it is run only when it changes).
                busy_ms = max(10, int((min(d for _, _, d in batch) - loop.time()) * 10) * 100)
                changed = busy_ms if busy_ms != self._busy_ms else None
                try:
                    outcomes = await run_on_thread(db, _run_batch, [w for w, _, _ in batch], changed)
                except BaseException as exc:  # the commit itself failed: nothing was written
                    outcomes = [(False, self._fault_or(exc))] * len(batch)
                    self._busy_ms = None  # unknown: set it again next time
                else:
                    self._watch.succeeded()
                    self._busy_ms = busy_ms
                for (_, future, _), (ok, value) in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            self._flushing = False

    def _fault_or(self, exc: BaseException) -> BaseException:
        """The StorageFault an exception stands for (the watch told), or the exception itself."""
        fault = classify(exc)
        if fault is None:
            return exc
        self._watch.failed(fault)
        return fault

    async def _read(self, sql: str, args: Sequence[Any]) -> list[Any]:
        try:
            started = time.perf_counter()
            async with asyncio.timeout(self._timeout):
                rows = list(await self._read_conn.execute_fetchall(sql, args))
            if self.observe is not None:
                self.observe("read", time.perf_counter() - started)
            return rows
        except TimeoutError:
            fault = StorageFault(SLOW, f"a read took over {self._timeout:g} s")
            self._watch.failed(fault)
            raise fault from None
        except sqlite3.Error as exc:
            raise self._fault_or(exc) from exc

    async def _one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        return next(iter(await self._read(sql, args)), None)

    async def _all(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        return await self._read(sql, args)

    def _webhooks_of(self, db: sqlite3.Connection, client_id: str) -> list[Webhook]:
        """A client's webhooks, cached until the next sync (the only writer of webhooks).
        Runs on the connection's thread."""
        cached = self._webhooks.get(client_id)
        if cached is None:
            rows = db.execute(
                "SELECT id, client_id, url, token, events FROM webhooks WHERE client_id = ?"
                " ORDER BY position",
                (client_id,),
            ).fetchall()
            cached = [_webhook(r, self._secrets) for r in rows]
            if len(self._webhooks) > 10_000:
                self._webhooks.clear()
            self._webhooks[client_id] = cached
        return cached

    async def _cached_webhooks(self, client_id: str) -> list[Webhook]:
        cached = self._webhooks.get(client_id)
        if cached is not None:
            return cached
        db = self._conn  # the writer's thread: a sync's change of webhooks cannot race the cache
        try:
            return await run_on_thread(db, self._webhooks_of, client_id)
        except sqlite3.Error as exc:
            raise self._fault_or(exc) from exc

    def _write_events(self, db: sqlite3.Connection, events: Sequence[OutboxEvent]) -> None:
        if not events:
            return
        rows = []
        for event in events:
            hooks = [hook for hook in self._webhooks_of(db, event.client_id) if hook.wants(event.type)]
            if not hooks:
                continue  # nobody takes it: not even encoded
            body = jsonutil.dumps({"type": event.type, "data": event.data})
            now = utcnow().timestamp()
            for hook in hooks:
                rows.append((event.client_id, hook.id, f"{hook.id}:{event.ordering_key}", body, now))
        if rows:
            db.executemany(
                "INSERT INTO outbox (client_id, webhook_id, ordering_key, body, next_attempt_at)"
                " VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    # -- clients and sync

    async def create_client(self, client_id: str, token_id: str, token_digest: str) -> None:
        def work(db: sqlite3.Connection) -> Any:
            if db.execute("SELECT 1 FROM clients WHERE id = ?", (client_id,)).fetchone():
                raise Conflict(client_id)
            db.execute("INSERT INTO clients (id, created_on) VALUES (?, ?)", (client_id, iso(utcnow())))
            db.execute(
                "INSERT INTO client_tokens (id, client_id, digest) VALUES (?, ?, ?)",
                (token_id, client_id, token_digest),
            )

        await self._write(work)

    async def get_client(self, client_id: str) -> Client | None:
        row = await self._one("SELECT id, name, bot_id FROM clients WHERE id = ?", (client_id,))
        return Client(*row) if row else None

    async def get_client_by_name(self, name: str) -> Client | None:
        row = await self._one("SELECT id, name, bot_id FROM clients WHERE name = ?", (name,))
        return Client(*row) if row else None

    async def rename_client(self, client_id: str, name: str) -> bool:
        def work(db: sqlite3.Connection) -> Any:
            row = db.execute("SELECT name FROM clients WHERE id = ?", (client_id,)).fetchone()
            if row and row[0] == name:
                return False
            db.execute("UPDATE clients SET name = NULL WHERE name = ?", (name,))
            db.execute("UPDATE clients SET name = ? WHERE id = ?", (name, client_id))
            return True

        return await self._write(work)

    async def get_client_token(self, token_id: str) -> tuple[str, str] | None:
        row = await self._one("SELECT client_id, digest FROM client_tokens WHERE id = ?", (token_id,))
        return (row[0], row[1]) if row else None

    async def apply_sync(
        self,
        client_id: str,
        channels: Sequence[StoredChannelConfig],
        webhooks: Sequence[WebhookSpec],
        bot_id: str | None,
        health: Sequence[HealthEvent],
    ) -> None:
        def work(db: sqlite3.Connection) -> Any:
            self._webhooks.pop(client_id, None)
            db.execute("DELETE FROM channel_configs WHERE client_id = ?", (client_id,))
            db.executemany(
                "INSERT INTO channel_configs (client_id, channel, version, config) VALUES (?,?,?,?)",
                [
                    (client_id, c.channel, c.version, self._secrets.seal(jsonutil.dumps(c.config)))
                    for c in channels
                ],
            )
            keep = {w.id for w in webhooks}
            current = [r[0] for r in db.execute("SELECT id FROM webhooks WHERE client_id = ?", (client_id,))]
            gone = [(hook_id,) for hook_id in current if hook_id not in keep]
            # One statement per id, never `NOT IN (<empty list>)`: `x NOT IN (NULL)` is never true.
            db.executemany("DELETE FROM outbox WHERE webhook_id = ? AND status = 'pending'", gone)
            db.executemany("DELETE FROM webhooks WHERE id = ?", gone)
            for position, hook in enumerate(webhooks):
                events = jsonutil.dumps(list(hook.events)) if hook.events is not None else None
                db.execute(
                    "INSERT INTO webhooks (id, client_id, position, url, token, events)"
                    " VALUES (?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET"
                    " position = excluded.position, events = excluded.events",
                    (hook.id, client_id, position, hook.url, self._secrets.seal(hook.token), events),
                )
            db.execute("UPDATE clients SET bot_id = ? WHERE id = ?", (bot_id, client_id))
            for event in health:
                _insert_health(db, client_id, event)

        await self._write(work)

    async def wants_events(self, client_id: str, event_type: str) -> bool:
        return any(hook.wants(event_type) for hook in await self._cached_webhooks(client_id))

    async def list_webhooks(self, client_id: str) -> list[Webhook]:
        return list(await self._cached_webhooks(client_id))

    async def list_channel_configs(self, client_id: str) -> list[StoredChannelConfig]:
        rows = await self._all(
            "SELECT client_id, channel, version, config FROM channel_configs WHERE client_id = ?"
            " ORDER BY channel",
            (client_id,),
        )
        return [StoredChannelConfig(r[0], r[1], r[2], jsonutil.loads(self._secrets.open(r[3]))) for r in rows]

    # -- users and conversations

    async def create_user(self, user: User, events: Sequence[OutboxEvent]) -> None:
        def work(db: sqlite3.Connection) -> Any:
            data = jsonutil.dumps(user.data) if user.data is not None else None
            db.execute(
                "INSERT INTO users (id, client_id, data) VALUES (?,?,?)",
                (user.id, user.client_id, data),
            )
            self._write_events(db, events)

        await self._write(work)

    async def get_user(self, user_id: str) -> User | None:
        row = await self._one("SELECT id, client_id, data FROM users WHERE id = ?", (user_id,))
        if not row:
            return None
        return User(row[0], row[1], jsonutil.loads(row[2]) if row[2] is not None else None)

    async def create_user_token(self, token_id: str, user_id: str, token_digest: str) -> None:
        def work(db: sqlite3.Connection) -> Any:
            db.execute(
                "INSERT INTO user_tokens (id, user_id, digest) VALUES (?,?,?)",
                (token_id, user_id, token_digest),
            )

        await self._write(work)

    async def get_user_token(self, token_id: str) -> tuple[str, str] | None:
        row = await self._one("SELECT user_id, digest FROM user_tokens WHERE id = ?", (token_id,))
        return (row[0], row[1]) if row else None

    async def create_conversation(self, conversation: Conversation, events: Sequence[OutboxEvent]) -> None:
        def work(db: sqlite3.Connection) -> Any:
            _insert_conversation(db, conversation)
            self._write_events(db, events)

        await self._write(work)

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        row = await self._one(
            "SELECT id, client_id, user_id, created_on FROM conversations WHERE id = ?",
            (conversation_id,),
        )
        return Conversation(row[0], row[1], row[2], parse_iso(row[3])) if row else None

    async def list_conversations(self, user_id: str, limit: int) -> list[Conversation]:
        sql = (
            "SELECT id, client_id, user_id, created_on FROM conversations WHERE user_id = ?"
            " ORDER BY last_message_on IS NOT NULL, last_message_on DESC, created_on DESC, rowid DESC"
        )
        args: tuple[Any, ...] = (user_id,)
        if limit:
            sql += " LIMIT ?"
            args += (limit,)
        rows = await self._all(sql, args)
        return [Conversation(r[0], r[1], r[2], parse_iso(r[3])) for r in rows]

    async def recent_conversations(
        self, client_id: str, limit: int
    ) -> list[tuple[Conversation, datetime | None]]:
        rows = await self._all(
            "SELECT id, client_id, user_id, created_on, last_message_on FROM conversations"
            " WHERE client_id = ? ORDER BY COALESCE(last_message_on, created_on) DESC, rowid DESC LIMIT ?",
            (client_id, limit),
        )
        return [
            (Conversation(r[0], r[1], r[2], parse_iso(r[3])), parse_iso(r[4]) if r[4] else None) for r in rows
        ]

    async def list_clients(self, limit: int) -> list[Client]:
        rows = await self._all(
            "SELECT id, name, bot_id FROM clients ORDER BY created_on, id LIMIT ?", (limit,)
        )
        return [Client(r[0], r[1], r[2]) for r in rows]

    # -- messages

    async def create_messages(
        self,
        messages: Sequence[tuple[Message, Sequence[OutboxEvent]]],
        seen: tuple[str, str, str] | None = None,
    ) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            if seen is not None and _seen_before(db, *seen):
                return False
            self._insert_messages(db, messages)
            return True

        return await self._write(work)

    def _insert_messages(
        self, db: sqlite3.Connection, messages: Sequence[tuple[Message, Sequence[OutboxEvent]]]
    ) -> None:
        for message, events in messages:
            db.execute(
                "INSERT INTO messages (id, conversation_id, author_id, sent_on, payload, incoming_id)"
                " VALUES (?,?,?,?,?,?)",
                (
                    message.id,
                    message.conversation_id,
                    message.author_id,
                    iso(message.sent_on),
                    jsonutil.dumps(message.payload),
                    message.incoming_id,
                ),
            )
            self._write_events(db, events)

    async def get_message(self, message_id: str) -> Message | None:
        row = await self._one(
            "SELECT id, conversation_id, author_id, sent_on, payload, incoming_id FROM messages WHERE id = ?",
            (message_id,),
        )
        return _message(row) if row else None

    async def list_messages(self, conversation_id: str, limit: int, until: datetime | None) -> list[Message]:
        sql = (
            "SELECT id, conversation_id, author_id, sent_on, payload, incoming_id FROM messages"
            " WHERE conversation_id = ?"
        )
        args: tuple[Any, ...] = (conversation_id,)
        if until is not None:
            sql += " AND sent_on <= ?"
            args += (iso(until),)
        sql += " ORDER BY sent_on DESC, seq DESC"
        if limit:
            sql += " LIMIT ?"
            args += (limit,)
        return [_message(r) for r in await self._all(sql, args)]

    async def delete_message(self, message_id: str) -> bool:
        def work(db: sqlite3.Connection) -> Any:
            cursor = db.execute("DELETE FROM messages WHERE id = ?", (message_id,))
            return cursor.rowcount > 0

        return await self._write(work)

    async def delete_conversation_messages(self, conversation_id: str) -> int:
        def work(db: sqlite3.Connection) -> Any:
            cursor = db.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
            db.execute("UPDATE conversations SET last_message_on = NULL WHERE id = ?", (conversation_id,))
            return cursor.rowcount

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

        def work(db: sqlite3.Connection) -> Any:
            row = db.execute(
                "SELECT conversation_id FROM endpoints WHERE client_id = ? AND channel = ?"
                " AND identity = ? AND sender = ? AND thread = ?",
                (*key, endpoint.thread),
            ).fetchone()
            user_row = db.execute(
                "SELECT user_id FROM endpoint_users WHERE client_id = ? AND channel = ?"
                " AND identity = ? AND sender = ?",
                key,
            ).fetchone()
            new_user = user_row is None
            user_id = new_ids[0] if new_user else user_row[0]
            if new_user:
                db.execute("INSERT INTO users (id, client_id) VALUES (?, ?)", (user_id, client_id))
                db.execute(
                    "INSERT INTO endpoint_users (client_id, channel, identity, sender, user_id)"
                    " VALUES (?,?,?,?,?)",
                    (*key, user_id),
                )
            new_conversation = row is None
            conversation_id = new_ids[1] if new_conversation else row[0]
            if new_conversation:
                _insert_conversation(db, Conversation(conversation_id, client_id, user_id, created_on))
                db.execute(
                    "INSERT INTO endpoints (client_id, channel, channel_version, identity, sender,"
                    " thread, conversation_id) VALUES (?,?,?,?,?,?,?)",
                    (
                        client_id,
                        endpoint.channel,
                        endpoint.channel_version,
                        endpoint.identity,
                        endpoint.sender,
                        endpoint.thread,
                        conversation_id,
                    ),
                )
            mapping = EndpointMapping(user_id, conversation_id, new_user, new_conversation)
            self._write_events(db, events_for(mapping))
            return mapping

        return await self._write(work)

    async def list_endpoints(self, conversation_id: str) -> list[StoredEndpoint]:
        rows = await self._all(
            "SELECT channel, identity, sender, thread, channel_version FROM endpoints"
            " WHERE conversation_id = ? ORDER BY rowid",
            (conversation_id,),
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

        def work(db: sqlite3.Connection) -> Any:
            cursor = db.execute(
                "SELECT o.seq, o.client_id, o.webhook_id, w.url, w.token, o.body, o.attempts"
                " FROM outbox o LEFT JOIN webhooks w ON w.id = o.webhook_id"
                " WHERE o.status = 'pending' AND o.next_attempt_at <= ?"
                " AND o.seq = (SELECT MIN(p.seq) FROM outbox p"
                "              WHERE p.ordering_key = o.ordering_key AND p.status = 'pending')"
                " ORDER BY o.seq",
                (now,),
            )
            rows, removed = [], []
            for row in cursor:  # read lazily: a full webhook's rows are skipped, not leased
                if row[3] is None:  # the webhook was removed by a later sync
                    removed.append((row[0],))
                elif per_webhook is None or taken[row[2]] < per_webhook:
                    taken[row[2]] += 1
                    rows.append(row)
                    if len(rows) >= limit:
                        break
            cursor.close()
            db.executemany("DELETE FROM outbox WHERE seq = ?", removed)
            claimed = [
                Delivery(seq, client_id, webhook_id, url, self._secrets.open(token), body, attempts)
                for seq, client_id, webhook_id, url, token, body, attempts in rows
            ]
            db.executemany(
                "UPDATE outbox SET next_attempt_at = ? WHERE seq = ?",
                [(now + lease, d.seq) for d in claimed],
            )
            return claimed

        return await self._write(work)

    async def trim_outbox(self, max_rows: int) -> list[tuple[str, str, int]]:
        def work(db: sqlite3.Connection) -> Any:
            over = db.execute(
                "SELECT client_id, webhook_id, COUNT(*) - ? FROM outbox"
                " GROUP BY client_id, webhook_id HAVING COUNT(*) > ?",
                (max_rows, max_rows),
            ).fetchall()
            for _, webhook_id, excess in over:
                # Failed rows go first, then the oldest pending ones.
                db.execute(
                    "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE webhook_id = ?"
                    " ORDER BY status = 'pending', seq LIMIT ?)",
                    (webhook_id, excess),
                )
            return [(client_id, webhook_id, excess) for client_id, webhook_id, excess in over]

        return await self._write(work)

    async def complete_delivery(self, seq: int) -> None:
        def work(db: sqlite3.Connection) -> Any:
            db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

        await self._write(work)

    async def retry_delivery(self, seq: int, attempts: int, next_at: float, error: str) -> None:
        def work(db: sqlite3.Connection) -> Any:
            db.execute(
                "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE seq = ?",
                (attempts, next_at, error, seq),
            )

        await self._write(work)

    async def fail_delivery(self, seq: int, attempts: int, error: str) -> None:
        def work(db: sqlite3.Connection) -> Any:
            db.execute(
                "UPDATE outbox SET status = 'failed', attempts = ?, last_error = ? WHERE seq = ?",
                (attempts, error, seq),
            )

        await self._write(work)

    async def next_delivery_at(self) -> float | None:
        row = await self._one("SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'")
        return row[0] if row else None

    async def outbox_counts(self) -> dict[str, int]:
        rows = await self._all("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        return {"pending": 0, "failed": 0, **{status: count for status, count in rows}}

    async def delivery_counts(self, client_id: str) -> dict[str, int]:
        rows = await self._all(
            "SELECT status, COUNT(*) FROM outbox WHERE client_id = ? GROUP BY status", (client_id,)
        )
        counts = {"pending": 0, "failed": 0}
        counts.update({status: count for status, count in rows})
        return counts

    # -- health

    async def add_health_event(
        self, client_id: str, event: HealthEvent, events: Sequence[OutboxEvent]
    ) -> None:
        def work(db: sqlite3.Connection) -> Any:
            _insert_health(db, client_id, event)
            self._write_events(db, events)

        await self._write(work)

    async def list_health(self, client_id: str, per_channel: int) -> dict[str, list[HealthEvent]]:
        rows = await self._all(
            "SELECT channel, type, time, data FROM health_events WHERE client_id = ? ORDER BY seq DESC",
            (client_id,),
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
            "SELECT (SELECT state FROM bot_states WHERE conversation_id = ? AND bot_id = ?),"
            " (SELECT vars FROM bot_user_vars WHERE user_id = ? AND bot_id = ?)",
            (conversation_id, bot_id, user_id, bot_id),
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
        def work(db: sqlite3.Connection) -> Any:
            self._insert_messages(db, replies)
            db.execute(
                "INSERT INTO bot_states (conversation_id, bot_id, state) VALUES (?,?,?)"
                " ON CONFLICT(conversation_id) DO UPDATE SET bot_id = excluded.bot_id,"
                " state = excluded.state",
                (state.conversation_id, state.bot_id, jsonutil.dumps(state.state)),
            )
            db.execute(
                "INSERT INTO bot_user_vars (user_id, bot_id, vars) VALUES (?,?,?)"
                " ON CONFLICT(user_id, bot_id) DO UPDATE SET vars = excluded.vars",
                (user_id, state.bot_id, jsonutil.dumps(state.user_vars)),
            )
            db.execute("DELETE FROM timers WHERE conversation_id = ?", (state.conversation_id,))
            if timers:
                db.executemany(
                    "INSERT INTO timers (conversation_id, timer_id, due, data) VALUES (?,?,?,?)",
                    [(t.conversation_id, t.timer_id, iso(t.due), jsonutil.dumps(t.data)) for t in timers],
                )
            if trace is not None and keep_traces > 0:
                db.execute(
                    "INSERT INTO turn_traces (conversation_id, turn, trace) SELECT ?,"
                    " COALESCE(MAX(turn), 0) + 1, ? FROM turn_traces WHERE conversation_id = ?",
                    (state.conversation_id, jsonutil.dumps(trace), state.conversation_id),
                )
                db.execute(
                    "DELETE FROM turn_traces WHERE conversation_id = ? AND turn <= ("
                    " SELECT MAX(turn) FROM turn_traces WHERE conversation_id = ?) - ?",
                    (state.conversation_id, state.conversation_id, keep_traces),
                )

        await self._write(work)

    async def due_timers(self, now: datetime, limit: int) -> list[Timer]:
        rows = await self._all(
            "SELECT conversation_id, timer_id, due, data FROM timers WHERE due <= ? ORDER BY due LIMIT ?",
            (iso(now), limit),
        )
        return [Timer(r[0], r[1], parse_iso(r[2]), jsonutil.loads(r[3])) for r in rows]

    async def claim_timer(self, timer: Timer, until: datetime) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "UPDATE timers SET due = ? WHERE conversation_id = ? AND timer_id = ? AND due = ?",
                (iso(until), timer.conversation_id, timer.timer_id, iso(timer.due)),
            )
            return cursor.rowcount > 0

        return await self._write(work)

    async def delete_timer(self, conversation_id: str, timer_id: str) -> None:
        def work(db: sqlite3.Connection) -> Any:
            db.execute(
                "DELETE FROM timers WHERE conversation_id = ? AND timer_id = ?",
                (conversation_id, timer_id),
            )

        await self._write(work)

    async def list_traces(self, conversation_id: str) -> list[dict[str, Any]]:
        rows = await self._all(
            "SELECT turn, trace FROM turn_traces WHERE conversation_id = ? ORDER BY turn",
            (conversation_id,),
        )
        return [{"turn": turn, **jsonutil.loads(trace)} for turn, trace in rows]

    # -- channels

    async def seen_inbound(self, client_id: str, channel: str, platform_id: str) -> bool:
        def work(db: sqlite3.Connection) -> Any:
            return _seen_before(db, client_id, channel, platform_id)

        return await self._write(work)

    async def get_kv(self, key: str) -> Any | None:
        row = await self._one("SELECT value FROM kv WHERE key = ?", (key,))
        return jsonutil.loads(row[0]) if row else None

    async def set_kv(self, key: str, value: Any) -> None:
        def work(db: sqlite3.Connection) -> Any:
            db.execute(
                "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key)"
                " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (key, jsonutil.dumps(value), time.time()),
            )

        await self._write(work)

    async def prune(self, seen_before: float, values_before: float) -> int:
        def work(db: sqlite3.Connection) -> int:
            seen = db.execute("DELETE FROM inbound_seen WHERE seen_at < ?", (seen_before,))
            values = db.execute("DELETE FROM kv WHERE updated_at < ?", (values_before,))
            return seen.rowcount + values.rowcount

        return await self._write(work)


def _run_batch(conn: sqlite3.Connection, works: list[Work], busy_ms: int | None) -> list[tuple[bool, Any]]:
    """One transaction for several writes: (ok, result or exception) of each.

    Each write of a group runs in a savepoint, so one that raises leaves the others; a lone
    write needs none (its transaction is rolled back instead). A fault of the environment (disk
    full, I/O error…) in any write fails the whole batch: SQLite may already have rolled the
    transaction back. `busy_ms`, when given, bounds the wait for another process's write lock
    from now on (the connection keeps it)."""
    if busy_ms is not None:
        conn.execute(f"PRAGMA busy_timeout={busy_ms}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        if len(works) == 1:
            outcomes = _run_alone(conn, works[0])
            if not outcomes[0][0]:
                return outcomes  # rolled back
        else:
            outcomes = [_run_in_savepoint(conn, work) for work in works]
        conn.execute("COMMIT")
    except BaseException:  # a fault, or the commit itself failed: nothing is kept
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


def _run_alone(conn: sqlite3.Connection, work: Work) -> list[tuple[bool, Any]]:
    """A lone write in the open transaction, rolled back (a failed outcome) if it raises for
    its own reasons; a fault is raised."""
    try:
        return [(True, work(conn))]
    except Exception as exc:
        if classify(exc) is not None:
            raise
        conn.execute("ROLLBACK")
        return [(False, exc)]


def _run_in_savepoint(conn: sqlite3.Connection, work: Work) -> tuple[bool, Any]:
    """One write of a group, undone alone (a failed outcome) if it raises for its own reasons;
    a fault is raised."""
    conn.execute("SAVEPOINT write")
    try:
        outcome: tuple[bool, Any] = (True, work(conn))
    except Exception as exc:
        if classify(exc) is not None:
            raise
        conn.execute("ROLLBACK TO write")
        outcome = (False, exc)
    conn.execute("RELEASE write")
    return outcome


def _apply_migration(version: int, sql: str, db: sqlite3.Connection) -> None:
    for statement in _statements(sql):
        db.execute(statement)
    db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (a trigger's BEGIN … END; stays whole)."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    statements, current = [], ""
    for line in lines:
        current += line + "\n"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements


def _webhook(row: Sequence[Any], secrets: SecretBox) -> Webhook:
    events = tuple(jsonutil.loads(row[4])) if row[4] is not None else None
    return Webhook(row[0], row[1], row[2], secrets.open(row[3]), events)


def _seen_before(db: sqlite3.Connection, client_id: str, channel: str, platform_id: str) -> bool:
    """Record a platform message id; True when it had been recorded already."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO inbound_seen (client_id, channel, platform_id, seen_at) VALUES (?,?,?,?)",
        (client_id, channel, platform_id, time.time()),
    )
    return cursor.rowcount == 0


def _message(row: Sequence[Any]) -> Message:
    return Message(row[0], row[1], row[2], parse_iso(row[3]), jsonutil.loads(row[4]), row[5])


def _insert_conversation(db: sqlite3.Connection, conversation: Conversation) -> None:
    db.execute(
        "INSERT INTO conversations (id, client_id, user_id, created_on) VALUES (?,?,?,?)",
        (conversation.id, conversation.client_id, conversation.user_id, iso(conversation.created_on)),
    )


def _insert_health(db: sqlite3.Connection, client_id: str, event: HealthEvent) -> None:
    data = jsonutil.dumps(event.data) if event.data is not None else None
    db.execute(
        "INSERT INTO health_events (client_id, channel, type, time, data) VALUES (?,?,?,?,?)",
        (client_id, event.channel, event.type, iso(event.time), data),
    )
