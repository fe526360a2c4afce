"""Messenger channel against the Graph API fake: handshake, signatures, every payload, the
rate-limit 400, credentials and page settings."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from orchestrator.channels.base import (
    ChannelTestError,
    Endpoint,
    InboundRequest,
    RetryPolicy,
    Target,
    VerificationError,
)
from orchestrator.channels.messenger import MessengerChannel, MessengerConfig
from tests.channels.support import inbound
from tests.channels.test_channel_telegram import SAMPLES
from tests.fakes.base import serving
from tests.fakes.messenger import MessengerFake


def config(fake: MessengerFake, **overrides: Any) -> MessengerConfig:
    raw = {
        "apiUrl": fake.url or "http://127.0.0.1:1",
        "appId": fake.app_id,
        "appSecret": fake.app_secret,
        "verifyToken": fake.verify_token,
        "pageId": fake.page_id,
        "accessToken": fake.access_token,
    }
    return MessengerChannel().load_config({**raw, **overrides})


@pytest.fixture
async def ms() -> Any:
    async for fake in serving(MessengerFake()):
        yield fake


async def test_handshake_signature_and_parse() -> None:
    fake, channel = MessengerFake(), MessengerChannel()
    query = {"hub.mode": "subscribe", "hub.verify_token": fake.verify_token, "hub.challenge": "1158201444"}
    handshake = InboundRequest.build(method="GET", query=query)
    await channel.verify(handshake, config(fake))
    assert channel.parse(handshake, config(fake)).response.body == b"1158201444"
    with pytest.raises(VerificationError) as wrong:
        await channel.verify(
            InboundRequest.build(method="GET", query={**query, "hub.verify_token": "x"}), config(fake)
        )
    assert wrong.value.status == 403
    for mode, reason in (("none", "missing X-Hub-Signature-256"), ("forged", "wrong X-Hub-Signature-256")):
        with pytest.raises(VerificationError) as refused:
            await channel.verify(inbound(fake.build_webhook({"signature": mode})), config(fake))
        assert refused.value.status == 403 and reason in str(refused.value)
    linked = fake.build_webhook({"kind": "account_linking", "code": "acct-7"})
    await channel.verify(inbound(linked), config(fake))
    [event] = channel.parse(inbound(linked), config(fake)).messages
    assert event.payload == {
        "type": "event",
        "event": "account_linked",
        "data": {"authorization_code": "acct-7", "account_id": "acct-7"},
    }
    [echo] = channel.parse(inbound(fake.build_webhook({"kind": "echo"})), config(fake)).messages
    assert echo.is_echo
    assert channel.parse(inbound(linked), config(fake)).response.body == b"EVENT_RECEIVED"


async def test_every_payload_and_the_rate_limit(
    ms: MessengerFake, http: aiohttp.ClientSession, policy: RetryPolicy, delays: list[float]
) -> None:
    channel, conf = MessengerChannel(policy), config(ms)
    ms.users.add("61")
    for payload in SAMPLES:
        await channel.send(Target(http, conf, Endpoint("*", "61", "*"), {}), channel.render(payload).bodies)
    assert all(r.status == 200 for r in ms.requests), [r.body for r in ms.requests if r.status != 200]
    assert {"recipient": {"id": "61"}, "sender_action": "typing_on"} in ms.sent
    ms.throttle_next(1)
    await channel.send(
        Target(http, conf, Endpoint("*", "61", "*"), {}),
        channel.render({"type": "text", "text": "hi"}).bodies,
    )
    assert [r.status for r in ms.requests[-2:]] == [400, 200] and len(delays) == 1


async def test_credentials_and_page_settings(ms: MessengerFake, http: aiohttp.ClientSession) -> None:
    channel = MessengerChannel()
    await channel.test_credentials(http, config(ms))
    for overrides, field in (
        ({"pageId": "1"}, "pageId"),
        ({"appId": "2"}, "appId"),
        ({"accessToken": "x"}, "accessToken"),
    ):
        with pytest.raises(ChannelTestError) as refused:
            await channel.test_credentials(http, config(ms, **overrides))
        assert refused.value.field == field
    await channel.setup(http, config(ms, greeting="Hi!"), "https://bot.fake/webhooks/v1/acme/messenger")
    assert ms.profile == {"greeting": [{"locale": "default", "text": "Hi!"}]}


async def test_messages_are_marked_seen_and_long_texts_split(
    ms: MessengerFake, http: aiohttp.ClientSession
) -> None:
    channel, conf = MessengerChannel(), config(ms)
    [text] = channel.parse(inbound(ms.build_webhook({"text": "hi", "user": "61"})), conf).messages
    target = Target(http, conf, text.endpoint, text.reply_context)
    for ack in text.acks:
        await channel.acknowledge(target, ack)
    assert ms.sent == [{"recipient": {"id": "61"}, "sender_action": "mark_seen"}]
    linked = ms.build_webhook({"kind": "account_linking", "code": "acct-7"})
    assert channel.parse(inbound(linked), conf).messages[0].acks == ()  # not a user's message
    ms.sent.clear()
    long_text = "\n\n".join(" ".join(f"p{p}w{i}" for i in range(50)) for p in range(20))  # ~6 000
    for payload in (
        {"type": "text", "text": long_text},
        {"type": "single-choice", "text": long_text, "choices": [{"title": "Yes", "value": "Y"}]},
        {
            "type": "buttons",
            "text": long_text,
            "buttons": [{"label": "Menu", "type": "postback", "payload": {"payload": "MENU"}}],
        },
    ):
        ms.sent.clear()
        await channel.send(target, channel.render(payload).bodies)
        messages = [b["message"] for b in ms.sent]
        assert len(messages) > 3
        texts = [m.get("text") or m["attachment"]["payload"]["text"] for m in messages]
        texts = [t for t in texts if t != "…"]  # a button template after a text too long for it
        assert " ".join(" ".join(texts).split()) == " ".join(long_text.split())  # nothing lost
        assert all(t.endswith("w49") for t in texts)  # cut between paragraphs
        assert [i for i, m in enumerate(messages) if "quick_replies" in m or "attachment" in m] in (
            [],
            [len(messages) - 1],
        )
