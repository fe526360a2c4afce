"""The studio's "try it" pane: a bot run on the engine directly, with a clock override.

Nothing is stored: a sandbox keeps each try's conversation state and user variables in
memory (the latest 200 tries), so a designer can try a business-hours branch at any hour
without touching real conversations. HTTP steps and actions run for real.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..bots import BotCatalog, Clock
from ..engine import Engine, HttpPort, TurnInput
from ..engine.trace_format import trace_sections

KEPT = 200


class TryError(Exception):
    """A try the sandbox cannot run; the message names the field."""


@dataclass
class _Try:
    bot_id: str
    conv_state: dict[str, Any] | None = None
    user_vars: dict[str, Any] = field(default_factory=dict)
    user_id: str = field(default_factory=lambda: f"try-{uuid.uuid4()}")


class Sandbox:
    """Runs turns of tries; each try is a fresh conversation of one bot."""

    def __init__(self, catalog: BotCatalog, http: HttpPort, env: dict[str, str], clock: Clock) -> None:
        self._catalog, self._http, self._env, self._clock = catalog, http, env, clock
        self._tries: OrderedDict[str, _Try] = OrderedDict()

    async def turn(
        self, bot_id: str, session: str | None, event: dict[str, Any], now: datetime | None
    ) -> dict[str, Any]:
        """One turn: the replies, the trace (as sections) and the hand-off state."""
        bot = self._catalog.get(bot_id)
        if bot is None:
            raise TryError(f'"bot": no bot {bot_id!r} is loaded')
        current = self._tries.get(session) if session else None
        if session is None or current is None or current.bot_id != bot_id:
            session, current = str(uuid.uuid4()), _Try(bot_id)
        self._tries[session] = current
        self._tries.move_to_end(session)
        while len(self._tries) > KEPT:
            self._tries.popitem(last=False)
        when = now or self._clock()
        engine = Engine(bot, http=self._http, actions=self._catalog.actions(bot_id), env=self._env)
        result = await engine.run_turn(
            TurnInput(
                event=event,
                conv_state=current.conv_state,
                user_vars=current.user_vars,
                now=when,
                channel="webchat",
                conversation_id=session,
                user_id=current.user_id,
            )
        )
        current.conv_state, current.user_vars = result.conv_state, result.user_vars
        return {
            "session": session,
            "now": when.isoformat(),
            "replies": result.replies,
            "handoff": result.handoff_state,
            "trace": trace_sections(result.trace),
            "timers": [{"id": t.id, "due": t.due.isoformat()} for t in result.timers],
        }
