"""A bot's flows drawn as SVG, server-side, from the engine's own step graph (`FlowGraph`).

Our own small layout (no Graphviz): one column per flow, its steps stacked in file order.
An edge to the step just below is a straight line; other edges in a flow arc on the column's
right; edges into another flow (`call`, `start`) run to that flow's first step. Solid edges
are taken in the same turn, dashed ones after the user answers. Each node carries
`data-step` (flow.step) and `data-where` (file:line); with coverage, `covered` or `missed`.
Every text is XML-escaped: labels come from the bot's files.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from ..engine.compiled import BotVersion, CompiledStep
from ..engine.graph import FlowGraph, Key
from ..engine.step_labels import describe

NODE_W, NODE_H = 270, 30
GAP_Y = 14
COL_W = 350
HEAD_H = 34
COLUMNS = 4
MARGIN = 20
LEGEND_H = 30


@dataclass(frozen=True, slots=True)
class Placed:
    step: CompiledStep
    x: float
    y: float


def _label(bot: BotVersion, step: CompiledStep) -> str:
    return describe(step, bot.messages.get(bot.default_locale, {}))


def layout(
    bot: BotVersion, only: str | None = None
) -> tuple[dict[Key, Placed], list[tuple[str, float, float]], float, float]:
    """Node positions, flow headers (name, x, y), and the drawing's width and height (of flow
    `only`, or of every flow)."""
    by_flow: dict[str, list[CompiledStep]] = {}
    for step in bot.steps.values():
        if only is None or step.flow == only:
            by_flow.setdefault(step.flow, []).append(step)
    flows = [f for f in bot.flows if by_flow.get(f)]
    placed: dict[Key, Placed] = {}
    headers: list[tuple[str, float, float]] = []
    row_top: float = MARGIN + LEGEND_H
    row_height, width = 0.0, 0.0
    for i, flow in enumerate(flows):
        col = i % COLUMNS
        if col == 0 and i:
            row_top += row_height + 30
            row_height = 0.0
        x = MARGIN + col * COL_W
        headers.append((flow, x, row_top))
        steps = sorted(by_flow[flow], key=lambda s: (s.pos.file, s.pos.line, s.pos.col))
        y = row_top + HEAD_H
        for step in steps:
            placed[(step.flow, step.id)] = Placed(step, x, y)
            y += NODE_H + GAP_Y
        row_height = max(row_height, y - row_top)
        width = max(width, x + COL_W)
    height = row_top + row_height + MARGIN
    return placed, headers, max(width, 400.0), height


def render_svg(
    bot: BotVersion,
    covered: set[Key] | None = None,
    only: str | None = None,
) -> str:
    """The SVG document of a bot's flows, or of flow `only` (coverage classes when `covered` is
    given)."""
    graph = FlowGraph(bot)
    placed, headers, width, height = layout(bot, only)
    label = quoteattr(f"flows of {bot.id}")
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flow-graph" viewBox="0 0 {width:.0f} {height:.0f}"'
        f' width="{width:.0f}" height="{height:.0f}" role="img" aria-label={label}>',
        "<defs>",
        '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7"'
        ' orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead"/></marker>',
        "</defs>",
        _legend(covered is not None),
    ]
    for name, x, y in headers:
        out.append(f'<text class="flow-name" x="{x:.0f}" y="{y + 20:.0f}">{escape(name)}</text>')
    out.append('<g class="edges">')
    for key, node in placed.items():
        for edge in graph.successors(key):
            if edge.target is None or edge.target not in placed or edge.target == key:
                continue
            out.append(_edge(node, placed[edge.target], edge.now))
    out.append("</g>")
    out.append('<g class="nodes">')
    for key, node in placed.items():
        out.append(_node(bot, node, None if covered is None else key in covered))
    out.append("</g></svg>")
    return "\n".join(out)


def _legend(with_coverage: bool) -> str:
    y = MARGIN + 8
    parts = [
        f'<g class="legend"><line class="edge now" x1="{MARGIN}" y1="{y}" x2="{MARGIN + 40}" y2="{y}"/>',
        f'<text x="{MARGIN + 48}" y="{y + 4}">same turn</text>',
        f'<line class="edge wait" x1="{MARGIN + 140}" y1="{y}" x2="{MARGIN + 180}" y2="{y}"/>',
        f'<text x="{MARGIN + 188}" y="{y + 4}">after the user answers</text>',
    ]
    if with_coverage:
        parts += [
            f'<rect class="node covered" x="{MARGIN + 360}" y="{y - 8}" width="16" height="16"/>',
            f'<text x="{MARGIN + 382}" y="{y + 4}">covered by tests</text>',
            f'<rect class="node missed" x="{MARGIN + 500}" y="{y - 8}" width="16" height="16"/>',
            f'<text x="{MARGIN + 522}" y="{y + 4}">never run by tests</text>',
        ]
    return "".join(parts) + "</g>"


def _node(bot: BotVersion, node: Placed, covered: bool | None) -> str:
    step = node.step
    where = f"{step.pos.file}:{step.pos.line}"
    classes = ["node", f"kind-{step.kind}"]
    if covered is not None:
        classes.append("covered" if covered else "missed")
    name = f"{step.flow}.{step.id}"
    return (
        f'<g class="{" ".join(classes)}" data-step={quoteattr(name)} data-where={quoteattr(where)}'
        f' tabindex="0" role="button" aria-label={quoteattr(f"{name} at {where}")}>'
        f"<title>{escape(name)} ({escape(where)})</title>"
        f'<rect x="{node.x:.0f}" y="{node.y:.0f}" width="{NODE_W}" height="{NODE_H}" rx="6"/>'
        f'<text x="{node.x + 10:.0f}" y="{node.y + 19:.0f}">{escape(_label(bot, step))}</text></g>'
    )


def _edge(a: Placed, b: Placed, now: bool) -> str:
    kind = "now" if now else "wait"
    if a.step.flow == b.step.flow:
        x = a.x + NODE_W / 2
        if b.y == a.y + NODE_H + GAP_Y and a.x == b.x:
            return (
                f'<line class="edge {kind}" x1="{x:.0f}" y1="{a.y + NODE_H:.0f}" x2="{x:.0f}"'
                f' y2="{b.y:.0f}" marker-end="url(#arrow)"/>'
            )
        right = a.x + NODE_W
        bulge = right + min(60, 18 + abs(b.y - a.y) / 12)
        y1, y2 = a.y + NODE_H / 2, b.y + NODE_H / 2
        return (
            f'<path class="edge {kind}" d="M {right:.0f} {y1:.0f} C {bulge:.0f} {y1:.0f} {bulge:.0f} {y2:.0f}'
            f' {right:.0f} {y2:.0f}" marker-end="url(#arrow)"/>'
        )
    x1, y1 = a.x + NODE_W, a.y + NODE_H / 2
    x2, y2 = b.x, b.y + NODE_H / 2
    if b.x <= a.x:  # leftwards or the same column: enter from the top
        x2, y2 = b.x + NODE_W / 2, b.y
    mid = (x1 + x2) / 2
    return (
        f'<path class="edge {kind} jump" d="M {x1:.0f} {y1:.0f} C {mid:.0f} {y1:.0f} {mid:.0f} {y2:.0f}'
        f' {x2:.0f} {y2:.0f}" marker-end="url(#arrow)"/>'
    )
