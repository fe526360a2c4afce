"""Qiscus end to end with the support-desk bot: the SDK (signed webhooks, post_comment) and the
Multichannel bot integration (URL secret, `/{app}/bot`, hand-off to an agent and back)."""

from __future__ import annotations

from typing import Any

from tests.fakes.qiscus import QiscusFake
from tests.integration.harness import MAX_ATTEMPTS, Harness, postbacks, start

SECRET = "mc-webhook-secret-0123456789"


def sdk_config(fake: QiscusFake) -> dict[str, Any]:
    return {
        "apiUrl": fake.url,
        "appId": fake.app_id,
        "secretKey": fake.secret_key,
        "botUserId": fake.bot_user_id,
        "signatureToken": fake.signature_token,
    }


def multichannel_config(fake: QiscusFake) -> dict[str, Any]:
    return {
        "mode": "multichannel",
        "apiUrl": fake.url,
        "appId": fake.app_id,
        "secretKey": fake.secret_key,
        "webhookSecret": SECRET,
    }


async def sdk(aiohttp_client, tmp_path, qiscus: QiscusFake) -> Harness:
    return await start(aiohttp_client, tmp_path, "qiscus", sdk_config(qiscus), qiscus)


async def multichannel(aiohttp_client, tmp_path, qiscus: QiscusFake) -> Harness:
    return await start(
        aiohttp_client, tmp_path, "qiscus", multichannel_config(qiscus), qiscus, tail=f"/{SECRET}"
    )


async def test_sdk_conversation_buttons_carousel_and_account_linking(
    aiohttp_client, tmp_path, qiscus: QiscusFake
) -> None:
    h = await sdk(aiohttp_client, tmp_path, qiscus)
    assert await h.post({"text": "hello", "room_id": "42"}) == (200, '{"ok":true}')
    [user_message] = h.watch.user_messages()
    assert user_message.message.payload == {"type": "text", "text": "hello"}

    [welcome] = await h.sent()
    assert welcome.path == "/api/v2.1/rest/post_comment"
    assert welcome.headers["QISCUS-SDK-SECRET"] == qiscus.secret_key
    body = welcome.json
    assert (body["user_id"], body["room_id"], body["type"]) == (qiscus.bot_user_id, "42", "buttons")
    assert postbacks(body) == ["MENU_FAQ", "MENU_ORDER", "MENU_CONTACT", "MENU_LINK", "HANDOFF"]
    assert welcome.status == 200

    # A button click comes back as `button_postback_response` with the button's payload.
    await h.post({"kind": "postback", "payload": "MENU_FAQ", "text": "FAQ", "room_id": "42"})
    assert h.watch.user_messages()[-1].message.payload == {
        "type": "postback",
        "payload": "MENU_FAQ",
        "text": "FAQ",
    }
    [faq] = await h.sent()
    assert faq.json["message"] == "What would you like to know?"
    assert postbacks(faq.json) == ["FAQ_HOURS", "FAQ_SHIPPING", "FAQ_RETURNS", "FAQ_PRICING"]

    await h.post({"kind": "postback", "payload": "FAQ_PRICING", "text": "Pricing", "room_id": "42"})
    intro, carousel = await h.sent(2)
    assert intro.json["message"] == "Here are our plans:"
    assert carousel.json["type"] == "carousel"
    cards = carousel.json["payload"]["cards"]
    assert [c["title"] for c in cards] == ["Free", "Pro", "Business"]
    assert postbacks(carousel.json) == ["PLAN:free", "PLAN:pro", "PLAN:business"]
    assert {
        "label": "Details",
        "type": "link",
        "payload": {"url": "https://shop.example.com/pricing#pro"},
    } in cards[1]["buttons"]

    await h.post({"kind": "postback", "payload": "MENU_LINK", "text": "Link", "room_id": "42"})
    [link] = await h.sent()
    assert link.json["type"] == "account_linking"
    assert link.json["payload"]["url"].startswith("https://accounts.example.com/link?")
    assert link.status == 200


async def test_sdk_forged_and_unsigned_webhooks_store_nothing(
    aiohttp_client, tmp_path, qiscus: QiscusFake
) -> None:
    h = await sdk(aiohttp_client, tmp_path, qiscus)
    status, body = await h.post({"text": "hello", "signature": "forged"})
    assert status == 403 and "QISCUS-SDK-SIGNATURE" in body
    status, _ = await h.post({"text": "hello", "signature": "none"})
    assert status == 401
    assert h.watch.created == []
    assert (h.count("messages"), h.count("conversations"), h.count("inbound_seen")) == (0, 0, 0)
    # One health event for the flood (rate-limited per client and channel).
    events = [e for e in await h.health() if e["type"] == "verify-failure"]
    assert len(events) == 1 and events[0]["data"]["status"] == 403
    assert h.unseen() == []


async def test_sdk_redelivered_webhook_is_processed_once(
    aiohttp_client, tmp_path, qiscus: QiscusFake
) -> None:
    h = await sdk(aiohttp_client, tmp_path, qiscus)
    webhook = qiscus.build_webhook({"text": "hello", "room_id": "7"})
    assert (await h.post_raw(webhook))[0] == 200
    assert (await h.post_raw(webhook))[0] == 200
    [event] = h.watch.user_messages()
    await h.watch.turn_done(event.message.id)
    await h.flush(event.conversation.id)
    assert len(await h.sent()) == 1 and h.unseen() == []
    assert h.count("messages") == 2  # the user's hello and the bot's welcome


