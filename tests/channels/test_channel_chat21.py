"""Chat21 channel against the Chat21 fake."""

from __future__ import annotations

from typing import Any

import aiohttp
import jwt
import pytest
from pydantic import ValidationError

from orchestrator.channels.base import (
    ChannelTestError,
    Endpoint,
    InboundRequest,
    RetryPolicy,
    SendError,
    Target,
    VerificationError,
)
from orchestrator.channels.chat21 import Chat21Channel, Chat21Config
from orchestrator.channels.sender import call
from tests.channels.support import inbound
from tests.fakes.chat21 import Chat21Fake

USER = "6d011n62ir097c0143cc42dc"
SECRET = "hook-secret"


def config(fake: Chat21Fake, **overrides: Any) -> Chat21Config:
    raw = {
        "apiUrl": f"{fake.url or 'http://127.0.0.1:1'}/api",
        "appId": fake.app_id,
        "botId": fake.bot_id,
        "botFullname": "Helper",
        "jwtKey": fake.jwt_key,
        "webhookSecret": SECRET,
        **overrides,
    }
    return Chat21Channel().load_config(raw)


def parse(fake: Chat21Fake, spec: dict[str, Any]) -> list[Any]:
    req = inbound(fake.build_webhook(spec), query={"secret": SECRET})
    return Chat21Channel().parse(req, config(fake)).messages


def test_config_takes_exactly_one_credential_for_the_bot() -> None:
    fake = Chat21Fake()
    with pytest.raises(ValidationError, match="exactly one of token or jwtKey"):
        config(fake, token=fake.token_for(fake.bot_id))
    with pytest.raises(ValidationError, match="another user"):
        config(fake, jwtKey=None, token=fake.token_for("someone-else"))
    with pytest.raises(ValidationError, match="not a JWT"):
        config(fake, jwtKey=None, token="not-a-jwt")
    assert config(fake, jwtKey=None, token=fake.token_for(fake.bot_id)).token is not None


async def test_verify_checks_the_url_secret() -> None:
    fake, channel = Chat21Fake(), Chat21Channel()
    webhook = fake.build_webhook({})
    await channel.verify(inbound(webhook, query={"secret": SECRET}), config(fake))
    await channel.verify(inbound(webhook, path=f"/{SECRET}"), config(fake))
    for req, status in (
        (inbound(webhook), 401),
        (inbound(webhook, query={"secret": "forged"}), 403),
        (inbound(webhook, path="/forged"), 403),
    ):
        with pytest.raises(VerificationError) as err:
            await channel.verify(req, config(fake))
        assert err.value.status == status


async def test_a_jwt_signed_with_jwtkey_is_never_a_credential() -> None:
    """Issue 9 item 2: every Chat21 user holds a token signed with `jwtKey`; it proves nothing."""
    fake, channel = Chat21Fake(), Chat21Channel()
    for signature in ("jwt", "forged"):
        with pytest.raises(VerificationError) as refused:
            await channel.verify(inbound(fake.build_webhook({"signature": signature})), config(fake))
        assert refused.value.status == 401
    user_token = fake.token_for(USER)
    as_user = inbound(fake.build_webhook({}))
    forged = InboundRequest.build(headers={"Authorization": user_token}, body=as_user.body)
    with pytest.raises(VerificationError) as impersonation:
        await channel.verify(forged, config(fake))
    assert impersonation.value.status == 401
    with pytest.raises(ValidationError, match="webhookSecret is required"):
        config(fake, webhookSecret=None)
    with pytest.raises(ValidationError, match="webhookSecret is required"):
        config(fake, webhookSecret=None, jwtKey=None, token=fake.token_for(fake.bot_id))


def test_parse_direct_and_group_messages() -> None:
    fake = Chat21Fake()
    webhook = fake.build_webhook({"text": "ciao", "sender_fullname": "Andrea"})
    [direct] = Chat21Channel().parse(inbound(webhook), config(fake)).messages
    assert direct.payload == {"type": "text", "text": "ciao"}
    assert direct.endpoint == Endpoint(fake.bot_id, USER, USER)
    assert direct.reply_context == {
        "recipient_id": USER,
        "recipient_fullname": "Andrea",
        "channel_type": "direct",
    }
    assert direct.platform_message_id == webhook.json["data"]["message_id"]

    [group] = parse(fake, {"channel_type": "group", "text": "in the group"})
    assert group.endpoint == Endpoint(fake.bot_id, USER, fake.group_id)
    assert group.reply_context == {
        "recipient_id": fake.group_id,
        "recipient_fullname": "Support",
        "channel_type": "group",
    }
    other_group = fake.build_webhook({"channel_type": "group", "recipient": "group-family"})
    support_only = config(fake, groupPrefix="support-group-")
    assert Chat21Channel().parse(inbound(other_group), support_only).messages == []


def test_parse_click_echo_desk_event_and_ignored_events() -> None:
    fake = Chat21Fake()
    [click] = parse(fake, {"kind": "action", "action": "BUY", "text": "Buy"})
    assert click.payload == {"type": "postback", "payload": "BUY", "text": "Buy"}
    [echo] = parse(fake, {"kind": "echo"})
    assert echo.is_echo and echo.endpoint.thread == USER
    [closed] = parse(fake, {"kind": "info", "channel_type": "group"})
    assert closed.payload == {"type": "event", "event": "closed", "data": {}}
    assert closed.endpoint.sender == "*"
    assert parse(fake, {"event_type": "message-delivered"}) == []
    assert parse(fake, {"recipient": "another-user"}) == []
    bad = Chat21Channel().parse(InboundRequest.build(body=b"nope"), config(fake))
    assert bad.response.status == 400


