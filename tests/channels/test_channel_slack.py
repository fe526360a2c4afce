"""Slack channel against the Slack fake: handshakes, threads, every payload accepted, 429."""

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
from orchestrator.channels.slack import SlackChannel, SlackConfig
from tests.channels.support import inbound
from tests.channels.test_channel_telegram import SAMPLES
from tests.fakes.base import serving
from tests.fakes.slack import SlackFake


def config(fake: SlackFake, **overrides: Any) -> SlackConfig:
    raw = {
        "apiUrl": f"{fake.url or 'http://127.0.0.1:1'}/api",
        "botToken": fake.bot_token,
        "signingSecret": fake.signing_secret,
    }
    return SlackChannel().load_config({**raw, **overrides})


@pytest.fixture
async def sl() -> Any:
    async for fake in serving(SlackFake()):
        yield fake


async def test_handshakes_threads_and_refusals() -> None:
    fake, channel = SlackFake(), SlackChannel()
    challenge = fake.build_webhook({"kind": "url_verification", "challenge": "abc"})
    await channel.verify(inbound(challenge), config(fake))
    assert channel.parse(inbound(challenge), config(fake)).response.body == b'{"challenge":"abc"}'
    ssl = fake.build_webhook({"kind": "ssl_check"})
    await channel.verify(inbound(ssl), config(fake))
    assert channel.parse(inbound(ssl), config(fake)).response.body == b""
    threaded = fake.build_webhook({"text": "help", "channel": "C0GEN", "thread_ts": "1700.01"})
    [message] = channel.parse(inbound(threaded), config(fake)).messages
    assert message.endpoint == Endpoint("T0001", "U0USER", "C0GEN/1700.01")
    assert message.reply_context == {"channel": "C0GEN", "thread_ts": "1700.01"}
    [bot] = channel.parse(inbound(fake.build_webhook({"kind": "bot"})), config(fake)).messages
    assert bot.is_echo
    for mode, status in (("none", 401), ("forged", 403), ("stale", 403)):
        with pytest.raises(VerificationError) as refused:
            await channel.verify(inbound(fake.build_webhook({"signature": mode})), config(fake))
        assert refused.value.status == status


async def test_every_payload_is_accepted_and_threads_are_answered(
    sl: SlackFake, http: aiohttp.ClientSession
) -> None:
    channel, conf = SlackChannel(), config(sl)
    for payload in SAMPLES:
        await channel.send(
            Target(http, conf, Endpoint("T0001", "U0USER", "C0GEN/1700.01"), {}),
            channel.render(payload).bodies,
        )
    assert all(r.status == 200 and r.json.get("ok", True) for r in sl.requests)
    assert len(sl.posted) == len(SAMPLES) - 1  # typing renders nothing on Slack
    assert {m["thread_ts"] for m in sl.posted} == {"1700.01"}


async def test_rate_limits_errors_and_credentials(
    sl: SlackFake, http: aiohttp.ClientSession, policy: RetryPolicy, delays: list[float]
) -> None:
    channel, conf = SlackChannel(policy), config(sl)
    sl.throttle_next(1, retry_after=2)
    await channel.send(
        Target(http, conf, Endpoint("*", "U", "D0DM"), {}),
        channel.render({"type": "text", "text": "hi"}).bodies,
    )
    assert delays == [2.0]
    with pytest.raises(SendError) as missing:
        await channel.send(
            Target(http, conf, Endpoint("*", "U", "X0NOPE"), {}),
            channel.render({"type": "text", "text": "hi"}).bodies,
        )
    assert missing.value.detail == "channel_not_found"
    await channel.test_credentials(http, conf)
    with pytest.raises(ChannelTestError) as refused:
        await channel.test_credentials(http, config(sl, botToken="xoxb-wrong"))
    assert refused.value.field == "botToken" and "invalid_auth" in refused.value.message


async def test_each_refusal_says_why() -> None:
    """Either header missing is a 401; an unreadable or stale timestamp is refused for that."""
    fake, channel = SlackFake(), SlackChannel()
    signed = fake.build_webhook({"text": "hi"})

    async def refusal(headers: dict[str, str]) -> tuple[int, str]:
        with pytest.raises(VerificationError) as refused:
            await channel.verify(InboundRequest.build(headers=headers, body=signed.body), config(fake))
        return refused.value.status, str(refused.value)

    timestamp, signature = signed.headers["X-Slack-Request-Timestamp"], signed.headers["X-Slack-Signature"]
    for headers in ({"X-Slack-Request-Timestamp": timestamp}, {"X-Slack-Signature": signature}):
        status, reason = await refusal(headers)
        assert status == 401 and "missing X-Slack-Signature or X-Slack-Request-Timestamp" in reason
    status, reason = await refusal({"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": signature})
    assert status == 403 and "unreadable X-Slack-Request-Timestamp" in reason
    stale = fake.build_webhook({"text": "hi", "signature": "stale"})
    status, reason = await refusal(dict(stale.headers))
    assert status == 403 and "older than 5 minutes" in reason


async def test_long_texts_become_several_sections_and_messages(
    sl: SlackFake, http: aiohttp.ClientSession
) -> None:
    channel, conf = SlackChannel(), config(sl)
    target = Target(http, conf, Endpoint("*", "U", "D0DM"), {})
    paragraph = " ".join(f"w{i}&" for i in range(100))  # ~600 characters, ~1000 escaped
    long_text = "\n\n".join(f"p{p} {paragraph}" for p in range(50))  # ~30 000, ~50 000 escaped
    button = {"label": "Menu", "type": "postback", "payload": {"payload": "MENU"}}
    for payload in (
        {"type": "text", "text": long_text},
        {"type": "buttons", "text": long_text, "buttons": [button]},
    ):
        sl.posted.clear()
        await channel.send(target, channel.render(payload).bodies)
        assert len(sl.posted) > 1
        sections = [b["text"]["text"] for m in sl.posted for b in m["blocks"] if b["type"] == "section"]
        assert len(sections) > 16 and all(s.endswith("w99&amp;") for s in sections)  # whole paragraphs
        shown = " ".join(" ".join(sections).split()).replace("&amp;", "&")
        assert shown == " ".join(long_text.split())  # nothing lost
        actions = [i for i, m in enumerate(sl.posted) for b in m["blocks"] if b["type"] == "actions"]
        assert actions == ([len(sl.posted) - 1] if payload["type"] == "buttons" else [])
