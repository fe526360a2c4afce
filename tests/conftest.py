"""Shared fixtures: a server on a fresh SQLite file, and a client of the messaging API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from orchestrator.app import create_app
from orchestrator.config import Settings

from .backends import PgDatabase, new_schema, reused_schema


def make_settings(tmp_path: Path, **sections: dict[str, Any]) -> Settings:
    """Settings for a test server: its own database, no credential tests, quick retries."""
    data: dict[str, Any] = {
        "storage": {"url": f"sqlite:///{tmp_path}/orchestrator.db"},
        "channels": {"test_on_sync": False},
        "webhooks": {"timeout": 2, "retry_base": 0.05, "retry_max": 0.2},
        "bots": {"dir": str(tmp_path / "no-bots"), "reload": False},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return Settings.model_validate(data)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def api(aiohttp_client: Callable[..., Any], settings: Settings) -> TestClient:
    """A test client of a running server."""
    return await aiohttp_client(create_app(settings))


class ApiClient:
    """A messaging client: its credentials and helpers for common calls."""

    def __init__(self, http: TestClient, client_id: str, token: str) -> None:
        self.http, self.id, self.token = http, client_id, token
        self.headers = {
            "x-bp-messaging-client-id": client_id,
            "x-bp-messaging-client-token": token,
        }

    async def post(self, path: str, json: Any = None, status: int | None = None) -> Any:
        resp = await self.http.post(f"/api/v1{path}", json=json, headers=self.headers)
        return await _checked(resp, status)

    async def get(self, path: str, status: int | None = 200) -> Any:
        resp = await self.http.get(f"/api/v1{path}", headers=self.headers)
        return await _checked(resp, status)

    async def delete(self, path: str, status: int | None = None) -> Any:
        resp = await self.http.delete(f"/api/v1{path}", headers=self.headers)
        return await _checked(resp, status)

    async def user(self) -> str:
        return (await self.post("/users", status=201))["id"]

    async def conversation(self, user_id: str | None = None) -> tuple[str, str]:
        user_id = user_id or await self.user()
        conversation = await self.post("/conversations", {"userId": user_id}, status=201)
        return user_id, conversation["id"]


async def _checked(resp: Any, status: int | None) -> Any:
    body = await resp.read()
    if status is not None:
        assert resp.status == status, f"{resp.status}: {body[:300]!r}"
    if resp.content_type == "application/json":
        return await resp.json()
    return body.decode()


async def new_client(http: TestClient) -> ApiClient:
    resp = await http.post("/api/v1/admin/clients")
    assert resp.status == 201
    body = await resp.json()
    return ApiClient(http, body["id"], body["token"])


@pytest.fixture
async def client(api: TestClient) -> AsyncIterator[ApiClient]:
    yield await new_client(api)


@pytest.fixture
async def other_client(api: TestClient) -> ApiClient:
    return await new_client(api)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[PgDatabase]:
    """This run's PostgreSQL database (created on first use, dropped at the end)."""
    database = PgDatabase()
    yield database
    database.drop()


@pytest.fixture
async def pg_url(pg_database: PgDatabase) -> str:
    """A `storage.url` on a fresh schema of this run's database (skips if PG is unreachable)."""
    return await new_schema(pg_database.ensure())


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(
    request: pytest.FixtureRequest, tmp_path: Path, pg_database: PgDatabase
) -> AsyncIterator[str]:
    """A `storage.url` of each backend: a fresh SQLite file, or an empty PostgreSQL schema
    (emptied after an earlier test rather than migrated anew: a migration costs more)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/orchestrator.db"
        return
    url = await reused_schema(pg_database)
    yield url
    pg_database.spare.append(url)
