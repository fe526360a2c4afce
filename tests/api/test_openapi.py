"""The OpenAPI document validates (3.1) and declares what the server enforces and answers."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

from tests.conftest import ApiClient


async def _document(api: TestClient) -> dict[str, Any]:
    return await (await api.get("/api/v1/openapi.json")).json()


async def test_the_document_is_valid_openapi_3_1(api: TestClient) -> None:
    doc = await _document(api)
    assert doc["openapi"] == "3.1.0"
    validate(doc)


async def test_the_document_declares_what_the_server_enforces(api: TestClient) -> None:
    paths = (await _document(api))["paths"]
    listing = paths["/api/v1/messages/conversation/{conversationId}"]["get"]
    params = {p["name"]: p["schema"] for p in listing["parameters"]}
    assert params["conversationId"]["pattern"].startswith("^[{(]?[0-9a-fA-F]{8}")
    assert params["limit"] == {"type": "integer", "minimum": 0, "maximum": 2**53 - 1, "default": 20}
    assert params["from"]["format"] == "date-time"
    assert "204" in paths["/api/v1/admin/clients/name"]["put"]["responses"]
    assert "409" in paths["/api/v1/conversations/{id}/events"]["post"]["responses"]
    assert "429" in paths["/api/v1/messages/collect"]["post"]["responses"]
    assert all("413" in op["responses"] for item in paths.values() for op in item.values())
    assert paths["/api/v1/users"]["post"]["requestBody"]["required"] is False  # absent = {}
    assert paths["/api/v1/messages"]["post"]["requestBody"]["required"] is True


async def test_405_allows_only_the_matched_route(api: TestClient) -> None:
    resp = await api.put("/api/v1/messages/collect")
    assert resp.status == 405 and resp.headers["Allow"] == "POST"
    resp = await api.patch("/api/v1/messages/00000000-0000-4000-8000-000000000000")
    assert resp.status == 405 and resp.headers["Allow"] == "DELETE, GET"


async def test_an_unknown_event_is_refused_listing_the_known_ones(client: ApiClient) -> None:
    _, conversation_id = await client.conversation()
    text = await client.post(
        f"/conversations/{conversation_id}/events", {"event": "agent_joinned"}, status=400
    )
    assert text == '"body.event" must be one of [account_linked, agent_joined, agent_released, closed]'


async def test_a_payload_without_or_with_an_unknown_type_is_refused(client: ApiClient) -> None:
    user_id, conversation_id = await client.conversation()
    base = {"conversationId": conversation_id, "authorId": user_id}
    missing = await client.post("/messages", {**base, "payload": {"text": "hi"}}, status=400)
    assert missing == '"body.payload.type" is required'
    unknown = await client.post("/messages", {**base, "payload": {"type": "txet"}}, status=400)
    assert unknown.startswith('"body.payload.type" must be one of [account_linking, ')
    sent = {"text": "hi", "type": "text", "extra": [1]}  # stored as sent, key order included
    message = await client.post("/messages", {**base, "payload": sent}, status=201)
    assert list(message["payload"]) == ["text", "type", "extra"]


async def test_docs_page_is_served_from_the_package_with_no_cdn(api: TestClient) -> None:
    page = await api.get("/docs")
    html = await page.text()
    assert page.status == 200 and "/docs/assets/swagger-ui-bundle.js" in html
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    init = await (await api.get("/docs/init.js")).text()
    assert '"/api/v1/openapi.json"' in init
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        resp = await api.get(f"/docs/assets/{asset}")
        assert resp.status == 200 and len(await resp.read()) > 10_000
