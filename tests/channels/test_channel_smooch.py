"""Sunshine Conversations channel against its fake: the webhook secret, parsing, every payload,
the rate limit, credentials."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from orchestrator.channels.base import (
    ChannelTestError,
    Endpoint,
    RetryPolicy,
    SendError,
    Target,
    VerificationError,
)
from orchestrator.channels.smooch import SmoochChannel, SmoochConfig
from tests.channels.support import inbound
from tests.channels.test_channel_telegram import SAMPLES
from tests.fakes.base import serving
from tests.fakes.smooch import SmoochFake


def config(fake: SmoochFake, **overrides: Any) -> SmoochConfig:
    raw = {
        "apiUrl": fake.url or "http://127.0.0.1:1",
        "appId": fake.app_id,
        "keyId": fake.key_id,
        "keySecret": fake.key_secret,
        "webhookSecret": fake.webhook_secret,
    }
    return SmoochChannel().load_config({**raw, **overrides})


@pytest.fixture
async def sm() -> Any:
    async for fake in serving(SmoochFake()):
        yield fake


async def test_webhook_secret_and_parse() -> None:
    fake, channel = SmoochFake(), SmoochChannel()
    for secret, status in (("none", 401), ("forged", 403)):
        with pytest.raises(VerificationError) as refused:
            await channel.verify(inbound(fake.build_webhook({"secret": secret})), config(fake))
        assert refused.value.status == status
    cases = [
        ({"text": "hi"}, {"type": "text", "text": "hi"}),
        (
            {"kind": "reply", "payload": "S", "text": "Small"},
            {"type": "quick_reply", "payload": "S", "text": "Small"},
        ),
        (
            {"kind": "postback", "payload": "P", "text": "Yes"},
            {"type": "postback", "payload": "P", "text": "Yes"},
        ),
        ({"kind": "image", "url": "https://m.fake/a.jpg"}, {"type": "image", "url": "https://m.fake/a.jpg"}),
    ]
    for spec, payload in cases:
        request = inbound(fake.build_webhook({"user": "u1", "conversation": "c1", **spec}))
        await channel.verify(request, config(fake))
        [message] = channel.parse(request, config(fake)).messages
        assert message.payload == payload
        assert message.endpoint == Endpoint("*", "u1", "c1")
        assert message.reply_context == {"conversation": "c1"} and message.platform_message_id
    [echo] = channel.parse(inbound(fake.build_webhook({"kind": "echo"})), config(fake)).messages
    assert echo.is_echo


async def test_every_payload_and_the_rate_limit(
    sm: SmoochFake, http: aiohttp.ClientSession, policy: RetryPolicy, delays: list[float]
) -> None:
    channel, conf = SmoochChannel(policy), config(sm)
    sm.conversations.add("c1")
    for payload in SAMPLES:
        await channel.send(
            Target(http, conf, Endpoint("*", "u1", "c1"), {"conversation": "c1"}),
            channel.render(payload).bodies,
        )
    assert all(r.status in (200, 201) for r in sm.requests), [r.body for r in sm.requests if r.status >= 300]
    kinds = [m["content"]["type"] for m in sm.sent]
    assert {"text", "image", "file", "location", "carousel"} <= set(kinds)
    assert sm.activities == ["typing:start"]
    mixed = sm.sent[2]["content"]["actions"]  # buttons + a quick reply: all postbacks or links
    assert [a["type"] for a in mixed] == ["postback", "link", "link", "postback"]
    assert mixed[2]["uri"] == "tel:+33123"
    sm.fail_next(1, 429, retry_after="1")
    await channel.send(
        Target(http, conf, Endpoint("*", "u1", "c1"), {}),
        channel.render({"type": "text", "text": "hi"}).bodies,
    )
    assert [r.status for r in sm.requests[-2:]] == [429, 201] and delays == [1.0]
    with pytest.raises(SendError) as gone:
        await channel.send(
            Target(http, conf, Endpoint("*", "u1", "c9"), {}),
            channel.render({"type": "text", "text": "x"}).bodies,
        )
    assert gone.value.status == 404 and gone.value.detail == "Conversation not found"


async def test_credentials(sm: SmoochFake, http: aiohttp.ClientSession) -> None:
    channel = SmoochChannel()
    await channel.test_credentials(http, config(sm))
    for overrides, field in (({"keySecret": "x"}, "keySecret"), ({"appId": "other"}, "keySecret")):
        with pytest.raises(ChannelTestError) as refused:
            await channel.test_credentials(http, config(sm, **overrides))
        assert refused.value.field == field
