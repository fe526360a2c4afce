"""With the storage failing, every route answers `503` naming the fault with `Retry-After`
(or a client error decided before storage is touched): never a bare `500`.

The faults are SQLite's own errors on the real connections: writes refused (`query_only`, a
read-only database) and reads interrupted (a progress handler, as at a statement deadline)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from orchestrator.api import SERVICES
from orchestrator.app import create_app
from tests.conftest import ApiClient, make_settings

ADMIN_KEY = "test-admin-key"


def _concrete(path: str, ids: dict[str, str]) -> str:
    """A route's path with its placeholders filled with real ids (or a plausible value)."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        return ids.get(name, "x")

    return re.sub(r"\{([^}]+)\}", fill, path)


async def _fail_storage(api: TestClient) -> None:
    store = api.app[SERVICES].store
    writer, reader = store._conn, store._read_conn  # type: ignore[attr-defined]
    await writer._execute(writer._conn.execute, "PRAGMA query_only=ON")  # SQLITE_READONLY
    await reader._execute(reader._conn.set_progress_handler, lambda: 1, 1)  # SQLITE_INTERRUPT


async def test_every_route_answers_503_not_500_when_storage_fails(
    aiohttp_client: Callable[..., Any], tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, server={"admin_key": ADMIN_KEY})
    api = await aiohttp_client(create_app(settings))
    admin = {"x-bp-messaging-admin-key": ADMIN_KEY}
    resp = await api.post("/api/v1/admin/clients", headers=admin)
    created = await resp.json()
    client = ApiClient(api, created["id"], created["token"])
    user, conversation = await client.conversation()
    message = await client.post(
        "/messages",
        {"conversationId": conversation, "authorId": user, "payload": {"type": "text", "text": "hi"}},
        status=201,
    )
    ids = {
        "id": created["id"],
        "clientId": created["id"],
        "userId": user,
        "conversationId": conversation,
        "messageId": message["id"],
        "scope": created["id"],
        "channel": "telegram",
        "tail": "",
    }
    valid_bodies = {
        "/api/v1/users": {},
        "/api/v1/conversations": {"userId": user},
        "/api/v1/messages": {
            "conversationId": conversation,
            "authorId": user,
            "payload": {"type": "text", "text": "hi"},
        },
        "/api/v1/messages/collect": {
            "conversationId": conversation,
            "authorId": user,
            "payload": {"type": "text", "text": "hi"},
            "timeout": 1000,
        },
        "/api/v1/sync": {"webhooks": []},
        "/api/v1/users/tokens": {"userId": user},
        "/api/v1/endpoints/map": {"channel": "telegram", "identity": "i", "sender": "s", "thread": "t"},
        "/api/v1/conversations/{id}/events": {"event": "closed"},
        "/api/v1/admin/clients/name": {"id": created["id"], "name": "renamed"},
    }
    await _fail_storage(api)

    bare = []
    for route in api.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        if not path or route.method == "HEAD":
            continue
        url = _concrete(path, ids)
        method = "POST" if route.method == "*" else route.method
        headers = {**client.headers, **admin}
        resp = await api.request(method, url, json=valid_bodies.get(path, {}), headers=headers)
        text = await resp.text()
        if resp.status >= 500 and not (
            resp.status == 503 and "storage" in text and resp.headers.get("Retry-After")
        ):
            bare.append(f"{method} {path}: {resp.status} {text[:80]!r}")
    assert not bare, "\n".join(bare)
