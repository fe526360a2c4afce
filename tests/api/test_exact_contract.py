"""What Botpress Messaging's own client and security suites compare byte for byte: webhook
URLs as sent, Joi's URI rule, the safe-number limit, and `/health` as `{channels}` only."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from orchestrator.api.uri import is_uri
from tests.conftest import ApiClient

AS_SENT = [
    "http://un.known.url",
    "HTTP://Example.COM:80/a/../b?x=1#f",
    "https://mywebsite.com/mycallback?token=a%20b&x=1",
    "http://[::1]:3000/hook",
    "http://user:pass@127.0.0.1/hook/",
]


async def test_webhook_urls_come_back_exactly_as_sent(client: ApiClient, api: TestClient) -> None:
    hooks = [{"url": url} for url in AS_SENT]
    replied = await client.post("/sync", {"webhooks": hooks}, status=200)
    assert [w["url"] for w in replied["webhooks"]] == AS_SENT
    again = await client.post("/sync", {"webhooks": hooks}, status=200)
    assert again == replied  # the same URLs are the same webhooks, tokens kept

    seed = await api.post("/api/v1/sync", json={"webhooks": [{"url": AS_SENT[1]}]})
    assert (await seed.json())["webhooks"][0]["url"] == AS_SENT[1]


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("mailto:someone@example.com", True),  # any scheme, as Joi's uri()
        ("urn:isbn:0451450523", True),
        ("http://x", True),
        ("not a url", False),
        ("http://exa mple.com", False),
        ("//no-scheme.example.com", False),
        ("http://a/b?c[]=1", False),  # Joi refuses square brackets in the query by default
        ("http://é.example.com", False),  # no IRIs
        ("http://a\n", False),
        ("1http://a", False),
    ],
)
def test_uris_are_accepted_as_joi_accepts_them(url: str, valid: bool) -> None:
    assert is_uri(url) is valid


async def test_a_bad_webhook_url_is_named_with_joi_label(client: ApiClient) -> None:
    hooks = [{"url": "http://ok"}, {"url": "not a url"}]
    assert (
        await client.post("/sync", {"webhooks": hooks}, status=400)
        == '"body.webhooks[1].url" must be a valid uri'
    )
    assert (
        await client.post("/sync", {"webhooks": [{"url": ""}]}, status=400)
        == '"body.webhooks[0].url" is not allowed to be empty'
    )


@pytest.mark.parametrize(
    ("limit", "status", "text"),
    [
        ("9007199254740991", 200, None),
        ("9007199254740992", 400, '"query.limit" must be a safe number'),
        ("99999999999999999999", 400, '"query.limit" must be a safe number'),
        ("-9007199254740992", 400, '"query.limit" must be a safe number'),
        ("-1", 400, '"query.limit" must be greater than or equal to 0'),
        ("0", 200, None),
    ],
)
async def test_limit_is_a_safe_number(client: ApiClient, limit: str, status: int, text: str | None) -> None:
    user_id, conversation_id = await client.conversation()
    for path in (f"/conversations/user/{user_id}", f"/messages/conversation/{conversation_id}"):
        body = await client.get(f"{path}?limit={limit}", status=status)
        if text is not None:
            assert body == text


async def test_health_is_exactly_channels(client: ApiClient) -> None:
    await client.post("/sync", {"channels": {"telegram": {"botToken": "x"}}}, status=200)
    health = await client.get("/health")
    assert list(health) == ["channels"]
    assert "create" in [e["type"] for e in health["channels"]["telegram"]["events"]]


async def test_webhook_counters_are_an_admin_route(api: TestClient, client: ApiClient) -> None:
    path = f"/api/v1/admin/clients/{client.id}/webhooks"
    resp = await api.get(path)
    assert resp.status == 200 and await resp.json() == {"pending": 0, "failed": 0}
    unknown = await api.get("/api/v1/admin/clients/00000000-0000-4000-8000-000000000000/webhooks")
    assert unknown.status == 404
    assert (await api.get("/api/v1/admin/clients/nope/webhooks")).status == 400
