"""The channel gateway across platforms: scopes, unconfigured channels, the credentials test at
sync, messages written through the REST API, and sync changes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.fakes.base import FakePlatform
from tests.fakes.chat21 import Chat21Fake
from tests.fakes.messagemedia import MessageMediaFake
from tests.fakes.qiscus import QiscusFake
from tests.fakes.tiledesk import TiledeskFake
from tests.integration import test_chat21_e2e, test_messagemedia_e2e, test_tiledesk_e2e
from tests.integration.harness import start
from tests.integration.test_qiscus_e2e import sdk, sdk_config


async def test_unknown_scope_and_unconfigured_channels_are_404(
    aiohttp_client, tmp_path, qiscus: QiscusFake
) -> None:
    h = await sdk(aiohttp_client, tmp_path, qiscus)
    webhook = qiscus.build_webhook({"text": "hello"})
    base = str(h.http.make_url("/webhooks/v1"))
    for url in (
        f"{base}/no-such-client/qiscus",
        f"{base}/00000000-0000-0000-0000-000000000000/qiscus",
        f"{base}/{h.client.id}/tiledesk",  # implemented, not configured for the client
        f"{base}/{h.client.id}/nosuchchannel",
    ):
        assert (await h.post_raw(webhook, url=url))[0] == 404, url
    await h.client.post(
        "/sync",
        {
            "bot": "support-desk",
            "channels": {
                "qiscus": sdk_config(qiscus),
                "webchat": {"allowedOrigins": ["https://shop.example.com"]},
            },
        },
        status=200,
    )
    assert (await h.post_raw(webhook, url=f"{base}/{h.client.id}/webchat"))[0] == 404
    assert h.watch.created == [] and h.count("inbound_seen") == 0


async def test_scope_is_the_client_name_when_it_has_one(aiohttp_client, tmp_path, qiscus: QiscusFake) -> None:
    h = await sdk(aiohttp_client, tmp_path, qiscus)
    resp = await h.http.put("/api/v1/admin/clients/name", json={"id": h.client.id, "name": "acme"})
    assert resp.status == 200
    url = str(h.http.make_url("/webhooks/v1/acme/qiscus"))
    status, _ = await qiscus.send(url, {"text": "hello"})
    assert status == 200
    [welcome] = await h.sent()
    assert welcome.json["type"] == "buttons"
    # GET reaches the route too (platform handshakes); a GET without signature is refused.
    resp = await h.http.get("/webhooks/v1/acme/qiscus")
    assert resp.status == 401


async def test_bot_messages_written_through_the_api_reach_the_platform(
    aiohttp_client, tmp_path, qiscus: QiscusFake
) -> None:
    h = await sdk(aiohttp_client, tmp_path, qiscus)
    event = await h.quiet_turn({"text": "hello", "room_id": "5"})
    await h.sent()
    conversation = event.conversation.id
    await h.client.post(
        "/messages",
        {"conversationId": conversation, "payload": {"type": "text", "text": "From the API"}},
        status=201,
    )
    [sent] = await h.sent()
    assert (sent.json["message"], sent.json["room_id"]) == ("From the API", "5")
    # A user's message written through the API is not sent to the platform.
    await h.client.post(
        "/messages",
        {
            "conversationId": conversation,
            "authorId": event.message.author_id,
            "payload": {"type": "text", "text": "cancel"},
        },
        status=201,
    )
    [cancelled] = await h.sent()  # only the bot's answer to it
    assert cancelled.json["message"].startswith("OK, I've cancelled that")


async def test_removed_channel_stops_sending(aiohttp_client, tmp_path, qiscus: QiscusFake) -> None:
    h = await sdk(aiohttp_client, tmp_path, qiscus)
    event = await h.quiet_turn({"text": "hello"})
    await h.sent()
    await h.client.post("/sync", {"bot": "support-desk", "channels": {}}, status=200)
    await h.client.post(
        "/messages",
        {"conversationId": event.conversation.id, "payload": {"type": "text", "text": "anyone?"}},
        status=201,
    )
    await h.flush(event.conversation.id)
    assert h.unseen() == []
    assert (await h.post({"text": "hello"}))[0] == 404


BAD_CREDENTIALS: dict[
    str, tuple[type[FakePlatform], Callable[[Any], dict[str, Any]], dict[str, str], str]
] = {
    # channel: (fake, config builder, a wrong credential, the field the 400 names)
    "qiscus": (QiscusFake, sdk_config, {"secretKey": "wrong-secret"}, "secretKey"),
    "tiledesk": (TiledeskFake, test_tiledesk_e2e.config, {"botSecret": "wrong-secret"}, "botSecret"),
    "chat21": (Chat21Fake, test_chat21_e2e.config, {"jwtKey": "wrong-jwt-key"}, "jwtKey"),
    "messagemedia": (MessageMediaFake, test_messagemedia_e2e.config, {"apiSecret": "wrong"}, "apiSecret"),
}


@pytest.fixture
async def any_fake(request: pytest.FixtureRequest) -> AsyncIterator[FakePlatform]:
    fake = BAD_CREDENTIALS[request.param][0]()
    await fake.start()
    yield fake
    await fake.close()


@pytest.mark.parametrize(
    ("channel", "any_fake"), [(c, c) for c in sorted(BAD_CREDENTIALS)], indirect=["any_fake"]
)
async def test_test_on_sync_names_the_bad_credential(
    aiohttp_client, tmp_path, any_fake: FakePlatform, channel: str
) -> None:
    _, build, wrong, field = BAD_CREDENTIALS[channel]
    fake = any_fake
    good = build(fake)
    h = await start(aiohttp_client, tmp_path, channel, good, fake, test_on_sync=True)
    assert len(fake.requests) == 1 and fake.requests[0].status == 200  # the good ones passed
    resp = await h.http.post(
        "/api/v1/sync", headers=h.client.headers, json={"channels": {channel: {**good, **wrong}}}
    )
    text = await resp.text()
    assert resp.status == 400, text
    assert text.startswith(f'"body.channels.{channel}.{field}" {channel} answered')
    assert wrong[field] not in text
    assert [e["type"] for e in await h.health()] == ["create"]  # nothing was changed


async def test_config_only_channels_are_not_tested_at_sync(
    aiohttp_client, tmp_path, messagemedia: MessageMediaFake
) -> None:
    h = await start(
        aiohttp_client,
        tmp_path,
        "messagemedia",
        test_messagemedia_e2e.config(messagemedia),
        messagemedia,
        test_on_sync=True,
    )
    await h.client.post(
        "/sync",
        {
            "channels": {
                "messagemedia": test_messagemedia_e2e.config(messagemedia),
                "webchat": {"allowedOrigins": ["https://shop.example.com"]},
            }
        },
        status=200,
    )
    assert len(messagemedia.requests) == 1  # messagemedia tested once, when it was new


async def test_every_platform_configured_at_once(
    aiohttp_client,
    tmp_path,
    qiscus: QiscusFake,
    tiledesk: TiledeskFake,
    chat21: Chat21Fake,
    messagemedia: MessageMediaFake,
) -> None:
    h = await start(aiohttp_client, tmp_path, "qiscus", sdk_config(qiscus), qiscus, test_on_sync=True)
    await h.client.post(
        "/sync",
        {
            "bot": "support-desk",
            "channels": {
                "qiscus": sdk_config(qiscus),
                "tiledesk": test_tiledesk_e2e.config(tiledesk),
                "chat21": test_chat21_e2e.config(chat21),
                "messagemedia": test_messagemedia_e2e.config(messagemedia),
            },
        },
        status=200,
    )
    health = (await h.client.get("/health"))["channels"]
    assert sorted(health) == ["chat21", "messagemedia", "qiscus", "tiledesk"]
    base = f"/webhooks/v1/{h.client.id}"
    status, _ = await chat21.send(
        str(h.http.make_url(f"{base}/chat21?secret={test_chat21_e2e.SECRET}")), {"text": "hello"}
    )
    status2, _ = await tiledesk.send(str(h.http.make_url(f"{base}/tiledesk")), {"text": "hi"})
    assert (status, status2) == (200, 200)
    await chat21.wait_for_requests(2)  # the credentials test, then the welcome
    await tiledesk.wait_for_requests(2)
    assert chat21.requests[-1].json["text"].startswith("Hi! I'm the support bot")
    assert tiledesk.requests[-1].json["text"].startswith("Hi! I'm the support bot")
