"""The web chat and the studio in a real browser (Playwright driving Debian's chromium).

Skips, saying why, when Playwright or /usr/bin/chromium is missing (`make test` installs
chromium with apt when it can). Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from orchestrator.app import create_app
from orchestrator.web import WEBCHAT_HUB
from tests.conftest import make_settings

CHROMIUM = os.environ.get("ORCH_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
OPEN = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)  # a Wednesday, 11:00 in Paris
KEY = "studio-key"
TIMEOUT = 30_000  # ms, per wait (generous: the machine is shared)

playwright_api = pytest.importorskip("playwright.async_api", reason="Playwright is not installed")
if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
    pytest.skip(
        f"{CHROMIUM} is missing (make test installs Debian's chromium as root)", allow_module_level=True
    )


async def _serve(app: web.Application, port: int = 0) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return runner, runner.addresses[0][1]


class World:
    """The service, a shop page embedding the widget (with a login page), and a foreign page."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.runners: list[web.AppRunner] = []
        self.client_id = self.token = ""
        self.port = 0

    def settings(self, shop: str) -> Any:
        return make_settings(
            self.tmp_path,
            bots={"dir": str(ROOT / "bots"), "env": {"ACCOUNT_LINK_URL": f"{shop}/login"}},
            server={"admin_key": KEY},
        )

    async def start_service(self, shop: str, port: int = 0) -> web.Application:
        app = create_app(self.settings(shop), clock=lambda: OPEN)
        runner, self.port = await _serve(app, port)
        self.service = runner
        return app

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def headers(self) -> dict[str, str]:
        return {"x-bp-messaging-client-id": self.client_id, "x-bp-messaging-client-token": self.token}

    async def api(self, method: str, path: str, json: Any = None, admin: bool = False) -> Any:
        headers = {"x-bp-messaging-admin-key": KEY} if admin else self.headers()
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.base + path, json=json, headers=headers) as resp,
        ):
            assert resp.status < 300, await resp.text()
            return await resp.json() if resp.content_type == "application/json" else None

    def page_app(self) -> web.Application:
        """A page on another origin that embeds the widget, and the login page of account linking."""
        app = web.Application()

        async def index(_: web.Request) -> web.Response:
            html = (
                "<!doctype html><html><head><meta charset=utf-8><title>Shop</title></head><body>"
                "<h1>Shop</h1>"
                f'<script src="{self.base}/webchat/widget.js" data-client-id="{self.client_id}" '
                'data-title="Support" data-open="true"></script></body></html>'
            )
            return web.Response(text=html, content_type="text/html")

        async def login(request: web.Request) -> web.Response:
            conversation = request.query.get("conversation", "")
            html = (
                "<!doctype html><title>Login</title><form method=post action=/login/done>"
                f'<input type=hidden name=conversation value="{conversation}">'
                "<button type=submit>Confirm login</button></form>"
            )
            return web.Response(text=html, content_type="text/html")

        async def done(request: web.Request) -> web.Response:
            form = await request.post()
            body = {"event": "account_linked", "data": {"account_id": "ACME-42"}}
            await self.api("POST", f"/api/v1/conversations/{form['conversation']}/events", body)
            return web.Response(text="<!doctype html><p>Logged in", content_type="text/html")

        app.router.add_get("/", index)
        app.router.add_get("/login", login)
        app.router.add_post("/login/done", done)
        return app


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = World(tmp_path)
    yield w
    for runner in w.runners:
        await runner.cleanup()
    if getattr(w, "service", None) is not None:
        await w.service.cleanup()


async def _texts(page: Any) -> list[str]:
    return await page.locator("[data-orchestrator-webchat] li.msg").all_inner_texts()


