"""Item 1: `sync` with `"webhooks": []` removes every webhook (both contracts)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from orchestrator.api import SERVICES
from orchestrator.app import create_app
from tests.conftest import ApiClient, make_settings, new_client
from tests.receiver import Receiver


@pytest.fixture
async def receiver():
    receiver = await Receiver().start()
    yield receiver
    await receiver.stop()


async def test_an_empty_list_removes_every_webhook_and_later_events_go_nowhere(
    client: ApiClient, receiver: Receiver
) -> None:
    store = client.http.app[SERVICES].store
    hooks = [{"url": receiver.url}, {"url": receiver.url + "?second"}]
    await client.post("/sync", {"webhooks": hooks}, status=200)
    assert len(await store.list_webhooks(client.id)) == 2
    assert (await client.post("/sync", {"webhooks": []}, status=200))["webhooks"] == []
    assert await store.list_webhooks(client.id) == []
    await client.user()
    assert await store.delivery_counts(client.id) == {"pending": 0, "failed": 0}


async def test_the_seed_contract_removes_them_too(api: TestClient, receiver: Receiver) -> None:
    first = await (await api.post("/api/v1/sync", json={"webhooks": [{"url": receiver.url}]})).json()
    store = api.app[SERVICES].store
    assert len(await store.list_webhooks(first["id"])) == 1
    body = {"id": first["id"], "token": first["token"], "webhooks": []}
    assert (await api.post("/api/v1/sync", json=body)).status == 200
    assert await store.list_webhooks(first["id"]) == []


async def test_pending_deliveries_of_a_removed_webhook_are_dropped(
    aiohttp_client, tmp_path, receiver: Receiver
) -> None:
    http = await aiohttp_client(create_app(make_settings(tmp_path, webhooks={"max_attempts": 1000})))
    client = await new_client(http)
    store = http.app[SERVICES].store
    await client.post("/sync", {"webhooks": [{"url": receiver.url, "events": ["user.new"]}]}, status=200)
    receiver.fail_with = [500] * 1000
    await client.user()
    await receiver.next()  # the first attempt failed: the delivery is pending
    assert (await store.delivery_counts(client.id))["pending"] == 1
    await client.post("/sync", {"webhooks": []}, status=200)
    assert (await store.delivery_counts(client.id))["pending"] == 0


async def test_a_url_added_again_gets_a_new_token(client: ApiClient, receiver: Receiver) -> None:
    first = await client.post("/sync", {"webhooks": [{"url": receiver.url}]}, status=200)
    await client.post("/sync", {"webhooks": []}, status=200)
    again = await client.post("/sync", {"webhooks": [{"url": receiver.url}]}, status=200)
    assert again["webhooks"][0]["token"] != first["webhooks"][0]["token"]


async def test_a_resync_that_changes_the_events_filter_is_applied(client: ApiClient) -> None:
    """Kills `ON CONFLICT DO UPDATE` -> `DO NOTHING`: the new filter and order are stored."""
    store = client.http.app[SERVICES].store
    a, b = "http://a.example/hook", "http://b.example/hook"
    await client.post("/sync", {"webhooks": [{"url": a, "events": ["user.new"]}, {"url": b}]}, status=200)
    await client.post("/sync", {"webhooks": [{"url": b}, {"url": a, "events": ["message.new"]}]}, status=200)
    hooks = await store.list_webhooks(client.id)
    assert [(h.url, h.events) for h in hooks] == [(b, None), (a, ("message.new",))]
    assert not await store.wants_events(client.id, "user.new") or hooks[0].events is None
    await client.post("/sync", {"webhooks": [{"url": a, "events": ["conversation.new"]}]}, status=200)
    assert not await store.wants_events(client.id, "user.new")
    assert await store.wants_events(client.id, "conversation.new")
