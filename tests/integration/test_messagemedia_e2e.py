"""MessageMedia Conversations end to end with the support-desk bot: callbacks with a URL secret,
replies with Basic auth; buttons, carousels and account linking degraded to numbered text whose
numbers (typed or tapped as reply actions) come back as the options' payloads."""

from __future__ import annotations

import base64
from typing import Any

from tests.fakes.messagemedia import MessageMediaFake
from tests.integration.harness import Harness, start

SECRET = "mm-callback-secret-0123"
USER = "3898c5e4-73cc-44f9-812f-3698a4c3bb1d"


def config(fake: MessageMediaFake) -> dict[str, Any]:
    return {"apiUrl": fake.url, "apiKey": fake.api_key, "apiSecret": fake.api_secret, "webhookSecret": SECRET}


async def mm_app(aiohttp_client, tmp_path, messagemedia: MessageMediaFake) -> Harness:
    return await start(
        aiohttp_client, tmp_path, "messagemedia", config(messagemedia), messagemedia, tail=f"/{SECRET}"
    )


def replies(body: dict[str, Any]) -> dict[str, str]:
    return {a["responseText"]: a["displayText"] for a in body.get("actions", [])}


async def test_conversation_with_numbered_choices(
    aiohttp_client, tmp_path, messagemedia: MessageMediaFake
) -> None:
    h = await mm_app(aiohttp_client, tmp_path, messagemedia)
    assert (await h.post({"text": "hello"}))[0] == 200
    [welcome] = await h.sent()
    assert welcome.path == f"/beta/conversations/users/{USER}/messages" and welcome.status == 200
    expected = base64.b64encode(f"{messagemedia.api_key}:{messagemedia.api_secret}".encode())
    assert welcome.headers["Authorization"] == f"Basic {expected.decode()}"
    assert (welcome.json["channel"], welcome.json["type"]) == ("facebook", "actions")
    assert "1. FAQ" in welcome.json["text"] and "5. Talk to a person" in welcome.json["text"]
    assert replies(welcome.json) == {
        "1": "FAQ",
        "2": "Order status",
        "3": "Contact us",
        "4": "Link my account",
        "5": "Talk to a person",
    }

    # A tapped reply action sends its number back: it becomes the option's payload.
    await h.post({"kind": "reply", "text": "1"})
    assert h.watch.user_messages()[-1].message.payload == {
        "type": "postback",
        "payload": "MENU_FAQ",
        "text": "1",
    }
    [faq] = await h.sent()
    assert replies(faq.json) == {
        "1": "Opening hours",
        "2": "Shipping",
        "3": "Returns & refunds",
        "4": "Pricing",
    }

    # The carousel: cards as text, links as "label: URL", choices numbered.
    await h.post({"text": " 4 "})
    intro, carousel = await h.sent(2)
    assert intro.json == {"channel": "facebook", "text": "Here are our plans:"}
    text = carousel.json["text"]
    assert "Free\n0 EUR / month" in text and "Details: https://shop.example.com/pricing#pro" in text
    assert replies(carousel.json) == {"1": "Choose Free", "2": "Choose Pro", "3": "Choose Business"}

    await h.post({"text": "2"})  # typed, not tapped: the same
    [chosen] = await h.sent()
    assert chosen.json["text"].startswith("Great choice: the Pro plan.")
    assert replies(chosen.json) == {"1": "Yes, contact me", "2": "Main menu"}

    # Account linking, degraded to text with the URL.
    await h.post({"text": "link my account"})
    [link] = await h.sent()
    assert "type" not in link.json
    assert link.json["text"].startswith("Log in to link your account")
    assert "https://accounts.example.com/link?" in link.json["text"]

    # A number that no option has stays text (the bot does not understand it).
    await h.post({"text": "9"})
    assert h.watch.user_messages()[-1].message.payload == {"type": "text", "text": "9"}


async def test_wrong_or_missing_callback_secret_stores_nothing(
    aiohttp_client, tmp_path, messagemedia: MessageMediaFake
) -> None:
    h = await mm_app(aiohttp_client, tmp_path, messagemedia)
    webhook = messagemedia.build_webhook({"text": "hello"})
    base = h.hook.removesuffix(f"/{SECRET}")
    assert (await h.post_raw(webhook, url=base))[0] == 401
    assert (await h.post_raw(webhook, url=f"{base}/guessed"))[0] == 403
    assert h.watch.created == [] and h.count("messages") == 0
    [failure] = [e for e in await h.health() if e["type"] == "verify-failure"]
    assert failure["data"] == {"status": 401, "reason": "missing URL secret"}


async def test_redelivered_callback_is_processed_once(
    aiohttp_client, tmp_path, messagemedia: MessageMediaFake
) -> None:
    h = await mm_app(aiohttp_client, tmp_path, messagemedia)
    webhook = messagemedia.build_webhook({"text": "hello"})
    assert (await h.post_raw(webhook))[0] == 200
    assert (await h.post_raw(webhook))[0] == 200
    [event] = h.watch.user_messages()
    await h.watch.turn_done(event.message.id)
    await h.flush(event.conversation.id)
    assert len(await h.sent()) == 1 and h.unseen() == []


async def test_platform_500_is_retried_then_succeeds(
    aiohttp_client, tmp_path, messagemedia: MessageMediaFake
) -> None:
    h = await mm_app(aiohttp_client, tmp_path, messagemedia)
    messagemedia.fail_next(1, 500)
    await h.post({"text": "hello"})
    failed, retried = await h.sent(2)
    assert (failed.status, retried.status) == (500, 200)
    assert failed.json == retried.json


async def test_echo_is_ignored(aiohttp_client, tmp_path, messagemedia: MessageMediaFake) -> None:
    h = await mm_app(aiohttp_client, tmp_path, messagemedia)
    assert (await h.post({"kind": "echo", "text": "sent by the page"}))[0] == 200
    assert h.watch.created == [] and h.count("messages") == 0
