"""The web chat WebSocket: origins, identity, history, resume without loss or duplicates."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from orchestrator.app import create_app
from tests.conftest import ApiClient, make_settings, new_client

BOTS = str(Path(__file__).resolve().parents[2] / "bots")
OPEN = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
ALLOWED = "https://shop.example.com"


async def _setup(aiohttp_client: Any, tmp_path: Path) -> tuple[TestClient, ApiClient]:
    settings = make_settings(tmp_path, bots={"dir": BOTS})
    http = await aiohttp_client(create_app(settings, clock=lambda: OPEN))
    client = await new_client(http)
    body = {"channels": {"webchat": {"allowedOrigins": [ALLOWED]}}, "bot": "support-desk"}
    await client.post("/sync", body, status=200)
    return http, client


async def _frames_until(ws: Any, predicate: Any, timeout: float = 10) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            frame = await ws.receive_json()
            got.append(frame)
            if predicate(frame):
                return got


def _texts(frames: list[dict[str, Any]]) -> list[str]:
    return [f["message"]["payload"].get("text", "") for f in frames if f["type"] == "message"]


async def test_other_origin_and_unknown_client_are_refused(aiohttp_client: Any, tmp_path: Path) -> None:
    http, client = await _setup(aiohttp_client, tmp_path)
    resp = await http.get(f"/webchat/ws?clientId={client.id}", headers={"Origin": "https://evil.example"})
    assert resp.status == 403
    resp = await http.get("/webchat/ws?clientId=nope", headers={"Origin": ALLOWED})
    assert resp.status == 403
    resp = await http.get(f"/webchat/ws?clientId={client.id}")  # no Origin
    assert resp.status == 403


async def test_identity_history_and_resume(aiohttp_client: Any, tmp_path: Path) -> None:
    http, client = await _setup(aiohttp_client, tmp_path)
    url = f"/webchat/ws?clientId={client.id}"
    ws = await http.ws_connect(url, headers={"Origin": ALLOWED})
    await ws.send_json({"type": "hello"})
    frames = await _frames_until(ws, lambda f: f["type"] == "synced")
    ready = frames[0]
    assert ready["type"] == "ready" and ready["userToken"] and ready["handoff"] == "bot"
    first = str(uuid.uuid4())
    await ws.send_json({"type": "message", "id": first, "payload": {"type": "text", "text": "hi"}})
    frames = await _frames_until(ws, lambda f: f == {"type": "typing", "on": False})
    assert any("support bot" in t for t in _texts(frames))
    seen = [f["message"]["id"] for f in frames if f["type"] == "message"]
    assert seen[0] == first
    await ws.close()

    # A wrong token is refused; the right one gets history, and the same conversation.
    bad = await http.ws_connect(url, headers={"Origin": ALLOWED})
    await bad.send_json({"type": "hello", "userId": ready["userId"], "userToken": "x.y"})
    error = await bad.receive_json()
    assert error["type"] == "error" and error["code"] == 4401

    ws = await http.ws_connect(url, headers={"Origin": ALLOWED})
    hello = {"type": "hello", "userId": ready["userId"], "userToken": ready["userToken"]}
    await ws.send_json(hello)
    frames = await _frames_until(ws, lambda f: f["type"] == "synced")
    assert frames[0]["conversationId"] == ready["conversationId"] and "userToken" not in frames[0]
    assert [f["message"]["id"] for f in frames if f["type"] == "message"] == seen

    # Dropped mid-conversation: a re-sent message is not stored twice, and a resume from the
    # last message seen gets only what came after it.
    await ws.close()
    ws = await http.ws_connect(url, headers={"Origin": ALLOWED})
    await ws.send_json({**hello, "lastSeen": seen[-1]})
    frames = await _frames_until(ws, lambda f: f["type"] == "synced")
    assert [f for f in frames if f["type"] == "message"] == []
    faq = str(uuid.uuid4())
    for _ in range(2):
        await ws.send_json(
            {"type": "message", "id": faq, "payload": {"type": "postback", "payload": "MENU_FAQ"}}
        )
    frames = await _frames_until(ws, lambda f: f == {"type": "typing", "on": False})
    ids = [f["message"]["id"] for f in frames if f["type"] == "message"]
    assert ids.count(faq) == 1 and len(ids) == len(set(ids))
    stored = await client.get(f"/messages/conversation/{ready['conversationId']}?limit=0")
    assert [m["id"] for m in stored].count(faq) == 1
    await ws.close()


async def test_bad_frames_are_refused_by_name(aiohttp_client: Any, tmp_path: Path) -> None:
    http, client = await _setup(aiohttp_client, tmp_path)
    ws = await http.ws_connect(f"/webchat/ws?clientId={client.id}", headers={"Origin": ALLOWED})
    await ws.send_json({"type": "hello"})
    await _frames_until(ws, lambda f: f["type"] == "synced")
    await ws.send_json({"type": "message", "id": "not-a-uuid", "payload": {"type": "text", "text": "x"}})
    error = await ws.receive_json()
    assert error["code"] == 4400 and '"id"' in error["message"]


async def test_pages_carry_a_csp_without_inline_script(aiohttp_client: Any, tmp_path: Path) -> None:
    http, _ = await _setup(aiohttp_client, tmp_path)
    for path in ("/webchat/", "/studio/", "/webchat/widget.js", "/webchat/static/chat.js"):
        resp = await http.get(path)
        assert resp.status == 200, path
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "<script>" not in await resp.text()
    assert (await http.get("/studio/api/overview")).status == 200  # no admin key configured
