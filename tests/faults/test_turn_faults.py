"""A bot turn is stored whole or not at all: its state, timers, trace and replies are one
transaction, so a write that fails (or a process stopped) between them cannot leave the bot
believing it asked a question the user never got."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from orchestrator.api import SERVICES
from orchestrator.app import create_app
from tests.conftest import make_settings, new_client
from tests.engine.support import write_files

ASK = """\
version: 1
flows:
  name:
    triggers: [{keywords: [name]}]
    steps:
      - id: ask_name
        ask: {prompt: "Your name?", into: conv.name}
      - say: "Hello {{ conv.name }}"
"""
HEADER = "version: 1\nbot:\n  id: test\nflows: [flows/test/*.yaml]\n"
# A write of the bot's replies fails (the turn's other writes do not): SQLite aborts the
# statement as it would on a full disk or an I/O error at that moment.
FAIL_REPLIES = (
    "CREATE TEMP TRIGGER fail_replies BEFORE INSERT ON messages WHEN NEW.author_id IS NULL"
    " BEGIN SELECT RAISE(ABORT, 'injected: the replies cannot be written'); END"
)


async def test_a_turn_whose_replies_fail_to_store_leaves_no_state(
    aiohttp_client: Callable[..., Any], tmp_path: Path
) -> None:
    write_files(tmp_path, {"bots/test.yaml": HEADER, "flows/test/main.yaml": ASK})
    settings = make_settings(tmp_path, bots={"dir": str(tmp_path / "bots")})
    api = await aiohttp_client(create_app(settings))
    client = await new_client(api)
    await client.post("/sync", {"bot": "test"}, status=200)
    user, conversation = await client.conversation()
    conn = api.app[SERVICES].store._conn  # type: ignore[attr-defined]
    await conn._execute(conn._conn.execute, FAIL_REPLIES)  # temp: this connection only

    body = {"conversationId": conversation, "authorId": user, "payload": {"type": "text", "text": "name"}}
    failed = await client.post("/messages/collect", {**body, "timeout": 5000}, status=201)
    assert failed["responses"] == []  # the turn failed: nothing of it was stored

    await conn._execute(conn._conn.execute, "DROP TRIGGER temp.fail_replies")
    again = await client.post("/messages/collect", {**body, "timeout": 5000}, status=201)
    # Stored whole or not at all: the bot asks again instead of taking "name" as the answer
    # to a question the user never saw.
    assert [r["payload"]["text"] for r in again["responses"]] == ["Your name?"]
    with sqlite3.connect(tmp_path / "orchestrator.db") as db:
        assert db.execute("SELECT COUNT(*) FROM turn_traces").fetchone()[0] == 1
