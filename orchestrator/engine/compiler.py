"""Compiling: validated bot and flow models → an immutable `BotVersion`.

Flows are flattened to steps with ids, triggers and handlers compiled, templates and
references (steps, flows, params, messages, actions) checked. Problems are reported through
the `Loader` that read the files, with their `file:line:col`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from . import diagnostics as D
from . import hints
from . import models as M
from .actions import ActionRegistry
from .compiled import BotVersion, CompiledFlow, CompiledStep, HandlerRef, SourcePos
from .diagnostics import did_you_mean
from .hours import build_schedule
from .matching import CompiledTrigger, compile_trigger
from .templating import is_template
from .yaml_loader import Path as DataPath
from .yaml_loader import SourceMap

if TYPE_CHECKING:
    from .loader import Loader

# Fields whose strings are bare expressions rather than templates.
EXPRESSION_FIELDS = frozenset({"when", "if", "check", "items"})
# Fields whose content ends up in a message to the user (or to the desk).
REPLY_FIELDS = frozenset({"say", "prompt", "invalid", "reprompts", "title", "subtitle", "text", "summary"})
# Fields where a `msg.<id>` string is a reference to the catalogue.
MESSAGE_REF_FIELDS = frozenset({"say", "prompt", "invalid", "reprompts", "text", "variants"})


def compile_bot(
    loader: Loader,
    bot: M.BotFile,
    bot_source: SourceMap,
    flow_files: dict[str, M.FlowFile],
    raw_flow_ids: set[str],
    raw_message_ids: set[str],
) -> BotVersion:
    """Compile validated models into an immutable `BotVersion`; reference problems are
    reported on the loader."""
    c = _Compiler(loader, bot, raw_flow_ids, raw_message_ids)
    c.messages(bot_source, bot.messages, bot.translations, ())
    for name, ff in flow_files.items():
        c.messages(loader.sources[name], ff.messages, ff.translations, ())
    c.global_handlers(bot_source)
    for name, ff in flow_files.items():
        for fid, flow in ff.flows.items():
            c.flow(loader.sources[name], fid, flow)
    c.resolve(bot_source)

    actions_path = None
    if bot.actions and (bot.actions.endswith(".py") or "/" in bot.actions):
        actions_path = loader.root / bot.actions
        if actions_path.is_file():
            loader.contents.append((bot.actions, actions_path.read_bytes()))
    digest = hashlib.sha256()
    for name, raw in sorted(loader.contents):
        digest.update(name.encode() + b"\0" + raw + b"\0")

    tz = ZoneInfo(bot.bot.timezone)
    hours = bot.bot.business_hours
    return BotVersion(
        id=bot.bot.id,
        version=digest.hexdigest()[:16],
        root=loader.root,
        file=bot_source.file,
        spec=bot,
        flow_files=MappingProxyType(flow_files),
        flows=MappingProxyType(c.flows),
        steps=MappingProxyType(c.steps),
        messages=MappingProxyType({loc: MappingProxyType(entries) for loc, entries in c.catalogue.items()}),
        default_locale=bot.bot.default_locale,
        handlers=MappingProxyType(c.handlers),
        variables=MappingProxyType(dict(bot.variables)),
        business_hours=build_schedule(hours.days, hours.holidays) if hours else None,
        timezone=tz,
        limits=bot.bot.limits,
        matchers=bot.matchers,
        triggers=tuple(c.triggers),
        actions_module=bot.actions,
        sources=MappingProxyType(dict(loader.sources)),
        warnings=tuple(d for d in loader.diags if not d.is_error),
        templates=loader.templates,
    )


class _Compiler:
    """Flattens flows to steps, compiles triggers and handlers, checks references."""

    def __init__(self, loader: Loader, bot: M.BotFile, raw_flow_ids: set[str], raw_message_ids: set[str]):
        self.loader = loader
        self.bot = bot
        self.flows: dict[str, CompiledFlow] = {}
        self.steps: dict[tuple[str, str], CompiledStep] = {}
        self.handlers: dict[str, HandlerRef] = {}
        self.triggers: list[CompiledTrigger] = []
        self.catalogue: dict[str, dict[str, Any]] = {bot.bot.default_locale: {}}
        self.known_flows = set(raw_flow_ids)
        self.known_messages = set(raw_message_ids)
        self.flow_pos: dict[str, tuple[SourceMap, DataPath]] = {}
        # checked once everything is compiled: (source, path, name, extra)
        self.flow_refs: list[tuple[SourceMap, DataPath, str, dict[str, Any] | None]] = []
        self.action_refs: list[tuple[SourceMap, DataPath, str]] = []
        self.order = 0

    # ------------------------------------------------------------ messages
    def messages(
        self,
        source: SourceMap,
        messages: dict[str, Any],
        translations: dict[str, Any],
        prefix: DataPath,
    ) -> None:
        default = self.catalogue[self.bot.bot.default_locale]
        for mid, entry in messages.items():
            if mid in default:
                self.loader.error(
                    source,
                    (*prefix, "messages", mid),
                    D.E_DUPLICATE_MESSAGE,
                    f"duplicate message id '{mid}'",
                    key=True,
                )
                continue
            default[mid] = entry
            self.check_strings(source, entry, (*prefix, "messages", mid), reply=True)
        for locale, entries in translations.items():
            target = self.catalogue.setdefault(locale, {})
            for mid, entry in entries.items():
                path = (*prefix, "translations", locale, mid)
                if mid not in self.known_messages:
                    self.loader.error(
                        source,
                        path,
                        D.W_UNKNOWN_TRANSLATION,
                        f"translation of unknown message '{mid}'",
                        key=True,
                        severity="warning",
                    )
                target[mid] = entry
                self.check_strings(source, entry, path, reply=True)

    # ------------------------------------------------------------ handlers
    def handler(
        self, source: SourceMap, name: str, h: M.Handler, path: DataPath, scope: str | None
    ) -> HandlerRef:
        if name not in M.KNOWN_HANDLERS and not h.triggers:
            self.loader.error(
                source,
                path,
                D.E_HANDLER,
                f"handler '{name}' has no triggers and is not one of "
                f"{', '.join(M.KNOWN_HANDLERS)}{did_you_mean(name, M.KNOWN_HANDLERS)}",
                key=True,
            )
        if h.flow is not None:
            target = h.flow
            self.flow_refs.append((source, (*path, "flow"), h.flow, h.with_))
        else:
            target = f"@{scope}.{name}" if scope else f"@{name}"
            self.compile_flow(source, target, h.steps or [], (*path, "steps"), None)
        pos = self.pos(source, path)
        triggers = []
        for i, t in enumerate(h.triggers):
            self.order += 1
            triggers.append(
                compile_trigger(
                    t,
                    fuzzy_default=self.bot.matchers.fuzzy,
                    threshold_default=self.bot.matchers.threshold,
                    model=self.bot.matchers.model,
                    target=name,
                    handler=True,
                    scope=scope,
                    always=h.always,
                    priority=h.priority,
                    order=self.order,
                    where=str(self.pos(source, (*path, "triggers", i))),
                )
            )
        if scope is None:
            self.triggers.extend(triggers)
        self.check_strings(source, h, path, nested_steps=False)
        return HandlerRef(
            name, target, MappingProxyType(dict(h.with_)), h.always, h.priority, scope, pos, tuple(triggers)
        )

    def global_handlers(self, source: SourceMap) -> None:
        for name, h in self.bot.handlers.items():
            self.handlers[name] = self.handler(source, name, h, ("handlers", name), None)

    # ------------------------------------------------------------ flows
    def pos(self, source: SourceMap, path: DataPath) -> SourcePos:
        line, col = source.pos(path)
        return SourcePos(source.file, line, col)

    def flow(self, source: SourceMap, fid: str, flow: M.Flow) -> None:
        path: DataPath = ("flows", fid)
        if fid in self.flows:
            self.loader.error(
                source,
                path,
                D.E_DUPLICATE_FLOW,
                f"duplicate flow id '{fid}' (also in {self.flows[fid].pos})",
                key=True,
            )
            return
        self.flow_pos[fid] = (source, path)
        triggers = []
        for i, t in enumerate(flow.triggers):
            self.order += 1
            triggers.append(
                compile_trigger(
                    t,
                    fuzzy_default=self.bot.matchers.fuzzy,
                    threshold_default=self.bot.matchers.threshold,
                    model=self.bot.matchers.model,
                    target=fid,
                    priority=flow.priority,
                    order=self.order,
                    where=str(self.pos(source, (*path, "triggers", i))),
                )
            )
        self.triggers.extend(triggers)
        handlers = {
            name: self.handler(source, name, h, (*path, "handlers", name), fid)
            for name, h in flow.handlers.items()
        }
        if flow.when:
            self.check_string(source, (*path, "when"), flow.when, "when", False)
        self.compile_flow(
            source, fid, flow.steps, (*path, "steps"), flow, handlers=handlers, triggers=tuple(triggers)
        )

    def compile_flow(
        self,
        source: SourceMap,
        fid: str,
        steps: Sequence[Any],
        path: DataPath,
        flow: M.Flow | None,
        *,
        handlers: dict[str, HandlerRef] | None = None,
        triggers: tuple[CompiledTrigger, ...] = (),
    ) -> None:
        block = _Block(self, source, fid)
        indices = self.loader.step_indices.get(fid) or range(len(steps))
        entry = block.block([(s, (*path, i)) for i, s in zip(indices, steps, strict=True)], None, "")
        block.check_refs()
        self.flows[fid] = CompiledFlow(
            id=fid,
            entry=entry,
            pos=self.pos(source, path[:-1] if flow is not None else path),
            interruptible=flow.interruptible if flow else True,
            priority=flow.priority if flow else 0,
            when=flow.when if flow else None,
            params=MappingProxyType(dict(flow.params)) if flow else MappingProxyType({}),
            handlers=MappingProxyType(handlers or {}),
            triggers=triggers,
            model=flow,
        )

    # ------------------------------------------------------------ checks
    def check_string(self, source: SourceMap, path: DataPath, value: str, field: str, reply: bool) -> None:
        templates = self.loader.templates
        expression = field in EXPRESSION_FIELDS
        error = templates.syntax_error(value, expression=expression)
        if error:
            kind = "expression" if expression else "template"
            self.loader.error(source, path, D.E_TEMPLATE, f"{kind} syntax error: {error}")
            return
        if reply and not expression and is_template(value):
            names = templates.scope_names(value, expression=expression)
            env = sorted(n for n in names if n == "env" or n.startswith("env."))
            if env:
                self.loader.error(
                    source,
                    path,
                    D.E_ENV_IN_REPLY,
                    f"'{env[-1]}' cannot be used in a reply: env.* is only readable in "
                    "http steps and conditions",
                )
        ref = M.message_ref(value)
        in_ref_field = reply and field in MESSAGE_REF_FIELDS
        if ref is not None and in_ref_field and ref not in self.known_messages:
            hint = did_you_mean(ref, self.known_messages)
            self.loader.error(source, path, D.E_UNKNOWN_MESSAGE, f"unknown message 'msg.{ref}'{hint}")

    def check_strings(
        self,
        source: SourceMap,
        value: Any,
        path: DataPath,
        *,
        reply: bool = False,
        nested_steps: bool = True,
    ) -> None:
        for p, s, field, in_reply in _walk(value, path, "", reply, nested_steps=nested_steps):
            self.check_string(source, p, s, field, in_reply)

    def check_targets(self, source: SourceMap, path: DataPath, targets: Iterator[tuple]) -> None:
        for target, tpath in targets:
            scope, _, rest = target.partition(".")
            if scope != "user":
                continue
            name = "user." + rest.split(".")[0]
            decl = self.bot.variables.get(name)
            if decl is None or not decl.persist:
                declared = [n for n, d in self.bot.variables.items() if d.persist]
                self.loader.error(
                    source,
                    (*path, *tpath),
                    D.E_USER_NOT_PERSISTED,
                    f"'{name}' is not declared with persist: true in the bot's variables"
                    f"{did_you_mean(name, declared)}",
                )

    def resolve(self, bot_source: SourceMap) -> None:
        """Cross-flow references: flows, params, actions."""
        for source, path, name, with_ in self.flow_refs:
            target = self.flows.get(name)
            if target is None or target.model is None:
                if name not in self.known_flows:
                    hint = did_you_mean(name, self.known_flows)
                    self.loader.error(source, path, D.E_UNKNOWN_FLOW, f"unknown flow '{name}'{hint}")
                continue
            if with_ is None:
                continue
            params = target.params
            for key in with_:
                if key not in params:
                    self.loader.error(
                        source,
                        path,
                        D.E_PARAMS,
                        f"flow '{name}' has no param '{key}'{did_you_mean(key, params)}",
                    )
            for pname, decl in params.items():
                if decl.is_required and pname not in with_:
                    self.loader.error(source, path, D.E_PARAMS, f"flow '{name}' needs param '{pname}'")
        # Without an actions module, actions are registered by the host at run time and
        # cannot be checked here.
        spec = self.bot.actions
        if not spec:
            return
        try:
            names = ActionRegistry.load(spec, self.loader.root).names()
        except Exception as exc:  # an import error in user code is a diagnostic
            self.loader.error(
                bot_source, ("actions",), D.E_ACTIONS_MODULE, f"cannot import actions module '{spec}': {exc}"
            )
            return
        for source, path, name in self.action_refs:
            if name not in names:
                self.loader.error(
                    source, path, D.E_UNKNOWN_ACTION, f"unknown action '{name}'{did_you_mean(name, names)}"
                )


def _is_steps(value: Any) -> bool:
    if isinstance(value, list):
        return any(isinstance(v, M.StepBase) for v in value)
    return isinstance(value, M.StepBase)


def _walk(
    value: Any, path: DataPath, field: str, reply: bool, *, nested_steps: bool = True
) -> Iterator[tuple[DataPath, str, str, bool]]:
    """(path, string, field, in_reply) for every string in a model tree; with
    `nested_steps=False`, inline steps are skipped (they are checked as steps of their own)."""
    if isinstance(value, BaseModel):
        reply = reply or isinstance(value, M.ReplyObject | M.MessageVariants)
        for name, info in type(value).model_fields.items():
            key = info.alias or name
            sub = getattr(value, name)
            if not nested_steps and _is_steps(sub):
                continue
            yield from _walk(sub, (*path, key), key, reply or key in REPLY_FIELDS, nested_steps=nested_steps)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, (*path, k), field, reply, nested_steps=nested_steps)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, (*path, i), field, reply, nested_steps=nested_steps)
    elif isinstance(value, str):
        yield (path, value, field, reply)


# Where each step kind keeps its branches: (branch name, path inside the step).
_BRANCHES: dict[str, tuple[tuple[str, DataPath], ...]] = {
    "if": (("then", ("then",)), ("else", ("else",))),
    "ask": (("on_fail", ("ask", "on_fail")), ("on_timeout", ("ask", "on_timeout"))),
    "choose": (
        ("on_other", ("choose", "on_other")),
        ("on_fail", ("choose", "on_fail")),
        ("on_timeout", ("choose", "on_timeout")),
    ),
    "wait": (("on_timeout", ("wait", "on_timeout")), ("on_other", ("wait", "on_other"))),
    "http": (("on_error", ("http", "on_error")),),
    "do": (("on_error", ("on_error",)),),
    "handoff": (
        ("when_closed", ("handoff", "when_closed")),
        ("when_no_agents", ("handoff", "when_no_agents")),
        ("on_released", ("handoff", "on_released")),
    ),
}


def _attr(model: Any, path: DataPath) -> Any:
    for part in path:
        model = getattr(model, {"if": "if_", "else": "else_"}.get(str(part), str(part)), None)
    return model


class _Block:
    """Compiles the steps of one flow (including inline branches)."""

    def __init__(self, c: _Compiler, source: SourceMap, fid: str):
        self.c = c
        self.source = source
        self.fid = fid
        self.refs: list[tuple[str, DataPath]] = []
        self.ids: set[str] = set()

    def block(self, items: list[tuple[Any, DataPath]], continuation: str | None, prefix: str) -> str | None:
        if not items:
            return continuation
        ids = [s.id if s.id else f"~{prefix}{i}" for i, (s, _) in enumerate(items)]
        for i, (step, path) in enumerate(items):
            default_next = ids[i + 1] if i + 1 < len(items) else continuation
            self.step(step, path, ids[i], default_next)
        return ids[0]

    def branch(self, value: Any, path: DataPath, continuation: str | None, prefix: str) -> Any:
        if isinstance(value, str):
            self.refs.append((value, path))
            return value
        if isinstance(value, list):
            items = [(s, (*path, j)) for j, s in enumerate(value)]
            return self.block(items, continuation, prefix)
        return self.block([(value, path)], continuation, prefix)

    def step(self, step: M.StepBase, path: DataPath, sid: str, default_next: str | None) -> None:
        c, source = self.c, self.source
        if step.id is not None:
            if step.id in self.ids:
                c.loader.error(
                    source,
                    (*path, "id"),
                    D.E_DUPLICATE_STEP,
                    f"duplicate step id '{step.id}' in flow '{self.fid}'",
                )
            self.ids.add(step.id)
        kind = step.KIND
        if kind in M.WAITING_KINDS and step.id is None:
            c.loader.error(
                source, path, D.E_WAIT_NEEDS_ID, f"'{kind}' waits for the user: the step needs an id"
            )
        jump = step.jump
        if jump is not None:
            self.refs.append((jump, (*path, "next" if step.next else "goto")))
        nxt = jump if jump is not None else default_next
        owner = sid.lstrip("~")
        branches: dict[str, str | None] = {}
        for name, bpath in _BRANCHES.get(kind, ()):
            value = _attr(step, bpath)
            if value is not None:
                branches[name] = self.branch(value, (*path, *bpath), nxt, f"{owner}.{name}.")
        if isinstance(step, M.SwitchStep):
            for i, case in enumerate(step.switch):
                cpath = (*path, "switch", i)
                if case.else_ is not None:
                    branches["else"] = self.branch(case.else_, (*cpath, "else"), nxt, f"{owner}.else.")
                elif case.goto is not None:
                    branches[f"case:{i}"] = self.branch(case.goto, (*cpath, "goto"), nxt, "")
                else:
                    branches[f"case:{i}"] = self.branch(
                        case.steps, (*cpath, "steps"), nxt, f"{owner}.case{i}."
                    )
        if isinstance(step, M.ChooseStep):
            for i, opt in enumerate(step.choose.options):
                opath = (*path, "choose", "options", i)
                if opt.goto is not None:
                    branches[f"option:{i}"] = self.branch(opt.goto, (*opath, "goto"), nxt, "")
                elif opt.steps is not None:
                    branches[f"option:{i}"] = self.branch(
                        opt.steps, (*opath, "steps"), nxt, f"{owner}.option{i}."
                    )
        if isinstance(step, M.CallStep | M.StartStep):
            self.c.flow_refs.append((source, (*path, kind), getattr(step, kind), step.with_))
        if isinstance(step, M.DoStep):
            self.c.action_refs.append((source, (*path, "do"), step.do))
        c.check_targets(source, path, targets_of(step))
        c.check_strings(source, step, path, nested_steps=False)
        c.steps[(self.fid, sid)] = CompiledStep(
            flow=self.fid,
            id=sid,
            kind=kind,
            model=step,
            next=nxt,
            branches=MappingProxyType(branches),
            pos=c.pos(source, path),
            path=path,
            explicit_id=step.id is not None,
        )

    def check_refs(self) -> None:
        known = self.ids | self.c.loader.raw_step_ids.get(self.fid, set())
        for target, path in self.refs:
            if target not in known:
                self.c.loader.error(
                    self.source,
                    path,
                    D.E_UNKNOWN_STEP,
                    f"unknown step '{target}'{hints.unknown_step(target, known)}",
                )


def targets_of(step: M.StepBase) -> Iterator[tuple[str, DataPath]]:
    """Variables a step writes, with their paths inside the step."""
    if isinstance(step, M.AskStep):
        yield step.ask.into, ("ask", "into")
    elif isinstance(step, M.ChooseStep):
        if step.choose.into:
            yield step.choose.into, ("choose", "into")
        for i, opt in enumerate(step.choose.options):
            for key in opt.set or {}:
                yield key, ("choose", "options", i, "set", key)
    elif isinstance(step, M.WaitStep):
        if step.wait.into:
            yield step.wait.into, ("wait", "into")
    elif isinstance(step, M.SetStep):
        for key in step.set:
            yield key, ("set", key)
        for i, key in enumerate(step.unset):
            yield key, ("unset", i)
    elif isinstance(step, M.HttpStep):
        if step.http.into:
            yield step.http.into, ("http", "into")
    elif isinstance(step, M.CallStep | M.DoStep) and step.into:
        yield step.into, ("into",)
