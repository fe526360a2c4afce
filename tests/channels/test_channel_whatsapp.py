"""WhatsApp Cloud API channel against its fake: handshake and signature, messages and statuses,
every payload, interactive choices, the 24-hour window, throttling, credentials."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from orchestrator.channels import degrade
from orchestrator.channels.base import (
    ChannelTestError,
    DeliveryStatus,
    Endpoint,
    InboundRequest,
    RetryPolicy,
    SendError,
    Target,
    VerificationError,
)
from orchestrator.channels.whatsapp import WhatsAppChannel, WhatsAppConfig
from tests.channels.support import inbound
from tests.channels.test_channel_telegram import SAMPLES
from tests.fakes.base import serving
from tests.fakes.whatsapp import WhatsAppFake

DAY = 24 * 3600


def config(fake: WhatsAppFake, **overrides: Any) -> WhatsAppConfig:
    raw = {
        "apiUrl": fake.url or "http://127.0.0.1:1",
        "phoneNumberId": fake.phone_number_id,
        "accessToken": fake.access_token,
        "appSecret": fake.app_secret,
        "verifyToken": fake.verify_token,
    }
    return WhatsAppChannel().load_config({**raw, **overrides})


@pytest.fixture
async def wa() -> Any:
    async for fake in serving(WhatsAppFake()):
        yield fake


async def test_handshake_signature_messages_and_statuses() -> None:
    fake, channel = WhatsAppFake(), WhatsAppChannel()
    query = {"hub.mode": "subscribe", "hub.verify_token": fake.verify_token, "hub.challenge": "1158201444"}
    handshake = InboundRequest.build(method="GET", query=query)
    await channel.verify(handshake, config(fake))
    assert channel.parse(handshake, config(fake)).response.body == b"1158201444"
    with pytest.raises(VerificationError):
        await channel.verify(
            InboundRequest.build(method="GET", query={**query, "hub.verify_token": "x"}), config(fake)
        )
    for mode, status in (("none", 401), ("forged", 403)):
        with pytest.raises(VerificationError) as refused:
            await channel.verify(inbound(fake.build_webhook({"signature": mode})), config(fake))
        assert refused.value.status == status
    media = f"{fake.url or 'http://127.0.0.1:1'}/v19.0/1479537139650973"
    for spec, payload in (
        ({"text": "hi"}, {"type": "text", "text": "hi"}),
        (
            {"kind": "list_reply", "payload": "FAQ", "title": "FAQ"},
            {"type": "quick_reply", "payload": "FAQ", "text": "FAQ"},
        ),
        ({"kind": "image"}, {"type": "image", "url": media}),
        ({"kind": "location"}, {"type": "location", "latitude": 48.85, "longitude": 2.35, "title": "Shop"}),
    ):
        request = inbound(fake.build_webhook({"user": "1650", **spec}))
        await channel.verify(request, config(fake))
        [message] = channel.parse(request, config(fake)).messages
        assert message.payload == payload
        assert message.endpoint == Endpoint(fake.phone_number_id, "1650", "*")
        assert message.sender_name == "Kerry Fisher" and isinstance(
            message.reply_context["last_user_at"], int
        )
    other_number = config(fake, phoneNumberId="999")
    assert channel.parse(inbound(fake.build_webhook({})), other_number).messages == []
    parsed = channel.parse(
        inbound(fake.build_webhook({"kind": "status", "status": "failed", "id": "w1"})), config(fake)
    )
    [status] = parsed.statuses
    assert parsed.messages == [] and status.failed and status.detail.startswith("131047: Message failed")
    assert status == DeliveryStatus("w1", "failed", True, status.detail)


async def test_every_payload_within_the_window(
    wa: WhatsAppFake, http: aiohttp.ClientSession, policy: RetryPolicy, delays: list[float]
) -> None:
    channel, conf = WhatsAppChannel(policy), config(wa)
    wa.build_webhook({"user": "1650"})  # the user wrote just now
    context = {"to": "1650", "last_user_at": channel.clock()}
    for payload in SAMPLES:
        target = Target(http, conf, Endpoint(wa.phone_number_id, "1650", "*"), context)
        await channel.send(target, channel.render(payload).bodies)
    assert all(r.status == 200 for r in wa.requests), [r.body for r in wa.requests if r.status != 200]
    assert wa.undelivered == []
    types = [m["type"] for m in wa.delivered]
    assert {"text", "image", "document", "audio", "video", "location", "interactive"} <= set(types)
    interactive = [m["interactive"]["type"] for m in wa.delivered if m["type"] == "interactive"]
    assert interactive == ["button", "cta_url", "cta_url"]  # the single choice, 2 logins
    pick = next(m for m in wa.delivered if m["type"] == "text" and m["text"]["body"].startswith("Pick"))
    assert pick["text"]["body"] == degrade.numbered_options(SAMPLES[2])[0]  # links: numbered
    wa.throttle_next(1)
    target = Target(http, conf, Endpoint("", "1650", "*"), context)
    await channel.send(target, channel.render({"type": "text", "text": "x"}).bodies)
    assert [r.status for r in wa.requests[-2:]] == [400, 200] and len(delays) == 1


def test_choices_as_buttons_list_or_numbers() -> None:
    channel = WhatsAppChannel()

    def choice(n: int) -> dict[str, Any]:
        choices = [{"title": f"T{i}", "value": f"V{i}"} for i in range(n)]
        return {"type": "single-choice", "text": "Pick", "choices": choices}

    kinds = [channel.render(choice(n)).bodies[0].get("interactive", {}).get("type") for n in (3, 10, 11)]
    assert kinds == ["button", "list", None]
    degraded = channel.render(choice(11))
    assert degraded.bodies[0]["text"]["body"].endswith("11. T10") and degraded.choices["11"] == "V10"


async def test_the_24_hour_window(wa: WhatsAppFake, http: aiohttp.ClientSession, policy: RetryPolicy) -> None:
    now = 1_800_000_000.0
    channel, conf = WhatsAppChannel(policy, clock=lambda: now), config(wa)
    endpoint = Endpoint(wa.phone_number_id, "1650", "*")
    for context in ({"to": "1650", "last_user_at": now - DAY - 1}, {"to": "1650"}):
        with pytest.raises(SendError) as refused:
            text = channel.render({"type": "text", "text": "late"}).bodies
            await channel.send(Target(http, conf, endpoint, context), text)
        assert "24-hour customer service window" in refused.value.detail and not refused.value.retryable
    assert wa.requests == []  # refused before WhatsApp, which would have taken it and then failed
    template = {"type": "template", "template": {"name": "follow_up", "language": {"code": "en"}}}
    late = {"to": "1650", "last_user_at": now - 2 * DAY}
    custom = channel.render({"type": "custom", "raw": {"whatsapp": template}}).bodies
    await channel.send(Target(http, conf, endpoint, late), custom)
    assert [m["type"] for m in wa.delivered] == ["template"]
    in_time = {"to": "1650", "last_user_at": now - DAY + 60}
    await channel.send(Target(http, conf, endpoint, in_time), [{"type": "text", "text": {"body": "ok"}}])
    assert len(wa.requests) == 2


async def test_credentials(wa: WhatsAppFake, http: aiohttp.ClientSession) -> None:
    await WhatsAppChannel().test_credentials(http, config(wa))
    for overrides, field in (
        ({"accessToken": "x"}, "accessToken"),
        ({"phoneNumberId": "1"}, "phoneNumberId"),
    ):
        with pytest.raises(ChannelTestError) as refused:
            await WhatsAppChannel().test_credentials(http, config(wa, **overrides))
        assert refused.value.field == field
