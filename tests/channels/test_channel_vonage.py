"""Vonage channel against its fake: the signed JWT (signature, api_key, payload_hash), statuses,
every payload on WhatsApp and SMS, interactive choices, the sandbox, credentials."""

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
    Target,
    VerificationError,
)
from orchestrator.channels.vonage import SANDBOX_URL, VonageChannel, VonageConfig
from tests.channels.support import inbound
from tests.channels.test_channel_telegram import SAMPLES
from tests.fakes.base import serving
from tests.fakes.vonage import VonageFake


def config(fake: VonageFake, **overrides: Any) -> VonageConfig:
    raw = {
        "apiUrl": fake.url or "http://127.0.0.1:1",
        "apiKey": fake.api_key,
        "apiSecret": fake.api_secret,
        "signatureSecret": fake.signature_secret,
    }
    return VonageChannel().load_config({**raw, **overrides})


@pytest.fixture
async def vn() -> Any:
    async for fake in serving(VonageFake()):
        yield fake


async def test_signed_jwt_messages_and_statuses() -> None:
    fake, channel = VonageFake(), VonageChannel()
    for mode, status in (("none", 401), ("forged", 403), ("hash", 403), ("api_key", 403)):
        with pytest.raises(VerificationError) as refused:
            await channel.verify(inbound(fake.build_webhook({"signature": mode})), config(fake))
        assert refused.value.status == status, mode
    for spec, payload in (
        ({"text": "hi", "channel": "sms"}, {"type": "text", "text": "hi"}),
        (
            {"kind": "reply", "payload": "FAQ", "title": "FAQ"},
            {"type": "quick_reply", "payload": "FAQ", "text": "FAQ"},
        ),
        ({"kind": "image", "url": "https://m.fake/a.jpg"}, {"type": "image", "url": "https://m.fake/a.jpg"}),
    ):
        request = inbound(fake.build_webhook({"from": "447700900001", **spec}))
        await channel.verify(request, config(fake))
        [message] = channel.parse(request, config(fake)).messages
        assert message.payload == payload
        assert message.endpoint == Endpoint(fake.number, "447700900001", "*")
        assert message.reply_context["channel"] == spec.get("channel", "whatsapp")
    for state, failed in (("delivered", False), ("rejected", True)):
        request = inbound(fake.build_webhook({"kind": "status", "status": state, "uuid": "u-1"}))
        await channel.verify(request, config(fake))
        parsed = channel.parse(request, config(fake))
        assert parsed.messages == [] and parsed.response.status == 200
        [status] = parsed.statuses
        assert status == DeliveryStatus(
            "u-1", state, failed, "Not part of the provider network" if failed else None
        )


async def test_every_payload_on_whatsapp_and_sms(
    vn: VonageFake, http: aiohttp.ClientSession, policy: RetryPolicy
) -> None:
    channel, conf = VonageChannel(policy), config(vn)
    for kind in ("whatsapp", "sms", "messenger"):
        context = {"channel": kind, "from": vn.number, "to": "447700900001"}
        for payload in SAMPLES:
            await channel.send(
                Target(http, conf, Endpoint(vn.number, "447700900001", "*"), context),
                channel.render(payload).bodies,
            )
    assert all(r.status == 202 for r in vn.requests), [
        (r.json, r.body) for r in vn.requests if r.status != 202
    ]
    whatsapp = [m for m in vn.sent if m["channel"] == "whatsapp"]
    customs = [m["custom"] for m in whatsapp if m["message_type"] == "custom"]
    assert [c.get("interactive", {}).get("type", c["type"]) for c in customs] == [
        "button",
        "location",
        "location",
    ]
    assert {m["message_type"] for m in vn.sent if m["channel"] == "sms"} == {"text"}
    # buttons with links stay a numbered list (links listed), as on SMS
    [pick] = [m for m in whatsapp if m.get("text", "").startswith("Pick")]
    assert pick["text"] == degrade.numbered_options(SAMPLES[2])[0]


def test_choices_as_buttons_list_or_numbers() -> None:
    channel = VonageChannel()

    def choice(n: int) -> dict[str, Any]:
        return {
            "type": "single-choice",
            "text": "Pick",
            "choices": [{"title": f"T{i}", "value": f"V{i}"} for i in range(n)],
        }

    kinds = []
    for n in (3, 10, 11):
        [body] = channel.render(choice(n)).bodies
        assert body["text"].endswith(f"{n}. T{n - 1}")  # SMS and Messenger: numbered
        native = body.get("alternatives", {}).get("whatsapp")
        kinds.append(native["custom"]["interactive"]["type"] if native else None)
    assert kinds == ["button", "list", None]


async def test_sandbox_spacing_and_credentials(
    vn: VonageFake, http: aiohttp.ClientSession, policy: RetryPolicy, delays: list[float]
) -> None:
    sandbox = VonageChannel().load_config(
        {"apiKey": "k", "apiSecret": "s", "signatureSecret": "x", "useTestingApi": True}
    )
    assert VonageChannel().api_url(sandbox) == SANDBOX_URL
    channel = VonageChannel(policy)
    context = {"channel": "whatsapp", "from": vn.number, "to": "447700900001"}
    bodies = channel.render({"type": "text", "text": "a"}).bodies * 3
    await channel.send(
        Target(http, config(vn, useTestingApi=True), Endpoint(vn.number, "x", "*"), context), bodies
    )
    assert len(delays) == 2 and all(0 < d <= 1.1 for d in delays)
    await channel.test_credentials(http, config(vn))
    with pytest.raises(ChannelTestError) as refused:
        await channel.test_credentials(http, config(vn, apiSecret="wrong"))
    assert refused.value.field == "apiSecret"


async def test_only_a_bearer_token_is_read() -> None:
    fake, channel = VonageFake(), VonageChannel()
    signed = fake.build_webhook({"text": "hi"})
    token = signed.headers["Authorization"].partition(" ")[2]
    for value in (f"Basic {token}", f"Token {token}", "Bearer ", "Bearer"):
        headers = {**signed.headers, "Authorization": value}
        with pytest.raises(VerificationError) as refused:
            await channel.verify(InboundRequest.build(headers=headers, body=signed.body), config(fake))
        assert refused.value.status == 401, value
