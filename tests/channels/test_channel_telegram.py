"""Telegram channel against the Telegram fake: verification, parsing, every payload rendered and
accepted by the fake, throttling, credentials and webhook set-up."""

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
from orchestrator.channels.telegram import TelegramChannel, TelegramConfig, markdown_to_html
from tests.channels.support import inbound
from tests.fakes.base import serving
from tests.fakes.telegram import TelegramFake

CARD = {
    "type": "card",
    "title": "Flat <white> & co",
    "subtitle": "2.50",
    "image": "https://img.fake/fw.png",
    "actions": [
        {"action": "Postback", "title": "Order", "payload": "ORDER_FW"},
        {"action": "Open URL", "title": "Beans", "url": "https://cafe.fake/beans"},
        {"action": "Say something", "title": "Hi", "text": "hello there"},
    ],
}
SAMPLES: list[dict[str, Any]] = [
    {"type": "text", "text": "1 < 2 & *stars* [x](y) _under_"},
    {
        "type": "text",
        "text": "**Bold** and _it_ <tag> & `co<de>` [site](https://x.fake/?a=1&b=2)",
        "markdown": True,
    },
    {
        "type": "buttons",
        "text": "Pick",
        "buttons": [
            {"label": "Yes", "type": "postback", "payload": {"payload": "Y"}},
            {"label": "Menu", "type": "link", "payload": {"url": "https://cafe.fake/menu"}},
            {"label": "Call", "type": "phone", "payload": {"phone": "+33123"}},
        ],
        "quick_replies": [{"title": "No", "value": "N"}],
    },
    {"type": "single-choice", "text": "Size?", "choices": [{"title": "Small", "value": "S"}]},
    CARD,
    {"type": "card", "title": "No image", "actions": []},
    {"type": "carousel", "items": [CARD, {**CARD, "title": "Latte"}]},
    {"type": "account_linking", "text": "Log in", "url": "https://login.fake/x"},
    {"type": "account_linking", "text": "Log in", "url": "https://other.fake/x"},
    {"type": "image", "image": "https://img.fake/cup.png", "title": "Your cup"},
    {"type": "image", "image": "https://img.fake/dance.gif"},
    {"type": "file", "file": "https://files.fake/receipt.pdf"},
    {"type": "audio", "audio": "https://files.fake/a.mp3"},
    {"type": "video", "video": "https://files.fake/v.mp4"},
    {"type": "location", "latitude": 48.85, "longitude": 2.35},
    {"type": "location", "latitude": 48.85, "longitude": 2.35, "title": "Shop", "address": "1 rue X"},
    {"type": "typing"},
    {"type": "custom", "raw": {"telegram": {"method": "sendDice", "emoji": "🎲"}}, "text": "dice"},
    {"type": "custom", "raw": {"slack": {}}, "text": "fallback"},
]


def config(fake: TelegramFake, **overrides: Any) -> TelegramConfig:
    raw = {
        "apiUrl": fake.url or "http://127.0.0.1:1",
        "botToken": fake.token,
        "loginUrlDomains": ["login.fake"],
    }
    return TelegramChannel().load_config({**raw, **overrides})


@pytest.fixture
async def tg() -> Any:
    async for fake in serving(TelegramFake()):
        yield fake


async def test_verify_the_url_token_and_the_secret_header() -> None:
    fake, channel = TelegramFake(), TelegramChannel()
    webhook = fake.build_webhook({})
    await channel.verify(inbound(webhook, path=f"/{fake.token}"), config(fake))
    for path, status in (("", 401), ("/123:guessed", 403)):
        with pytest.raises(VerificationError) as refused:
            await channel.verify(inbound(webhook, path=path), config(fake))
        assert refused.value.status == status
    fake.webhook["secret_token"] = "s3cret"
    with_secret = config(fake, webhookSecret="s3cret")
    await channel.verify(inbound(fake.build_webhook({}), path=f"/{fake.token}"), with_secret)
    for secret, status in (("none", 401), ("forged", 403)):
        with pytest.raises(VerificationError) as refused:
            await channel.verify(
                inbound(fake.build_webhook({"secret": secret}), path=f"/{fake.token}"), with_secret
            )
        assert refused.value.status == status


