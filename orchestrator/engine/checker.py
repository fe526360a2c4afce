"""The full checker behind `orchestrator check`, `serve`'s start-up check and hot reload.

It runs the loader (YAML syntax, schema, references: E1xx, E2xx up to E211, E3xx up to E303,
E401, E402) and then the rules that need the whole compiled bot:

- variables (E310, E311): every template and condition is parsed to a Jinja AST; each
  `conv.x` / `user.x` / `flow.x` read must be declared (`variables:`, flow `params:`) or
  written somewhere (`set`, `into`, option `set`); `turn.x` and `sys.x` must exist; a bare
  name must be a scope or a name the context binds (`value` in a question's ladder, the
  `as` name of `cards_from`);
- `env.*` read where it may not be (E402 in a reply, E403 in a set/with/return value);
- the flow graph (graph.py): unreachable steps (W222), flows nothing starts (W223), loops
  without a waiting step (E220 when nothing can leave them, W221 when only a condition can);
- triggers: the same payload, event, keyword phrase or regex starting two flows or handlers
  at the same priority (E224);
- payloads: two options of a choose, or two buttons of one reply, with the same payload
  (E225); a button payload that no trigger handles (W226).

Every rule reports `file:line:col` with the code's stable number (see diagnostics.py).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError, meta, nodes
from pydantic import BaseModel

from . import diagnostics as D
from . import hints
from . import models as M
from .compiled import BotVersion, CompiledStep
from .compiler import targets_of
from .diagnostics import Diagnostic, did_you_mean, sort_key
from .graph import FlowGraph
from .intents import embeddings_available, similarity
from .language_checks import check_language
from .loader import load_bot_partial
from .matching import CompiledTrigger
from .templating import is_template
from .yaml_loader import Path as DataPath
from .yaml_loader import SourceMap

SCOPES = frozenset({"conv", "user", "flow", "turn", "sys", "env"})
# What `turn.*` and `sys.*` hold (see inputs.TurnEvent.scope and runtime.Turn.ctx).
OVERLAP = 0.8  # examples of two intents at least this alike are W228
TURN_NAMES = ("type", "text", "payload", "event", "data", "url", "raw", "intent", "did_you_mean")
SYS_NAMES = (
    "now",
    "today",
    "locale",
    "channel",
    "attempt",
    "handoff",
    "conversation_id",
    "user_id",
    "bot",
    "flow",
    "step",
    "agents_available",
    "open",
    "error",
    "turns",
)
EXPRESSION_KEYS = frozenset({"when", "if", "check", "items"})
# Keys whose values are never rendered (ids, names, enums, numbers, nested steps).
_SKIP_KEYS = frozenset(
    {
        "id",
        "goto",
        "next",
        "into",
        "call",
        "start",
        "do",
        "type",
        "style",
        "event",
        "keywords",
        "method",
        "description",
        "triggers",
        "markdown",
        "typing",
        "max_attempts",
        "timeout",
        "retries",
        "skip_if_set",
        "prefill",
        "correctable",
        "interruptible",
        "triggers_first",
        "priority",
        "check_hours",
        "end",
        "as",
        "limit",
        "unset",
        "values",
        "on_fail",
        "on_timeout",
        "on_other",
        "on_error",
        "when_closed",
        "when_no_agents",
        "on_released",
        "then",
        "else",
        "steps",
    }
)
# Keys that switch what the strings below them are used for.
_PURPOSE_KEYS = {
    "say": "reply",
    "prompt": "reply",
    "invalid": "reply",
    "reprompts": "reply",
    "set": "value",
    "with": "value",
    "return": "value",
    "http": "http",
    "handoff": "reply",
}


@dataclass
class CheckResult:
    """The outcome of checking one bot: its diagnostics (sorted) and, when it has no
    errors, the version that can run."""

    file: str
    diagnostics: list[Diagnostic]
    bot: BotVersion | None = None
    bot_id: str | None = None

    @property
    def errors(self) -> list[Diagnostic]:
        """Only the errors."""
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        """Only the warnings."""
        return [d for d in self.diagnostics if not d.is_error]

    @property
    def ok(self) -> bool:
        """True when the bot can run (warnings allowed)."""
        return self.bot is not None and not self.errors

    def report(self) -> str:
        """Every diagnostic, one per line, compiler style."""
        return "\n".join(str(d) for d in self.diagnostics)


def check_bot(bot_file: Path, root: Path | None = None) -> CheckResult:
    """Load and check one bot file; never raises for problems in the bot's files."""
    bot_file = Path(bot_file)
    version, diags = load_bot_partial(bot_file, root)
    if version is not None:
        try:
            diags.extend(_Checker(version, diags).run())
        except Exception:
            # The rules assume what validated; on a version the loader found broken, a rule may
            # trip over a half-compiled flow: the loader's errors are what matters then.
            if not any(d.is_error for d in diags):
                raise
    unique = sorted(set(diags), key=lambda d: (*sort_key(d), d.message))
    display = version.file if version is not None else _display(bot_file, root)
    ok = version is not None and not any(d.is_error for d in unique)
    return CheckResult(display, unique, version if ok else None, version.id if version else None)


