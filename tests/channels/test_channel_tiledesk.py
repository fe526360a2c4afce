"""Tiledesk channel against the Tiledesk fake: external bot, resthooks, hand-off."""

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
from orchestrator.channels.tiledesk import TiledeskChannel, TiledeskConfig, bot_token
from tests.channels.support import inbound
from tests.fakes.tiledesk import TiledeskFake

REQUEST_ID = "support-group-64690469599137001a6dc6f5-2c3d4e5f60718293a4b5c6d7e8f90a1b"
LEAD = "7d3f6c1e-8b1a-4c1e-9a55-2d1f0e3b6a11"
CARD = {
    "type": "card",
    "title": "Plan A",
    "subtitle": "10 €",
    "image": "https://img.fake/a.png",
    "actions": [
        {"action": "Postback", "title": "Choose", "payload": "PLAN_A"},
        {"action": "Open URL", "title": "Details", "url": "https://plans.fake/a"},
        {"action": "Say something", "title": "Ask", "text": "Tell me more"},
    ],
}
SAMPLES: list[dict[str, Any]] = [
    {"type": "text", "text": "hello"},
    {
        "type": "buttons",
        "text": "Pick",
        "buttons": [
            {"label": "Yes", "type": "postback", "payload": {"payload": "YES"}},
            {"label": "Docs", "type": "link", "payload": {"url": "https://docs.fake"}},
        ],
    },
    {"type": "single-choice", "text": "Size?", "choices": [{"title": "S", "value": "SIZE_S"}]},
    CARD,
    {"type": "carousel", "items": [CARD, {**CARD, "title": "Plan B"}]},
    {"type": "account_linking", "text": "Log in first", "url": "https://login.fake"},
    {"type": "image", "image": "https://img.fake/b.png"},
    {"type": "video", "video": "https://media.fake/v.mp4", "title": "Clip"},
    {"type": "location", "latitude": 45.4, "longitude": 9.2, "address": "Milano"},
]


def config(fake: TiledeskFake, **overrides: Any) -> TiledeskConfig:
    raw = {
        "apiUrl": fake.url or "http://127.0.0.1:1",
        "projectId": fake.project_id,
        "botId": fake.bot_id,
        "botSecret": fake.bot_secret,
        "subscriptionSecret": fake.subscription_secret,
        "botName": "Helper",
        **overrides,
    }
    return TiledeskChannel().load_config(raw)


def parse(fake: TiledeskFake, spec: dict[str, Any]) -> list[Any]:
    return TiledeskChannel().parse(inbound(fake.build_webhook(spec)), config(fake)).messages


def test_config_ids_are_object_ids() -> None:
    with pytest.raises(ValidationError, match="24-character"):
        TiledeskChannel().load_config(
            {"projectId": "p1", "botId": "65ab00000000000000000001", "botSecret": "s"}
        )


# ---------------------------------------------------------------- verify


async def test_verify_bot_token_and_resthook_secret() -> None:
    fake, channel = TiledeskFake(), TiledeskChannel()
    cfg = config(fake)
    await channel.verify(inbound(fake.build_webhook({})), cfg)
    await channel.verify(inbound(fake.build_webhook({"via": "resthook"})), cfg)

    async def status(spec: dict[str, Any], cfg: TiledeskConfig = cfg) -> int:
        with pytest.raises(VerificationError) as err:
            await channel.verify(inbound(fake.build_webhook(spec)), cfg)
        return err.value.status

    assert await status({"signature": "forged"}) == 403
    assert await status({"signature": "none"}) == 401
    assert await status({"via": "resthook", "signature": "forged"}) == 403
    assert await status({"via": "resthook", "signature": "none"}) == 401  # no header, no token
    assert await status({"via": "resthook"}, config(fake, subscriptionSecret=None)) == 403
    other = TiledeskFake(project_id="64690469599137001a6dc6ff")
    with pytest.raises(VerificationError) as foreign:
        await channel.verify(inbound(other.build_webhook({})), cfg)
    assert foreign.value.status == 403


# ---------------------------------------------------------------- parse


