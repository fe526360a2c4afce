"""The studio's API: admin key, flow graph SVG from the engine's step graph, try it with a clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.app import create_app
from tests.conftest import make_settings

BOTS = str(Path(__file__).resolve().parents[2] / "bots")
KEY = {"x-bp-messaging-admin-key": "s3cret"}


async def test_studio_api(aiohttp_client: Any, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, bots={"dir": BOTS}, server={"admin_key": "s3cret"})
    http = await aiohttp_client(create_app(settings))
    assert (await http.get("/studio/api/overview")).status == 401
    overview = await (await http.get("/studio/api/overview", headers=KEY)).json()
    assert "support-desk" in [b["id"] for b in overview["bots"]]
    desk = next(b for b in overview["bots"] if b["id"] == "support-desk")
    assert "faq_menu" in desk["flowIds"] and desk["firstFlow"] == "greeting"
    # One flow at a time: the steps of faq_menu, labelled by what they do, with file:line.
    graph = await http.get("/studio/api/bots/support-desk/graph.svg?flow=faq_menu", headers=KEY)
    svg = await graph.text()
    assert svg.startswith("<svg") and 'data-step="faq_menu.pick_topic"' in svg
    assert 'data-where="flows/support-desk/faq.yaml:' in svg and "edge wait" in svg
    assert 'choose: "What would you like to know?"' in svg and "csat.rate" not in svg
    assert 'data-flow="faq_hours"' in svg or graph.headers["X-Drawn-By"] == "studio layout"
    first = await (await http.get("/studio/api/bots/support-desk/graph.svg", headers=KEY)).text()
    assert 'data-step="greeting.' in first and "faq_menu.pick_topic" not in first
    unknown = await http.get("/studio/api/bots/support-desk/graph.svg?flow=nope", headers=KEY)
    assert unknown.status == 400 and "no flow 'nope'" in await unknown.text()
    # Saturday night in Paris: a hand-off is refused as out of hours; Wednesday morning it is not.
    for now, expect in (
        ("2026-11-21T22:00", "available Monday to Friday"),
        ("2026-11-18T11:00", "connecting"),
    ):
        body = {"bot": "support-desk", "event": {"type": "postback", "payload": "HANDOFF"}, "now": now}
        reply = await (await http.post("/studio/api/try", json=body, headers=KEY)).json()
        assert expect in " ".join(r.get("text", "") for r in reply["replies"]), reply
        assert reply["trace"]["steps"]
    bad = await http.post("/studio/api/try", json={"bot": "support-desk", "event": {}}, headers=KEY)
    assert bad.status == 400 and "body.event" in await bad.text()
