"""`POST /sync`: the seed's header-less contract and the current one."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from orchestrator.app import create_app
from tests.conftest import ApiClient, make_settings

SEED_CONFIG = {
    "channels": {
        "telegram": {"enabled": True, "botToken": "my-telegram-bot-toke"},
        "slack": {
            "enabled": True,
            "signingSecret": "my-slack-signing-secret",
            "botToken": "my-slack-bot-token",
        },
    },
    "webhooks": [{"url": "https://mywebsite.com/mycallback"}],
}


async def test_the_seed_example(api: TestClient) -> None:
    created = await api.post("/api/v1/sync", json=SEED_CONFIG)
    assert created.status == 200
    first = await created.json()
    assert set(first) == {"id", "token", "webhooks"}
    assert first["webhooks"][0]["url"] == "https://mywebsite.com/mycallback"
    assert len(first["webhooks"][0]["token"]) == 88

    new_config = {
        "id": first["id"],
        "token": first["token"],
        "channels": {
            "telegram": {"enabled": True, "botToken": "my-telegram-bot-toke"},
            "twilio": {
                "enabled": True,
                "accountSID": "my-twilio-account-sid",
                "authToken": "my-twilio-auth-token",
            },
        },
        "webhooks": [{"url": "https://mywebsite.com/mycallback"}],
    }
    # The seed's own example has an accountSID that does not start with AC: refused, named.
    refused = await api.post("/api/v1/sync", json=new_config)
    assert refused.status == 400
    assert "body.channels.twilio.accountSID" in await refused.text()

    new_config["channels"]["twilio"]["accountSID"] = "AC-my-twilio-account-sid"
    updated = await (await api.post("/api/v1/sync", json=new_config)).json()
    assert updated == {"id": first["id"], "token": first["token"], "webhooks": first["webhooks"]}

    headers = {"x-bp-messaging-client-id": first["id"], "x-bp-messaging-client-token": first["token"]}
    health = await (await api.get("/api/v1/health", headers=headers)).json()
    assert set(health["channels"]) == {"telegram", "twilio", "slack"}
    assert health["channels"]["slack"]["events"][0]["type"] == "delete"
    assert health["channels"]["twilio"]["events"][0]["type"] == "create"


async def test_seed_sync_with_a_wrong_token_is_403(api: TestClient) -> None:
    first = await (await api.post("/api/v1/sync", json={})).json()
    wrong = await api.post("/api/v1/sync", json={"id": first["id"], "token": "nope"})
    assert wrong.status == 403
    missing = await api.post("/api/v1/sync", json={"id": first["id"]})
    assert missing.status == 403


async def test_seed_sync_creating_a_client_needs_the_admin_key_when_set(aiohttp_client, tmp_path) -> None:
    http = await aiohttp_client(create_app(make_settings(tmp_path, server={"admin_key": "k"})))
    assert (await http.post("/api/v1/sync", json={})).status == 401
    ok = await http.post("/api/v1/sync", json={}, headers={"x-bp-messaging-admin-key": "k"})
    assert ok.status == 200


async def test_current_sync_keeps_tokens_per_url_in_request_order(client: ApiClient) -> None:
    hooks = [{"url": "http://a.example/hook"}, {"url": "http://b.example/hook"}]
    first = await client.post("/sync", {"webhooks": hooks}, status=200)
    assert [w["url"] for w in first["webhooks"]] == [h["url"] for h in hooks]
    again = await client.post("/sync", {"webhooks": hooks[::-1]}, status=200)
    assert again["webhooks"] == first["webhooks"][::-1]
    replaced = await client.post("/sync", {"webhooks": [hooks[0], {"url": "http://c.example"}]}, status=200)
    assert replaced["webhooks"][0] == first["webhooks"][0]
    assert replaced["webhooks"][1]["token"] not in {w["token"] for w in first["webhooks"]}
    assert await client.post("/sync", {}, status=200) == {"webhooks": []}


async def test_a_channel_config_and_a_request_body_describe_a_field_alike(client: ApiClient) -> None:
    """One error formatter: a wrong type in a channel config reads as it does in a request."""
    wrong = {"apiKey": "k", "apiSecret": "s", "signatureSecret": "x", "useTestingApi": "maybe"}
    assert (
        await client.post("/sync", {"channels": {"vonage": wrong}}, status=400)
        == '"body.channels.vonage.useTestingApi" must be a boolean'
    )
    assert (
        await client.post(
            "/sync", {"channels": {}, "webhooks": [{"url": "http://x.fake", "events": 1}]}, status=400
        )
        == '"body.webhooks[0].events" must be an array'
    )


async def test_current_sync_rejects_what_it_does_not_know(client: ApiClient) -> None:
    assert (
        await client.post("/sync", {"channels": {"fax": {}}}, status=400)
        == '"body.channels.fax" is not allowed'
    )
    assert (
        await client.post("/sync", {"channels": {"teams": None}}, status=400)
        == '"body.channels.teams" must be of type object'
    )
    message = await client.post("/sync", {"channels": {"messenger": {"appId": "1"}}}, status=400)
    assert '"body.channels.messenger.appSecret" is required' in message
    assert '"body.channels.messenger.accessToken" is required' in message  # all at once
    assert (
        await client.post("/sync", {"channels": {"telegram": {"botToken": "x", "foo": 1}}}, status=400)
        == '"body.channels.telegram.foo" is not allowed'
    )
    assert (
        await client.post(
            "/sync", {"channels": {"telegram": {"botToken": "x", "version": "0.1.0"}}}, status=400
        )
        == '"body.channels.telegram.version" must be one of [1.0.0]'
    )
    assert await client.post("/sync", {"id": client.id}, status=400) == '"body.id" is not allowed'
    assert (
        await client.post("/sync", {"webhooks": [{"url": "not a url"}]}, status=400)
        == '"body.webhooks[0].url" must be a valid uri'
    )
    assert await client.post("/sync", {"webhooks": [{"url": "http://x", "events": ["nope"]}]}, status=400)


async def test_sync_accepts_api_url_and_disabled_channels(client: ApiClient) -> None:
    await client.post(
        "/sync",
        {
            "channels": {
                "telegram": {"botToken": "x", "apiUrl": "http://127.0.0.1:1"},
                "vonage": {"enabled": False},
            }
        },
        status=200,
    )
    health = await client.get("/health")
    assert list(health["channels"]) == ["telegram"]


async def test_sync_with_bad_client_headers_is_401(api: TestClient) -> None:
    headers = {
        "x-bp-messaging-client-id": "00000000-0000-0000-0000-000000000000",
        "x-bp-messaging-client-token": "x.y",
    }
    assert (await api.post("/api/v1/sync", json={}, headers=headers)).status == 401


async def test_unchanged_channels_are_not_reconfigured(client: ApiClient) -> None:
    config = {"channels": {"telegram": {"botToken": "x"}}}
    await client.post("/sync", config, status=200)
    await client.post("/sync", config, status=200)
    await client.post("/sync", {"channels": {"telegram": {"botToken": "y"}}}, status=200)
    events = (await client.get("/health"))["channels"]["telegram"]["events"]
    assert [e["type"] for e in events] == ["configure", "create"]