async def test_widget_studio_and_restart(world: World) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shop_runner, shop_port = await _serve(web.Application())  # placeholder to reserve a port
    await shop_runner.cleanup()
    shop = f"http://127.0.0.1:{shop_port}"
    app = await world.start_service(shop)
    created = await world.api("POST", "/api/v1/admin/clients", admin=True)
    world.client_id, world.token = created["id"], created["token"]
    sync = {"channels": {"webchat": {"allowedOrigins": [shop]}}, "bot": "support-desk"}
    await world.api("POST", "/api/v1/sync", sync)
    runner, _ = await _serve(world.page_app(), shop_port)
    world.runners.append(runner)
    foreign_runner, foreign_port = await _serve(world.page_app())
    world.runners.append(foreign_runner)

    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = await browser.new_context(viewport={"width": 1000, "height": 800})
        context.set_default_timeout(TIMEOUT)
        page = await context.new_page()
        page.on("dialog", lambda d: d.dismiss())
        chat = page.locator("[data-orchestrator-webchat]")
        await page.goto(shop + "/")
        await chat.locator(".status", has_text="online").wait_for()
        await chat.get_by_role("textbox", name="Message").fill("hello")
        await chat.get_by_role("textbox", name="Message").press("Enter")
        await chat.get_by_text("support bot").wait_for()

        # Menu, FAQ, carousel, quick reply (chips go once used).
        await chat.get_by_role("button", name="FAQ", exact=True).first.click()
        await chat.get_by_text("What would you like to know?").wait_for()
        await chat.get_by_role("button", name="Pricing").click()
        await chat.locator(".carousel .card").nth(2).wait_for()
        assert await chat.locator(".chips button", has_text="Pricing").count() == 0
        await chat.get_by_role("button", name="Choose Pro").click()
        await chat.get_by_text("Great choice").wait_for()

        # XSS from the user and from a bot: shown as text, never run.
        evil = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
        await chat.get_by_role("textbox", name="Message").fill(evil)
        await chat.get_by_role("textbox", name="Message").press("Enter")
        await chat.locator("li.msg.user", has_text="onerror").wait_for()
        conversation_id = (await page.evaluate("Object.keys(localStorage)")) and await page.evaluate(
            "JSON.parse(Object.values(localStorage)[0]).conversationId"
        )
        await world.api(
            "POST",
            "/api/v1/messages",
            {"conversationId": conversation_id, "payload": {"type": "text", "text": "**bold** " + evil}},
        )
        await chat.locator("li.msg.bot strong", has_text="bold").wait_for()
        assert await page.evaluate("window.__xss") is None
        assert await chat.locator("li.msg img[src='x']").count() == 0

        # Account linking: the login page opens; its completion comes back as account_linked.
        await chat.get_by_role("textbox", name="Message").fill("link my account")
        await chat.get_by_role("textbox", name="Message").press("Enter")
        async with context.expect_page() as popup_info:
            await chat.get_by_role("link", name="Log in").click()
        popup = await popup_info.value
        await popup.get_by_role("button", name="Confirm login").click()
        await popup.get_by_text("Logged in").wait_for()
        await popup.close()
        await chat.get_by_text("ACME-42 is now linked").wait_for()

        # Hand-off: the banner says a person is coming, then that an agent joined.
        await chat.get_by_role("button", name="Talk to a person").last.click()
        await chat.locator(".banner", has_text="Connecting you").wait_for()
        await world.api("POST", f"/api/v1/conversations/{conversation_id}/events", {"event": "agent_joined"})
        await chat.locator(".banner", has_text="An agent joined").wait_for()
        await chat.locator(".log").evaluate("log => { log.scrollTop = 0; }")  # from the first message
        await chat.locator("li.msg").first.wait_for()
        await page.screenshot(path=str(ARTIFACTS / "webchat-widget.png"))

        # History after a reload: the same messages, once each.
        before = await _texts(page)
        await page.reload()
        await chat.locator(".status", has_text="online").wait_for()
        await chat.locator("li.msg").nth(len(before) - 1).wait_for()
        assert await _texts(page) == before

        # A server restart mid-conversation: what the user typed meanwhile arrives once.
        await world.api(
            "POST", f"/api/v1/conversations/{conversation_id}/events", {"event": "agent_released"}
        )
        await chat.get_by_text("How would you rate").wait_for()
        await world.service.cleanup()
        world.service = None  # type: ignore[assignment]
        await chat.locator(".status", has_text="reconnecting").wait_for()
        await chat.get_by_role("textbox", name="Message").fill("5")
        await chat.get_by_role("textbox", name="Message").press("Enter")
        app = await world.start_service(shop, world.port)
        await chat.get_by_text("glad we could help").wait_for()
        ids = await chat.locator("li.msg").evaluate_all("els => els.map(e => e.dataset.id)")
        assert len(ids) == len(set(ids))
        assert (await _texts(page)).count("5") == 1

        # An origin that is not allowed is refused.
        other = await context.new_page()
        await other.goto(f"http://127.0.0.1:{foreign_port}/")
        await other.locator("[data-orchestrator-webchat] .chat[data-state='refused']").wait_for()
        assert app[WEBCHAT_HUB].refused >= 1

        # The studio: the conversation's turns with their traces, and the flow graph.
        studio = await context.new_page()
        await studio.goto(world.base + "/studio/")
        await studio.get_by_label("Admin key").fill(KEY)
        await studio.get_by_role("button", name="Open").click()
        await studio.locator("#graph svg g.node").first.wait_for()
        await studio.get_by_role("button", name="Support desk (support-desk)").click()  # several bots
        # One flow at a time, picked in the flow picker (the bot's greeting first).
        picker = studio.get_by_role("combobox", name="Flow")
        await studio.locator('#graph g.node[data-step^="greeting."]').first.wait_for()
        assert await picker.input_value() == "greeting"
        assert "faq_menu" in await picker.locator("option").all_inner_texts()
        await picker.select_option("faq_menu")
        await studio.locator('#graph g.node[data-step="faq_menu.pick_topic"]').wait_for()
        assert await studio.locator('#graph g.node[data-step^="greeting."]').count() == 0
        await studio.locator("#conversations button").first.click()
        await studio.locator("#turns .trace", has_text="steps:").first.wait_for()
        await studio.locator('#graph g.node[data-step="faq_menu.pick_topic"]').click()
        assert "faq.yaml:" in await studio.locator("#node-info").inner_text()
        assert "What would you like to know?" in await studio.locator("#graph").inner_text()
        if "graphviz" in await studio.locator("#graph-by").inner_text():  # references open their flow
            await studio.locator('#graph g.node[data-flow="faq_pricing"]').click()
            await studio.locator('#graph g.node[data-step^="faq_pricing."]').first.wait_for()
            assert await picker.input_value() == "faq_pricing"
            await picker.select_option("faq_menu")
            await studio.locator('#graph g.node[data-step="faq_menu.pick_topic"]').click()
        await studio.set_viewport_size({"width": 1400, "height": 1000})
        await studio.evaluate("window.scrollTo(0, 0)")
        await studio.screenshot(path=str(ARTIFACTS / "studio.png"), full_page=True)

        # Readable at 320 px.
        await page.set_viewport_size({"width": 320, "height": 640})
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 320
        await page.screenshot(path=str(ARTIFACTS / "webchat-320.png"))
        await browser.close()
