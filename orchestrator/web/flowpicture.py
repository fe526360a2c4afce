"""The studio's picture of one flow: the same picture as `orchestrator graph --flow` (Graphviz when
installed, the studio's own layout otherwise), made clickable and overlaid with test coverage.

Graphviz's SVG names each node and edge in its `<title>`; from those we add, on each step node,
`data-step` (flow.step), `data-where` (file:line), `tabindex`/`role` and `covered` or `missed`;
on each reference to another flow, `data-flow`; on each edge, its kind (`now`, `wait`, `call`,
`start`). Labels come from the bot's files: ElementTree escapes them when writing.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ..engine.compiled import BotVersion, CompiledStep
from ..engine.graph import Key
from ..engine.picture import build
from ..pictures import PictureError, draw
from .flowsvg import render_svg

SVG_NS = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
EDGE_CLASS = {"now": "now", "next": "wait", "call": "now call", "start": "now start"}


FIRST = ("main", "greeting", "welcome", "start")  # flow names the studio shows first


def default_flow(bot: BotVersion) -> str | None:
    """The flow the studio shows first: `main`, `greeting`, … if the bot has one, else its first
    flow with steps that is not a handler's (`@…`)."""
    flows = flows_with_steps(bot)
    named = next((f for f in FIRST if f in flows), None)
    return named or next((f for f in flows if not f.startswith("@")), flows[0] if flows else None)


def flows_with_steps(bot: BotVersion) -> list[str]:
    """The bot's flows that have steps to draw, in the bot's order."""
    drawn = {flow for flow, _ in bot.steps}
    return [f for f in bot.flow_ids if f in drawn]


def flow_svg(bot: BotVersion, flow: str, covered: set[Key] | None) -> tuple[str, str]:
    """The SVG of `flow` for the studio, and which renderer drew it ("graphviz" or "studio layout").

    Raises KeyError for a flow the bot does not have."""
    if flow not in bot.flows:
        raise KeyError(flow)
    try:
        svg, how = draw(bot, "svg", flow)
    except PictureError:  # no Graphviz (or it failed): the studio's own layout of that flow
        return render_svg(bot, covered, only=flow), "studio layout"
    return _annotate(bot, flow, svg, covered), how


def _annotate(bot: BotVersion, flow: str, svg: str, covered: set[Key] | None) -> str:
    root = ET.fromstring(svg)
    root.set("class", "flow-graph graphviz")
    root.set("role", "img")
    root.set("aria-label", f"flow {flow} of {bot.id}")
    steps: dict[str, CompiledStep] = {f"{s.flow}.{s.id}": s for s in bot.steps.values()}
    kinds = {
        (".".join(a), b if isinstance(b, str) else ".".join(b)): kind for a, b, kind in build(bot, flow).edges
    }
    for group in root.iter(f"{{{SVG_NS}}}g"):
        classes = (group.get("class") or "").split()
        title = group.find(f"{{{SVG_NS}}}title")
        name = title.text or "" if title is not None else ""
        if "node" in classes and name in steps:
            step = steps[name]
            where = f"{step.pos.file}:{step.pos.line}"
            classes.append(f"kind-{step.kind}")
            if covered is not None:
                classes.append("covered" if (step.flow, step.id) in covered else "missed")
            group.attrib.update({"data-step": name, "data-where": where, "tabindex": "0", "role": "button"})
            group.set("aria-label", f"{name} at {where}")
            if title is not None:
                title.text = f"{name} ({where})"
        elif "node" in classes and name.startswith("flow:"):
            classes.append("flow-ref")
            group.attrib.update({"data-flow": name[5:], "tabindex": "0", "role": "button"})
            group.set("aria-label", f"open flow {name[5:]}")
        elif "edge" in classes and "->" in name:
            source, target = name.split("->", 1)
            classes.append(EDGE_CLASS.get(kinds.get((source, target), "now"), "now"))
        group.set("class", " ".join(classes))
    return ET.tostring(root, encoding="unicode")
