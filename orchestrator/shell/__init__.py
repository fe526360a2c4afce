"""`orchestrator shell [BOT]`: talk to a bot in the terminal through the production engine.

No server, no curl: each line is a user message (a number or a title clicks an option) and the
replies are drawn as text. Commands: /explain, /reset, /clock, /wait, /event, /vars, /save,
/help, /quit. The conversation lives in memory; HTTP steps and actions run for real.
"""

from __future__ import annotations

import json
import shlex
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ..engine.durations import parse_duration
from ..engine.trace_format import format_trace
from ..engine.turn_io import TurnResult
from .render import Option, pick, render
from .session import Session
from .testfile import HttpCall, Recording, to_yaml

HELP = """\
Type a message, or a number or title to click an option. Commands:
  /explain              why the bot said that (the last turn's trace)
  /reset                start a new conversation (user.* variables are kept)
  /clock 2025-01-06T10:00   set the clock (the bot's timezone unless given); due timers fire
  /wait 10m             move the clock on; due timers (timeouts, waits) fire
  /event NAME {json}    send an event (account_linked, agent_joined, agent_released, closed)
  /vars                 conv.*, user.* and the running flow's flow.* values
  /save FILE            write this conversation as a conversation test (*.test.yaml)
  /quit                 leave (or Ctrl-D)"""
_SECRET_WORDS = ("TOKEN", "SECRET", "KEY", "PASSWORD", "PASS")


