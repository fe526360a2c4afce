"""MessageMedia Conversations channel against the MessageMedia fake."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from orchestrator.channels.base import (
    ChannelTestError,
    Endpoint,
    InboundRequest,
    RetryPolicy,
    SendError,
    Target,
    VerificationError,
)
from orchestrator.channels.degrade import numbered_options
from orchestrator.channels.messagemedia import MessageMediaChannel, MessageMediaConfig
from tests.channels.support import inbound
from tests.fakes.messagemedia import MessageMediaFake

USER = "3898c5e4-73cc-44f9-812f-3698a4c3bb1d"
SECRET = "callback-secret"
BUTTONS = {
    "type": "buttons",
    "text": "Was the coffee good?",
    "buttons": [
        {"label": "The best!", "type": "postback", "payload": {"payload": "Y"}},
        {"label": "Menu", "type": "link", "payload": {"url": "https://cafe.fake/menu"}},
    ],
    "quick_replies": [{"title": "That was coffee?", "value": "N"}],
}
CARD = {
    "type": "card",
    "title": "Flat white",
    "image": "https://img.fake/fw.png",
    "actions": [
        {"action": "Postback", "title": "Order", "payload": "ORDER_FW"},
        {"action": "Open URL", "title": "Beans", "url": "https://cafe.fake/beans"},
    ],
}
SAMPLES: list[dict[str, Any]] = [
    {"type": "text", "text": "hello"},
    BUTTONS,
    {"type": "single-choice", "text": "Size?", "choices": [{"title": "Small", "value": "S"}]},
    CARD,
    {"type": "carousel", "items": [CARD, {**CARD, "title": "Latte"}]},
    {"type": "account_linking", "text": "Log in", "url": "https://login.fake"},
    {"type": "image", "image": "https://img.fake/cup.png", "title": "Your cup"},
    {"type": "file", "file": "https://files.fake/receipt.pdf"},
    {"type": "location", "latitude": -37.8, "longitude": 144.9, "title": "Cafe"},
]


def config(fake: MessageMediaFake, **overrides: Any) -> MessageMediaConfig:
    raw = {
        "apiUrl": fake.url or "http://127.0.0.1:1",
        "apiKey": fake.api_key,
        "apiSecret": fake.api_secret,
        "webhookSecret": SECRET,
        **overrides,
    }
    return MessageMediaChannel().load_config(raw)


def parse_body(fake: MessageMediaFake, body: Any) -> list[Any]:
    req = InboundRequest.build(body=orjson.dumps(body), query={"secret": SECRET})
    return MessageMediaChannel().parse(req, config(fake)).messages


async def test_verify_checks_the_callback_url_secret() -> None:
    fake, channel = MessageMediaFake(), MessageMediaChannel()
    webhook = fake.build_webhook({})
    await channel.verify(inbound(webhook, query={"secret": SECRET}), config(fake))
    await channel.verify(inbound(webhook, path=f"/{SECRET}"), config(fake))
    with pytest.raises(VerificationError) as wrong:
        await channel.verify(inbound(webhook, query={"secret": "nope"}), config(fake))
    assert wrong.value.status == 403
    with pytest.raises(VerificationError) as missing:
        await channel.verify(inbound(webhook), config(fake))
    assert missing.value.status == 401


def test_parse_the_designed_callback() -> None:
    fake = MessageMediaFake()
    webhook = fake.build_webhook({"text": "How much is shipping?"})
    [message] = MessageMediaChannel().parse(inbound(webhook), config(fake)).messages
    assert message.payload == {"type": "text", "text": "How much is shipping?"}
    assert message.endpoint == Endpoint("facebook", USER, USER)
    assert message.reply_context == {"app_user_id": USER, "channel": "facebook"}
    assert message.platform_message_id == webhook.json["id"]
    [reply] = (
        MessageMediaChannel().parse(inbound(fake.build_webhook({"kind": "reply"})), config(fake)).messages
    )
    assert reply.payload == {"type": "text", "text": "1"}  # the service maps the number
    [echo] = MessageMediaChannel().parse(inbound(fake.build_webhook({"kind": "echo"})), config(fake)).messages
    assert echo.is_echo
    [image] = (
        MessageMediaChannel().parse(inbound(fake.build_webhook({"kind": "image"})), config(fake)).messages
    )
    assert image.payload == {"type": "image", "url": "https://files.fake/photo.png"}


def test_parse_is_lenient_about_the_undocumented_shape() -> None:
    fake = MessageMediaFake()
    listing = {
        "messages": {
            "data": [
                {"direction": "RECEIVED", "text": "one", "channel": "FACEBOOK"},
                {"direction": "SENT", "text": "two", "channel": "FACEBOOK"},
            ]
        },
        "metadata": {"user_id": USER, "account_id": "FunGuys007"},
    }
    received, sent = parse_body(fake, listing)
    assert received.payload["text"] == "one" and not received.is_echo
    assert sent.is_echo and sent.endpoint.sender == USER
    [camel] = parse_body(fake, [{"appUserId": "u-2", "text": "hi", "channel": "FACEBOOK"}])
    assert camel.endpoint == Endpoint("facebook", "u-2", "u-2")
    assert parse_body(fake, {"text": "no user"}) == []
    assert parse_body(fake, {"user_id": "u-3", "text": "  "}) == []
    bad = MessageMediaChannel().parse(InboundRequest.build(body=b"<xml/>"), config(fake))
    assert bad.response.status == 400


def test_render_reply_actions_carry_the_option_numbers() -> None:
    channel = MessageMediaChannel()
    assert "buttons" not in channel.capabilities  # degraded: the service keeps the number map
    [body] = channel.render(BUTTONS).bodies
    text, options = numbered_options(BUTTONS)
    assert body["type"] == "actions" and body["text"] == text
    assert text == ("Was the coffee good?\n1. The best!\nMenu: https://cafe.fake/menu\n2. That was coffee?")
    assert options == {"1": "Y", "2": "N"}
    assert body["actions"] == [
        {"type": "reply", "displayText": "The best!", "responseText": "1"},
        {"type": "reply", "displayText": "That was coffee?", "responseText": "2"},
    ]
    [card] = channel.render(CARD).bodies
    assert card["text"] == ("Flat white\nhttps://img.fake/fw.png\n1. Order\nBeans: https://cafe.fake/beans")
    [linking] = channel.render(SAMPLES[5]).bodies
    assert linking == {"text": "Log in\nhttps://login.fake"}
    assert channel.render(SAMPLES[6]).bodies == [
        {"type": "image", "media": "https://img.fake/cup.png"},
        {"text": "Your cup"},
    ]
    many = {
        "type": "single-choice",
        "text": "Pick",
        "choices": [{"title": f"o{i}", "value": f"V{i}"} for i in range(14)],
    }
    [long_list] = channel.render(many).bodies
    assert "actions" not in long_list and long_list["text"].endswith("14. o13")


async def test_send_every_rendered_payload_with_basic_auth(
    mm_fake: MessageMediaFake, http: aiohttp.ClientSession, policy: RetryPolicy
) -> None:
    channel, cfg = MessageMediaChannel(policy), config(mm_fake)
    mm_fake.add_user(USER)
    context = {"app_user_id": USER, "channel": "facebook"}
    for payload in SAMPLES:
        await channel.send(
            Target(http, cfg, Endpoint("facebook", USER, USER), context), channel.render(payload).bodies
        )
    sent = mm_fake.received("/messages")
    assert sent and all(r.status == 200 for r in sent)
    assert sent[0].path == f"/beta/conversations/users/{USER}/messages"
    assert sent[0].json == {"text": "hello", "channel": "facebook"}
    assert sent[0].headers["Authorization"].startswith("Basic ")


async def test_send_retries_500_and_reports_404(
    mm_fake: MessageMediaFake, http: aiohttp.ClientSession, policy: RetryPolicy, delays: list[float]
) -> None:
    channel, cfg = MessageMediaChannel(policy), config(mm_fake)
    mm_fake.add_user(USER)
    context = {"app_user_id": USER}
    bodies = channel.render({"type": "text", "text": "hi"}).bodies
    mm_fake.fail_next(1, 500)
    await channel.send(Target(http, cfg, Endpoint("facebook", USER, USER), context), bodies)
    assert [r.status for r in mm_fake.requests] == [500, 200] and delays == [0.01]

    with pytest.raises(SendError) as unknown:
        await channel.send(
            Target(http, cfg, Endpoint("facebook", "ghost", "ghost"), {"app_user_id": "ghost"}), bodies
        )
    assert (unknown.value.status, unknown.value.detail) == (404, "The app user does not exist.")
    with pytest.raises(SendError) as denied:
        await channel.send(
            Target(http, config(mm_fake, apiSecret="wrong"), Endpoint("facebook", USER, USER), context),
            bodies,
        )
    assert denied.value.status == 401
    assert len(mm_fake.requests) == 4  # neither 4xx was retried


async def test_test_credentials(http: aiohttp.ClientSession) -> None:
    fake = MessageMediaFake(provisioned=False)
    await fake.start()
    try:
        channel = MessageMediaChannel()
        with pytest.raises(ChannelTestError) as unprovisioned:
            await channel.test_credentials(http, config(fake))
        assert unprovisioned.value.field == "apiKey"
        assert "not provisioned" in unprovisioned.value.message
        fake.provisioned = True
        await channel.test_credentials(http, config(fake))
        with pytest.raises(ChannelTestError) as secret:
            await channel.test_credentials(http, config(fake, apiSecret="wrong"))
        assert secret.value.field == "apiSecret"
    finally:
        await fake.close()


async def test_callback_over_http(
    mm_fake: MessageMediaFake, http: aiohttp.ClientSession, receiver: Any
) -> None:
    target = await receiver(MessageMediaChannel(), config(mm_fake))
    async with http.post(
        f"{mm_fake.url}/_fake/send", json={"target": f"{target.url}/{SECRET}", "kind": "reply", "text": "2"}
    ) as resp:
        assert (await resp.json())["status"] == 200
    assert target.parsed[0].messages[0].payload == {"type": "text", "text": "2"}
