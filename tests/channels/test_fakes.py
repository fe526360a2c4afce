"""The fakes reject what the real platforms reject (auth quirks and body shapes)."""

from __future__ import annotations

import base64

import aiohttp

from orchestrator.channels.tiledesk import TiledeskChannel, bot_token
from tests.fakes.chat21 import Chat21Fake
from tests.fakes.messagemedia import MessageMediaFake
from tests.fakes.qiscus import QiscusFake
from tests.fakes.tiledesk import TiledeskFake


async def test_qiscus_accepts_either_header_spelling(
    qiscus_fake: QiscusFake, http: aiohttp.ClientSession
) -> None:
    qiscus_fake.add_room("1")
    body = {"user_id": qiscus_fake.bot_user_id, "room_id": "1", "message": "hi"}
    url = f"{qiscus_fake.url}/api/v2.1/rest/post_comment"
    for prefix in ("QISCUS-SDK-", "QISCUS_SDK_"):
        headers = {
            f"{prefix}SECRET": qiscus_fake.secret_key,
            f"{prefix}APP{prefix[-1]}ID": qiscus_fake.app_id,
        }
        async with http.post(url, json=body, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
    async with http.post(url, json={**body, "room_id": 1}, headers=headers) as resp:
        assert resp.status == 400  # room_id must be a string
        assert (await resp.json())["error"]["detailed_messages"] == [
            "room_id is required and must be a string"
        ]
    async with http.post(url, json=body) as resp:
        assert resp.status == 401


async def test_tiledesk_refuses_bearer_and_foreign_projects(
    tiledesk_fake: TiledeskFake, http: aiohttp.ClientSession
) -> None:
    config = TiledeskChannel().load_config(
        {
            "projectId": tiledesk_fake.project_id,
            "botId": tiledesk_fake.bot_id,
            "botSecret": tiledesk_fake.bot_secret,
        }
    )
    token = bot_token(config)
    url = f"{tiledesk_fake.url}/{tiledesk_fake.project_id}/bots/{tiledesk_fake.bot_id}"
    async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
        assert (resp.status, await resp.text()) == (401, "Unauthorized")
    async with http.get(url, headers={"Authorization": f"jwt {token}"}) as resp:
        assert resp.status == 200 and "secret" not in await resp.json()
    async with http.get(url, params={"secret_token": token}) as resp:
        assert resp.status == 200
    foreign = url.replace(tiledesk_fake.project_id, "64690469599137001a6dc6ff")
    async with http.get(foreign, headers={"Authorization": f"JWT {token}"}) as resp:
        assert resp.status == 403
        assert (await resp.json())["msg"] == "you dont belong to the project."


async def test_chat21_wants_a_raw_token(chat21_fake: Chat21Fake, http: aiohttp.ClientSession) -> None:
    token = chat21_fake.token_for(chat21_fake.bot_id)
    url = f"{chat21_fake.url}/api/{chat21_fake.app_id}/{chat21_fake.bot_id}/conversations"
    async with http.get(url, headers={"Authorization": f"JWT {token}"}) as resp:
        assert resp.status == 403
    async with http.get(url, params={"token": token}) as resp:
        assert resp.status == 200
    other_app = url.replace(f"/api/{chat21_fake.app_id}/", "/api/other/")
    async with http.get(other_app, headers={"Authorization": token}) as resp:
        assert (resp.status, await resp.text()) == (401, "")


async def test_messagemedia_v1_alias_and_body_checks(
    mm_fake: MessageMediaFake, http: aiohttp.ClientSession
) -> None:
    mm_fake.add_user("u")
    basic = base64.b64encode(f"{mm_fake.api_key}:{mm_fake.api_secret}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}"}
    url = f"{mm_fake.url}/v1/conversations/users/u/messages"
    async with http.post(url, json={"channel": "facebook", "text": "hi"}, headers=headers) as r:
        assert r.status == 200 and await r.json() == {"channel": "facebook", "text": "hi"}
    async with http.post(url, json={"channel": "FACEBOOK", "text": "hi"}, headers=headers) as r:
        assert r.status == 400
    async with http.get(f"{mm_fake.url}/beta/conversations/users/u/messages", headers=headers) as r:
        listing = await r.json()
    assert listing["messages"]["data"][0]["direction"] == "SENT"
    assert listing["metadata"] == {"user_id": "u", "account_id": mm_fake.account_id}
