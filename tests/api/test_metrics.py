"""`GET /metrics` scraped: this instance's figures in the Prometheus text format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from orchestrator.app import create_app
from tests.conftest import ApiClient, make_settings, new_client

BOTS = str(Path(__file__).resolve().parents[2] / "bots")


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def value(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    return sum(v for got, v in found.get(name, []) if all(got.get(k) == w for k, w in labels.items()))


async def test_metrics_are_scraped_with_this_instances_label(
    aiohttp_client: Any, tmp_path: Path, store_url: str
) -> None:
    settings = make_settings(tmp_path, storage={"url": store_url}, bots={"dir": BOTS})
    http = await aiohttp_client(create_app(settings))
    client: ApiClient = await new_client(http)
    await client.post(
        "/sync", {"bot": "support-desk", "webhooks": [{"url": "http://127.0.0.1:9/dead"}]}, status=200
    )
    user_id, conversation_id = await client.conversation()
    body = {"conversationId": conversation_id, "authorId": user_id, "payload": {"type": "text", "text": "hi"}}
    collected = await client.post("/messages/collect", body, status=201)
    assert collected["responses"]  # the bot ran a turn
    await client.get("/users/nope", status=400)

    resp = await http.get("/metrics")
    assert resp.status == 200 and resp.content_type == "text/plain"
    found = samples(await resp.text())
    instance = f"{__import__('socket').gethostname()}:{settings.server.port}"
    assert (
        value(found, "orchestrator_http_requests_total", route="/api/v1/messages/collect", status="201") == 1
    )
    assert value(found, "orchestrator_http_requests_total", route="/api/v1/users/{id}", status="400") == 1
    assert all(labels["instance"] == instance for series in found.values() for labels, _ in series)
    assert value(found, "orchestrator_open_collects") == 0  # the one collect has been answered
    assert value(found, "orchestrator_bot_turn_seconds_count") >= 1
    assert value(found, "orchestrator_engine_steps_total") >= 1
    assert value(found, "orchestrator_outbox_events", status="pending") >= 1  # the dead webhook's
    assert value(found, "orchestrator_store_seconds_count", kind="write") >= 1
    assert value(found, "orchestrator_store_seconds_count", kind="read") >= 1
