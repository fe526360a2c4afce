"""The platform-independent half: sender retries, degradation, the interface's invariants."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from pydantic import SecretStr

from orchestrator.channels import degrade
from orchestrator.channels.base import (
    Channel,
    Endpoint,
    InboundRequest,
    RenderError,
    RetryPolicy,
    SendError,
    Target,
    VerificationError,
    check_url_secret,
)
from orchestrator.channels.chat21 import Chat21Channel
from orchestrator.channels.messagemedia import MessageMediaChannel
from orchestrator.channels.qiscus import QiscusChannel
from orchestrator.channels.sender import call, error_detail, parse_retry_after
from orchestrator.channels.tiledesk import TiledeskChannel
from orchestrator.payloads import OutboundPayload
from tests.fakes.messagemedia import MessageMediaFake

CHANNELS: list[Channel[Any]] = [QiscusChannel(), TiledeskChannel(), Chat21Channel(), MessageMediaChannel()]
OUTBOUND_TYPES = {t.model_fields["type"].default for t in OutboundPayload.__origin__.__args__}
EVERY_PAYLOAD: list[dict[str, Any]] = [
    {"type": "text", "text": "t"},
    {"type": "image", "image": "https://x.fake/i.png"},
    {"type": "audio", "audio": "https://x.fake/a.mp3"},
    {"type": "video", "video": "https://x.fake/v.mp4"},
    {"type": "file", "file": "https://x.fake/f.pdf", "title": "F"},
    {"type": "location", "latitude": 1.5, "longitude": 2.5},
    {
        "type": "buttons",
        "text": "b",
        "buttons": [{"label": "L", "type": "postback", "payload": {"payload": "P"}}],
    },
    {"type": "single-choice", "text": "c", "choices": [{"title": "T", "value": "V"}]},
    {"type": "card", "title": "C", "actions": [{"action": "Postback", "title": "A", "payload": "AP"}]},
    {"type": "carousel", "items": [{"title": "C1"}, {"title": "C2"}]},
    {"type": "account_linking", "text": "log in", "url": "https://login.fake"},
    {"type": "custom", "text": "fallback"},
]


# ---------------------------------------------------------------- interface invariants


def test_every_channel_declares_the_interface() -> None:
    names = {c.name for c in CHANNELS}
    assert names == {"qiscus", "tiledesk", "chat21", "messagemedia"}
    for channel in CHANNELS:
        assert "apiUrl" in channel.Config.model_fields
        assert channel.Config.model_config["extra"] == "forbid"
        assert channel.capabilities <= OUTBOUND_TYPES
        assert channel.default_api_url.startswith("http")


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda c: c.name)
def test_every_payload_renders_to_something(channel: Channel[Any]) -> None:
    for payload in EVERY_PAYLOAD:
        bodies = channel.render(payload).bodies
        assert bodies and all(isinstance(b, dict) and b for b in bodies), payload["type"]
    assert channel.render({"type": "typing"}).bodies == []


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda c: c.name)
def test_degraded_choices_show_the_numbers_the_service_maps(channel: Channel[Any]) -> None:
    for payload in EVERY_PAYLOAD:
        if payload["type"] in channel.capabilities or payload["type"] not in degrade.CHOICE_TYPES:
            continue
        text, options = degrade.numbered_options(payload)
        rendered = " ".join(
            str(b.get("text") or b.get("message") or "") for b in channel.render(payload).bodies
        )
        assert text in rendered
        assert all(f"{n}. " in rendered for n in options)


def test_render_returns_the_choices_it_numbered() -> None:
    """`Rendered.choices` is the map of the list a channel numbered (the service keeps it),
    on every implemented channel; nothing for payloads the platform shows natively."""
    from orchestrator.channels.registry import IMPLEMENTATIONS

    for cls in IMPLEMENTATIONS.values():
        channel = cls()
        for payload in EVERY_PAYLOAD:
            choices = channel.render(payload).choices
            if payload["type"] in degrade.CHOICE_TYPES and payload["type"] not in channel.capabilities:
                assert choices == degrade.numbered_options(payload)[1], (channel.name, payload["type"])
            elif channel.name not in ("telegram", "teams") or payload["type"] != "single-choice":
                assert choices == {}, (channel.name, payload["type"])
    for name in ("telegram", "teams"):  # a tapped reply-keyboard key or suggested action
        keyboard = IMPLEMENTATIONS[name]().render(EVERY_PAYLOAD[7])  # comes back as its label
        assert keyboard.choices == {"T": "V"}, name


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda c: c.name)
def test_render_errors_are_explicit(channel: Channel[Any]) -> None:
    with pytest.raises(RenderError, match="text"):
        channel.render({"type": "text"})
    with pytest.raises(RenderError, match="no text"):
        channel.render({"type": "custom", "raw": {"someone-else": {"x": 1}}})
    with pytest.raises(RenderError):
        channel.render({"type": "no-such-type"})


def test_custom_raw_bodies_win_per_channel() -> None:
    raw = {
        "type": "custom",
        "text": "fallback",
        "raw": {
            "tiledesk": {"type": "frame", "text": "", "metadata": {"src": "https://x.fake"}},
            "messagemedia": [{"text": "one"}, {"text": "two"}],
        },
    }
    assert TiledeskChannel().render(raw).bodies == [raw["raw"]["tiledesk"]]
    assert MessageMediaChannel().render(raw).bodies == raw["raw"]["messagemedia"]
    assert Chat21Channel().render(raw).bodies == [{"type": "text", "text": "fallback"}]


ODD_BODIES: list[Any] = [
    {},
    [],
    "text",
    12,
    None,
    {"type": "post_comment_mobile", "payload": {"from": "x", "room": 3, "message": {"text": 5}}},
    {
        "type": "post_comment_mobile",
        "payload": {
            "from": {"email": "u"},
            "room": {"id": 1},
            "message": {"type": "location", "payload": []},
        },
    },
    {"service": [], "resolved_by": 1},
    {"payload": {"request": "x", "attributes": 5, "text": ["a"], "sender": {}}, "hook": "h"},
    {
        "payload": {
            "request": {"request_id": "r", "lead": "l", "participantsAgents": "a"},
            "attributes": {"messagelabel": "x", "subtype": "info"},
            "text": "x",
        }
    },
    {
        "event_type": "message-sent",
        "data": {"attributes": "x", "channel_type": "group", "recipient": "g", "sender": "s", "text": 1},
    },
    {"messages": {"data": [1, {"user_id": 2, "text": {}}]}, "metadata": []},
]


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda c: c.name)
def test_parse_survives_odd_bodies(channel: Channel[Any]) -> None:
    config = {
        "qiscus": {"appId": "a", "secretKey": "s", "botUserId": "b", "webhookSecret": "w"},
        "tiledesk": {"projectId": "6" * 24, "botId": "7" * 24, "botSecret": "s"},
        "chat21": {"appId": "a", "botId": "b", "jwtKey": "k", "webhookSecret": "w"},
        "messagemedia": {"apiKey": "k", "apiSecret": "s", "webhookSecret": "w"},
    }[channel.name]
    for body in ODD_BODIES:
        parsed = channel.parse(InboundRequest.build(body=orjson.dumps(body)), channel.load_config(config))
        assert parsed.response.status in (200, 400)
        for message in parsed.messages:
            assert message.endpoint.thread and message.endpoint.sender


# ---------------------------------------------------------------- base helpers


def test_inbound_request_headers_are_case_insensitive_and_json_optional() -> None:
    req = InboundRequest.build(headers={"X-Hook-Secret": "s"}, body=b"not json")
    assert req.headers["x-hook-secret"] == "s" and req.json is None
    assert InboundRequest.build(body=b'{"a": 1}').json == {"a": 1}


def test_url_secret_from_query_or_last_path_segment() -> None:
    secret = SecretStr("s3cret")
    check_url_secret(InboundRequest.build(query={"secret": "s3cret"}), secret)
    check_url_secret(InboundRequest.build(path="/s3cret/"), secret)
    with pytest.raises(VerificationError) as missing:
        check_url_secret(InboundRequest.build(path=""), secret)
    assert missing.value.status == 401


# ---------------------------------------------------------------- degrade


def test_numbered_options_for_every_choice_shape() -> None:
    assert degrade.numbered_options(
        {
            "type": "single-choice",
            "text": "Size?",
            "choices": [{"title": "S", "value": "SIZE_S"}, {"title": "M", "value": "SIZE_M"}],
        }
    ) == ("Size?\n1. S\n2. M", {"1": "SIZE_S", "2": "SIZE_M"})
    text, options = degrade.numbered_options(
        {
            "type": "carousel",
            "items": [
                {"title": "A", "actions": [{"action": "Postback", "title": "Pick A", "payload": "A"}]},
                {
                    "title": "B",
                    "subtitle": "b",
                    "actions": [
                        {"action": "Open URL", "title": "Site", "url": "https://b.fake"},
                        {"action": "Say something", "title": "Hi", "text": "hello"},
                    ],
                },
            ],
        }
    )
    assert text == "A\n1. Pick A\n\nB\nb\nSite: https://b.fake\n2. Hi"
    assert options == {"1": "A", "2": "hello"}
    assert degrade.numbered_options({"type": "text", "text": "plain"}) == ("plain", {})


def test_as_text_of_non_choice_payloads() -> None:
    assert (
        degrade.as_text({"type": "file", "file": "https://f.fake/x", "title": "X"}) == "X: https://f.fake/x"
    )
    assert (
        degrade.as_text({"type": "location", "latitude": 1, "longitude": 2, "address": "Here"})
        == "Here\nhttps://maps.google.com/?q=1,2"
    )
    assert degrade.as_text({"type": "typing"}) == ""


# ---------------------------------------------------------------- sender


def test_retry_after_and_backoff() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (parse_retry_after(later) or 0) <= 30
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0, jitter=False)
    assert [policy.backoff(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    jittered = RetryPolicy(base_delay=1.0, max_delay=5.0)
    assert all(1.0 <= jittered.backoff(2) <= 2.0 for _ in range(50))  # half to full


def test_error_detail_finds_the_platform_text() -> None:
    assert error_detail(400, {"error": {"message": "m", "detailed_messages": ["d1"]}}, "") == "d1"
    assert error_detail(403, {"success": False, "msg": "no"}, "") == "no"
    assert error_detail(422, {"errors": [{"msg": "Invalid value"}]}, "") == "Invalid value"
    assert error_detail(400, {"message": "Bad Request", "details": ["x"]}, "") == "Bad Request: x"
    assert error_detail(405, None, "Sender Fullname is mandatory\n") == "Sender Fullname is mandatory"
    assert error_detail(401, None, "") == "HTTP 401"


async def test_network_errors_are_retried_then_reported(
    http: aiohttp.ClientSession, policy: RetryPolicy, delays: list[float]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SendError) as err:
        await call(http, "POST", f"http://127.0.0.1:{port}/x", platform="p", policy=policy, json={})
    assert err.value.status is None and err.value.retryable
    assert delays == [0.01, 0.02]


@pytest.fixture
async def stalled() -> AsyncIterator[str]:
    """A server that never answers until the test ends."""
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response()

    app = web.Application()
    app.router.add_post("/", hang)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    release.set()
    await runner.cleanup()


async def test_each_attempt_has_a_timeout(http: aiohttp.ClientSession, stalled: str) -> None:
    seen: list[float] = []

    async def record(seconds: float) -> None:
        seen.append(seconds)

    policy = RetryPolicy(attempts=2, timeout=0.05, base_delay=0.01, jitter=False, sleep=record)
    with pytest.raises(SendError) as err:
        await call(http, "POST", stalled, platform="p", policy=policy, json={})
    assert err.value.status is None and "Timeout" in err.value.detail and seen == [0.01]


async def test_send_reports_how_many_bodies_went_out(
    mm_fake: MessageMediaFake, http: aiohttp.ClientSession, policy: RetryPolicy
) -> None:
    channel = MessageMediaChannel(policy)
    config = channel.load_config(
        {
            "apiUrl": mm_fake.url,
            "apiKey": mm_fake.api_key,
            "apiSecret": mm_fake.api_secret,
            "webhookSecret": "w",
        }
    )
    mm_fake.add_user("u")
    bodies = [{"text": "first"}, {"type": "bogus"}, {"text": "never sent"}]
    with pytest.raises(SendError) as err:
        await channel.send(Target(http, config, Endpoint("facebook", "u", "u"), {"app_user_id": "u"}), bodies)
    assert err.value.sent == 1 and err.value.status == 400
    assert "type bogus is not supported" in err.value.detail
    assert [m["text"] for m in mm_fake.messages["u"]] == ["first"]