def test_parse_messages_callbacks_groups_and_bots() -> None:
    fake, channel = TelegramFake(), TelegramChannel()
    [text] = channel.parse(inbound(fake.build_webhook({"text": "hi"})), config(fake)).messages
    assert text.payload == {"type": "text", "text": "hi"}
    assert text.endpoint == Endpoint("*", "777001", "777001")
    assert text.acks == ({"method": "sendChatAction", "chat_id": "777001", "action": "typing"},)
    group = fake.build_webhook({"text": "@DeskBot hello", "chat": -100200, "chat_type": "supergroup"})
    [addressed] = channel.parse(inbound(group), config(fake)).messages
    assert addressed.payload["text"] == "hello"
    assert addressed.endpoint == Endpoint("*", "777001", "-100200")
    assert addressed.reply_context["chat_id"] == "-100200"
    [click] = channel.parse(
        inbound(fake.build_webhook({"kind": "callback", "data": "say::hello there"})), config(fake)
    ).messages
    assert click.payload == {"type": "text", "text": "hello there"}
    assert click.acks[0]["method"] == "answerCallbackQuery"
    [bot] = channel.parse(inbound(fake.build_webhook({"kind": "bot"})), config(fake)).messages
    assert bot.is_echo
    [photo] = channel.parse(
        inbound(fake.build_webhook({"kind": "photo", "text": "look"})), config(fake)
    ).messages
    assert photo.payload == {"type": "image", "url": "telegram:file/AgAD-large", "title": "look"}
    edited = inbound(fake.build_webhook({}))
    assert (
        channel.parse(
            edited.__class__.build(body=b'{"update_id": 1, "edited_message": {}}'), config(fake)
        ).messages
        == []
    )
    assert channel.parse(edited.__class__.build(body=b"nope"), config(fake)).response.status == 400


def test_markdown_becomes_escaped_html() -> None:
    assert markdown_to_html("**a<b** & _c_ `x<y` [l](https://u.fake/?a=1&b=2) 2*3*4") == (
        '<b>a&lt;b</b> &amp; <i>c</i> <code>x&lt;y</code> <a href="https://u.fake/?a=1&amp;b=2">l</a> 2*3*4'
    )


async def test_every_payload_is_accepted_by_the_platform(
    tg: TelegramFake, http: aiohttp.ClientSession
) -> None:
    channel, conf = TelegramChannel(), config(tg)
    tg.chats.add("42")
    for payload in SAMPLES:
        bodies = channel.render(payload).bodies
        await channel.send(Target(http, conf, Endpoint("*", "7", "42"), {"chat_id": "42"}), bodies)
    methods = [m["method"] for m in tg.sent]
    assert "sendAnimation" in methods and "sendVenue" in methods and "sendDocument" in methods
    assert "sendDice" in methods  # a custom payload's raw call, sent as it is
    logins = [m for m in tg.sent if m.get("text") == "Log in"]
    assert logins[0]["reply_markup"]["inline_keyboard"][0][0]["login_url"] == {"url": "https://login.fake/x"}
    assert logins[1]["reply_markup"]["inline_keyboard"][0][0] == {
        "text": "Log in",
        "url": "https://other.fake/x",
    }
    assert tg.actions == [{"chat_id": "42", "action": "typing"}]


async def test_send_errors_and_flood_control(
    tg: TelegramFake, http: aiohttp.ClientSession, policy: RetryPolicy, delays: list[float]
) -> None:
    channel, conf = TelegramChannel(policy), config(tg)
    tg.chats.add("42")
    tg.throttle_next(1, retry_after=1)
    await channel.send(
        Target(http, conf, Endpoint("*", "7", "42"), {}),
        channel.render({"type": "text", "text": "hi"}).bodies,
    )
    assert delays == [1.0]  # Telegram's parameters.retry_after, not the backoff
    with pytest.raises(SendError) as unknown:
        await channel.send(
            Target(http, conf, Endpoint("*", "7", "99"), {}),
            channel.render({"type": "text", "text": "hi"}).bodies,
        )
    assert unknown.value.detail == "Bad Request: chat not found" and unknown.value.status == 400
    wrong = config(tg, botToken="1:wrong")
    with pytest.raises(SendError) as unauthorized:
        await channel.send(
            Target(http, wrong, Endpoint("*", "7", "42"), {}),
            channel.render({"type": "text", "text": "hi"}).bodies,
        )
    assert unauthorized.value.status == 401


