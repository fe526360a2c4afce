"""Typing an option of a `choose` is the same as clicking its button."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from orchestrator.engine import ActionRegistry, Engine, TurnInput, load_bot

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


async def turn(engine: Engine, state: dict | None, event: dict) -> tuple[dict, list[str]]:
    result = await engine.run_turn(TurnInput(event=event, conv_state=state, user_vars={}, now=NOW))
    return result.conv_state, [r.get("text", "") for r in result.replies]


async def test_typing_an_option_number_that_a_handler_takes_runs_the_handler() -> None:
    bot = load_bot(ROOT / "bots" / "support-desk.yaml", ROOT)
    engine = Engine(bot, http=None, actions=ActionRegistry.from_bot(bot), env={})  # type: ignore[arg-type]
    state, _ = await turn(engine, None, {"type": "postback", "payload": "MENU_CONTACT"})
    state, _ = await turn(engine, state, {"type": "text", "text": "bob@example.com"})
    state, texts = await turn(engine, state, {"type": "text", "text": "My parcel arrived damaged."})
    assert "Shall I send it?" in texts[-1]
    # Option 3 is "Cancel" (payload CANCEL, the always-on cancel handler): typing 3 cancels,
    # it does not fall through to sending the ticket.
    state, texts = await turn(engine, state, {"type": "text", "text": "3"})
    assert texts == ["OK, I've cancelled that. Say hi whenever you need me."]
