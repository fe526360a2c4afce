"""Test backends: a PostgreSQL database and a Redis key prefix of this test run's own.

Other test runs share the machine's PostgreSQL and Redis, so nothing here assumes a fixed
database name or a clean Redis: a run creates `orch_<random>` (dropped at its end), each test
gets a schema of its own in it, and each Redis user a random channel prefix. Tests that need a
service skip, saying why, only when it cannot be reached.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

PG_URL = os.environ.get("ORCH_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ORCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to its end on a loop of its own (callers may be inside a test's loop)."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


class PgDatabase:
    """A database of this test run, created on first use and dropped at the end."""

    def __init__(self) -> None:
        self.name = f"orch_{secrets.token_hex(6)}"
        self.url: str | None = None
        self.error: str | None = None
        self.spare: list[str] = []  # schemas an earlier test migrated and is done with

    async def _admin(self, sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(PG_URL, timeout=3)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def ensure(self) -> str:
        """The database's URL, or a skip naming why PostgreSQL cannot be used."""
        if self.url is None and self.error is None:
            try:
                _run(self._admin(f'CREATE DATABASE "{self.name}"'))
                self.url = _with_database(PG_URL, self.name)
            except Exception as exc:
                self.error = f"PostgreSQL unreachable at {PG_URL} (ORCH_TEST_PG_URL): {exc}"
        if self.error is not None:
            pytest.skip(self.error)
        assert self.url is not None
        return self.url

    def drop(self) -> None:
        if self.url is not None:
            _run(self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


async def new_schema(database_url: str) -> str:
    """A fresh schema in the run's database; the store URL that uses it."""
    import asyncpg

    schema = f"s_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(database_url, timeout=3)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    return f"{database_url}?schema={schema}"


async def reused_schema(database: PgDatabase) -> str:
    """An empty, migrated schema: one an earlier test is done with (its tables emptied, so no
    migration runs again), or a fresh one."""
    import asyncpg

    from orchestrator.store.sqlite import migrations

    url = database.ensure()
    latest = migrations("postgres")[-1][0]
    while database.spare:
        schema_url = database.spare.pop()
        schema = schema_url.rsplit("schema=", 1)[1]
        conn = await asyncpg.connect(url, timeout=3)
        try:
            version = await conn.fetchval(f'SELECT MAX(version) FROM "{schema}".schema_version')
            if version != latest:
                continue  # a test left it at another version: not reused
            tables = await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename <> 'schema_version'",
                schema,
            )
            names = ", ".join(f'"{schema}"."{t[0]}"' for t in tables)
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            return schema_url
        except asyncpg.UndefinedTableError:
            continue  # never migrated (the test stopped before its store opened)
        finally:
            await conn.close()
    return await new_schema(url)


def redis_or_skip() -> str:
    """The Redis URL, or a skip naming why it cannot be used."""
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:
        pytest.skip(f"Redis unreachable at {REDIS_URL} (ORCH_TEST_REDIS_URL): {exc}")
    return REDIS_URL


def redis_prefix() -> str:
    """A channel prefix no other test run uses."""
    return f"orch-test-{secrets.token_hex(6)}:"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test's own on an ephemeral port, that can be restarted."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    @classmethod
    def or_skip(cls, directory: Path) -> PrivateRedis:
        """A started server, or a skip when there is no redis-server to run."""
        if shutil.which("redis-server") is None:
            pytest.skip("no redis-server binary to restart (apt-get install redis-server)")
        server = cls(directory)
        server.start()
        return server

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
