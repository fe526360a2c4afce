"""Tiledesk end to end with the support-desk bot: the external bot protocol (JWT-verified
notifications, replies through the REST API), resthook desk events, hand-off and release."""

from __future__ import annotations

from typing import Any

import jwt

from tests.fakes.tiledesk import TiledeskFake
from tests.integration.harness import Harness, actions, start


def config(fake: TiledeskFake) -> dict[str, Any]:
    return {
        "apiUrl": fake.url,
        "projectId": fake.project_id,
        "botId": fake.bot_id,
        "botSecret": fake.bot_secret,
        "subscriptionSecret": fake.subscription_secret,
    }


async def tiledesk_app(aiohttp_client, tmp_path, tiledesk: TiledeskFake) -> Harness:
    return await start(aiohttp_client, tmp_path, "tiledesk", config(tiledesk), tiledesk)


REQUEST = "support-group-64690469599137001a6dc6f5-0000000000000000000000000000000a"


async def test_conversation_buttons_gallery_and_account_linking(
    aiohttp_client, tmp_path, tiledesk: TiledeskFake
) -> None:
    h = await tiledesk_app(aiohttp_client, tmp_path, tiledesk)
    status, body = await h.post({"text": "hello", "request_id": REQUEST})
    assert (status, body) == (200, '{"success":true}')  # answered at once, replies come by REST
    [welcome] = await h.sent()
    assert welcome.path == f"/{tiledesk.project_id}/requests/{REQUEST}/messages"
    scheme, _, token = welcome.headers["Authorization"].partition(" ")
    assert scheme == "JWT" and jwt.decode(token, options={"verify_signature": False})["sub"] == "bot"
    assert welcome.json["text"].startswith("Hi! I'm the support bot")
    assert welcome.json["attributes"]["attachment"]["type"] == "template"
    assert actions(welcome.json) == ["MENU_FAQ", "MENU_ORDER", "MENU_CONTACT", "MENU_LINK", "HANDOFF"]
    assert welcome.status == 200

    # A click on an action button comes back as `attributes.action`.
    await h.post({"kind": "action", "action": "MENU_FAQ", "text": "FAQ", "request_id": REQUEST})
    assert h.watch.user_messages()[-1].message.payload == {
        "type": "postback",
        "payload": "MENU_FAQ",
        "text": "FAQ",
    }
    [faq] = await h.sent()
    assert actions(faq.json) == ["FAQ_HOURS", "FAQ_SHIPPING", "FAQ_RETURNS", "FAQ_PRICING"]

    await h.post({"kind": "hidden_action", "action": "FAQ_PRICING", "request_id": REQUEST})
    intro, gallery = await h.sent(2)
    assert intro.json == {"type": "text", "text": "Here are our plans:"}
    attachment = gallery.json["attributes"]["attachment"]
    assert (gallery.json["type"], attachment["type"]) == ("gallery", "gallery")
    assert [item["title"] for item in attachment["gallery"]] == ["Free", "Pro", "Business"]
    assert attachment["gallery"][0]["preview"] == {"src": "https://shop.example.com/img/free.png"}
    assert actions(gallery.json) == ["PLAN:free", "PLAN:pro", "PLAN:business"]

    await h.post({"kind": "action", "action": "MENU_LINK", "text": "Link", "request_id": REQUEST})
    [link] = await h.sent()
    [button] = link.json["attributes"]["attachment"]["buttons"]
    assert (button["type"], button["value"]) == ("url", "Log in")
    assert button["link"].startswith("https://accounts.example.com/link?")


async def test_forged_and_unsigned_notifications_store_nothing(
    aiohttp_client, tmp_path, tiledesk: TiledeskFake
) -> None:
    h = await tiledesk_app(aiohttp_client, tmp_path, tiledesk)
    assert (await h.post({"text": "hello", "signature": "forged"}))[0] == 403
    assert (await h.post({"text": "hello", "signature": "none"}))[0] == 401
    assert (await h.post({"text": "hello", "via": "resthook", "signature": "forged"}))[0] == 403
    assert h.watch.created == []
    assert (h.count("messages"), h.count("conversations"), h.count("inbound_seen")) == (0, 0, 0)
    assert [e["type"] for e in await h.health()] == ["verify-failure", "create"]
    assert h.unseen() == []


