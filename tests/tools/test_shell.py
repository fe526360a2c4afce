"""`orchestrator shell`: numbered options, clicks by number or title, cards as text, the
commands, and `/save` writing a conversation test that passes on the same bot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.engine import ActionRegistry, HttpResponse, load_bot
from orchestrator.engine.conversation_tests import TestRunner
from orchestrator.shell import Shell
from orchestrator.shell.render import pick, render
from orchestrator.shell.session import RecordingActions, RecordingHttp, Session

ROOT = Path(__file__).resolve().parents[2]
ENV = {"ORDERS_API_URL": "https://orders.test/api", "ORDERS_API_TOKEN": "s3cret-token"}


def orders(req):
    if req.url.endswith("/A12345"):
        return HttpResponse(200, {"id": "A12345", "status": "shipped", "eta": "2024-06-05"})
    return HttpResponse(404, {"error": "not found"})


class FakeHttp:
    async def __call__(self, req):
        return orders(req)


@pytest.fixture
def shell() -> Shell:
    bot = load_bot(ROOT / "bots" / "support-desk.yaml")
    session = Session(
        bot, RecordingHttp(FakeHttp()), RecordingActions(ActionRegistry.from_bot(bot)), dict(ENV)
    )
    return Shell(session)


async def test_options_are_numbered_and_clicked_by_number_or_title(shell):
    out = await shell.handle("hello")
    assert out[0] == "bot: Hi! I'm the support bot. How can I help you today?"
    assert "[1] FAQ  [2] Order status  [3] Contact us  [4] Link my account" in out[1]
    assert "(5) Talk to a person" in out[2]
    out = await shell.handle("1")
    assert out[0] == "bot: What would you like to know?"
    out = await shell.handle("pricing")  # a title, any case
    assert out[0] == "bot: Here are our plans:"
    assert any(line.strip().startswith("┌ 1/3 Free") for line in out)
    assert any("[" in line and "Choose Pro" in line for line in out)


def test_render_draws_links_images_and_account_links():
    lines, options = render(
        [
            {"type": "image", "image": "https://x/p.png"},
            {"type": "account_linking", "text": "Log in", "url": "https://login", "params": {}},
            {
                "type": "buttons",
                "text": "Go",
                "buttons": [{"label": "Site", "type": "link", "payload": {"url": "https://s"}}],
            },
        ]
    )
    assert lines == [
        "[image: https://x/p.png]",
        "Log in",
        "  [Log in: https://login]",
        "Go",
        "  [Site: https://s]",
    ]
    assert options == [] and pick("1", options) is None


async def test_clock_tries_the_business_hours_branches(shell):
    await shell.handle("/clock 2025-01-04T23:00")  # a Saturday night in Paris
    out = await shell.handle("talk to a human")
    assert any("away right now" in line for line in out)
    await shell.handle("/reset")
    await shell.handle("/clock 2025-01-06T10:00")  # Monday morning
    out = await shell.handle("talk to a human")
    assert any("connecting you" in line for line in out)
    assert any("a person has the conversation: pending" in line for line in out)


async def test_event_vars_explain_and_reset(shell):
    await shell.handle("link my account")
    out = await shell.handle('/event account_linked {"account_id": "ACME-42"}')
    assert out[0] == "bot: Thanks! Your account ACME-42 is now linked."
    assert 'user.linked_account = "ACME-42"' in await shell.handle("/vars")
    explained = "\n".join(await shell.handle("/explain"))
    assert 'input:      event "account_linked"' in explained or "account_linked" in explained
    assert (await shell.handle("/event bad {nope"))[0].startswith("the event data is not JSON")
    assert await shell.handle("/reset") == ["new conversation (user.* variables kept)"]
    assert (await shell.handle("/vars"))[0] == "at: (no flow running)"
    assert (await shell.handle("/nope"))[0] == "unknown command /nope (/help lists them)"


async def test_wait_fires_timers(shell):
    await shell.handle("/clock 2025-01-06T10:00")
    await shell.handle("link my account")
    out = await shell.handle("/wait 11m")
    assert any("didn't get a confirmation" in line for line in out)


async def test_save_writes_a_test_that_passes(shell, tmp_path):
    await shell.handle("/clock 2025-01-06T10:00")
    for line in ("hello", "2", "a12345", "contact", "bob@example.com", "The parcel arrived broken.", "1"):
        await shell.handle(line)
    await shell.handle("/wait 1m")
    path = tmp_path / "flows" / "support-desk" / "mine.test.yaml"
    out = await shell.handle(f"/save {path}")
    assert out == [f"saved to {path}: run it with `orchestrator test {path}`"]
    text = path.read_text()
    assert "s3cret-token" not in text
    assert "url: https://orders.test/api/orders/A12345" in text
    assert "create_ticket" in text
    for folder in ("bots",):
        (tmp_path / folder).symlink_to(ROOT / folder)
    (tmp_path / "flows" / "support-desk").mkdir(exist_ok=True)
    for f in (ROOT / "flows" / "support-desk").glob("*.yaml"):
        if not f.name.endswith(".test.yaml"):
            (tmp_path / "flows" / "support-desk" / f.name).symlink_to(f)
    report = await TestRunner(tmp_path).run([path])
    [outcome] = report.files
    assert not outcome.diagnostics, outcome.diagnostics
    assert [t.status for t in outcome.tests] == ["passed"], outcome.tests[0].message


def test_the_command_runs_in_a_terminal_session():
    lines = "hello\n2\n/vars\n/quit\n"
    proc = subprocess.run(
        [sys.executable, "-m", "orchestrator", "shell", "support-desk", "--clock", "2025-01-06T10:00"],
        input=lines,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "[2] Order status" in proc.stdout
    assert "What is your order number?" in proc.stdout
    assert "at: order_status.ask_order" in proc.stdout
