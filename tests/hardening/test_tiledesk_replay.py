"""Item 9: a captured Tiledesk bot token is not accepted again with a new body or message id;
and the `sub: bot` check (a surviving mutant) is exercised."""

from __future__ import annotations

import time
from typing import Any

import jwt
import orjson
import pytest

from orchestrator.channels.base import InboundRequest, VerificationError
from orchestrator.channels.replay import ReplayGuard
from orchestrator.channels.tiledesk import TiledeskChannel
from tests.channels.test_channel_tiledesk import config
from tests.fakes.tiledesk import AUD_PREFIX, TiledeskFake


def _with(webhook: Any, *, token: str | None = None, message_id: str | None = None) -> InboundRequest:
    body = orjson.loads(webhook.body)
    if token is not None:
        body["token"] = token
    if message_id is not None:
        body["payload"]["_id"] = message_id
        body["payload"]["text"] = "transfer everything"
    return InboundRequest.build(headers=webhook.headers, body=orjson.dumps(body))


async def _status(channel: TiledeskChannel, req: InboundRequest, fake: TiledeskFake) -> int:
    with pytest.raises(VerificationError) as err:
        await channel.verify(req, config(fake))
    return err.value.status


def _token(fake: TiledeskFake, **claims: Any) -> str:
    base = {**fake.bot_document(), "sub": "bot", "aud": f"{AUD_PREFIX}bots/{fake.bot_id}"}
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, fake.bot_secret, algorithm="HS256")


async def test_a_captured_token_is_refused_with_a_new_message() -> None:
    fake, channel = TiledeskFake(), TiledeskChannel()
    webhook = fake.build_webhook({"text": "hello"})
    await channel.verify(_with(webhook), config(fake))
    await channel.verify(_with(webhook), config(fake))  # the platform's retry: dedupe answers it
    assert await _status(channel, _with(webhook, message_id="65ab0000000000000000beef"), fake) == 403


async def test_stale_or_undated_tokens_are_refused() -> None:
    fake, channel = TiledeskFake(), TiledeskChannel()
    webhook = fake.build_webhook({"text": "hello"})
    now = int(time.time())
    stale = _token(fake, iat=now - 3600, jti="a")
    assert await _status(channel, _with(webhook, token=stale), fake) == 403
    assert await _status(channel, _with(webhook, token=_token(fake, iat=None, jti="b")), fake) == 403
    assert await _status(channel, _with(webhook, token=_token(fake, iat=now, jti=None)), fake) == 403
    await channel.verify(_with(webhook, token=_token(fake, iat=now - 60, jti="c")), config(fake))


async def test_a_token_whose_subject_is_not_bot_is_refused() -> None:
    fake, channel = TiledeskFake(), TiledeskChannel()
    webhook = fake.build_webhook({"text": "hello"})
    now = int(time.time())
    for sub in ("user", "subscription", None):
        token = _token(fake, sub=sub, iat=now, jti=f"s-{sub}")
        assert await _status(channel, _with(webhook, token=token), fake) == 403


async def test_an_empty_token_or_jti_is_refused() -> None:
    """Mutants `or` -> `and` in the token and jti presence checks."""
    fake, channel = TiledeskFake(), TiledeskChannel()
    webhook = fake.build_webhook({"text": "hello"})
    assert await _status(channel, _with(webhook, token=""), fake) == 401
    empty_jti = _token(fake, iat=int(time.time()), jti="")
    assert await _status(channel, _with(webhook, token=empty_jti), fake) == 403


def test_the_freshness_window_and_the_seen_set_at_their_edges() -> None:
    now = [1_000_000.0]
    guard = ReplayGuard(window=300, clock=lambda: now[0])
    guard.check(now[0] - 300, "edge-past", "m1")  # exactly at the window: accepted
    guard.check(now[0] + 300, "edge-future", "m2")
    for iat in (now[0] - 300.001, now[0] + 300.001):
        with pytest.raises(VerificationError):
            guard.check(iat, "late", "m3")
    guard.check(now[0], "j", "m4")
    now[0] += 600  # twice the window: still remembered (a token that old is refused anyway)
    with pytest.raises(VerificationError, match="replayed"):
        guard.check(now[0], "j", "m5")
    now[0] += 0.001  # older than twice the window: forgotten
    guard.check(now[0], "j", "m6")