class Shell:
    """Turns typed lines into turns and commands; returns the lines to print."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.options: list[Option] = []
        self.done = False

    async def handle(self, line: str) -> list[str]:
        """One typed line."""
        line = line.strip()
        if not line:
            return []
        if line.startswith("/"):
            return await self.command(line)
        option = pick(line, self.options)
        if option is not None:
            kind = "quick_reply" if option.quick_reply else "postback"
            return self.show(
                await self.session.send({"type": kind, "payload": option.payload, "text": option.title})
            )
        return self.show(await self.session.send({"type": "text", "text": line}))

    async def command(self, line: str) -> list[str]:
        name, _, rest = line.partition(" ")
        rest = rest.strip()
        handler = _COMMANDS.get(name)
        if handler is None:
            return [f"unknown command {name} (/help lists them)"]
        try:
            return await handler(self, rest)
        except ValueError as exc:
            return [str(exc)]

    def show(self, result: TurnResult) -> list[str]:
        lines, self.options = render(result.replies)
        out = [("bot: " if i == 0 else "     ") + text for i, text in enumerate(lines)]
        if not lines:
            out.append("     (no reply)")
        if result.error:
            out.append(f"     (the turn failed: {result.error}; /explain shows why)")
        if result.handoff_state in ("pending", "agent"):
            out.append(
                f"     (a person has the conversation: {result.handoff_state}; "
                "/event agent_released hands it back)"
            )
        return out

    def shows(self, results: list[TurnResult]) -> list[str]:
        out: list[str] = []
        for result in results:  # timers that said nothing (a session timeout) stay quiet
            if result.replies or result.error:
                out.extend(self.show(result))
        return out

    # ---------------------------------------------------------------- commands
    async def _explain(self, rest: str) -> list[str]:
        last = self.session.last
        if last is None:
            return ["no turn yet: say something first"]
        return format_trace(last.trace).splitlines()

    async def _reset(self, rest: str) -> list[str]:
        self.session.reset()
        self.options = []
        return ["new conversation (user.* variables kept)"]

    async def _clock(self, rest: str) -> list[str]:
        if not rest:
            return [f"clock: {self.session.now().isoformat(timespec='minutes')}"]
        when = parse_clock(rest, self.session.bot.timezone)
        back = self.session.started is not None and when < self.session.now()
        fired = await self.session.set_clock(when)
        local = when.astimezone(self.session.bot.timezone)
        out = [f"clock: {local.strftime('%a %Y-%m-%d %H:%M %Z')}"]
        if back:
            out.append(
                "(the clock went back: a test saved now cannot replay that; /reset first to pin its start)"
            )
        return [*out, *self.shows(fired)]

    async def _wait(self, rest: str) -> list[str]:
        seconds = parse_duration(rest or "0s")
        fired = await self.session.wait(seconds)
        return [f"clock: {self.session.now().isoformat(timespec='minutes')}", *self.shows(fired)]

    async def _event(self, rest: str) -> list[str]:
        name, _, data = rest.partition(" ")
        if not name:
            raise ValueError("usage: /event NAME {json}")
        try:
            payload = json.loads(data) if data.strip() else {}
        except json.JSONDecodeError as exc:
            raise ValueError(f"the event data is not JSON: {exc.msg} (column {exc.colno})") from None
        if not isinstance(payload, dict):
            raise ValueError("the event data must be a JSON object")
        return self.show(await self.session.send({"type": "event", "event": name, "data": payload}))

    async def _vars(self, rest: str) -> list[str]:
        values = self.session.variables()
        out = [f"at: {values['at'] or '(no flow running)'}"]
        for scope in ("conv", "user", "flow"):
            for key, value in sorted(values[scope].items()):
                out.append(f"{scope}.{key} = {json.dumps(value, ensure_ascii=False, default=str)}")
        return out

    async def _save(self, rest: str) -> list[str]:
        if not rest:
            raise ValueError("usage: /save FILE (e.g. flows/support-desk/mine.test.yaml)")
        path = Path(shlex.split(rest)[0])
        if not any(kind == "user" for kind, _ in self._items()):
            return ["nothing to save yet: say something first"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(to_yaml(self.recording(path.stem.removesuffix(".test"))), encoding="utf-8")
        note = "" if path.name.endswith((".test.yaml", ".test.yml")) else " (name it *.test.yaml to be found)"
        return [f"saved to {path}{note}: run it with `orchestrator test {path}`"]

    async def _help(self, rest: str) -> list[str]:
        return HELP.splitlines()

    async def _quit(self, rest: str) -> list[str]:
        self.done = True
        return []

    # ---------------------------------------------------------------- saving
    def _items(self) -> list[tuple[str, Any]]:
        return [(step.kind, step.value) for step in self.session.record]

    def recording(self, name: str) -> Recording:
        """The session as a test recording (secret env values kept out of it)."""
        s = self.session
        secrets = [v for k, v in s.env.items() if any(w in k.upper() for w in _SECRET_WORDS) and v]
        calls = []
        for ex in s.http.exchanges:
            url = ex.request.url + ("?" + urlencode(dict(ex.request.query)) if ex.request.query else "")
            for secret in secrets:
                url = url.replace(secret, "*")
            calls.append(
                HttpCall(
                    ex.request.method,
                    url,
                    ex.request.json,
                    ex.response.status if ex.response else None,
                    ex.response.json if ex.response else None,
                    ex.response.text if ex.response else "",
                    ex.error,
                )
            )
        return Recording(
            bot_id=s.bot.id,
            name=f"{name} (recorded in orchestrator shell)",
            clock=s.started,
            items=self._items(),
            http=calls,
            actions={k: list(v) for k, v in s.actions.calls.items()},
            channel=s.channel,
            locale=s.locale,
            env={k: ("test-" + k.lower() if v in secrets else v) for k, v in s.env.items()},
        )


_COMMANDS = {
    "/explain": Shell._explain,
    "/reset": Shell._reset,
    "/clock": Shell._clock,
    "/wait": Shell._wait,
    "/event": Shell._event,
    "/vars": Shell._vars,
    "/save": Shell._save,
    "/help": Shell._help,
    "/quit": Shell._quit,
    "/exit": Shell._quit,
}


def parse_clock(text: str, tz: Any) -> datetime:
    """An ISO date-time; without an offset it is in `tz` (the bot's timezone)."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not a date-time: {text!r} (e.g. 2025-01-06T10:00)") from None
    return when if when.tzinfo else when.replace(tzinfo=tz)


__all__ = ["HELP", "Session", "Shell", "parse_clock"]