def test_parse_text_answers_200_at_once_and_maps_the_request() -> None:
    fake = TiledeskFake()
    webhook = fake.build_webhook({"text": "hello bot"})
    parsed = TiledeskChannel().parse(inbound(webhook), config(fake))
    [message] = parsed.messages
    assert parsed.response.status == 200 and parsed.response.body == b'{"success":true}'
    assert message.payload == {"type": "text", "text": "hello bot"}
    assert message.endpoint == Endpoint(fake.bot_id, LEAD, REQUEST_ID)
    assert message.reply_context == {"project_id": fake.project_id, "request_id": REQUEST_ID}
    assert message.platform_message_id == webhook.json["payload"]["_id"]
    assert not message.is_echo and not message.from_agent


def test_parse_clicks_start_echo_agent_and_image() -> None:
    fake = TiledeskFake()
    [click] = parse(fake, {"kind": "action", "action": "PLAN_A", "text": "Choose"})
    assert click.payload == {"type": "postback", "payload": "PLAN_A", "text": "Choose"}
    [hidden] = parse(fake, {"kind": "hidden_action", "action": "AGENT"})
    assert hidden.payload == {"type": "postback", "payload": "AGENT"}
    [start] = parse(fake, {"kind": "start"})
    assert start.payload["event"] == "conversation_started"
    [echo] = parse(fake, {"kind": "echo", "text": "from the bot"})
    assert echo.is_echo and echo.endpoint.sender == LEAD
    [agent] = parse(fake, {"kind": "agent_text", "text": "agent here"})
    assert agent.from_agent and agent.endpoint.sender == LEAD
    [image] = parse(fake, {"kind": "image", "url": "https://files.fake/p.png", "text": ""})
    assert image.payload == {"type": "image", "url": "https://files.fake/p.png"}


def test_parse_desk_events() -> None:
    fake = TiledeskFake()
    [joined] = parse(fake, {"kind": "member_joined", "via": "resthook"})
    assert joined.payload == {
        "type": "event",
        "event": "agent_joined",
        "data": {"agent": fake.agent_id, "name": "Agent One"},
    }
    assert joined.endpoint.sender == LEAD  # same conversation as the user's messages
    [left] = parse(fake, {"kind": "member_left", "via": "resthook"})
    assert left.payload["event"] == "agent_released"
    assert parse(fake, {"kind": "member_joined", "via": "resthook", "member": f"bot_{fake.bot_id}"}) == []
    assert parse(fake, {"kind": "member_joined", "via": "resthook", "member": LEAD}) == []
    [closed] = parse(fake, {"kind": "chat_closed", "via": "resthook"})
    assert closed.payload["event"] == "closed"
    [request_closed] = parse(fake, {"kind": "request_close"})
    assert request_closed.payload == {
        "type": "event",
        "event": "closed",
        "data": {"closed_by": fake.agent_id},
    }
    assert request_closed.endpoint == Endpoint(fake.bot_id, LEAD, REQUEST_ID)


def test_resthook_messages_count_only_where_the_bot_participates() -> None:
    fake = TiledeskFake()
    [mine] = parse(fake, {"via": "resthook", "text": "for the bot"})
    assert mine.payload["text"] == "for the bot"
    fake.conversations[REQUEST_ID]["participants"] = [fake.agent_id]  # handed off
    # handed off: kept (for a conversation the service has), never answered (issue 9 item 11)
    [agent_phase] = parse(fake, {"via": "resthook", "text": "for the agent"})
    assert agent_phase.bot_absent and not mine.bot_absent
    [left] = parse(fake, {"via": "resthook", "kind": "member_left"})
    assert left.payload["event"] == "agent_released"
    assert parse(fake, {"text": "bot door"})[0].payload["text"] == "bot door"


def test_resthook_handshake_echoes_the_secret() -> None:
    fake = TiledeskFake()
    req = InboundRequest.build(headers={"X-Hook-Secret": fake.subscription_secret})
    parsed = TiledeskChannel().parse(req, config(fake))
    assert parsed.messages == []
    assert parsed.response.headers == {"x-hook-secret": fake.subscription_secret}


# ---------------------------------------------------------------- render


