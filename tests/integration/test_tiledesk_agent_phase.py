"""Issue 9 item 11: once a request is with an agent (the bot has left it), user and agent
messages arrive only through the `message.create` subscription: both are stored, and the bot
stays quiet."""

from __future__ import annotations

from tests.fakes.tiledesk import TiledeskFake
from tests.integration.test_tiledesk_e2e import REQUEST, tiledesk_app


async def test_the_agent_phase_is_stored_and_the_bot_stays_quiet(
    aiohttp_client, tmp_path, tiledesk: TiledeskFake
) -> None:
    h = await tiledesk_app(aiohttp_client, tmp_path, tiledesk)
    request = {"request_id": REQUEST}
    await h.post({**request, "text": "hello"})
    await h.sent()
    await h.post({**request, "kind": "action", "action": "HANDOFF", "text": "Talk to a person"})
    await h.sent(2)
    assert f"bot_{tiledesk.bot_id}" not in tiledesk.conversations[REQUEST]["participants"]
    before = len(h.watch.created)

    user = await h.post({**request, "via": "resthook", "text": "my order is late"})
    agent = await h.post({**request, "via": "resthook", "kind": "agent_text", "text": "Looking into it"})
    assert user == agent == (200, '{"success":true}')
    stored = h.watch.created[before:]
    assert [(e.message.payload["text"], e.message.author_id is None) for e in stored] == [
        ("my order is late", False),
        ("Looking into it", True),
    ]
    assert all(e.bot_absent for e in stored)
    await h.flush(stored[0].conversation.id)
    assert h.unseen() == []  # the bot said nothing


async def test_subscription_messages_of_requests_the_service_never_had_are_ignored(
    aiohttp_client, tmp_path, tiledesk: TiledeskFake
) -> None:
    h = await tiledesk_app(aiohttp_client, tmp_path, tiledesk)
    other = "support-group-64690469599137001a6dc6f5-00000000000000000000000000000bbb"
    tiledesk.add_request(other, "someone-else")
    tiledesk.conversations[other]["participants"] = [tiledesk.agent_id]
    assert (await h.post({"request_id": other, "via": "resthook", "text": "hi"}))[0] == 200
    assert h.watch.created == [] and h.count("conversations") == 0
