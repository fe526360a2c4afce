"""Hot reload through the service: an edited flow is checked and swapped in, a broken edit is
refused while the previous version keeps answering, running conversations continue at their
step ids, and one whose step disappeared is restarted politely (`version_gone`).

Each test waits on the reloader's own results (`next_result()`), never on a timer."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orchestrator.app import CATALOG, RELOADER, create_app
from orchestrator.reload import BotReloader, ReloadResult
from tests.conftest import ApiClient, make_settings, new_client

ROOT = Path(__file__).resolve().parents[2]
OPEN = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # a Wednesday, 11:00 in Paris
SHIPPING = "We ship within 2 business days."


def copy_bot(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "bots").mkdir(parents=True)
    for name in ("support-desk.yaml", "support_desk_actions.py"):
        shutil.copy(ROOT / "bots" / name, root / "bots" / name)
    shutil.copytree(ROOT / "flows/support-desk", root / "flows/support-desk")
    return root


def edit(path: Path, old: str, new: str) -> None:
    """Replace text in a file the way editors save: a new file renamed over the old one."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    tmp = path.with_name(f".{path.name}.swp")
    tmp.write_text(text.replace(old, new, 1), encoding="utf-8")
    os.replace(tmp, path)


class Chat:
    def __init__(self, client: ApiClient, user_id: str, conversation_id: str) -> None:
        self.client, self.user_id, self.conversation_id = client, user_id, conversation_id

    async def say(self, payload: str | dict[str, Any]) -> list[str]:
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
        return [r["payload"].get("text", "") for r in reply["responses"]]

    async def click(self, payload: str) -> list[str]:
        return await self.say({"type": "postback", "payload": payload})


async def next_result(reloader: BotReloader) -> ReloadResult:
    return await asyncio.wait_for(reloader.next_result(), 20)


@pytest.fixture
async def served(aiohttp_client, tmp_path):
    root = copy_bot(tmp_path)
    settings = make_settings(tmp_path, bots={"dir": str(root / "bots"), "reload": True})
    app = create_app(settings, clock=lambda: OPEN)
    reloader = app[RELOADER]
    reloader.debounce_ms, reloader.step_ms, reloader.tick_ms = 100, 20, 100
    http = await aiohttp_client(app)
    await asyncio.wait_for(reloader.ready.wait(), 20)
    client = await new_client(http)
    await client.post("/sync", {"bot": "support-desk"}, status=200)

    async def chat() -> Chat:
        user_id, conversation_id = await client.conversation()
        return Chat(client, user_id, conversation_id)

    return root, app, reloader, chat


async def test_an_edited_flow_is_swapped_in_and_conversations_continue(served) -> None:
    root, app, reloader, chat = served
    catalog = app[CATALOG]
    before = catalog.get("support-desk").version
    alice = await chat()
    await alice.say("hi")
    assert await alice.click("MENU_CONTACT") == ["What is your email address?"]

    edit(root / "flows/support-desk/faq.yaml", SHIPPING, "We ship within 24 hours.")
    result = await next_result(reloader)
    assert result.ok and result.bot_id == "support-desk"
    assert (result.previous_version, result.version) == (before, catalog.get("support-desk").version)
    assert result.version != before

    # Alice was waiting at contact_form.ask_email: that step id still exists, she goes on.
    assert await alice.say("alice@example.com") == ["What would you like to tell us?"]
    bob = await chat()
    assert "We ship within 24 hours." in " ".join(await bob.say("how much is shipping?"))


async def test_a_broken_edit_keeps_the_previous_version(served, caplog) -> None:
    root, app, reloader, chat = served
    catalog = app[CATALOG]
    running = catalog.get("support-desk")
    faq = root / "flows/support-desk/faq.yaml"
    with caplog.at_level(logging.ERROR, logger="orchestrator.reload"):
        edit(faq, "- say: msg.back_to_menu", "- say: msg.back_to_menu\n        goto: mneu")
        result = await next_result(reloader)
    assert not result.ok and result.version == running.version
    assert [str(d) for d in result.errors] == [
        "flows/support-desk/faq.yaml:32:15: error E201 unknown step 'mneu'"
    ]
    assert "reload refused, keeping version" in caplog.text and "E201 unknown step 'mneu'" in caplog.text
    assert catalog.get("support-desk") is running
    bob = await chat()
    assert SHIPPING in " ".join(await bob.say("shipping"))

    edit(faq, "\n        goto: mneu", "")  # fixed: back to the original content
    result = await next_result(reloader)
    assert result.ok and catalog.get("support-desk").version == running.version  # same files, same hash


async def test_a_conversation_whose_step_disappeared_restarts_politely(served) -> None:
    root, _, reloader, chat = served
    carol = await chat()
    await carol.click("MENU_CONTACT")
    assert await carol.say("carol@example.com") == ["What would you like to tell us?"]  # at ask_message

    contact = root / "flows/support-desk/contact.yaml"
    edit(contact, "- id: ask_message", "- id: ask_details")
    result = await next_result(reloader)
    assert result.ok, result.message

    replies = await carol.say("My parcel arrived damaged.")
    assert replies[0] == "I've just been updated and lost track of where we were, sorry. Let's start again."
    assert replies[1] == "Hi! I'm the support bot. How can I help you today?"


async def test_a_new_bot_file_is_loaded(served) -> None:
    root, app, reloader, _ = served
    text = (root / "bots/support-desk.yaml").read_text().replace("id: support-desk", "id: desk-two")
    (root / "bots/desk-two.yaml").write_text(text)
    result = await next_result(reloader)
    assert result.ok and result.bot_id == "desk-two" and result.previous_version is None
    assert app[CATALOG].exists("desk-two")