async def test_sdk_platform_500_is_retried_then_succeeds(
    aiohttp_client, tmp_path, qiscus: QiscusFake
) -> None:
    h = await sdk(aiohttp_client, tmp_path, qiscus)
    qiscus.fail_next(1, 500)
    await h.post({"text": "hello"})
    failed, retried = await h.sent(2)
    assert (failed.status, retried.status) == (500, 200)
    assert failed.json == retried.json
    assert [e["type"] for e in await h.health()] == ["create"]


async def test_sdk_bot_echo_is_ignored(aiohttp_client, tmp_path, qiscus: QiscusFake) -> None:
    h = await sdk(aiohttp_client, tmp_path, qiscus)
    assert (await h.post({"text": "I am the bot", "from_bot": True}))[0] == 200
    assert h.watch.created == [] and h.count("messages") == 0


async def test_sdk_send_failing_for_good_is_a_health_event(
    aiohttp_client, tmp_path, qiscus: QiscusFake
) -> None:
    h = await sdk(aiohttp_client, tmp_path, qiscus)
    qiscus.fail_next(MAX_ATTEMPTS, 503)
    event = await h.quiet_turn({"text": "hello"})
    assert [r.status for r in await h.sent(MAX_ATTEMPTS)] == [503] * MAX_ATTEMPTS
    [failure] = [e for e in await h.health() if e["type"] == "send-failure"]
    assert failure["data"]["status"] == 503
    assert failure["data"]["detail"] == "injected failure"
    assert failure["data"]["conversationId"] == event.conversation.id
    assert qiscus.secret_key not in str(failure)


async def test_multichannel_conversation_through_the_bot_endpoint(
    aiohttp_client, tmp_path, qiscus: QiscusFake
) -> None:
    h = await multichannel(aiohttp_client, tmp_path, qiscus)
    await h.post({"mode": "multichannel", "text": "hello", "room_id": "900"})
    [welcome] = await h.sent()
    assert welcome.path == f"/{qiscus.app_id}/bot"
    assert welcome.json["sender_email"] == qiscus.sender_email
    assert postbacks(welcome.json)[:2] == ["MENU_FAQ", "MENU_ORDER"] and welcome.status == 200
    # The bot webhook is unsigned: without the URL secret it is refused.
    status, _ = await h.post_raw(
        qiscus.build_webhook({"mode": "multichannel", "text": "x"}),
        url=h.hook.removesuffix(f"/{SECRET}") + "/wrong",
    )
    assert status == 403 and len(h.watch.user_messages()) == 1


async def test_multichannel_handoff_to_an_agent_and_back_to_the_bot(
    aiohttp_client, tmp_path, qiscus: QiscusFake
) -> None:
    h = await multichannel(aiohttp_client, tmp_path, qiscus)
    room = {"mode": "multichannel", "room_id": "900"}
    await h.post({**room, "text": "hello"})
    await h.sent()

    await h.post({**room, "kind": "postback", "payload": "HANDOFF", "text": "Talk to a person"})
    connecting, assign, deactivate = await h.sent(3)
    assert connecting.json["message"].startswith("I'm connecting you")
    assert assign.path == "/api/v1/admin/service/allocate_assign_agent"
    assert assign.form == {"room_id": "900", "channel_id": "963"}
    assert (deactivate.path, deactivate.form) == ("/bot/900/activate", {"is_active": "false"})
    assert qiscus.rooms["900"]["agent"] is not None and not qiscus.rooms["900"]["bot_active"]

    # The agent joins; the user's messages now go to the agent: the bot stays silent.
    assert (await h.post({**room, "kind": "agent_added"}))[0] == 200
    await h.quiet_turn({**room, "text": "is anyone there?"})
    assert h.unseen() == []

    # The agent leaves: the bot is re-activated for the room, then asks the csat question.
    await h.post({**room, "kind": "agent_removed"})
    activate, csat = await h.sent(2)
    assert (activate.path, activate.form) == ("/bot/900/activate", {"is_active": "true"})
    assert csat.json["message"].startswith("How would you rate")
    assert postbacks(csat.json) == ["CSAT_1", "CSAT_2", "CSAT_3", "CSAT_4", "CSAT_5"]

    await h.post({**room, "kind": "postback", "payload": "CSAT_5", "text": "5"})
    [thanks] = await h.sent()
    assert thanks.json["message"] == "Thank you, glad we could help!"


async def test_multichannel_resolved_after_handoff_reactivates_the_bot(
    aiohttp_client, tmp_path, qiscus: QiscusFake
) -> None:
    h = await multichannel(aiohttp_client, tmp_path, qiscus)
    room = {"mode": "multichannel", "room_id": "901"}
    await h.post({**room, "text": "hello"})
    await h.sent()
    await h.post({**room, "kind": "postback", "payload": "HANDOFF", "text": "Talk to a person"})
    await h.sent(3)
    assert (await h.post({**room, "kind": "resolved"}))[0] == 200
    [activate] = await h.sent()
    assert (activate.path, activate.form) == ("/bot/901/activate", {"is_active": "true"})
    assert qiscus.rooms["901"]["bot_active"]
