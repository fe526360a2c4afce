"""`orchestrator graph`: the flows drawn from the engine's step graph, as DOT, Mermaid and SVG
(Graphviz when installed, else the studio's layout), with waiting steps, same-turn and
next-turn edges, calls/starts and handlers told apart."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.engine import load_bot
from orchestrator.engine.picture import build, to_dot, to_mermaid
from orchestrator.pictures import draw

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def bot():
    return load_bot(ROOT / "bots" / "support-desk.yaml")


def test_dot_tells_steps_edges_and_handlers_apart(bot):
    dot = to_dot(build(bot))
    assert dot.count("subgraph cluster_") == len(bot.flows)  # flows and handlers made of steps
    assert '"order_status.ask_order" [label="ask → conv.order_id", style="rounded,bold,filled"' in dot
    assert '"order_status.lookup" [label="GET /orders/{{ conv.order_… → flow.order"];' in dot
    assert '"order_status.ask_order" -> "order_status.lookup" [style=dashed];' in dot  # after the answer
    assert '"order_status.lookup" -> "order_status.~2";' in dot  # the same turn
    assert '"human_handoff.~to_agent.on_released.0" -> "csat.rate" [style=bold, label="call"];' in dot
    assert '-> "greeting.~0" [style=bold, label="start"];' in dot
    assert '"handler:no_match" [label="handler no_match", shape=hexagon' in dot
    assert '"handler:no_match" -> "fallback.~0" [style=dotted];' in dot


def test_one_flow_shows_the_flows_it_runs_as_references(bot):
    pic = build(bot, "order_status")
    assert list(pic.flows) == ["order_status"] and pic.outside == {"greeting"}
    mermaid = to_mermaid(pic)
    assert mermaid.startswith('flowchart TD\n  subgraph f0["order_status<br>payload MENU_ORDER;')
    assert '(["ask → conv.order_id"])' in mermaid and "-.->" in mermaid and "==>|start|" in mermaid
    assert '[/"flow greeting"/]' in mermaid
    assert "class n0," in mermaid


@pytest.mark.skipif(shutil.which("dot") is None, reason="no Graphviz (make test installs Debian's graphviz)")
def test_svg_is_drawn_by_graphviz(bot):
    svg, how = draw(bot, "svg", "order_status")
    assert how == "graphviz"
    root = ET.fromstring(svg)
    titles = {t.text for t in root.iter(f"{SVG}title")}
    assert {"order_status.ask_order", "order_status.not_found", "flow:greeting"} <= titles


def test_without_graphviz_the_svg_is_the_studio_layout_standing_alone(bot, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    svg, how = draw(bot, "svg")
    assert how.startswith("studio layout")
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}style") is not None and ".flow-graph .edge.wait" in svg


def test_the_command(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "flows.mmd"
    assert main(["graph", "support-desk", "--format", "mermaid", "-o", str(out)]) == 0
    assert out.read_text().startswith("flowchart TD")
    assert main(["graph", "support-desk", "--flow", "nope", "--format", "dot"]) == 2
    assert "no flow 'nope' in bot support-desk" in capsys.readouterr().err