def test_render_buttons_gallery_and_account_linking() -> None:
    channel = TiledeskChannel()
    [buttons] = channel.render(SAMPLES[1]).bodies
    assert buttons["attributes"]["attachment"] == {
        "type": "template",
        "buttons": [
            {"type": "action", "value": "Yes", "action": "YES", "show_echo": True},
            {"type": "url", "value": "Docs", "link": "https://docs.fake", "target": "blank"},
        ],
    }
    [quick] = channel.render(SAMPLES[2]).bodies
    assert quick["attributes"]["attachment"]["buttons"][0]["action"] == "SIZE_S"
    [card] = channel.render(CARD).bodies
    assert card["type"] == "gallery"
    [item] = card["attributes"]["attachment"]["gallery"]
    assert item["preview"] == {"src": "https://img.fake/a.png"}
    assert [b["type"] for b in item["buttons"]] == ["action", "url", "text"]
    assert item["buttons"][2] == {"type": "text", "value": "Tell me more"}
    [carousel] = channel.render(SAMPLES[4]).bodies
    assert len(carousel["attributes"]["attachment"]["gallery"]) == 2
    [linking] = channel.render(SAMPLES[5]).bodies
    assert linking["attributes"]["attachment"]["buttons"] == [
        {"type": "url", "value": "Log in", "link": "https://login.fake", "target": "blank"}
    ]
    [image] = channel.render(SAMPLES[6]).bodies
    assert image == {"type": "image", "text": "", "metadata": {"src": "https://img.fake/b.png"}}
    [location] = channel.render(SAMPLES[8]).bodies
    assert location["text"] == "Milano\nhttps://maps.google.com/?q=45.4,9.2"


# ---------------------------------------------------------------- send


async def test_send_posts_with_a_minted_bot_jwt(
    tiledesk_fake: TiledeskFake, http: aiohttp.ClientSession, policy: RetryPolicy
) -> None:
    channel, cfg = TiledeskChannel(policy), config(tiledesk_fake)
    tiledesk_fake.add_request(REQUEST_ID)
    context = {"project_id": tiledesk_fake.project_id, "request_id": REQUEST_ID}
    for payload in SAMPLES:
        await channel.send(
            Target(http, cfg, Endpoint("b", LEAD, REQUEST_ID), context), channel.render(payload).bodies
        )
    sent = tiledesk_fake.received("/messages")
    assert [r.status for r in sent] == [200] * len(SAMPLES)
    assert sent[0].path == f"/{tiledesk_fake.project_id}/requests/{REQUEST_ID}/messages"
    assert sent[0].json == {"senderFullname": "Helper", "type": "text", "text": "hello"}
    scheme, token = sent[0].headers["Authorization"].split(" ")
    claims = jwt.decode(
        token,
        tiledesk_fake.bot_secret,
        algorithms=["HS256"],
        audience=f"https://tiledesk.com/bots/{tiledesk_fake.bot_id}",
    )
    assert scheme == "JWT" and claims["sub"] == "bot" and claims["_id"] == tiledesk_fake.bot_id
    stored = tiledesk_fake.conversations[REQUEST_ID]["messages"]
    assert stored[0]["sender"] == tiledesk_fake.bot_id


async def test_send_retries_500_and_not_401(
    tiledesk_fake: TiledeskFake, http: aiohttp.ClientSession, policy: RetryPolicy, delays: list[float]
) -> None:
    channel = TiledeskChannel(policy)
    context = {"project_id": tiledesk_fake.project_id, "request_id": REQUEST_ID}
    bodies = channel.render({"type": "text", "text": "hi"}).bodies
    tiledesk_fake.fail_next(1, 503)
    await channel.send(Target(http, config(tiledesk_fake), Endpoint("b", LEAD, REQUEST_ID), context), bodies)
    assert [r.status for r in tiledesk_fake.requests] == [503, 200] and delays == [0.01]

    with pytest.raises(SendError) as denied:
        await channel.send(
            Target(
                http,
                config(tiledesk_fake, botSecret="wrong-secret"),
                Endpoint("b", LEAD, REQUEST_ID),
                context,
            ),
            bodies,
        )
    assert (denied.value.status, denied.value.detail) == (401, "Unauthorized")
    assert len(tiledesk_fake.requests) == 3

    with pytest.raises(SendError) as empty:  # a new request needs a text
        await channel.send(
            Target(
                http,
                config(tiledesk_fake),
                Endpoint("b", LEAD, "new-request"),
                {"project_id": tiledesk_fake.project_id, "request_id": "new"},
            ),
            [{"type": "text", "text": ""}],
        )
    assert (empty.value.status, empty.value.detail) == (422, "text field is required")


