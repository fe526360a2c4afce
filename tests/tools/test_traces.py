"""Turn traces: what the engine records per turn, `GET /conversations/:id/trace`, and
`orchestrator explain CONVERSATION_ID [--turn N]` reading them back from the store."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from examples import orders_api
from orchestrator import cli
from orchestrator.app import create_app
from tests.conftest import make_settings, new_client

ROOT = Path(__file__).resolve().parents[2]
OPEN = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # a Wednesday, 11:00 in Paris


@pytest.fixture
async def conversation(aiohttp_client, aiohttp_server, tmp_path):
    """A conversation with the support-desk bot: hi, MENU_ORDER, A12345 (looked up over HTTP)."""
    orders = await aiohttp_server(orders_api.make_app())
    env = {"ORDERS_API_URL": str(orders.make_url("")).rstrip("/"), "ORDERS_API_TOKEN": "demo-token"}
    settings = make_settings(tmp_path, bots={"dir": str(ROOT / "bots"), "env": env, "trace_turns": 2})
    http = await aiohttp_client(create_app(settings, clock=lambda: OPEN))
    client = await new_client(http)
    await client.post("/sync", {"bot": "support-desk"}, status=200)
    user_id, conversation_id = await client.conversation()
    for payload in (
        {"type": "text", "text": "hi"},
        {"type": "postback", "payload": "MENU_ORDER"},
        {"type": "text", "text": "A12345"},
    ):
        await client.post(
            "/messages/collect",
            {"conversationId": conversation_id, "authorId": user_id, "payload": payload, "timeout": 10_000},
            status=201,
        )
    config = tmp_path / "config.yaml"
    config.write_text(f"storage: {{url: 'sqlite:///{tmp_path}/orchestrator.db'}}\n")
    return http, client, conversation_id, config


async def test_the_api_returns_the_kept_traces(conversation, aiohttp_client) -> None:
    http, client, conversation_id, _ = conversation
    body = await client.get(f"/conversations/{conversation_id}/trace")
    turns = body["turns"]
    assert [t["turn"] for t in turns] == [2, 3]  # bots.trace_turns: 2
    menu, lookup = turns
    assert menu["input"]["payload"] == "MENU_ORDER"
    assert menu["winner"] == {**menu["candidates"][0], "reason": "trigger"}
    assert menu["winner"]["target"] == "order_status" and menu["winner"]["where"].startswith(
        "flows/support-desk/orders.yaml:"
    )
    assert lookup["input"] == {
        "type": "text",
        "text": "A12345",
        "payload": None,
        "event": None,
        "data": {},
        "url": None,
    }
    assert lookup["at"] == OPEN.isoformat() and lookup["bot"]["id"] == "support-desk"
    steps = [s for s in lookup["steps"] if "kind" in s]
    assert [s["step"] for s in steps][:3] == ["lookup", "~2", "found"]
    switch = steps[1]
    assert switch["conditions"] == [
        {"expr": "flow.order.status == 404", "value": False},
        {"expr": "flow.order.status == 200", "value": True},
    ]
    assert switch["branch"] == "case:1"
    assert {"var": "conv.order_id", "old": None, "new": "A12345"} in lookup["vars"]
    [call] = lookup["calls"]
    assert call["type"] == "http" and call["status"] == 200 and call["ms"] >= 0
    assert call["url"] == "***/orders/A12345"  # env values are masked
    assert lookup["replies"] == [
        {"type": "text", "text": "Order A12345 is shipped, expected on 2026-11-25."},
        {
            "type": "single-choice",
            "text": "Anything else?",
            "options": [["Main menu", "MENU"], ["Talk to a person", "HANDOFF"]],
        },
    ]
    assert "demo-token" not in json.dumps(turns)
    other = await new_client(http)
    await other.get(f"/conversations/{conversation_id}/trace", status=404)


async def test_explain_prints_the_traces(conversation, capsys) -> None:
    _, _, conversation_id, config = conversation
    code = await asyncio.to_thread(cli.main, ["explain", conversation_id, "--config", str(config)])
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"conversation {conversation_id}: 2 turns\n")
    assert f"turn 3 at {OPEN.isoformat()} (bot support-desk " in out
    assert '  input:      text "A12345"' in out
    assert "  route:      answer to order_status.ask_order" in out
    assert "    order_status.~2  switch  flows/support-desk/orders.yaml:34:9" in out
    assert "        flow.order.status == 200 → true" in out
    assert '    conv.order_id: null → "A12345"' in out
    assert "    http GET ***/orders/A12345 → 200 in " in out
    assert '    → order_status: payload MENU_ORDER (matched "MENU_ORDER", score 1.0, priority 0)' in out

    code = await asyncio.to_thread(
        cli.main, ["explain", conversation_id, "--turn", "2", "--config", str(config)]
    )
    only = capsys.readouterr().out
    assert code == 0 and "turn 2 at" in only and "turn 3 at" not in only
    code = await asyncio.to_thread(
        cli.main, ["explain", conversation_id, "--turn", "-1", "--json", "--config", str(config)]
    )
    [last] = json.loads(capsys.readouterr().out)
    assert code == 0 and last["turn"] == 3
    code = await asyncio.to_thread(
        cli.main, ["explain", conversation_id, "--turn", "1", "--config", str(config)]
    )
    assert code == 1 and "no turn 1 (kept turns: 2, 3)" in capsys.readouterr().err
    code = await asyncio.to_thread(cli.main, ["explain", "nope", "--config", str(config)])
    assert code == 1 and "no turn traces for conversation nope" in capsys.readouterr().err
