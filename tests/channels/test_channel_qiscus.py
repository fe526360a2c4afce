"""Qiscus channel against the Qiscus fake: SDK mode and Multichannel mode."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest
from pydantic import ValidationError

from orchestrator.channels.base import (
    ChannelTestError,
    Endpoint,
    HandoffNotSupported,
    InboundRequest,
    RetryPolicy,
    SendError,
    Target,
    VerificationError,
)
from orchestrator.channels.qiscus import QiscusChannel, QiscusConfig
from tests.channels.support import inbound
from tests.fakes.qiscus import QiscusFake

BUTTONS = {
    "type": "buttons",
    "text": "Pick one",
    "buttons": [
        {"label": "Yes", "type": "postback", "payload": {"payload": "YES"}},
        {"label": "Docs", "type": "link", "payload": {"url": "https://docs.fake"}},
        {"label": "Call", "type": "phone", "payload": {"phone": "+6281"}},
    ],
    "quick_replies": [{"title": "Later", "value": "LATER"}],
}
CARD = {
    "type": "card",
    "title": "Shirt",
    "subtitle": "Rp 49.000",
    "image": "https://img.fake/1.png",
    "actions": [
        {"action": "Postback", "title": "Buy", "payload": "BUY_1"},
        {"action": "Open URL", "title": "See", "url": "https://shop.fake/1"},
        {"action": "Say something", "title": "Ask", "text": "Tell me more"},
    ],
}
SAMPLES: list[dict[str, Any]] = [
    {"type": "text", "text": "hello"},
    BUTTONS,
    {"type": "single-choice", "text": "Size?", "choices": [{"title": "S", "value": "SIZE_S"}]},
    CARD,
    {"type": "carousel", "items": [CARD, {**CARD, "title": "Pants"}]},
    {
        "type": "account_linking",
        "text": "Please log in",
        "url": "https://login.fake",
        "params": {"button_text": "Log in"},
    },
    {"type": "image", "image": "https://img.fake/2.jpg", "title": "A photo"},
    {"type": "file", "file": "https://files.fake/doc.pdf"},
    {"type": "location", "latitude": -6.2, "longitude": 106.8, "title": "Office"},
    {
        "type": "custom",
        "raw": {
            "qiscus": {
                "type": "custom",
                "message": "promo",
                "payload": {"type": "promo", "content": {"d": 1}},
            }
        },
    },
]


def sdk_config(fake: QiscusFake, **overrides: Any) -> QiscusConfig:
    raw = {
        "apiUrl": fake.url or "http://127.0.0.1:1",
        "appId": fake.app_id,
        "secretKey": fake.secret_key,
        "botUserId": fake.bot_user_id,
        "signatureToken": fake.signature_token,
        **overrides,
    }
    return QiscusChannel().load_config(raw)


def mc_config(fake: QiscusFake, **overrides: Any) -> QiscusConfig:
    raw = {
        "mode": "multichannel",
        "apiUrl": fake.url or "http://127.0.0.1:1",
        "appId": fake.app_id,
        "secretKey": fake.secret_key,
        "webhookSecret": "url-secret",
        **overrides,
    }
    return QiscusChannel().load_config(raw)


# ---------------------------------------------------------------- config


def test_config_requires_bot_user_in_sdk_mode_and_a_verification_secret() -> None:
    channel = QiscusChannel()
    with pytest.raises(ValidationError, match="botUserId is required"):
        channel.load_config({"appId": "a", "secretKey": "s", "signatureToken": "t"})
    with pytest.raises(ValidationError, match="signatureToken or webhookSecret"):
        channel.load_config({"appId": "a", "secretKey": "s", "botUserId": "b"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        channel.load_config(
            {"appId": "a", "secretKey": "s", "botUserId": "b", "signatureToken": "t", "typo": 1}
        )
    with pytest.raises(ValidationError, match="http"):
        channel.load_config(
            {"appId": "a", "secretKey": "s", "botUserId": "b", "signatureToken": "t", "apiUrl": "ftp://x"}
        )
    config = channel.load_config(
        {"mode": "multichannel", "appId": "kovof-123", "secretKey": "s", "webhookSecret": "w"}
    )
    assert config.sender == "kovof-123_admin@qismo.com"
    assert channel.api_url(config) == "https://omnichannel.qiscus.com"
    assert "s" not in repr(config.secretKey)


# ---------------------------------------------------------------- verify


async def test_verify_accepts_the_signature_and_rejects_forged_or_missing_ones() -> None:
    fake, channel = QiscusFake(), QiscusChannel()
    config = sdk_config(fake)
    await channel.verify(inbound(fake.build_webhook({})), config)
    signed = fake.build_webhook({})
    upper = {"QISCUS-SDK-SIGNATURE": signed.headers["QISCUS-SDK-SIGNATURE"].upper()}
    await channel.verify(InboundRequest.build(headers=upper, body=signed.body), config)

    with pytest.raises(VerificationError) as forged:
        await channel.verify(inbound(fake.build_webhook({"signature": "forged"})), config)
    assert forged.value.status == 403
    with pytest.raises(VerificationError) as unsigned:
        await channel.verify(inbound(fake.build_webhook({"signature": "none"})), config)
    assert unsigned.value.status == 401
    tampered = InboundRequest.build(headers=signed.headers, body=signed.body + b" ")
    with pytest.raises(VerificationError) as changed:
        await channel.verify(tampered, config)
    assert changed.value.status == 403


async def test_multichannel_webhook_is_verified_by_the_url_secret() -> None:
    fake, channel = QiscusFake(), QiscusChannel()
    config = mc_config(fake)
    webhook = fake.build_webhook({"mode": "multichannel"})
    await channel.verify(inbound(webhook, query={"secret": "url-secret"}), config)
    await channel.verify(inbound(webhook, path="/url-secret"), config)
    with pytest.raises(VerificationError) as wrong:
        await channel.verify(inbound(webhook, query={"secret": "guess"}), config)
    assert wrong.value.status == 403
    with pytest.raises(VerificationError) as missing:
        await channel.verify(inbound(webhook), config)
    assert missing.value.status == 401


# ---------------------------------------------------------------- parse


def test_parse_text_maps_endpoint_id_and_reply_context() -> None:
    fake, channel = QiscusFake(), QiscusChannel()
    webhook = fake.build_webhook({"text": "hi there", "room_id": "42", "user": "u@fake", "name": "Ucup"})
    parsed = channel.parse(inbound(webhook), sdk_config(fake))
    [message] = parsed.messages
    assert message.payload == {"type": "text", "text": "hi there"}
    assert message.endpoint == Endpoint(fake.app_id, "u@fake", "42")
    assert message.reply_context == {"room_id": "42"}
    assert message.platform_message_id == str(webhook.json["payload"]["message"]["id"])
    assert message.sender_name == "Ucup"
    assert not message.is_echo
    assert parsed.response.status == 200


def test_parse_button_click_file_location_and_echo() -> None:
    fake, channel = QiscusFake(), QiscusChannel()
    config = sdk_config(fake)

    def parse(spec: dict[str, Any]) -> Any:
        return channel.parse(inbound(fake.build_webhook(spec)), config).messages

    [click] = parse({"kind": "postback", "text": "Yes", "payload": "YES"})
    assert click.payload == {"type": "postback", "payload": "YES", "text": "Yes"}
    [photo] = parse({"kind": "file", "url": "https://files.fake/a.PNG", "caption": "mine"})
    assert photo.payload == {"type": "image", "url": "https://files.fake/a.PNG", "title": "mine"}
    [place] = parse({"kind": "location"})
    assert place.payload["type"] == "location" and place.payload["latitude"] == -6.2
    [echo] = parse({"from_bot": True, "text": "bot says"})
    assert echo.is_echo and echo.endpoint.sender == fake.bot_user_id


def test_parse_multichannel_envelope_and_resolved_webhook() -> None:
    fake, channel = QiscusFake(), QiscusChannel()
    config = mc_config(fake)
    webhook = fake.build_webhook({"mode": "multichannel", "room_id": "123", "user": "6281xxx"})
    [message] = channel.parse(inbound(webhook), config).messages
    assert message.endpoint == Endpoint(fake.app_id, "6281xxx", "123")
    assert message.reply_context == {"room_id": "123", "channel_id": "963", "source": "wa"}
    assert message.platform_message_id.startswith("wa_wamid.")  # id 0 is not an id
    echo = fake.build_webhook({"mode": "multichannel", "from_bot": True})
    assert channel.parse(inbound(echo), config).messages[0].is_echo

    resolved = fake.build_webhook({"kind": "resolved", "room_id": "123", "notes": "done"})
    [event] = channel.parse(inbound(resolved), config).messages
    assert event.payload["type"] == "event" and event.payload["event"] == "closed"
    assert event.payload["data"]["notes"] == "done"
    assert event.endpoint.thread == "123" and event.endpoint.sender == "6281xxx"


def test_parse_multichannel_agent_events() -> None:
    fake, channel = QiscusFake(), QiscusChannel()
    spec = {"mode": "multichannel", "room_id": "123", "kind": "agent_added"}
    [joined] = channel.parse(inbound(fake.build_webhook(spec)), mc_config(fake)).messages
    assert joined.payload == {
        "type": "event",
        "event": "agent_joined",
        "data": {"agent": "agent1@fake.qiscus", "name": "Agent One"},
    }
    assert joined.endpoint == Endpoint(fake.app_id, "*", "123")
    removed = fake.build_webhook({**spec, "kind": "agent_removed"})
    [released] = channel.parse(inbound(removed), mc_config(fake)).messages
    assert released.payload["event"] == "agent_released"
    sdk = fake.build_webhook({"kind": "agent_added"})
    assert channel.parse(inbound(sdk), sdk_config(fake)).messages == []  # no desk in sdk mode


def test_parse_rejects_a_body_that_is_not_an_object() -> None:
    fake, channel = QiscusFake(), QiscusChannel()
    parsed = channel.parse(InboundRequest.build(body=b"[1, 2]"), sdk_config(fake))
    assert parsed.messages == [] and parsed.response.status == 400


# ---------------------------------------------------------------- render


def test_render_native_rich_types() -> None:
    channel = QiscusChannel()
    [buttons] = channel.render(BUTTONS).bodies
    assert buttons["type"] == "buttons" and buttons["message"] == "Pick one"
    rendered = buttons["payload"]["buttons"]
    assert rendered[0] == {
        "label": "Yes",
        "type": "postback",
        "postback_text": "Yes",
        "payload": {"url": "", "method": "get", "payload": "YES"},
    }
    assert rendered[1] == {"label": "Docs", "type": "link", "payload": {"url": "https://docs.fake"}}
    assert rendered[2]["payload"]["url"] == "tel:+6281"
    assert rendered[3]["payload"]["payload"] == "LATER"  # quick replies become postbacks

    [card] = channel.render(CARD).bodies
    assert card["type"] == "card" and card["payload"]["image"] == "https://img.fake/1.png"
    assert card["payload"]["url"] == "https://shop.fake/1"
    assert [b["type"] for b in card["payload"]["buttons"]] == ["postback", "link", "postback"]
    [carousel] = channel.render(SAMPLES[4]).bodies
    assert [c["title"] for c in carousel["payload"]["cards"]] == ["Shirt", "Pants"]
    [linking] = channel.render(SAMPLES[5]).bodies
    assert linking["type"] == "account_linking"
    assert linking["payload"]["url"] == "https://login.fake"
    assert linking["payload"]["params"]["button_text"] == "Log in"
    assert channel.render({"type": "typing"}).bodies == []
    assert channel.render({"type": "custom", "raw": {"telegram": {}}, "text": "fallback"}).bodies == [
        {"type": "text", "message": "fallback"}
    ]


# ---------------------------------------------------------------- send


async def test_every_rendered_payload_is_accepted_by_post_comment(
    qiscus_fake: QiscusFake, http: aiohttp.ClientSession, policy: RetryPolicy
) -> None:
    channel, config = QiscusChannel(policy), sdk_config(qiscus_fake)
    qiscus_fake.add_room("7")
    endpoint = Endpoint(qiscus_fake.app_id, "customer@fake", "7")
    for payload in SAMPLES:
        await channel.send(Target(http, config, endpoint, {"room_id": "7"}), channel.render(payload).bodies)
    sent = qiscus_fake.received("/post_comment")
    assert [r.status for r in sent] == [200] * len(SAMPLES)
    first = sent[0]
    assert first.path == "/api/v2.1/rest/post_comment"
    assert first.json == {
        "type": "text",
        "message": "hello",
        "user_id": qiscus_fake.bot_user_id,
        "room_id": "7",
    }
    for header in ("QISCUS-SDK-SECRET", "QISCUS_SDK_SECRET", "QISCUS-SDK-APP-ID"):
        assert first.headers[header]


async def test_a_500_is_retried_then_succeeds(
    qiscus_fake: QiscusFake, http: aiohttp.ClientSession, policy: RetryPolicy, delays: list[float]
) -> None:
    channel, config = QiscusChannel(policy), sdk_config(qiscus_fake)
    qiscus_fake.add_room("7")
    qiscus_fake.fail_next(2, 500)
    await channel.send(
        Target(http, config, Endpoint("a", "u", "7"), {"room_id": "7"}),
        channel.render({"type": "text", "text": "retry me"}).bodies,
    )
    assert [r.status for r in qiscus_fake.requests] == [500, 500, 200]
    assert delays == [0.01, 0.02]
    assert qiscus_fake.comments[-1]["message"] == "retry me"


async def test_429_honours_retry_after_capped(
    qiscus_fake: QiscusFake, http: aiohttp.ClientSession, policy: RetryPolicy, delays: list[float]
) -> None:
    channel, config = QiscusChannel(policy), sdk_config(qiscus_fake)
    qiscus_fake.add_room("7")
    qiscus_fake.fail_next(1, 429, retry_after="1")
    qiscus_fake.fail_next(1, 429, retry_after="120")
    await channel.send(
        Target(http, config, Endpoint("a", "u", "7"), {"room_id": "7"}),
        channel.render({"type": "text", "text": "throttled"}).bodies,
    )
    assert delays == [1.0, 2.0]  # the second Retry-After is capped at max_delay


async def test_a_4xx_is_not_retried_and_names_the_platform_error(
    qiscus_fake: QiscusFake, http: aiohttp.ClientSession, policy: RetryPolicy
) -> None:
    channel, config = QiscusChannel(policy), sdk_config(qiscus_fake)
    bodies = channel.render({"type": "text", "text": "one"}).bodies * 2
    with pytest.raises(SendError) as unknown_room:
        await channel.send(Target(http, config, Endpoint("a", "u", "404"), {"room_id": "404"}), bodies)
    assert unknown_room.value.status == 404
    assert unknown_room.value.detail == "room 404 not found"
    assert unknown_room.value.sent == 0 and not unknown_room.value.retryable
    assert len(qiscus_fake.requests) == 1

    qiscus_fake.add_room("7")
    wrong = sdk_config(qiscus_fake, secretKey="wrong")
    with pytest.raises(SendError) as denied:
        await channel.send(Target(http, wrong, Endpoint("a", "u", "7"), {"room_id": "7"}), bodies)
    assert denied.value.status == 401
    assert "QISCUS-SDK-SECRET" in denied.value.detail
    assert len(qiscus_fake.requests) == 2


async def test_test_credentials(qiscus_fake: QiscusFake, http: aiohttp.ClientSession) -> None:
    channel = QiscusChannel()
    await channel.test_credentials(http, sdk_config(qiscus_fake))
    with pytest.raises(ChannelTestError) as secret:
        await channel.test_credentials(http, sdk_config(qiscus_fake, secretKey="nope"))
    assert secret.value.field == "secretKey"
    with pytest.raises(ChannelTestError) as user:
        await channel.test_credentials(http, sdk_config(qiscus_fake, botUserId="ghost"))
    assert user.value.field == "botUserId"
    await channel.test_credentials(http, mc_config(qiscus_fake))
    with pytest.raises(ChannelTestError) as mc_secret:
        await channel.test_credentials(http, mc_config(qiscus_fake, secretKey="nope"))
    assert mc_secret.value.field == "secretKey"


# ---------------------------------------------------------------- Multichannel


async def test_multichannel_send_and_handoff_reach_the_fake(
    qiscus_fake: QiscusFake, http: aiohttp.ClientSession, policy: RetryPolicy
) -> None:
    channel, config = QiscusChannel(policy), mc_config(qiscus_fake)
    room = qiscus_fake.add_room("123")
    endpoint, context = Endpoint(qiscus_fake.app_id, "6281", "123"), {"room_id": "123", "channel_id": "963"}
    await channel.send(Target(http, config, endpoint, context), channel.render(BUTTONS).bodies)
    [post] = qiscus_fake.received("/bot")
    assert post.path == f"/{qiscus_fake.app_id}/bot" and post.status == 200
    assert post.json["sender_email"] == f"{qiscus_fake.app_id}_admin@qismo.com"
    assert post.json["type"] == "buttons"

    assert channel.supports_handoff(config)
    await channel.handoff(Target(http, config, endpoint, context), {})
    allocate, deactivate = qiscus_fake.requests[-2:]
    assert allocate.path.endswith("/allocate_assign_agent")
    assert allocate.form == {"room_id": "123", "channel_id": "963"}
    assert deactivate.path == "/bot/123/activate" and deactivate.form == {"is_active": "false"}
    assert room["agent"] == qiscus_fake.agents[0] and room["bot_active"] is False

    await channel.handoff(Target(http, config, endpoint, context), {"agent_id": 101})
    assert qiscus_fake.requests[-2].path.endswith("/assign_agent")
    await channel.release(Target(http, config, endpoint, context))
    assert room["bot_active"] is True
    await channel.resolve(Target(http, config, endpoint, context), {"notes": "solved"})
    assert qiscus_fake.requests[-1].form == {"room_id": "123", "notes": "solved"}
    assert room["resolved"] is True


async def test_handoff_errors(
    qiscus_fake: QiscusFake, http: aiohttp.ClientSession, policy: RetryPolicy
) -> None:
    channel = QiscusChannel(policy)
    sdk = sdk_config(qiscus_fake)
    assert not channel.supports_handoff(sdk)
    with pytest.raises(HandoffNotSupported):
        await channel.handoff(Target(http, sdk, Endpoint("a", "u", "1"), {"room_id": "1"}), {})
    qiscus_fake.add_room("1")
    with pytest.raises(SendError) as bad_agent:
        await channel.handoff(
            Target(http, mc_config(qiscus_fake), Endpoint("a", "u", "1"), {"room_id": "1"}), {"agent_id": 999}
        )
    assert bad_agent.value.status == 400 and "agent_id" in bad_agent.value.detail


# ---------------------------------------------------------------- over HTTP


async def test_fake_control_endpoint_posts_signed_webhooks(
    qiscus_fake: QiscusFake, http: aiohttp.ClientSession, receiver: Any
) -> None:
    channel = QiscusChannel()
    target = await receiver(channel, sdk_config(qiscus_fake))
    for signature, expected in (("valid", 200), ("forged", 403), ("none", 401)):
        async with http.post(
            f"{qiscus_fake.url}/_fake/send",
            json={"target": target.url, "text": "over http", "signature": signature},
        ) as resp:
            assert (await resp.json())["status"] == expected
    [parsed] = target.parsed
    assert parsed.messages[0].payload == {"type": "text", "text": "over http"}
    assert [e.status for e in target.rejected] == [403, 401]
    async with http.post(f"{qiscus_fake.url}/_fake/fail", json={"count": 1}) as resp:
        assert orjson.loads(await resp.read()) == {"pending_failures": 1}


async def test_reply_comments_go_through_custom_and_are_validated(
    qiscus_fake: QiscusFake, http: aiohttp.ClientSession, policy: RetryPolicy
) -> None:
    channel, config = QiscusChannel(policy), sdk_config(qiscus_fake)
    qiscus_fake.add_room("7")
    reply = {
        "type": "reply",
        "message": "answering that",
        "payload": {"text": "answering that", "replied_comment_id": 985},
    }
    bodies = channel.render({"type": "custom", "raw": {"qiscus": reply}}).bodies
    await channel.send(Target(http, config, Endpoint("a", "u", "7"), {"room_id": "7"}), bodies)
    assert qiscus_fake.comments[-1]["type"] == "reply"
    broken = {"type": "custom", "raw": {"qiscus": {**reply, "payload": {"text": "x"}}}}
    with pytest.raises(SendError) as err:
        await channel.send(
            Target(http, config, Endpoint("a", "u", "7"), {"room_id": "7"}), channel.render(broken).bodies
        )
    assert (err.value.status, err.value.detail) == (400, "payload.replied_comment_id is required")
