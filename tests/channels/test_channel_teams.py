"""Teams channel against the Bot Framework fake: JWT verification through the OpenID metadata
(keys cached, refreshed on rotation), tenant restriction, parsing, every payload, the cached
client-credentials token, credentials."""

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
from orchestrator.channels.teams import TeamsChannel, TeamsConfig
from tests.channels.support import inbound
from tests.channels.test_channel_telegram import SAMPLES
from tests.fakes.base import serving
from tests.fakes.teams import HERO, TeamsFake


def config(fake: TeamsFake, **overrides: Any) -> TeamsConfig:
    raw = {
        "apiUrl": fake.url,
        "openIdMetadataUrl": fake.metadata_url,
        "appId": fake.app_id,
        "appPassword": fake.app_password,
    }
    return TeamsChannel().load_config({**raw, **overrides})


@pytest.fixture
async def tm() -> Any:
    async for fake in serving(TeamsFake()):
        yield fake


async def test_jwt_verification_keys_and_tenant(tm: TeamsFake) -> None:
    channel, conf = TeamsChannel(), config(tm)
    channel.keys_cooldown = 0.0  # PyJWKClient refetches on an unknown kid at most this often
    await channel.verify(inbound(tm.build_webhook({"text": "hi"})), conf)
    await channel.verify(inbound(tm.build_webhook({"text": "again"})), conf)
    assert tm.key_requests == 1  # the key set is cached
    tm.rotate_key()  # Microsoft signs with a new key: fetched again on its unknown kid
    await channel.verify(inbound(tm.build_webhook({"text": "rotated"})), conf)
    assert tm.key_requests == 2
    for mode, status in (
        ("none", 401),
        ("forged", 403),
        ("unknown_kid", 403),
        ("audience", 403),
        ("expired", 403),
        ("service_url", 403),
    ):
        with pytest.raises(VerificationError) as refused:
            await channel.verify(inbound(tm.build_webhook({"signature": mode})), conf)
        assert refused.value.status == status, mode
    single = config(tm, tenantId=tm.tenant_id)
    await channel.verify(inbound(tm.build_webhook({})), single)
    with pytest.raises(VerificationError) as other:
        await channel.verify(inbound(tm.build_webhook({"tenant": "another-tenant"})), single)
    assert other.value.status == 403
    unreachable = config(tm, openIdMetadataUrl="http://127.0.0.1:1/v1/.well-known/openidconfiguration")
    with pytest.raises(VerificationError) as down:
        await TeamsChannel().verify(inbound(tm.build_webhook({})), unreachable)
    assert down.value.status == 503


def test_parse() -> None:
    fake, channel = TeamsFake(), TeamsChannel()
    conf = channel.load_config({"appId": fake.app_id, "appPassword": "x"})
    cases = [
        ({"text": "<at>Support desk</at> hi"}, {"type": "text", "text": "hi"}),
        (
            {"kind": "click", "payload": "P", "text": "Yes"},
            {"type": "postback", "payload": "P", "text": "Yes"},
        ),
        (
            {"kind": "image", "url": "https://m.fake/a.png"},
            {"type": "image", "url": "https://m.fake/a.png", "title": "photo.png"},
        ),
        ({"kind": "added"}, {"type": "event", "event": "conversation_started", "data": {}}),
    ]
    for spec, payload in cases:
        [message] = channel.parse(
            inbound(fake.build_webhook({"user": "29:u", "conversation": "a:c", **spec})), conf
        ).messages
        assert message.payload == payload
        assert message.endpoint == Endpoint("*", "29:u", "a:c")
        assert message.reply_context == {
            "serviceUrl": fake.service_url,
            "conversation": "a:c",
            "bot": fake.bot_id,
        }


async def test_every_payload_and_the_cached_token(
    tm: TeamsFake, http: aiohttp.ClientSession, policy: RetryPolicy, delays: list[float]
) -> None:
    channel, conf = TeamsChannel(policy), config(tm)
    tm.build_webhook({"conversation": "a:c"})
    context = {"serviceUrl": tm.service_url, "conversation": "a:c", "bot": tm.bot_id}
    target = Target(http, conf, Endpoint("*", "29:u", "a:c"), context)
    for payload in SAMPLES:
        await channel.send(target, channel.render(payload).bodies)
    assert all(r.status in (200, 201) for r in tm.requests), [r.body for r in tm.requests if r.status >= 300]
    assert tm.token_requests == 1  # one token for every message
    assert {
        "type": "typing",
        "conversation": {"id": "a:c"},
        "recipient": {"id": "29:u"},
        "from": {"id": tm.bot_id},
    } in tm.sent
    carousel = next(a for a in tm.sent if a.get("attachmentLayout") == "carousel")
    assert [c["contentType"] for c in carousel["attachments"]] == [HERO, HERO]
    [choice] = [a for a in tm.sent if "suggestedActions" in a and a.get("text") == "Size?"]
    assert choice["suggestedActions"]["actions"] == [{"type": "imBack", "title": "Small", "value": "Small"}]
    assert channel.render(SAMPLES[3]).choices == {"Small": "S"}  # the tapped title maps back
    tm.fail_next(1, 429, retry_after="1")
    await channel.send(target, channel.render({"type": "text", "text": "hi"}).bodies)
    assert [r.status for r in tm.requests[-2:]] == [429, 201] and delays == [1.0]
    tm.tokens.clear()  # revoked: refused once, then a new token
    with pytest.raises(SendError):
        await channel.send(target, channel.render({"type": "text", "text": "x"}).bodies)
    await channel.send(target, channel.render({"type": "text", "text": "y"}).bodies)
    assert tm.token_requests == 2 and tm.sent[-1]["text"] == "y"


async def test_credentials(tm: TeamsFake, http: aiohttp.ClientSession) -> None:
    channel = TeamsChannel()
    await channel.test_credentials(http, config(tm))
    await channel.test_credentials(http, config(tm, tenantId=tm.tenant_id))
    for overrides in ({"appPassword": "wrong"}, {"appId": "other"}, {"tenantId": "nowhere"}):
        with pytest.raises(ChannelTestError) as refused:
            await channel.test_credentials(http, config(tm, **overrides))
        assert refused.value.field == "appPassword"
