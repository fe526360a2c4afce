"""Twilio channel against the Twilio fake: signatures over the public URL, every payload,
messageDelay, retryMaxAttempts/retryDelay, 429 with Retry-After, credentials."""

from __future__ import annotations

from typing import Any

import aiohttp
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
from orchestrator.channels.twilio import TwilioChannel, TwilioConfig, seconds
from tests.channels.test_channel_telegram import SAMPLES
from tests.fakes.base import serving
from tests.fakes.twilio import TwilioFake

URL = "https://bot.example.com/webhooks/v1/acme/twilio"


def config(fake: TwilioFake, **overrides: Any) -> TwilioConfig:
    raw = {
        "apiUrl": fake.url or "http://127.0.0.1:1",
        "accountSID": fake.account_sid,
        "authToken": fake.auth_token,
    }
    return TwilioChannel().load_config({**raw, **overrides})


def request(fake: TwilioFake, spec: dict[str, Any], url: str = URL) -> InboundRequest:
    webhook = fake.build_webhook({"url": URL, **spec})
    return InboundRequest.build(headers=webhook.headers, body=webhook.body, public_url=url)


@pytest.fixture
async def tw() -> Any:
    async for fake in serving(TwilioFake()):
        yield fake


async def test_signature_over_the_public_url_and_parse() -> None:
    fake, channel = TwilioFake(), TwilioChannel()
    signed = request(fake, {"text": "2", "media": "https://m.fake/a.jpg"})
    await channel.verify(signed, config(fake))
    parsed = channel.parse(signed, config(fake))
    assert parsed.response.status == 204
    [message] = parsed.messages
    assert message.payload == {"type": "image", "url": "https://m.fake/a.jpg", "title": "2"}
    assert message.endpoint == Endpoint("+15005550006", "+33612345678", "*")
    for spec, url, status in (
        ({"signature": "none"}, URL, 401),
        ({"signature": "forged"}, URL, 403),
        ({}, "http://127.0.0.1:3100/webhooks/v1/acme/twilio", 403),
    ):
        with pytest.raises(VerificationError) as refused:
            await channel.verify(request(fake, spec, url), config(fake))
        assert refused.value.status == status


def test_durations_and_config() -> None:
    assert (seconds("1s"), seconds("500ms"), seconds("1000"), seconds("2m")) == (1.0, 0.5, 1.0, 120.0)
    with pytest.raises(ValueError):
        config(TwilioFake(), messageDelay="soon")
    with pytest.raises(ValueError):
        config(TwilioFake(), accountSID="my-sid")


async def test_every_payload_with_delay_retries_and_throttling(
    tw: TwilioFake, http: aiohttp.ClientSession, policy: RetryPolicy, delays: list[float]
) -> None:
    channel = TwilioChannel(policy)
    conf = config(tw, messageDelay="1s", retryMaxAttempts=2, retryDelay="50ms")
    endpoint = Endpoint(tw.number, "+33612345678", "*")
    for payload in SAMPLES:
        await channel.send(Target(http, conf, endpoint, {}), channel.render(payload).bodies)
    assert len(tw.messages) == len(SAMPLES) - 1  # typing renders nothing on SMS
    assert {m["MediaUrl"] for m in tw.messages if "MediaUrl" in m} == {
        "https://img.fake/cup.png",
        "https://img.fake/dance.gif",
        "https://img.fake/fw.png",
    }
    assert delays and all(0 < d <= 1.0 for d in delays)  # messageDelay between messages
    delays.clear()
    tw.throttle_next(1, retry_after=2)
    await channel.send(Target(http, config(tw, retryDelay="50ms"), endpoint, {}), [{"Body": "hi"}])
    assert delays == [2.0]
    tw.fail_next(2, 503)
    with pytest.raises(SendError):
        await channel.send(
            Target(http, config(tw, retryMaxAttempts=2, retryDelay="50ms"), endpoint, {}), [{"Body": "x"}]
        )
    assert delays == [2.0, 0.05]  # two attempts: one backoff of retryDelay


async def test_credentials(tw: TwilioFake, http: aiohttp.ClientSession) -> None:
    await TwilioChannel().test_credentials(http, config(tw))
    with pytest.raises(ChannelTestError) as refused:
        await TwilioChannel().test_credentials(http, config(tw, authToken="wrong"))
    assert refused.value.field == "authToken"
