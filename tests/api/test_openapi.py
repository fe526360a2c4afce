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
    resp = await api.get("/api/v1/messages/collect")  # GET /messages/{id}, as Botpress reads it
    assert resp.status == 401  # authentication first, then '"params.id" must be a valid GUID'
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


async def test_the_document_declares_the_endpoint_channel_rules(client: ApiClient) -> None:
    schemas = (await _document(client.http))["components"]["schemas"]
    channel = schemas["EndpointBody"]["properties"]["channel"]["oneOf"]
    assert channel[0] == {"type": "string", "minLength": 1}  # a custom channel
    known = {
        c["properties"]["name"]["const"]: c["properties"]["version"]["enum"]
        for c in schemas["ChannelRef"]["oneOf"]
    }
    assert known["telegram"] == ["1.0.0"] and "messenger" in known
    endpoint = {"identity": "i", "sender": "s", "thread": "t"}
    assert await client.post("/endpoints/map", {**endpoint, "channel": 5}, status=400) == (
        '"body.channel" must be one of [string, object]'
    )
    assert await client.post("/endpoints/map", {**endpoint, "channel": ""}, status=400) == (
        '"body.channel" is not allowed to be empty'
    )
    assert await client.post("/endpoints/map", {**endpoint, "channel": {"name": "telegram"}}, status=400) == (
        '"body.channel.version" is required'
    )
    await client.post(
        "/endpoints/map", {**endpoint, "channel": {"name": "telegram", "version": "1.0.0"}}, status=200
    )


async def test_from_is_an_rfc3339_date_time_as_declared(client: ApiClient) -> None:
    _, conversation_id = await client.conversation()
    listing = f"/messages/conversation/{conversation_id}"
    for bad in ("0.5", "1700000000000", "2024-01-01", "2024-01-01T00:00:00", "2024-02-30T00:00:00Z"):
        assert await client.get(f"{listing}?from={bad}", status=400) == '"query.from" must be a valid date'
    for good in ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00.123%2B02:00"):
        assert await client.get(f"{listing}?from={good}") == []


async def test_a_body_of_whitespace_is_invalid_json_and_an_empty_one_is_absent(client: ApiClient) -> None:
    headers = {**client.headers, "content-type": "application/json"}
    resp = await client.http.post("/api/v1/users", data=b"\n ", headers=headers)
    assert resp.status == 400 and await resp.text() == '"body" must be valid JSON'
    resp = await client.http.post("/api/v1/users", data=b"", headers=headers)
    assert resp.status == 201