def test_render_uses_tiledesk_attributes() -> None:
    [body] = (
        Chat21Channel()
        .render(
            {
                "type": "buttons",
                "text": "Pick",
                "buttons": [{"label": "Yes", "type": "postback", "payload": {"payload": "YES"}}],
            }
        )
        .bodies
    )
    assert body == {
        "type": "text",
        "text": "Pick",
        "attributes": {
            "attachment": {
                "type": "template",
                "buttons": [{"type": "action", "value": "Yes", "action": "YES", "show_echo": True}],
            }
        },
    }


async def test_send_direct_and_group_with_a_raw_jwt(
    chat21_fake: Chat21Fake, http: aiohttp.ClientSession, policy: RetryPolicy
) -> None:
    channel = Chat21Channel(policy)
    direct = {"recipient_id": USER, "recipient_fullname": "Andrea", "channel_type": "direct"}
    await channel.send(
        Target(http, config(chat21_fake), Endpoint(chat21_fake.bot_id, USER, USER), direct),
        channel.render({"type": "text", "text": "hello"}).bodies,
    )
    [sent] = chat21_fake.received("/messages")
    assert sent.path == f"/api/{chat21_fake.app_id}/messages" and sent.status == 200
    assert sent.json == {
        "type": "text",
        "text": "hello",
        "sender_fullname": "Helper",
        "recipient_id": USER,
        "recipient_fullname": "Andrea",
        "channel_type": "direct",
    }
    token = sent.headers["Authorization"]
    assert (
        jwt.decode(token, chat21_fake.jwt_key, algorithms=["HS256"], options={"verify_aud": False})["sub"]
        == chat21_fake.bot_id
    )

    preset = config(chat21_fake, jwtKey=None, token=chat21_fake.token_for(chat21_fake.bot_id))
    group = {"recipient_id": chat21_fake.group_id, "recipient_fullname": "Support", "channel_type": "group"}
    await channel.send(
        Target(http, preset, Endpoint("b", USER, chat21_fake.group_id), group),
        channel.render({"type": "image", "image": "https://img.fake/x.png"}).bodies,
    )
    message = chat21_fake.messages[-1]
    assert (message["sender"], message["channel_type"]) == (chat21_fake.bot_id, "group")
    assert message["metadata"] == {"src": "https://img.fake/x.png"}


async def test_send_retries_500_and_not_403(
    chat21_fake: Chat21Fake, http: aiohttp.ClientSession, policy: RetryPolicy, delays: list[float]
) -> None:
    channel = Chat21Channel(policy)
    context = {"recipient_id": USER, "recipient_fullname": "Andrea", "channel_type": "direct"}
    bodies = channel.render({"type": "text", "text": "hello"}).bodies
    chat21_fake.fail_next(2, 502)
    await channel.send(Target(http, config(chat21_fake), Endpoint("b", USER, USER), context), bodies)
    assert [r.status for r in chat21_fake.requests] == [502, 502, 200]
    assert delays == [0.01, 0.02]

    with pytest.raises(SendError) as denied:
        await channel.send(
            Target(
                http,
                config(chat21_fake, jwtKey="forged-key-0123456789abcdefghij"),
                Endpoint("b", USER, USER),
                context,
            ),
            bodies,
        )
    assert (denied.value.status, denied.value.detail) == (403, "Unauthorized.")
    assert len(chat21_fake.requests) == 4


async def test_405_plain_text_validation_errors_are_reported(
    chat21_fake: Chat21Fake, http: aiohttp.ClientSession, policy: RetryPolicy
) -> None:
    token = chat21_fake.token_for(chat21_fake.bot_id)
    with pytest.raises(SendError) as err:
        await call(
            http,
            "POST",
            f"{chat21_fake.url}/api/{chat21_fake.app_id}/messages",
            platform="chat21",
            policy=policy,
            headers={"Authorization": token},
            json={"sender_fullname": "Bot", "recipient_id": USER, "text": "x"},
        )
    assert (err.value.status, err.value.detail) == (405, "Recipient Fullname is mandatory")
    assert len(chat21_fake.requests) == 1


async def test_test_credentials(chat21_fake: Chat21Fake, http: aiohttp.ClientSession) -> None:
    channel = Chat21Channel()
    await channel.test_credentials(http, config(chat21_fake))
    with pytest.raises(ChannelTestError) as key:
        await channel.test_credentials(http, config(chat21_fake, jwtKey="wrong"))
    assert key.value.field == "jwtKey"
    expired = chat21_fake.token_for(chat21_fake.bot_id, expires_in=-60)
    with pytest.raises(ChannelTestError) as stale:
        await channel.test_credentials(http, config(chat21_fake, jwtKey=None, token=expired))
    assert stale.value.field == "token"


async def test_webhook_over_http(chat21_fake: Chat21Fake, http: aiohttp.ClientSession, receiver: Any) -> None:
    target = await receiver(Chat21Channel(), config(chat21_fake))
    for suffix, expected in ((f"?secret={SECRET}", 200), ("?secret=x", 403), ("", 401)):
        async with http.post(
            f"{chat21_fake.url}/_fake/send", json={"target": target.url + suffix, "text": "hey"}
        ) as resp:
            assert (await resp.json())["status"] == expected
    assert target.parsed[0].messages[0].payload == {"type": "text", "text": "hey"}


async def test_a_stored_config_without_webhook_secret_refuses_every_request() -> None:
    """A config stored before webhookSecret was required (validation skipped): 401, never open."""
    fake, channel = Chat21Fake(), Chat21Channel()
    stored = config(fake).model_copy(update={"webhookSecret": None})
    for req in (inbound(fake.build_webhook({}), query={"secret": SECRET}), inbound(fake.build_webhook({}))):
        with pytest.raises(VerificationError) as refused:
            await channel.verify(req, stored)
        assert refused.value.status == 401
