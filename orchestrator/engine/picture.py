"""Pictures of a bot's flows from the engine's own step graph (`FlowGraph`), as Graphviz DOT or
Mermaid text: one box per flow (its triggers under its name), one node per step.

- waiting steps (`ask`, `choose`, `wait`, `handoff`) are rounded and bold;
- solid edges run in the same turn, dashed ones after the user answers;
- `call` and `start` edges into another flow are bold and labelled;
- handlers (`no_match`, `human`, …) are hexagons pointing at the flow they run;
- a step that ends its flow points at the flow's end dot.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .compiled import BotVersion, CompiledStep
from .graph import WAITING, Edge, FlowGraph, Key
from .step_labels import describe


@dataclass
class Picture:
    """The drawable graph: flows with their steps, edges, and handler entries."""

    bot_id: str
    flows: dict[str, list[CompiledStep]] = field(default_factory=dict)
    triggers: dict[str, list[str]] = field(default_factory=dict)
    edges: list[tuple[Key, Key | str, str]] = field(default_factory=list)  # (from, to, now|next|call|start)
    handlers: list[tuple[str, Key]] = field(default_factory=list)  # (handler name, entry)
    outside: set[str] = field(default_factory=set)  # flows referenced but not drawn
    catalogue: Mapping[str, Any] = field(default_factory=dict)  # messages quoted in the labels


def build(bot: BotVersion, only: str | None = None) -> Picture:
    """The picture of every flow, or of flow `only` (other flows it runs appear as references)."""
    if only is not None and only not in bot.flows:
        raise KeyError(only)
    graph = FlowGraph(bot)
    pic = Picture(bot.id, catalogue=bot.messages.get(bot.default_locale, {}))
    ordered = sorted(bot.steps.items(), key=lambda kv: (kv[1].pos.file, kv[1].pos.line, kv[1].pos.col))
    for key, step in ordered:
        if only is None or key[0] == only:
            pic.flows.setdefault(key[0], []).append(step)
    for flow_id in pic.flows:
        flow = bot.flows.get(flow_id)
        pic.triggers[flow_id] = [t.label for t in flow.triggers] if flow else []
    for key, step in bot.steps.items():
        if key[0] not in pic.flows:
            continue
        seen: set[tuple[object, str]] = set()
        edges = list(graph.successors(key))
        if step.kind in ("return", "end"):  # the flow (or the conversation) ends here
            edges.append(Edge(None))
        for edge in edges:
            target: Key | str
            if edge.target is None:
                target, kind = f"end:{key[0]}", "now" if edge.now else "next"
            elif edge.target[0] != key[0]:
                target, kind = edge.target, step.kind if step.kind in ("call", "start") else "now"
                if edge.target[0] not in pic.flows:
                    pic.outside.add(edge.target[0])
                    target = f"flow:{edge.target[0]}"
            else:
                target, kind = edge.target, "now" if edge.now else "next"
            if (target, kind) not in seen:
                seen.add((target, kind))
                pic.edges.append((key, target, kind))
    scopes = [(None, bot.handlers)] + [(fid, f.handlers) for fid, f in bot.flows.items()]
    for scope, handlers in scopes:
        for name, ref in handlers.items():
            entry = graph.entry(ref.flow)
            if entry is not None and entry[0] in pic.flows and (only is None or scope in (None, only)):
                label = name if scope is None else f"{scope}: {name}"
                pic.handlers.append((label, entry))
    return pic


def _label(pic: Picture, step: CompiledStep) -> str:
    return describe(step, pic.catalogue)


def _flow_title(pic: Picture, flow_id: str) -> str:
    triggers = pic.triggers.get(flow_id) or []
    shown = "; ".join(t if len(t) <= 40 else t[:39] + "…" for t in triggers[:3])
    return flow_id + (f"\n{shown}" if shown else "")


# ---------------------------------------------------------------- Graphviz DOT


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a DOT string: double quotes, \" and \n escapes


def to_dot(pic: Picture) -> str:
    """Graphviz DOT text (render with `dot -Tsvg`)."""
    out = [
        f"digraph {_q(pic.bot_id)} {{",
        "  rankdir=TB; compound=true; newrank=true;",
        '  graph [fontname="Helvetica", fontsize=11];',
        '  node [shape=box, fontname="Helvetica", fontsize=10, style="filled", fillcolor="#ffffff"];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for i, (flow_id, steps) in enumerate(pic.flows.items()):
        out.append(f"  subgraph cluster_{i} {{")
        out.append(f'    label={_q(_flow_title(pic, flow_id))}; style="rounded"; color="#888888";')
        for step in steps:
            node = _q(f"{step.flow}.{step.id}")
            attrs = f"label={_q(_label(pic, step))}"
            if step.kind in WAITING:
                attrs += ', style="rounded,bold,filled", fillcolor="#e8f0fe"'
            out.append(f"    {node} [{attrs}];")
        out.append(f'    {_q("end:" + flow_id)} [shape=point, width=0.12, label=""];')
        out.append("  }")
    for flow_id in sorted(pic.outside):
        out.append(f'  {_q("flow:" + flow_id)} [label={_q("flow " + flow_id)}, style="dashed"];')
    for name, entry in pic.handlers:
        hid = _q(f"handler:{name}")
        out.append(f'  {hid} [label={_q("handler " + name)}, shape=hexagon, fillcolor="#fff4e0"];')
        out.append(f"  {hid} -> {_q('.'.join(entry))} [style=dotted];")
    styles = {"now": "", "next": " [style=dashed]", "call": ' [style=bold, label="call"]'}
    styles["start"] = ' [style=bold, label="start"]'
    for source, target, kind in pic.edges:
        to = _q(target if isinstance(target, str) else ".".join(target))
        out.append(f"  {_q('.'.join(source))} -> {to}{styles[kind]};")
    out.append("}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- Mermaid


def _m(text: str) -> str:
    return '"' + text.replace('"', "#quot;").replace("\n", "<br>") + '"'


def to_mermaid(pic: Picture) -> str:
    """A Mermaid flowchart (GitHub and many wikis render it)."""
    ids: dict[str, str] = {}

    def nid(name: str) -> str:
        return ids.setdefault(name, f"n{len(ids)}")

    out = ["flowchart TD"]
    for i, (flow_id, steps) in enumerate(pic.flows.items()):
        out.append(f"  subgraph f{i}[{_m(_flow_title(pic, flow_id))}]")
        for step in steps:
            label = _m(_label(pic, step))
            node = nid(f"{step.flow}.{step.id}")
            out.append(f"    {node}([{label}])" if step.kind in WAITING else f"    {node}[{label}]")
        out.append(f"    {nid('end:' + flow_id)}(((end)))")
        out.append("  end")
    for flow_id in sorted(pic.outside):
        out.append(f"  {nid('flow:' + flow_id)}[/{_m('flow ' + flow_id)}/]")
    for name, entry in pic.handlers:
        hid = nid(f"handler:{name}")
        out.append(f"  {hid}{{{{{_m('handler ' + name)}}}}} -.-o {nid('.'.join(entry))}")
    arrows = {"now": "-->", "next": "-.->", "call": "==>|call|", "start": "==>|start|"}
    for source, target, kind in pic.edges:
        to = nid(target if isinstance(target, str) else ".".join(target))
        out.append(f"  {nid('.'.join(source))} {arrows[kind]} {to}")
    out.append("  classDef waiting stroke-width:3px")
    waiting = [nid(f"{s.flow}.{s.id}") for steps in pic.flows.values() for s in steps if s.kind in WAITING]
    if waiting:
        out.append(f"  class {','.join(waiting)} waiting")
    return "\n".join(out) + "\n"