def _display(bot_file: Path, root: Path | None) -> str:
    base = (Path(root) if root is not None else bot_file.resolve().parent.parent).resolve()
    try:
        return bot_file.resolve().relative_to(base).as_posix()
    except ValueError:
        return bot_file.as_posix()


@dataclass(frozen=True, slots=True)
class _Ctx:
    """What a string is used for: `reply`, `value`, `condition` or `http`; whether it is a
    bare expression; which extra names its context binds; the flow it runs in."""

    purpose: str
    expression: bool = False
    extras: frozenset[str] = frozenset()
    flow: str | None = None


@dataclass
class _Positions:
    """Text and node starts of one file, to point at a name inside a scalar."""

    lines: list[str]
    starts: list[tuple[int, int]] = field(default_factory=list)


class _Checker:
    def __init__(self, bot: BotVersion, prior: list[Diagnostic]):
        self.bot = bot
        self.out: list[Diagnostic] = []
        self.broken_files = {d.file for d in prior if d.is_error}
        self.env = bot.templates.env
        self._positions: dict[str, _Positions] = {}
        # known variables
        self.declared = set(bot.variables)
        self.conv_written: set[str] = set()
        self.user_written: set[str] = set()
        self.flow_vars: dict[str, set[str]] = {}
        # where each catalogue message is used as a question's prompt or ladder
        self.prompt_messages: set[str] = set()

    # ------------------------------------------------------------ helpers
    def report(self, file: str, pos: tuple[int, int], severity: D.Severity, code: str, message: str) -> None:
        self.out.append(Diagnostic(file, pos[0], pos[1], severity, code, message))

    def source(self, file: str) -> SourceMap:
        return self.bot.sources.get(file) or SourceMap(file)

    def pos(self, file: str, path: DataPath, *, key: bool = False) -> tuple[int, int]:
        return self.source(file).pos(path, key=key)

    def positions(self, file: str) -> _Positions:
        cached = self._positions.get(file)
        if cached is None:
            try:
                text = (self.bot.root / file).read_text(encoding="utf-8")
            except OSError:
                text = ""
            starts: set[tuple[int, int]] = set()
            for node in self.source(file).nodes.values():
                starts.add((node.line, node.col))
                if node.key_line:
                    starts.add((node.key_line, node.key_col))
            cached = _Positions(text.splitlines(), sorted(starts))
            self._positions[file] = cached
        return cached

    def locate(self, file: str, start: tuple[int, int], needle: str) -> tuple[int, int]:
        """The position of `needle` inside the scalar that starts at `start` (the scalar's
        own position when it cannot be found, e.g. across escapes)."""
        info = self.positions(file)
        i = bisect.bisect_right(info.starts, start)
        end = info.starts[i] if i < len(info.starts) else (len(info.lines) + 1, 1)
        line, col = start
        while line <= len(info.lines) and (line, col) < end:
            text = info.lines[line - 1]
            found = text.find(needle, col - 1)
            if found >= 0 and (line, found + 1) < end:
                return (line, found + 1)
            line, col = line + 1, 1
        return start

    # ------------------------------------------------------------ run
    def run(self) -> list[Diagnostic]:
        self.collect_writes()
        self.variables()
        graph = FlowGraph(self.bot)
        self.graph(graph)
        self.triggers()
        self.payloads(graph)
        check_language(self)
        return self.out

    # ------------------------------------------------------------ variables
    def collect_writes(self) -> None:
        bot = self.bot
        for (fid, _), step in bot.steps.items():
            fvars = self.flow_vars.setdefault(fid, set())
            for target, path in targets_of(step.model):
                scope, _, rest = target.partition(".")
                name = rest.split(".")[0]
                if scope == "conv":
                    self.conv_written.add(name)
                    self.check_declared_conv(step, f"conv.{name}", path)
                elif scope == "user":
                    self.user_written.add(name)
                elif scope == "flow":
                    fvars.add(name)
        for fid, flow in bot.flows.items():
            self.flow_vars.setdefault(fid, set()).update(flow.params)
        handlers = [*bot.handlers.values()]
        for flow in bot.flows.values():
            handlers.extend(flow.handlers.values())
        for h in handlers:
            self.flow_vars.setdefault(h.flow, set()).update(h.with_)

    def check_declared_conv(self, step: CompiledStep, name: str, path: DataPath) -> None:
        """W312: a bot that declares its conv.* variables writes one it did not declare
        (most often a typo: the write silently creates a second variable)."""
        declared = sorted(n for n in self.declared if n.startswith("conv."))
        if not declared or name in self.declared:
            return
        file = step.pos.file
        is_key = len(path) >= 2 and path[-2] == "set"  # `set: {conv.x: …}` names it as a key
        self.report(
            file,
            self.pos(file, (*step.path, *path), key=is_key),
            "warning",
            D.W_CONV_NOT_DECLARED,
            f"'{name}' is not declared in the bot's variables{did_you_mean(name, declared)}",
        )

    def known(self, scope: str, flow: str | None) -> set[str]:
        if scope == "conv":
            return {n[5:] for n in self.declared if n.startswith("conv.")} | self.conv_written
        if scope == "user":
            return {n[5:] for n in self.declared if n.startswith("user.")} | self.user_written
        if scope == "flow":
            if flow is None:
                return {v for names in self.flow_vars.values() for v in names}
            return self.flow_vars.get(flow, set())
        if scope == "turn":
            return set(TURN_NAMES) | set(self.bot.captures)
        if scope == "sys":
            return set(SYS_NAMES)
        return set()

    def variables(self) -> None:
        bot = self.bot
        for step in bot.steps.values():
            self.walk_step(step)
        # the catalogue: any flow may use a message, in a question's ladder too (`value`)
        catalogue = _Ctx("reply", extras=frozenset({"value"}))
        files: list[tuple[str, Any]] = [(bot.file, bot.spec)]
        files.extend(bot.flow_files.items())
        for file, spec in files:
            for mid, entry in spec.messages.items():
                self.walk(file, entry, ("messages", mid), catalogue)
            for locale, entries in spec.translations.items():
                for mid, entry in entries.items():
                    self.walk(file, entry, ("translations", locale, mid), catalogue)
        for file, ff in bot.flow_files.items():
            for fid, flow in ff.flows.items():
                if flow.when:
                    # a flow's guard runs before the flow starts: no flow.* yet
                    self.check_string(
                        file, ("flows", fid, "when"), flow.when, _Ctx("condition", True, flow=fid)
                    )

    def walk_step(self, step: CompiledStep) -> None:
        self.collect_prompt_refs(step.model)
        self.walk(step.pos.file, step.model, step.path, _Ctx("value", flow=step.flow), top=True)

    def collect_prompt_refs(self, model: M.StepBase) -> None:
        spec = getattr(model, "ask", None) if isinstance(model, M.AskStep) else None
        if isinstance(model, M.ChooseStep):
            spec = model.choose
        if spec is None:
            return
        replies = [spec.prompt, spec.invalid, *getattr(spec, "reprompts", [])]
        replies.extend(c.invalid for c in getattr(spec, "validate_", []))
        for reply in replies:
            ref = M.message_ref(reply)
            if ref:
                self.prompt_messages.add(ref)

    def walk(self, file: str, value: Any, path: DataPath, ctx: _Ctx, *, top: bool = False) -> None:
        if isinstance(value, BaseModel):
            if isinstance(value, M.StepBase) and not top:
                return  # an inline step: checked as a step of its own
            if isinstance(value, M.Handler):
                return  # handler `with:` values are passed as they are, not rendered
            if isinstance(value, M.ReplyObject | M.MessageVariants) and ctx.purpose != "reply":
                ctx = _Ctx("reply", False, ctx.extras, ctx.flow)
            if isinstance(value, M.AskSpec | M.ChooseSpec):
                ctx = _Ctx(ctx.purpose, False, ctx.extras | {"value"}, ctx.flow)
            for name, info in type(value).model_fields.items():
                key = info.alias or name
                sub = getattr(value, name)
                if sub is None or key in _SKIP_KEYS:
                    continue
                sub_ctx = ctx
                if key in EXPRESSION_KEYS:
                    purpose = "reply" if key == "items" else "condition"
                    sub_ctx = _Ctx(purpose, True, ctx.extras, ctx.flow)
                elif isinstance(value, M.Option) and key in ("title", "payload"):
                    sub_ctx = _Ctx("reply", False, ctx.extras, ctx.flow)
                elif key in _PURPOSE_KEYS:
                    sub_ctx = _Ctx(_PURPOSE_KEYS[key], False, ctx.extras, ctx.flow)
                if isinstance(value, M.CardsFrom) and key == "card":
                    sub_ctx = _Ctx(sub_ctx.purpose, False, ctx.extras | {value.as_}, ctx.flow)
                self.walk(file, sub, (*path, key), sub_ctx)
        elif isinstance(value, dict):
            for k, v in value.items():
                self.walk(file, v, (*path, k), ctx)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.walk(file, v, (*path, i), ctx)
        elif isinstance(value, str):
            self.check_string(file, path, value, ctx)

    def check_string(self, file: str, path: DataPath, text: str, ctx: _Ctx) -> None:
        if ctx.purpose == "reply" and not ctx.expression and "{" in text:
            self.rasa_slots(file, path, text)
        if not ctx.expression and not is_template(text):
            return
        try:
            tree = self.env.parse("{{ " + text + " }}" if ctx.expression else text)
        except TemplateSyntaxError:
            return  # E401, reported by the loader
        start = self.pos(file, path)
        env_names: set[str] = set()
        seen: set[str] = set()
        for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
            assert isinstance(node, nodes.Getattr | nodes.Getitem)
            if not isinstance(node.node, nodes.Name) or node.node.name not in SCOPES:
                continue
            scope = node.node.name
            if isinstance(node, nodes.Getattr):
                attr = node.attr
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                attr = node.arg.value
            else:
                continue
            name = f"{scope}.{attr}"
            if name in seen:
                continue
            seen.add(name)
            if scope == "env":
                env_names.add(name)
                continue
            known = self.known(scope, ctx.flow)
            if attr in known:
                continue
            candidates = sorted(f"{scope}.{k}" for k in known)
            hint = did_you_mean(name, candidates)
            where = self.locate(file, start, name)
            if scope in ("turn", "sys"):
                valid = ", ".join(sorted(known))
                self.report(
                    file,
                    where,
                    "error",
                    D.E_UNKNOWN_NAME,
                    f"'{name}' does not exist{hint}; {scope}.* has {valid}",
                )
            else:
                how = {
                    "conv": "declared in the bot's variables or set by any step",
                    "user": "declared in the bot's variables",
                    "flow": f"a param of flow '{ctx.flow}' or set in it"
                    if ctx.flow and not ctx.flow.startswith("@")
                    else "set in this flow",
                }[scope]
                self.report(file, where, "error", D.E_UNDECLARED, f"'{name}' is not {how}{hint}")
        for name in sorted(meta.find_undeclared_variables(tree)):
            if name in SCOPES or name in ctx.extras:
                if name == "env":
                    env_names.add("env")
                continue
            hint = did_you_mean(name, sorted(SCOPES | ctx.extras))
            scopes = "conv, user, flow, turn, sys" + (", env" if ctx.purpose in ("condition", "http") else "")
            extra = "".join(f", {x}" for x in sorted(ctx.extras))
            self.report(
                file,
                self.locate(file, start, name),
                "error",
                D.E_UNKNOWN_NAME,
                f"unknown variable '{name}': names start with a scope ({scopes}{extra}){hint}",
            )
        if env_names:
            # one diagnostic per string, naming what the loader names (the last in order)
            self.check_env(file, path, start, sorted(env_names)[-1], ctx)

    def rasa_slots(self, file: str, path: DataPath, text: str) -> None:
        """W404: `{slot}` (Rasa's way to fill a slot into a message) is sent as it is."""
        start = self.pos(file, path)
        for found in dict.fromkeys(hints.rasa_slots(text)):
            name = found.strip("{} ")
            self.report(
                file,
                self.locate(file, start, found),
                "warning",
                D.W_RASA_SLOT,
                f"'{found}' is sent to users as it is: variables are written "
                f"{{{{ conv.{name} }}}} (or flow.{name}, user.{name})",
            )

    def check_env(self, file: str, path: DataPath, start: tuple[int, int], name: str, ctx: _Ctx) -> bool:
        if ctx.purpose == "reply":
            # the loader's wording and position, so both checks agree on one diagnostic
            self.report(
                file,
                start,
                "error",
                D.E_ENV_IN_REPLY,
                f"'{name}' cannot be used in a reply: env.* is only readable in http steps and conditions",
            )
            return True
        if ctx.purpose == "value":
            self.report(
                file,
                self.locate(file, start, name),
                "error",
                D.E_ENV_IN_VALUE,
                f"'{name}' cannot be used in a set, with, return or into value: env.* is only "
                "readable in http steps and conditions (actions get env through their context)",
            )
            return True
        return False

    # ------------------------------------------------------------ flow graph
    def graph(self, graph: FlowGraph) -> None:
        bot = self.bot
        bot_broken = bot.file in self.broken_files
        flow_file = {fid: flow.pos.file for fid, flow in bot.flows.items()}
        for fid in graph.unused_flows():
            if bot_broken or flow_file[fid] in self.broken_files:
                continue
            flow = bot.flows[fid]
            self.report(
                flow.pos.file,
                self.pos(flow.pos.file, ("flows", fid), key=True),
                "warning",
                D.W_UNUSED_FLOW,
                f"flow '{fid}' is never started: it has no trigger, and no handler, call or start uses it",
            )
        for step, after in graph.unreachable_steps():
            if step.pos.file in self.broken_files:
                continue
            what = f"step '{step.id}'" if step.explicit_id else f"this '{step.kind}' step"
            article = "an" if after is not None and after.kind[0] in "aeiou" else "a"
            why = (
                f": it comes after {article} '{after.kind}' step and no goto or branch leads to it"
                if after is not None
                else ": no goto or branch leads to it"
            )
            self.report(
                step.pos.file,
                (step.pos.line, step.pos.col),
                "warning",
                D.W_UNREACHABLE_STEP,
                f"{what} is unreachable{why}",
            )
        for loop in graph.loops():
            first = loop.steps[0]
            if any(s.pos.file in self.broken_files for s in loop.steps):
                continue
            path = " → ".join(graph.label(s) for s in [*loop.cycle, loop.cycle[0]])
            if loop.escapes:
                self.report(
                    first.pos.file,
                    (first.pos.line, first.pos.col),
                    "warning",
                    D.W_LOOP,
                    f"loop with no waiting step: {path} (only a condition ends it; the turn fails "
                    f"after {bot.limits.max_steps_per_turn} steps otherwise)",
                )
            else:
                self.report(
                    first.pos.file,
                    (first.pos.line, first.pos.col),
                    "error",
                    D.E_LOOP,
                    f"loop with no waiting step: {path} (nothing leaves it: add an ask, choose "
                    "or wait, or a way out)",
                )

    # ------------------------------------------------------------ triggers
    def triggers(self) -> None:
        bot = self.bot
        if bot.spec.matchers.model == "embeddings" and not embeddings_available():
            self.report(
                bot.file,
                self.pos(bot.file, ("matchers", "model")),
                "error",
                D.E_INVALID,
                "matchers.model: embeddings needs the embeddings extra: pip install '.[embeddings]'",
            )
        entries: list[tuple[CompiledTrigger, str, bool]] = []  # trigger, owner label, guarded
        for fid, flow in bot.flows.items():
            if flow.model is None:
                continue
            for t in flow.triggers:
                entries.append((t, f"flow '{fid}'", flow.when is not None))
        for name, h in bot.handlers.items():
            for t in h.triggers:
                entries.append((t, f"handler '{name}'", False))
        for i, (a, owner_a, guard_a) in enumerate(entries):
            for b, owner_b, guard_b in entries[:i]:
                if a.kind == "examples" and b.kind == "examples" and owner_a != owner_b:
                    self.overlapping_examples(a, owner_a, b, owner_b)
                    continue
                if owner_a == owner_b or guard_a or guard_b or a.priority != b.priority:
                    continue
                clash = _clash(a, b)
                if clash is None:
                    continue
                file, line, col = _split_where(a.where)
                self.report(
                    file,
                    (line, col),
                    "error",
                    D.E_AMBIGUOUS_TRIGGER,
                    f"ambiguous trigger: {owner_a} and {owner_b} ({b.where}) both start on {clash}; "
                    f"which one runs depends on file order: remove one, or give {owner_a} a "
                    "different priority",
                )
                break

    def overlapping_examples(
        self, a: CompiledTrigger, owner_a: str, b: CompiledTrigger, owner_b: str
    ) -> None:
        """W228: an example of `a` so close to one of `b` that a message like it could start either."""
        for ex_a in a.examples:
            for ex_b in b.examples:
                score = similarity(ex_a, ex_b)
                if score >= OVERLAP:
                    file, line, col = _split_where(a.where)
                    self.report(
                        file,
                        (line, col),
                        "warning",
                        D.W_OVERLAPPING_EXAMPLES,
                        f"example '{ex_a}' of {owner_a} is close to '{ex_b}' of {owner_b} ({b.where}, "
                        f"similarity {score:.2f}): a message like it could start either; reword or "
                        "move one of them",
                    )
                    return

    # ------------------------------------------------------------ payloads
    def payloads(self, graph: FlowGraph) -> None:
        bot = self.bot
        triggers: list[str] = [t.payload for t in bot.triggers if t.kind == "payload" and t.payload]
        for flow in bot.flows.values():
            for h in flow.handlers.values():
                triggers.extend(t.payload for t in h.triggers if t.kind == "payload" and t.payload)

        def handled(payload: str) -> bool:
            return any(p == payload or (p.endswith("*") and payload.startswith(p[:-1])) for p in triggers)

        for step in bot.steps.values():
            file = step.pos.file
            model = step.model
            if isinstance(model, M.ChooseStep):
                seen: dict[str, int] = {}
                for i, opt in enumerate(model.choose.options):
                    if opt.payload in seen and not is_template(opt.payload):
                        self.report(
                            file,
                            self.pos(file, (*step.path, "choose", "options", i, "payload")),
                            "error",
                            D.E_DUPLICATE_PAYLOAD,
                            f"option {i + 1} has the same payload '{opt.payload}' as option "
                            f"{seen[opt.payload] + 1}: it can never be picked by its button",
                        )
                    seen.setdefault(opt.payload, i)
            # a reply right before a question may offer its answers as buttons
            before_question = graph.waits_next(step)
            waiting = isinstance(model, M.AskStep | M.ChooseStep)
            for obj, path in _step_replies(model, step.path):
                self.reply_payloads(
                    file, obj, path, check_handled=not (waiting or before_question), handled=handled
                )
        files: list[tuple[str, Any]] = [(bot.file, bot.spec), *bot.flow_files.items()]
        for file, spec in files:
            for mid, entry in spec.messages.items():
                for obj, path in _entry_replies(entry, ("messages", mid)):
                    self.reply_payloads(
                        file, obj, path, check_handled=mid not in self.prompt_messages, handled=handled
                    )
            for locale, entries in spec.translations.items():
                for mid, entry in entries.items():
                    for obj, path in _entry_replies(entry, ("translations", locale, mid)):
                        self.reply_payloads(
                            file, obj, path, check_handled=mid not in self.prompt_messages, handled=handled
                        )

    def reply_payloads(
        self, file: str, obj: M.ReplyObject, path: DataPath, *, check_handled: bool, handled: Any
    ) -> None:
        found: list[tuple[str, DataPath]] = []
        for i, b in enumerate(obj.buttons):
            if b.payload is not None:
                found.append((b.payload, (*path, "buttons", i, "payload")))
        for i, q in enumerate(obj.quick_replies):
            found.append((q.payload, (*path, "quick_replies", i, "payload")))
        for c, card in enumerate(obj.cards):
            for i, b in enumerate(card.buttons):
                if b.payload is not None:
                    found.append((b.payload, (*path, "cards", c, "buttons", i, "payload")))
        seen: set[str] = set()
        for payload, ppath in found:
            if is_template(payload):
                continue
            where = self.pos(file, ppath)
            if payload in seen:
                self.report(
                    file,
                    where,
                    "error",
                    D.E_DUPLICATE_PAYLOAD,
                    f"payload '{payload}' appears twice in this reply: the bot cannot tell the buttons apart",
                )
                continue
            seen.add(payload)
            # while a file has errors its triggers may be missing: no follow-on W226 until fixed
            if check_handled and not self.broken_files and not handled(payload):
                self.report(
                    file,
                    where,
                    "warning",
                    D.W_UNHANDLED_PAYLOAD,
                    f"no trigger handles payload '{payload}': clicking it reaches no_match",
                )