async def test_redelivered_notification_is_processed_once(
    aiohttp_client, tmp_path, tiledesk: TiledeskFake
) -> None:
    h = await tiledesk_app(aiohttp_client, tmp_path, tiledesk)
    webhook = tiledesk.build_webhook({"text": "hello"})
    for _ in range(3):
        assert (await h.post_raw(webhook))[0] == 200
    [event] = h.watch.user_messages()
    await h.watch.turn_done(event.message.id)
    await h.flush(event.conversation.id)
    assert len(await h.sent()) == 1 and h.unseen() == []


async def test_platform_500_is_retried_then_succeeds(
    aiohttp_client, tmp_path, tiledesk: TiledeskFake
) -> None:
    h = await tiledesk_app(aiohttp_client, tmp_path, tiledesk)
    tiledesk.fail_next(2, 502)
    await h.post({"text": "hello"})
    calls = await h.sent(3)
    assert [c.status for c in calls] == [502, 502, 200]
    assert calls[0].json == calls[2].json


async def test_bot_echo_and_agent_messages_never_run_the_bot(
    aiohttp_client, tmp_path, tiledesk: TiledeskFake
) -> None:
    h = await tiledesk_app(aiohttp_client, tmp_path, tiledesk)
    assert (await h.post({"kind": "echo", "text": "my own reply"}))[0] == 200
    assert h.watch.created == []
    # An agent's message in the request is stored without author, and not echoed back.
    assert (await h.post({"kind": "agent_text", "text": "Hello, Agent One here"}))[0] == 200
    [agent] = h.watch.created
    assert agent.message.author_id is None and agent.source is not None
    assert agent.message.payload == {"type": "text", "text": "Hello, Agent One here"}
    await h.flush(agent.conversation.id)
    assert h.unseen() == [] and h.count("messages") == 1


async def test_handoff_to_an_agent_and_back_to_the_bot(
    aiohttp_client, tmp_path, tiledesk: TiledeskFake
) -> None:
    h = await tiledesk_app(aiohttp_client, tmp_path, tiledesk)
    request = {"request_id": REQUEST}
    await h.post({**request, "text": "hello"})
    await h.sent()

    await h.post({**request, "kind": "action", "action": "HANDOFF", "text": "Talk to a person"})
    connecting, route = await h.sent(2)
    assert connecting.json["text"].startswith("I'm connecting you")
    assert (route.method, route.path) == ("PUT", f"/{tiledesk.project_id}/requests/{REQUEST}/agent")
    assert tiledesk.conversations[REQUEST]["participants"] == [tiledesk.agent_id]

    # Desk events arrive through the resthook subscription (the bot has left the request).
    joined = {**request, "via": "resthook", "kind": "member_joined"}
    assert await h.post(joined) == (200, '{"success":true}')
    await h.quiet_turn({**request, "text": "hello? anyone?"})
    assert h.unseen() == []  # the agent has it: no bot reply

    await h.post({**request, "via": "resthook", "kind": "member_left"})
    readd, csat = await h.sent(2)
    assert (readd.path, readd.json) == (
        f"/{tiledesk.project_id}/requests/{REQUEST}/participants",
        {"member": f"bot_{tiledesk.bot_id}"},
    )
    assert csat.json["text"].startswith("How would you rate")
    assert actions(csat.json) == ["CSAT_1", "CSAT_2", "CSAT_3", "CSAT_4", "CSAT_5"]
    assert f"bot_{tiledesk.bot_id}" in tiledesk.conversations[REQUEST]["participants"]

    await h.post({**request, "kind": "action", "action": "CSAT_2", "text": "2"})
    [answer] = await h.sent()
    assert answer.json["text"] == "Thanks for telling us. We'll do better."


async def test_desk_events_of_unknown_requests_are_ignored(
    aiohttp_client, tmp_path, tiledesk: TiledeskFake
) -> None:
    h = await tiledesk_app(aiohttp_client, tmp_path, tiledesk)
    assert (await h.post({"via": "resthook", "kind": "member_joined"}))[0] == 200
    assert (await h.post({"kind": "request_close"}))[0] == 200
    assert h.count("conversations") == 0 and h.watch.created == []
