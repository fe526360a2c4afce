"""The step graph of a compiled bot, as the runtime walks it: for the checker (reachability,
loops without a waiting step) and for test coverage (which branches a step has).

Nodes are `(flow, step)` ids. An edge says where a step can go next and whether that happens
in the same turn (`now`) or only after the user answered (a waiting step's branches). A target
of None is the end of the flow (back to its caller). `call` and `start` steps have an edge to
the entry of the flow they run; handlers' flows and flows with triggers are the roots.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from . import models as M
from .compiled import BotVersion, CompiledStep

Key = tuple[str, str]
WAITING = frozenset({"ask", "choose", "wait", "handoff"})


@dataclass(frozen=True, slots=True)
class Edge:
    """A way out of a step: its target (None: the flow ends) and whether it is taken in the
    same turn."""

    target: Key | None
    now: bool = True


@dataclass(frozen=True, slots=True)
class Loop:
    """Steps that can run in a circle within one turn. `steps` in file order, `cycle` one
    circle through them; `escapes` when some step can leave (a condition, an error branch)."""

    steps: list[CompiledStep]
    cycle: list[CompiledStep]
    escapes: bool


def branch_names(step: CompiledStep) -> list[str]:
    """The branches a step can take, as the runtime names them in traces (`then`, `else`,
    `case:0`, `option:1`, `on_fail`, …): what test coverage counts."""
    m = step.model
    names: list[str] = []
    if isinstance(m, M.IfStep):
        names = ["then", "else"]
    elif isinstance(m, M.SwitchStep):
        names = [f"case:{i}" for i, c in enumerate(m.switch) if c.else_ is None] + ["else"]
    elif isinstance(m, M.ChooseStep):
        names = [f"option:{i}" for i in range(len(m.choose.options))]
        names += [n for n in ("on_other", "on_fail", "on_timeout") if n in step.branches]
    else:
        names = [n for n in step.branches if not n.startswith(("case:", "option:"))]
    return names


class FlowGraph:
    """Edges of every step of a bot version."""

    def __init__(self, bot: BotVersion):
        self.bot = bot
        self.steps = bot.steps
        self.edges: dict[Key, list[Edge]] = {key: self._edges(step) for key, step in bot.steps.items()}
        self._reached: set[Key] | None = None

    # ------------------------------------------------------------ edges
    def entry(self, flow_id: str) -> Key | None:
        flow = self.bot.flows.get(flow_id)
        if flow is None or flow.entry is None:
            return None
        return (flow_id, flow.entry)

    def _edges(self, s: CompiledStep) -> list[Edge]:
        out: list[Edge] = []
        m, b, nxt = s.model, s.branches, s.next

        def to(target: str | None, now: bool = True) -> None:
            out.append(Edge((s.flow, target) if target is not None else None, now))

        kind = s.kind
        if kind in ("say", "set", "goto"):
            to(nxt)
        elif kind in ("http", "do"):
            to(nxt)
            if "on_error" in b:
                to(b["on_error"])
        elif kind == "ask":
            to(nxt, now=False)
            ask = cast(M.AskStep, m).ask
            if ask.skip_if_set or ask.prefill:
                to(nxt)
            to(b.get("on_fail", nxt), now=False)
            if "on_timeout" in b:
                to(b["on_timeout"], now=False)
        elif kind == "choose":
            for i in range(len(cast(M.ChooseStep, m).choose.options)):
                to(b.get(f"option:{i}", nxt), now=False)
            if "on_other" in b:
                to(b["on_other"], now=False)
            else:
                to(b.get("on_fail", nxt), now=False)
            if "on_timeout" in b:
                to(b["on_timeout"], now=False)
        elif kind == "wait":
            to(nxt, now=False)
            for name in ("on_timeout", "on_other"):
                if name in b:
                    to(b[name], now=False)
        elif kind == "if":
            to(b.get("then", nxt))
            to(b.get("else", nxt))
        elif kind == "switch":
            for name, target in b.items():
                if name.startswith("case:"):
                    to(target)
            to(b.get("else", nxt))
        elif kind == "handoff":
            if cast(M.HandoffStep, m).handoff.check_hours:
                to(b.get("when_closed", nxt))
            to(b.get("when_no_agents", nxt))
            to(b.get("on_released", nxt), now=False)
        elif kind == "call":
            callee = cast(M.CallStep, m).call
            entry = self.entry(callee)
            if entry is not None:
                out.append(Edge(entry))
            # back from the callee: in the same turn only if the callee never waits
            to(nxt, now=not self.flow_waits(callee))
        elif kind == "start":
            entry = self.entry(cast(M.StartStep, m).start)
            if entry is not None:
                out.append(Edge(entry))
        if m.when is not None and kind not in ("say", "set", "goto"):
            to(nxt)  # a false guard skips the step
        return out

    def flow_waits(self, flow_id: str, _seen: frozenset[str] = frozenset()) -> bool:
        """Whether a flow (or a flow it calls) has a waiting step."""
        for (fid, _), step in self.steps.items():
            if fid != flow_id:
                continue
            if step.kind in WAITING:
                return True
            if (
                isinstance(step.model, M.CallStep)
                and step.model.call not in _seen
                and self.flow_waits(step.model.call, _seen | {flow_id})
            ):
                return True
        return False

    # ------------------------------------------------------------ reachability
    def roots(self) -> list[Key]:
        found: list[Key] = []
        for fid, flow in self.bot.flows.items():
            if flow.model is not None and flow.triggers and flow.entry is not None:
                found.append((fid, flow.entry))
        handlers = [*self.bot.handlers.values()]
        for flow in self.bot.flows.values():
            handlers.extend(flow.handlers.values())
        for h in handlers:
            entry = self.entry(h.flow)
            if entry is not None:
                found.append(entry)
        return found

    def reached(self) -> set[Key]:
        if self._reached is None:
            self._reached = self._walk(self.roots(), lambda e: True)
        return self._reached

    def _walk(self, starts: list[Key], follow: object) -> set[Key]:
        seen: set[Key] = set()
        queue = deque(k for k in starts if k in self.steps)
        seen.update(queue)
        while queue:
            key = queue.popleft()
            for edge in self.edges.get(key, ()):
                t = edge.target
                if t is not None and t in self.steps and t not in seen and follow(edge):  # type: ignore[operator]
                    seen.add(t)
                    queue.append(t)
        return seen

    def unused_flows(self) -> list[str]:
        """Flows written in flow files that nothing can start."""
        reached = self.reached()
        return [
            fid
            for fid, flow in self.bot.flows.items()
            if flow.model is not None and (fid, flow.entry) not in reached
        ]

    def unreachable_steps(self) -> list[tuple[CompiledStep, CompiledStep | None]]:
        """The first unreachable step of each unreachable region of a used flow (file order),
        with the step written just before it, if any."""
        reached = self.reached()
        used = {fid for fid, _ in reached}
        missed = sorted((s for k, s in self.steps.items() if k not in reached and s.flow in used), key=_order)
        missed_keys = {(s.flow, s.id) for s in missed}
        covered: set[Key] = set()
        found: list[tuple[CompiledStep, CompiledStep | None]] = []
        by_path = {(s.flow, s.path): s for s in self.steps.values()}
        for step in missed:
            key = (step.flow, step.id)
            if key in covered:
                continue
            covered |= self._walk([key], lambda e: e.target in missed_keys)
            before = None
            if step.path and isinstance(step.path[-1], int) and step.path[-1] > 0:
                before = by_path.get((step.flow, (*step.path[:-1], step.path[-1] - 1)))
            found.append((step, before))
        return found

    # ------------------------------------------------------------ loops
    def loops(self) -> list[Loop]:
        """Loops that run within one turn and contain no step that may wait."""
        found: list[Loop] = []
        for component in _tarjan(
            list(self.steps),
            {k: [e.target for e in es if e.now and e.target] for k, es in self.edges.items()},
        ):
            keys = set(component)
            if len(keys) == 1:
                (only,) = keys
                if not any(e.now and e.target == only for e in self.edges[only]):
                    continue
            steps = sorted((self.steps[k] for k in keys), key=_order)
            if any(s.kind in WAITING for s in steps):
                continue
            escapes = any(e.target is None or e.target not in keys for k in keys for e in self.edges[k])
            found.append(Loop(steps, self._cycle(steps[0], keys), escapes))
        return sorted(found, key=lambda loop: _order(loop.steps[0]))

    def _cycle(self, first: CompiledStep, keys: set[Key]) -> list[CompiledStep]:
        start = (first.flow, first.id)
        parent: dict[Key, Key] = {}
        queue = deque([start])
        while queue:
            key = queue.popleft()
            for e in self.edges[key]:
                t = e.target
                if not e.now or t is None or t not in keys:
                    continue
                if t == start:
                    path = [key]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [self.steps[k] for k in reversed(path)]
                if t not in parent:
                    parent[t] = key
                    queue.append(t)
        return [first]

    # ------------------------------------------------------------ helpers
    def label(self, step: CompiledStep, flow: str | None = None) -> str:
        """How a step is named in messages: its id, or its kind and line."""
        name = step.id if step.explicit_id else f"{step.kind} at line {step.pos.line}"
        return name if flow in (None, step.flow) else f"{step.flow}.{name}"

    def waits_next(self, step: CompiledStep) -> bool:
        """Whether the step after this one waits for the user (ask, choose, wait)."""
        if step.next is None:
            return False
        after = self.steps.get((step.flow, step.next))
        return after is not None and after.kind in ("ask", "choose", "wait")

    def successors(self, key: Key) -> Iterator[Edge]:
        yield from self.edges.get(key, ())


def _order(step: CompiledStep) -> tuple[str, int, int]:
    return (step.pos.file, step.pos.line, step.pos.col)


def _tarjan(nodes: list[Key], succ: dict[Key, list[Key]]) -> list[list[Key]]:
    """Strongly connected components (iterative Tarjan)."""
    index: dict[Key, int] = {}
    low: dict[Key, int] = {}
    on_stack: set[Key] = set()
    stack: list[Key] = []
    result: list[list[Key]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[Key, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = [t for t in succ.get(node, []) if t in succ]
            recursed = False
            for j in range(i, len(targets)):
                t = targets[j]
                if t not in index:
                    work.append((node, j + 1))
                    work.append((t, 0))
                    recursed = True
                    break
                if t in on_stack:
                    low[node] = min(low[node], index[t])
            if recursed:
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == node:
                        break
                result.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return result