def _split_where(where: str) -> tuple[str, int, int]:
    file, line, col = where.rsplit(":", 2)
    return file, int(line), int(col)


def _clash(a: CompiledTrigger, b: CompiledTrigger) -> str | None:
    """How two triggers overlap, worded for a message; None when they do not."""
    if a.kind == "payload" and b.kind == "payload" and a.payload and b.payload:
        pa, pb = a.payload, b.payload
        if pa == pb:
            return f"payload '{pa}'"
        prefix_a, prefix_b = pa.endswith("*"), pb.endswith("*")
        if (prefix_a and pb.startswith(pa[:-1])) or (prefix_b and pa.startswith(pb[:-1])):
            return f"payload '{pa}' (overlapping '{pb}')"
        return None
    if a.kind == "event" and b.kind == "event" and a.event == b.event:
        return f"event '{a.event}'"
    if a.kind == "regex" and b.kind == "regex" and a.regex and b.regex and a.regex.pattern == b.regex.pattern:
        return f"regex '{a.regex.pattern}'"
    if a.kind == "keywords" and b.kind == "keywords":
        common = [k for k in a.keywords if k in b.keywords]
        if common:
            return f"keywords '{' '.join(common[0])}'"
    return None


def _replies(value: Any, path: DataPath) -> Iterator[tuple[M.ReplyObject, DataPath]]:
    """Reply objects inside a `Replies`/`Reply` value."""
    if isinstance(value, M.ReplyObject):
        yield value, path
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _replies(v, (*path, i))


def _entry_replies(entry: Any, path: DataPath) -> Iterator[tuple[M.ReplyObject, DataPath]]:
    if isinstance(entry, M.MessageVariants):
        for i, v in enumerate(entry.variants):
            yield from _replies(v, (*path, "variants", i))
    else:
        yield from _replies(entry, path)


def _step_replies(model: M.StepBase, path: DataPath) -> Iterator[tuple[M.ReplyObject, DataPath]]:
    if isinstance(model, M.SayStep):
        yield from _replies(model.say, (*path, "say"))
    elif isinstance(model, M.AskStep | M.ChooseStep):
        spec: Any = model.ask if isinstance(model, M.AskStep) else model.choose
        key = model.KIND
        yield from _replies(spec.prompt, (*path, key, "prompt"))
        if spec.invalid is not None:
            yield from _replies(spec.invalid, (*path, key, "invalid"))
        for i, r in enumerate(getattr(spec, "reprompts", [])):
            yield from _replies(r, (*path, key, "reprompts", i))
