"""Guards on missing data: a missing value can be tested (`if`, `and`/`or`/`not`, `is defined`,
`default`, `==`), never printed; the example bot answers for every order of the demo API."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from aiohttp import web
from jinja2.exceptions import UndefinedError

from examples.orders_api import ORDERS, make_app
from orchestrator.engine import ActionRegistry, load_bot
from orchestrator.engine.templating import EnvScope, Scope, Templates
from orchestrator.engine_http import AiohttpHttpPort

from .support import Chat, texts

ROOT = Path(__file__).resolve().parents[2]
ORDER = {"status": 200, "json": {"id": "B67890", "status": "being prepared"}}


def ctx() -> dict:
    return {
        "flow": Scope("flow", {"order": ORDER}),
        "conv": Scope("conv", {}),
        "env": EnvScope({}, allowed=False, purpose="a reply"),
    }


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ 'eta ' ~ flow.order.json.eta if flow.order.json.eta else 'no eta' }}", "no eta"),
        ("{% if flow.order.json.eta %}eta{% else %}none{% endif %}", "none"),
        ("{{ flow.order.json.eta | default('unknown') }}", "unknown"),
        ("{{ flow.order.json.eta | d('?') }}", "?"),
        ("{{ flow.order.json.eta is defined }}", False),
        ("{{ flow.order.json.eta is undefined }}", True),
        ("{{ flow.order.json.eta.day is defined }}", False),
        ("{{ not flow.order.json.eta }}", True),
        ("{{ flow.order.json.eta and 'x' or 'y' }}", "y"),
        ("{{ flow.order.json.eta == none }}", False),
        ("{{ flow.order.json.eta != 'x' }}", True),
        ("{{ flow.order.json.status }}", "being prepared"),
    ],
)
def test_a_missing_value_can_be_tested(template: str, expected: object) -> None:
    assert Templates().render(template, ctx()) == expected


def test_a_missing_value_in_a_condition_is_false() -> None:
    t = Templates()
    assert t.truthy("flow.order.json.eta", ctx()) is False
    assert t.truthy("flow.order.json.eta.day", ctx()) is False
    assert t.truthy("not flow.order.json.eta", ctx()) is True


@pytest.mark.parametrize(
    "template",
    [
        "Expected on {{ flow.order.json.eta }}.",
        "{{ flow.order.json.eta.day }}",
        "{{ flow.order.json.eta + 1 }}",
        "{{ flow.order.json.eta | upper }}",
        "{% for x in flow.order.json.eta %}{{ x }}{% endfor %}",
        "{{ flow.order.json.eta | length }}",
    ],
)
def test_printing_or_using_a_missing_value_stays_an_error(template: str) -> None:
    with pytest.raises(UndefinedError, match="'eta'"):
        Templates().render(template, ctx())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("order_id", sorted(ORDERS))
async def test_the_example_bot_answers_every_order_of_the_demo_api(order_id: str) -> None:
    runner = web.AppRunner(make_app("t0k3n"))
    await runner.setup()
    port = _free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        async with AiohttpHttpPort() as http:
            bot = load_bot(ROOT / "bots" / "support-desk.yaml", ROOT)
            env = {"ORDERS_API_URL": f"http://127.0.0.1:{port}", "ORDERS_API_TOKEN": "t0k3n"}
            chat = Chat(bot, http=http, actions=ActionRegistry(), env=env)
            await chat.click("MENU_ORDER")
            result = await chat.text(order_id.lower())
    finally:
        await runner.cleanup()
    assert result.error is None, result.error
    order = ORDERS[order_id]
    said = texts(result)[0]
    assert said.startswith(f"Order {order_id} is {order['status']}")
    assert ("expected on" in said) == ("eta" in order)
