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
    svg = await (await http.get("/studio/api/bots/support-desk/graph.svg", headers=KEY)).text()
    assert svg.startswith("<svg") and 'data-step="faq_menu.pick_topic"' in svg
    assert 'data-where="flows/support-desk/faq.yaml:' in svg and "edge wait" in svg
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