async def test_credentials_and_set_webhook(
    tg: TelegramFake, http: aiohttp.ClientSession, policy: RetryPolicy
) -> None:
    channel = TelegramChannel(policy)
    await channel.test_credentials(http, config(tg))
    with pytest.raises(ChannelTestError) as refused:
        await channel.test_credentials(http, config(tg, botToken="1:wrong"))
    assert refused.value.field == "botToken"
    await channel.setup(http, config(tg, webhookSecret="abc"), "https://bot.fake/webhooks/v1/acme/telegram")
    assert tg.webhook["url"] == f"https://bot.fake/webhooks/v1/acme/telegram/{tg.token}"
    assert tg.webhook["secret_token"] == "abc"
    with pytest.raises(ChannelTestError) as plain_http:
        await channel.setup(http, config(tg), "http://127.0.0.1:3100/webhooks/v1/acme/telegram")
    assert plain_http.value.field == "botToken" and "HTTPS" in plain_http.value.message


def _paragraphs(count: int, words: int = 60) -> str:
    return "\n\n".join(" ".join(f"w{p}x{i}" for i in range(words)) for p in range(count))


async def test_long_texts_and_captions_are_split_not_refused(
    tg: TelegramFake, http: aiohttp.ClientSession
) -> None:
    channel, conf = TelegramChannel(), config(tg)
    tg.chats.add("42")
    target = Target(http, conf, Endpoint("*", "7", "42"), {"chat_id": "42"})
    long_text = _paragraphs(30)  # ~12 000 characters
    buttons = {
        "type": "buttons",
        "text": long_text,
        "buttons": [{"label": "Yes", "type": "postback", "payload": {"payload": "Y"}}],
    }
    card = {**CARD, "subtitle": _paragraphs(5) + " <&>"}
    for payload in (
        {"type": "text", "text": long_text},
        {"type": "text", "text": "**Long** " + long_text, "markdown": True},
        buttons,
        card,
        {"type": "image", "image": "https://img.fake/cup.png", "title": _paragraphs(4)},
    ):
        tg.sent.clear()
        await channel.send(target, channel.render(payload).bodies)
        assert len(tg.sent) > 1, payload["type"]
        shown = [m.get("text") or m.get("caption") for m in tg.sent]
        # Nothing lost, every piece ends on a paragraph boundary (words whole).
        plain = [s.replace("<b>", "").replace("</b>", "") for s in shown]
        assert all(not p.endswith(("x", "w")) and "\n\n" not in p[-2:] for p in plain)
        assert " ".join(" ".join(plain).split()).count("w0x59") == 1
        keyboards = [m for m in tg.sent if "inline_keyboard" in m.get("reply_markup", {})]
        if payload is buttons or payload is card:
            assert keyboards == [tg.sent[-1]]  # the buttons under the last piece
    assert "w29x59" in tg.sent[0]["caption"] or tg.sent[-1]["text"].endswith("w3x59")


def test_split_text_on_paragraphs_lines_words_and_hard_cuts() -> None:
    from orchestrator.channels.split import split_text, utf16_length

    assert split_text("short", 10) == ["short"]
    assert split_text("aaaa bbbb\n\ncccc dddd", 14) == ["aaaa bbbb", "cccc dddd"]
    assert split_text("aaaa bbbb\ncccc dddd", 14) == ["aaaa bbbb", "cccc dddd"]
    assert split_text("aaaa bbbb cccc dddd", 14) == ["aaaa bbbb cccc", "dddd"]
    assert split_text("a" * 25, 10) == ["a" * 10, "a" * 10, "a" * 5]
    assert split_text("ab cdefghijklmnop", 10) == ["ab cdefghi", "jklmnop"]  # no tiny first piece
    assert split_text("aaa bbb ccc", 4, first=3) == ["aaa", "bbb", "ccc"]
    assert [utf16_length(p) for p in split_text("😀" * 6, 4, utf16_length)] == [4, 4, 4]
