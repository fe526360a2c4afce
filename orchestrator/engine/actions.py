"""Python actions that flows call with `do:`: a registry of async (or plain) callables by name.

A bot names its actions module in its file (`actions: bots/support_desk_actions.py`, or a
dotted module name); functions decorated with `@action` in it become actions:

    from orchestrator.engine import ActionContext, action

    @action("create_ticket")
    async def create_ticket(ctx: ActionContext, email: str, message: str) -> dict: ...

An action receives an `ActionContext` (ids, clock, locale, env, read-only copies of the
variables) and the step's rendered `with:` values as keyword arguments; what it returns is
stored in the step's `into:`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .compiled import BotVersion

ActionFn = Callable[..., Awaitable[Any] | Any]
F = TypeVar("F", bound=ActionFn)
_MARK = "__bot_action__"


@dataclass(frozen=True, slots=True)
class ActionContext:
    """What an action may know about the turn; the variable maps are read-only copies."""

    bot_id: str
    conversation_id: str
    user_id: str
    channel: str
    locale: str
    now: datetime
    env: Mapping[str, str]
    conv: Mapping[str, Any] = field(default_factory=dict)
    user: Mapping[str, Any] = field(default_factory=dict)
    turn: Mapping[str, Any] = field(default_factory=dict)


def action(name: str | F | None = None) -> Any:
    """Mark a function as an action (`@action`, or `@action("name")`)."""

    def mark(fn: F, action_name: str | None) -> F:
        setattr(fn, _MARK, action_name or fn.__name__)
        return fn

    if callable(name):
        return mark(name, None)
    return lambda fn: mark(fn, name)


class ActionRegistry:
    """Actions by name."""

    def __init__(self, actions: Mapping[str, ActionFn] | None = None):
        self._actions: dict[str, ActionFn] = dict(actions or {})

    def register(self, name: str, fn: ActionFn | None = None) -> Any:
        """Register `fn` as `name`; without `fn`, return a decorator."""
        if fn is None:
            return lambda f: self.register(name, f)
        self._actions[name] = fn
        return fn

    def get(self, name: str) -> ActionFn | None:
        """The action registered as `name`, if any."""
        return self._actions.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._actions

    def names(self) -> list[str]:
        """Registered action names, sorted."""
        return sorted(self._actions)

    @classmethod
    def from_module(cls, module: ModuleType) -> ActionRegistry:
        """Every function of `module` marked with `@action`."""
        found = {
            getattr(obj, _MARK): obj
            for obj in vars(module).values()
            if callable(obj) and isinstance(getattr(obj, _MARK, None), str)
        }
        return cls(found)

    @classmethod
    def load(cls, spec: str, root: Path) -> ActionRegistry:
        """Import an actions module given as a path (relative to `root`) or a dotted name."""
        if spec.endswith(".py") or "/" in spec:
            return cls.from_module(_import_file((root / spec).resolve()))
        return cls.from_module(importlib.import_module(spec))

    @classmethod
    def from_bot(cls, bot: BotVersion) -> ActionRegistry:
        """The actions of the module the bot file names (empty when it names none)."""
        if not bot.actions_module:
            return cls()
        return cls.load(bot.actions_module, bot.root)

    async def call(self, name: str, ctx: ActionContext, params: Mapping[str, Any]) -> Any:
        """Run an action; KeyError when it does not exist."""
        fn = self._actions.get(name)
        if fn is None:
            raise KeyError(name)
        result = fn(ctx, **params)
        if inspect.isawaitable(result):
            result = await result
        return result


def _import_file(path: Path) -> ModuleType:
    # The module name carries a hash of the source, so an edited file is a new module
    # (hot reload) while an unchanged one is imported once.
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    name = f"_bot_actions_{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
