"""The example support-desk bot, end to end through the API: every branch driven with collect."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from examples import orders_api
from orchestrator.api import BOTS as BOT_RUNNER
from orchestrator.api import SERVICES
from orchestrator.app import create_app
from tests.conftest import ApiClient, make_settings, new_client

BOTS = str(Path(__file__).resolve().parents[2] / "bots")
OPEN = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # a Wednesday, 11:00 in Paris
CLOSED = datetime(2026, 11, 21, 22, 0, tzinfo=UTC)  # a Saturday night


class Chat:
    """One user talking to the bot through `messages/collect`."""

    def __init__(self, client: ApiClient, user_id: str, conversation_id: str) -> None:
        self.client, self.user_id, self.conversation_id = client, user_id, conversation_id

    async def say(self, payload: str | dict[str, Any]) -> list[dict[str, Any]]:
        if isinstance(payload, str):
            payload = {"type": "text", "text": payload}
        reply = await self.client.post(
            "/messages/collect",
            {
                "conversationId": self.conversation_id,
                "authorId": self.user_id,
                "payload": payload,
                "timeout": 10_000,
            },
            status=201,
        )
        return [r["payload"] for r in reply["responses"]]

    async def click(self, payload: str) -> list[dict[str, Any]]:
        return await self.say({"type": "postback", "payload": payload})

    async def event(self, name: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.client.post(
            f"/conversations/{self.conversation_id}/events", {"event": name, "data": data or {}}, status=200
        )


def texts(payloads: list[dict[str, Any]]) -> str:
    return " | ".join(p.get("text", "") for p in payloads)


def postbacks(payload: dict[str, Any]) -> list[str]:
    buttons = [b["payload"].get("payload") for b in payload.get("buttons", [])]
    chips = [c["value"] for c in payload.get("quick_replies", []) + payload.get("choices", [])]
    return [p for p in buttons + chips if p]


@pytest.fixture
async def orders(aiohttp_server):
    return await aiohttp_server(orders_api.make_app())


async def start_chat(aiohttp_client, tmp_path, orders, clock=lambda: OPEN) -> tuple[Chat, TestClient]:
    env = {"ORDERS_API_URL": str(orders.make_url("")).rstrip("/"), "ORDERS_API_TOKEN": "demo-token"}
    settings = make_settings(tmp_path, bots={"dir": BOTS, "env": env})
    http = await aiohttp_client(create_app(settings, clock=clock))
    client = await new_client(http)
    await client.post("/sync", {"bot": "support-desk"}, status=200)
    user_id, conversation_id = await client.conversation()
    return Chat(client, user_id, conversation_id), http


async def test_greeting_with_buttons_and_quick_replies(aiohttp_client, tmp_path, orders) -> None:
    chat, _ = await start_chat(aiohttp_client, tmp_path, orders)
    replies = await chat.say("hello")
    assert replies[0]["type"] == "buttons"
    assert postbacks(replies[0]) == ["MENU_FAQ", "MENU_ORDER", "MENU_CONTACT", "MENU_LINK", "HANDOFF"]


async def test_faq_by_keywords_and_the_pricing_carousel(aiohttp_client, tmp_path, orders) -> None:
    chat, _ = await start_chat(aiohttp_client, tmp_path, orders)
    await chat.say("hi")
    assert "ship within 2 business days" in texts(await chat.say("how much is shipping?"))
    replies = await chat.click("MENU_FAQ")
    assert postbacks(replies[0])[:4] == ["FAQ_HOURS", "FAQ_SHIPPING", "FAQ_RETURNS", "FAQ_PRICING"]
    replies = await chat.click("FAQ_PRICING")
    carousel = next(r for r in replies if r["type"] == "carousel")
    assert [card["title"] for card in carousel["items"]] == ["Free", "Pro", "Business"]
    replies = await chat.click("PLAN:pro")
    assert "Pro plan" in texts(replies)


async def test_order_status_through_the_http_step(aiohttp_client, tmp_path, orders) -> None:
    chat, _ = await start_chat(aiohttp_client, tmp_path, orders)
    await chat.say("hi")
    assert "order number" in texts(await chat.click("MENU_ORDER"))
    assert "letter and five digits" in texts(await chat.say("1234"))
    assert "A12345 is shipped" in texts(await chat.say("a12345"))
    await chat.click("MENU_ORDER")
    assert "couldn't find order Z99999" in texts(await chat.say("Z99999"))


async def test_order_status_when_the_orders_api_is_down(aiohttp_client, tmp_path, orders) -> None:
    chat, _ = await start_chat(aiohttp_client, tmp_path, orders)
    await orders.close()
    await chat.say("hi")
    await chat.click("MENU_ORDER")
    assert "can't reach our order system" in texts(await chat.say("A12345"))


async def test_email_form_validates_and_reprompts(aiohttp_client, tmp_path, orders) -> None:
    chat, _ = await start_chat(aiohttp_client, tmp_path, orders)
    await chat.say("hi")
    assert texts(await chat.click("MENU_CONTACT")) == "What is your email address?"
    assert "doesn't look like an email" in texts(await chat.say("not an email"))
    assert "can't receive mail" in texts(await chat.say("bob@example.invalid"))
    assert "tell us" in texts(await chat.say("bob@example.com"))
    assert "more detail" in texts(await chat.say("help"))
    confirm = await chat.say("My parcel arrived damaged.")
    assert "bob@example.com" in texts(confirm) and "CONTACT_SEND" in postbacks(confirm[0])
    assert "ticket number is T-" in texts(await chat.click("CONTACT_SEND"))


async def test_account_linking_success_and_timeout(aiohttp_client, tmp_path, orders) -> None:
    chat, http = await start_chat(aiohttp_client, tmp_path, orders)
    await chat.say("hi")
    replies = await chat.click("MENU_LINK")
    link = next(r for r in replies if r["type"] == "account_linking")
    assert link["url"].startswith("https://") and chat.conversation_id in link["url"]
    assert link["text"] and link["params"]["button_text"] == "Log in"
    linked = await chat.event("account_linked", {"account_id": "ACME-42"})
    assert "ACME-42 is now linked" in texts([r["payload"] for r in linked["responses"]])
    assert "already linked" in texts(await chat.click("MENU_LINK"))

    # Another user: the wait times out (the timer fires, as the service would after 10 min).
    user_id, conversation_id = await chat.client.conversation()
    other = Chat(chat.client, user_id, conversation_id)
    await other.click("MENU_LINK")
    store = http.app[SERVICES].store
    timers = await store.due_timers(datetime(2100, 1, 1, tzinfo=UTC), 10)
    [timer] = [t for t in timers if t.conversation_id == conversation_id and t.data.get("kind") == "timeout"]
    services = http.app[SERVICES]  # timers are internal: the API refuses a "timer" event
    conversation = await services.conversations.get(chat.client.id, conversation_id)
    outcome = await http.app[BOT_RUNNER].inject_event(
        chat.client.id, conversation, "timer", {"timer_id": timer.timer_id, **timer.data}
    )
    assert outcome is not None
    assert "didn't get a confirmation" in texts([m.payload for m in outcome.replies])
    assert await chat.client.post(f"/conversations/{conversation_id}/events", {"event": "timer"}, status=400)


async def test_handoff_in_hours_then_release_and_csat(aiohttp_client, tmp_path, orders) -> None:
    chat, _ = await start_chat(aiohttp_client, tmp_path, orders)
    await chat.say("hi")
    assert "connecting you" in texts(await chat.click("HANDOFF"))
    assert await chat.say("are you there?") == []  # the desk has it: the bot stays silent
    assert (await chat.event("agent_joined"))["handoff"] == "agent"
    released = await chat.event("agent_released")
    assert "How would you rate" in texts([r["payload"] for r in released["responses"]])
    assert "glad we could help" in texts(await chat.click("CSAT_5"))


async def test_handoff_out_of_hours_offers_the_form(aiohttp_client, tmp_path, orders) -> None:
    chat, _ = await start_chat(aiohttp_client, tmp_path, orders, clock=lambda: CLOSED)
    await chat.say("hi")
    replies = await chat.say("I want to talk to a human")
    assert "away right now" in texts(replies) and "CONTACT_FORM" in postbacks(replies[-1])
    assert texts(await chat.click("CONTACT_FORM")) == "What is your email address?"


async def test_fallback_hands_off_after_three_misunderstandings(aiohttp_client, tmp_path, orders) -> None:
    chat, _ = await start_chat(aiohttp_client, tmp_path, orders)
    await chat.say("hi")
    assert "didn't get that" in texts(await chat.say("blorp")) or "not sure" in texts(await chat.say("blorp"))
    for _ in range(3):
        replies = await chat.say("zzzz qqqq")
        if "get a person" in texts(replies):
            break
    assert "get a person to help" in texts(replies) and "connecting you" in texts(replies)


async def test_bot_turns_of_one_conversation_run_one_at_a_time(aiohttp_client, tmp_path, orders) -> None:
    chat, _ = await start_chat(aiohttp_client, tmp_path, orders)
    await chat.say("hi")
    first, second = await asyncio.gather(chat.click("MENU_CONTACT"), chat.say("bob@example.com"))
    assert texts(first) == "What is your email address?"
    assert "tell us" in texts(second)


async def test_timers_fire_after_a_restart(aiohttp_client, tmp_path, orders) -> None:
    """The account-link wait times out even though the server restarted meanwhile."""
    clock = {"now": OPEN}
    env = {"ORDERS_API_URL": "http://127.0.0.1:9"}
    settings = make_settings(tmp_path, bots={"dir": BOTS, "env": env})
    first = await aiohttp_client(create_app(settings, clock=lambda: clock["now"]))
    client = await new_client(first)
    await client.post("/sync", {"bot": "support-desk"}, status=200)
    user_id, conversation_id = await client.conversation()
    chat = Chat(client, user_id, conversation_id)
    await chat.click("MENU_LINK")
    await first.close()

    clock["now"] = OPEN.replace(hour=11)  # an hour later: the 10-minute wait is over
    second = await aiohttp_client(create_app(settings, clock=lambda: clock["now"]))
    services = second.app[SERVICES]
    arrived: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def on_message(event: Any) -> None:
        if event.message.author_id is None and not arrived.done():
            arrived.set_result(event.message.payload)

    services.bus.subscribe("message.created", on_message)
    payload = await asyncio.wait_for(arrived, 10)
    assert "didn't get a confirmation" in payload["text"]


async def test_a_message_when_no_bot_is_attached_gets_no_reply(client: ApiClient) -> None:
    user_id, conversation_id = await client.conversation()
    reply = await client.post(
        "/messages/collect",
        {
            "conversationId": conversation_id,
            "authorId": user_id,
            "payload": {"type": "text", "text": "hi"},
            "timeout": 100,
        },
        status=201,
    )
    assert reply["responses"] == []
    assert await client.post(f"/conversations/{conversation_id}/events", {"event": "closed"}, status=409)


async def test_sync_refuses_an_unknown_bot(aiohttp_client, tmp_path) -> None:
    http = await aiohttp_client(create_app(make_settings(tmp_path, bots={"dir": BOTS})))
    client = await new_client(http)
    message = await client.post("/sync", {"bot": "nope"}, status=400)
    assert message.startswith('"body.bot"')
