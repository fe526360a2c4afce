"""`orchestrator record`: a conversation stored by a running service becomes a conversation test
(inputs, replies, mocks from what the HTTP steps and actions answered) that passes on the bot."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from orchestrator import cli
from orchestrator.engine.conversation_tests import TestRunner
from tests.api.test_support_desk_bot import orders, start_chat  # noqa: F401 (the orders fixture)

ROOT = Path(__file__).resolve().parents[2]


def project_with_the_example_bot(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / "flows" / "support-desk").mkdir(parents=True)
    (project / "bots").symlink_to(ROOT / "bots")
    for f in (ROOT / "flows" / "support-desk").glob("*.yaml"):
        if not f.name.endswith(".test.yaml"):
            (project / "flows" / "support-desk" / f.name).symlink_to(f)
    return project


async def test_a_stored_conversation_becomes_a_passing_test(aiohttp_client, tmp_path, orders, capsys):  # noqa: F811
    chat, _ = await start_chat(aiohttp_client, tmp_path, orders)
    await chat.say("hi")
    await chat.click("MENU_ORDER")
    assert "A12345 is shipped" in " ".join(p.get("text", "") for p in await chat.say("a12345"))
    await chat.click("MENU_CONTACT")
    await chat.say("bob@example.com")
    await chat.say("My parcel arrived damaged.")
    await chat.click("CONTACT_SEND")
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "storage": {"url": f"sqlite:///{tmp_path}/orchestrator.db"},
                "bots": {"env": {"ORDERS_API_URL": "http://orders.invalid", "ORDERS_API_TOKEN": "t"}},
            }
        )
    )
    project = project_with_the_example_bot(tmp_path)
    out = project / "flows" / "support-desk" / "recorded.test.yaml"
    args = ["record", chat.conversation_id, "--config", str(config), "-o", str(out)]
    code = await asyncio.to_thread(cli.main, args)  # the command runs its own event loop
    assert code == 0, capsys.readouterr().err
    text = out.read_text()
    data = yaml.safe_load(text)
    test = data["tests"][0]
    assert data["bot"] == "support-desk"
    [mock] = test["mocks"]["http"]
    assert mock["request"] == {"method": "GET", "url": "*/orders/A12345"}
    assert mock["response"]["json"]["status"] == "shipped"
    assert test["mocks"]["actions"]["create_ticket"]["returns"]["id"].startswith("T-")
    assert {"user": {"payload": "CONTACT_SEND"}} in test["conversation"]
    report = await TestRunner(project).run([out])
    [outcome] = report.files
    assert not outcome.diagnostics, outcome.diagnostics
    assert [t.status for t in outcome.tests] == ["passed"], outcome.tests[0].message


def test_an_unknown_conversation_is_said_so(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"storage": {"url": f"sqlite:///{tmp_path}/none.db"}}))
    assert cli.main(["record", "nope", "--config", str(config)]) == 2
    assert "no database at" in capsys.readouterr().err
