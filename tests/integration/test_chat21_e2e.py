"""Chat21 end to end with the support-desk bot: observer webhooks (URL secret or raw JWT),
replies through `POST /api/{app}/messages` with Tiledesk-style attributes."""

from __future__ import annotations

from typing import Any

import jwt

from tests.fakes.chat21 import Chat21Fake
from tests.integration.harness import Harness, actions, start

SECRET = "chat21-webhook-secret-0123"
USER = "6d011n62ir097c0143cc42dc"


def config(fake: Chat21Fake) -> dict[str, Any]:
    return {
        "apiUrl": f"{fake.url}/api",
        "appId": fake.app_id,
        "botId": fake.bot_id,
        "jwtKey": fake.jwt_key,
        "webhookSecret": SECRET,
    }


async def chat21_app(aiohttp_client, tmp_path, chat21: Chat21Fake) -> Harness:
    return await start(aiohttp_client, tmp_path, "chat21", config(chat21), chat21, tail=f"?secret={SECRET}")


async def test_conversation_buttons_gallery_and_account_linking(
    aiohttp_client, tmp_path, chat21: Chat21Fake
) -> None:
    h = await chat21_app(aiohttp_client, tmp_path, chat21)
    assert (await h.post({"text": "hello"}))[0] == 200
    [welcome] = await h.sent()
    assert welcome.path == f"/api/{chat21.app_id}/messages" and welcome.status == 200
    token = welcome.headers["Authorization"]  # a raw JWT, no scheme
    assert (
        jwt.decode(token, chat21.jwt_key, algorithms=["HS256"], options={"verify_aud": False})["sub"]
        == chat21.bot_id
    )
    body = welcome.json
    assert (body["recipient_id"], body["channel_type"]) == (USER, "direct")
    assert body["recipient_fullname"] == "Andrea Sponziello"
    assert actions(body) == ["MENU_FAQ", "MENU_ORDER", "MENU_CONTACT", "MENU_LINK", "HANDOFF"]

    await h.post({"kind": "action", "action": "MENU_FAQ", "text": "FAQ"})
    assert h.watch.user_messages()[-1].message.payload["payload"] == "MENU_FAQ"
    [faq] = await h.sent()
    assert actions(faq.json) == ["FAQ_HOURS", "FAQ_SHIPPING", "FAQ_RETURNS", "FAQ_PRICING"]

    await h.post({"kind": "action", "action": "FAQ_PRICING", "text": "Pricing"})
    _, gallery = await h.sent(2)
    assert gallery.json["attributes"]["attachment"]["type"] == "gallery"
    assert actions(gallery.json) == ["PLAN:free", "PLAN:pro", "PLAN:business"]

    await h.post({"kind": "action", "action": "MENU_LINK", "text": "Link"})
    [link] = await h.sent()
    [button] = link.json["attributes"]["attachment"]["buttons"]
    assert button["type"] == "url" and button["link"].startswith("https://accounts.example.com/")


async def test_group_conversation(aiohttp_client, tmp_path, chat21: Chat21Fake) -> None:
    h = await chat21_app(aiohttp_client, tmp_path, chat21)
    await h.post({"channel_type": "group", "text": "hello"})
    [welcome] = await h.sent()
    assert (welcome.json["recipient_id"], welcome.json["channel_type"]) == (chat21.group_id, "group")


async def test_wrong_or_missing_secret_and_forged_jwt_store_nothing(
    aiohttp_client, tmp_path, chat21: Chat21Fake
) -> None:
    h = await chat21_app(aiohttp_client, tmp_path, chat21)
    bare = h.hook.partition("?")[0]
    webhook = chat21.build_webhook({"text": "hello"})
    assert (await h.post_raw(webhook, url=bare))[0] == 401
    assert (await h.post_raw(webhook, url=f"{bare}?secret=guess"))[0] == 403
    assert (await h.post_raw(chat21.build_webhook({"signature": "forged"}), url=bare))[0] == 401
    assert h.watch.created == [] and h.count("conversations") == 0
    assert [e["type"] for e in await h.health()] == ["verify-failure", "create"]
    # A JWT signed with jwtKey (every Chat21 user holds one) is no credential.
    assert (await h.post_raw(chat21.build_webhook({"signature": "jwt"}), url=bare))[0] == 401
    assert h.watch.created == [] and h.count("conversations") == 0


async def test_redelivered_webhook_is_processed_once(aiohttp_client, tmp_path, chat21: Chat21Fake) -> None:
    h = await chat21_app(aiohttp_client, tmp_path, chat21)
    webhook = chat21.build_webhook({"text": "hello"})
    assert (await h.post_raw(webhook))[0] == 200
    assert (await h.post_raw(webhook))[0] == 200
    [event] = h.watch.user_messages()
    await h.watch.turn_done(event.message.id)
    await h.flush(event.conversation.id)
    assert len(await h.sent()) == 1 and h.unseen() == []


async def test_platform_500_is_retried_then_succeeds(aiohttp_client, tmp_path, chat21: Chat21Fake) -> None:
    h = await chat21_app(aiohttp_client, tmp_path, chat21)
    chat21.fail_next(1, 500)
    await h.post({"text": "hello"})
    failed, retried = await h.sent(2)
    assert (failed.status, retried.status) == (500, 200)
    assert len(chat21.messages) == 1


async def test_bot_echo_is_ignored(aiohttp_client, tmp_path, chat21: Chat21Fake) -> None:
    h = await chat21_app(aiohttp_client, tmp_path, chat21)
    assert (await h.post({"kind": "echo", "text": "from the bot"}))[0] == 200
    assert h.watch.created == [] and h.count("messages") == 0


async def test_plain_text_405_is_a_send_failure_with_its_text(
    aiohttp_client, tmp_path, chat21: Chat21Fake
) -> None:
    h = await chat21_app(aiohttp_client, tmp_path, chat21)
    chat21.fail_next(1, 405, body="Recipient Fullname is mandatory")
    event = await h.quiet_turn({"text": "hello"})
    [refused] = await h.sent()  # not retried: a 405 is final
    assert refused.status == 405 and h.unseen() == []
    [failure] = [e for e in await h.health() if e["type"] == "send-failure"]
    assert failure["data"]["status"] == 405
    assert failure["data"]["detail"] == "Recipient Fullname is mandatory"
    assert failure["data"]["messageId"] == h.watch.unauthored()[0].message.id
    assert failure["data"]["conversationId"] == event.conversation.id
