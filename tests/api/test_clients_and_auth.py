"""Clients, authentication and the conventions every route follows."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient

from orchestrator.app import create_app
from tests.conftest import ApiClient, make_settings


async def test_admin_creates_a_client_with_a_125_character_token(api: TestClient) -> None:
    resp = await api.post("/api/v1/admin/clients")
    assert resp.status == 201
    body = await resp.json()
    assert set(body) == {"id", "token"}
    assert len(body["token"]) == 125 and body["token"].split(".")[0] != body["id"]


async def test_admin_client_with_a_chosen_id_and_a_duplicate(api: TestClient) -> None:
    chosen = str(uuid.uuid4())
    first = await api.post("/api/v1/admin/clients", json={"id": chosen})
    assert first.status == 201 and (await first.json())["id"] == chosen
    again = await api.post("/api/v1/admin/clients", json={"id": chosen})
    assert again.status == 403
    assert await again.text() == f'client with id "{chosen}" already exists'


async def test_admin_routes_need_the_key_when_one_is_set(aiohttp_client, tmp_path) -> None:
    http = await aiohttp_client(create_app(make_settings(tmp_path, server={"admin_key": "k3y"})))
    assert (await http.post("/api/v1/admin/clients")).status == 401
    wrong = await http.post("/api/v1/admin/clients", headers={"x-bp-messaging-admin-key": "no"})
    assert wrong.status == 401
    ok = await http.post("/api/v1/admin/clients", headers={"x-bp-messaging-admin-key": "k3y"})
    assert ok.status == 201


async def test_get_clients_checks_credentials(client: ApiClient, api: TestClient) -> None:
    assert await client.get("/clients") == "OK"
    bad_token = {**client.headers, "x-bp-messaging-client-token": client.token[:-2] + "xx"}
    assert (await api.get("/api/v1/clients", headers=bad_token)).status == 401
    not_uuid = {**client.headers, "x-bp-messaging-client-id": "nope"}
    assert (await api.get("/api/v1/clients", headers=not_uuid)).status == 401
    resp = await api.get("/api/v1/clients")
    assert resp.status == 401 and await resp.text() == "Unauthorized"


async def test_another_clients_token_is_refused(
    client: ApiClient, other_client: ApiClient, api: TestClient
) -> None:
    mixed = {**client.headers, "x-bp-messaging-client-token": other_client.token}
    assert (await api.get("/api/v1/clients", headers=mixed)).status == 401


async def test_authentication_comes_before_validation(api: TestClient) -> None:
    resp = await api.post("/api/v1/messages", json={"bad": True})
    assert resp.status == 401


async def test_rename_client_answers_200_then_204(client: ApiClient, api: TestClient) -> None:
    body = {"id": client.id, "name": "my-bot"}
    assert (await api.put("/api/v1/admin/clients/name", json=body)).status == 200
    assert (await api.put("/api/v1/admin/clients/name", json=body)).status == 204
    missing = await api.put("/api/v1/admin/clients/name", json={"id": client.id})
    assert missing.status == 400 and await missing.text() == '"body.name" is required'


async def test_status_version_and_unknown_routes(api: TestClient) -> None:
    assert await (await api.get("/status")).text() == "OK"
    assert (await (await api.get("/version")).text()).count(".") == 2
    assert (await api.get("/api/v1/nothing-here")).status == 404


async def test_openapi_document_lists_every_route(api: TestClient) -> None:
    doc = await (await api.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    assert "post" in paths["/api/v1/messages/collect"]
    assert "delete" in paths["/api/v1/messages/conversation/{conversationId}"]
    collect = paths["/api/v1/messages/collect"]["post"]
    schema_ref = collect["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    collect_schema = doc["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert collect_schema["properties"]["timeout"]["maximum"] == 50000
    assert len(paths) >= 18


async def test_body_over_the_limit_is_413(client: ApiClient, api: TestClient) -> None:
    _, conversation_id = await client.conversation()
    big = {"conversationId": conversation_id, "payload": {"type": "text", "text": "x" * 200_000}}
    resp = await api.post("/api/v1/messages", json=big, headers=client.headers)
    assert resp.status == 413
    assert "PayloadTooLargeError: request entity too large" in await resp.text()


async def test_malformed_json_names_the_body(client: ApiClient, api: TestClient) -> None:
    resp = await api.post("/api/v1/conversations", data=b"{not json", headers=client.headers)
    assert resp.status == 400 and "body" in await resp.text()


async def test_data_survives_a_restart(aiohttp_client, tmp_path) -> None:
    settings = make_settings(tmp_path)
    first = await aiohttp_client(create_app(settings))
    created = await (await first.post("/api/v1/admin/clients")).json()
    headers = {"x-bp-messaging-client-id": created["id"], "x-bp-messaging-client-token": created["token"]}
    user = await (await first.post("/api/v1/users", headers=headers)).json()
    conversation = await (
        await first.post("/api/v1/conversations", json={"userId": user["id"]}, headers=headers)
    ).json()
    await first.post(
        "/api/v1/messages",
        headers=headers,
        json={
            "conversationId": conversation["id"],
            "authorId": user["id"],
            "payload": {"type": "text", "text": "still here?"},
        },
    )
    await first.close()

    second = await aiohttp_client(create_app(settings))
    resp = await second.get(f"/api/v1/messages/conversation/{conversation['id']}", headers=headers)
    assert resp.status == 200
    messages = await resp.json()
    assert [m["payload"]["text"] for m in messages] == ["still here?"]
