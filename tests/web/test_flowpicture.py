"""The studio's picture of one flow: Graphviz's SVG made clickable and overlaid with coverage,
the studio's own layout when Graphviz is missing."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from orchestrator.app import create_app
from orchestrator.engine import load_bot
from orchestrator.web.flowpicture import flow_svg
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
KEY = {"x-bp-messaging-admin-key": "s3cret"}


def _nodes(svg: str) -> dict[str, str]:
    """data-step -> class of each step node."""
    root = ET.fromstring(svg)
    return {g.get("data-step", ""): g.get("class", "") for g in root.iter(f"{SVG}g") if g.get("data-step")}


async def test_the_graph_shows_coverage_of_the_last_test_run(aiohttp_client: Any, tmp_path: Path) -> None:
    for folder in ("bots", "flows"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    bot = load_bot(tmp_path / "bots" / "support-desk.yaml")
    (tmp_path / "data").mkdir()
    coverage = {"steps": [["faq_menu", "pick_topic"]], "version": bot.version, "stepRatio": 0.1}
    (tmp_path / "data" / "coverage.json").write_text(
        json.dumps({"ranAt": "2026-11-18T10:00:00Z", "bots": {"support-desk": coverage}})
    )
    settings = make_settings(tmp_path, bots={"dir": str(tmp_path / "bots")}, server={"admin_key": "s3cret"})
    http = await aiohttp_client(create_app(settings))
    resp = await http.get("/studio/api/bots/support-desk/graph.svg?flow=faq_menu", headers=KEY)
    assert resp.status == 200 and "X-Coverage-Stale" not in resp.headers
    nodes = _nodes(await resp.text())
    assert "covered" in nodes.pop("faq_menu.pick_topic").split()
    assert nodes and all("missed" in c.split() for c in nodes.values())


def test_without_graphviz_the_studio_layout_draws_the_one_flow(monkeypatch: pytest.MonkeyPatch) -> None:
    bot = load_bot(ROOT / "bots" / "support-desk.yaml")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    svg, how = flow_svg(bot, "order_status", {("order_status", "ask_order")})
    assert how == "studio layout"
    nodes = _nodes(svg)
    assert set(nodes) == {f"order_status.{s}" for f, s in bot.steps if f == "order_status"}
    assert "covered" in nodes["order_status.ask_order"] and "missed" in nodes["order_status.lookup"]
    assert "ask → conv.order_id" in svg
    with pytest.raises(KeyError):
        flow_svg(bot, "nope", None)