def test_minted_token_expires_and_matches_tiledesk_claims() -> None:
    fake = TiledeskFake()
    token = bot_token(config(fake), now=1_700_000_000)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == "https://tiledesk.com" and claims["exp"] == 1_700_000_600
    assert claims["aud"] == f"https://tiledesk.com/bots/{fake.bot_id}"


async def test_test_credentials(tiledesk_fake: TiledeskFake, http: aiohttp.ClientSession) -> None:
    channel = TiledeskChannel()
    await channel.test_credentials(http, config(tiledesk_fake))
    with pytest.raises(ChannelTestError) as secret:
        await channel.test_credentials(http, config(tiledesk_fake, botSecret="wrong"))
    assert secret.value.field == "botSecret"
    with pytest.raises(ChannelTestError) as project:
        await channel.test_credentials(http, config(tiledesk_fake, projectId="64690469599137001a6dc6ff"))
    assert project.value.field == "projectId"


# ---------------------------------------------------------------- hand-off


async def test_handoff_release_and_resolve_reach_the_fake(
    tiledesk_fake: TiledeskFake, http: aiohttp.ClientSession, policy: RetryPolicy
) -> None:
    channel, cfg = TiledeskChannel(policy), config(tiledesk_fake)
    conversation = tiledesk_fake.add_request(REQUEST_ID)
    endpoint = Endpoint(tiledesk_fake.bot_id, LEAD, REQUEST_ID)
    context = {"project_id": tiledesk_fake.project_id, "request_id": REQUEST_ID}
    assert channel.supports_handoff(cfg)

    await channel.handoff(Target(http, cfg, endpoint, context), {})
    route = tiledesk_fake.requests[-1]
    assert (route.method, route.path) == ("PUT", f"/{tiledesk_fake.project_id}/requests/{REQUEST_ID}/agent")
    assert conversation["hasBot"] is False and conversation["participantsAgents"]

    await channel.release(Target(http, cfg, endpoint, context))
    assert tiledesk_fake.requests[-1].json == {"member": f"bot_{tiledesk_fake.bot_id}"}
    assert f"bot_{tiledesk_fake.bot_id}" in conversation["participants"]

    await channel.handoff(
        Target(http, cfg, endpoint, context), {"method": "message", "text": "Connecting you"}
    )
    assert tiledesk_fake.requests[-1].json["text"] == "Connecting you \\agent"
    assert conversation["hasBot"] is False
    await channel.handoff(Target(http, cfg, endpoint, context), {"method": "message"})
    assert tiledesk_fake.requests[-1].json["attributes"] == {"subtype": "info"}

    await channel.resolve(Target(http, cfg, endpoint, context))
    assert tiledesk_fake.requests[-1].path.endswith("/close")
    assert conversation["status"] == 1000

    with pytest.raises(SendError) as unknown:
        await channel.handoff(Target(http, cfg, endpoint, {**context, "request_id": "nope"}), {})
    assert (unknown.value.status, unknown.value.detail) == (404, "Object not found.")


async def test_webhook_over_http_gets_an_immediate_200(
    tiledesk_fake: TiledeskFake, http: aiohttp.ClientSession, receiver: Any
) -> None:
    target = await receiver(TiledeskChannel(), config(tiledesk_fake))
    async with http.post(
        f"{tiledesk_fake.url}/_fake/send", json={"target": target.url, "kind": "action", "action": "BUY"}
    ) as resp:
        answer = await resp.json()
    assert answer["status"] == 200 and answer["body"] == '{"success":true}'
    assert target.parsed[0].messages[0].payload["payload"] == "BUY"
