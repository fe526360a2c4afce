"""A demo orders API for the support-desk bot's order-status flow (`make run` users' stand-in).

    .venv/bin/python -m examples.orders_api        # serves http://127.0.0.1:8800/orders/<id>

Orders A12345 (shipped) and B67890 (processing) exist; others are 404. The bot sends
`Authorization: Bearer <ORDERS_API_TOKEN>`; any other token is 401.
"""

from __future__ import annotations

from aiohttp import web

ORDERS = {
    "A12345": {"id": "A12345", "status": "shipped", "eta": "2026-11-25"},
    "B67890": {"id": "B67890", "status": "being prepared"},
}


def make_app(token: str = "demo-token") -> web.Application:
    async def get_order(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        order = ORDERS.get(request.match_info["order_id"])
        if order is None:
            return web.json_response({"error": "no such order"}, status=404)
        return web.json_response(order)

    app = web.Application()
    app.router.add_get("/orders/{order_id}", get_order)
    return app


if __name__ == "__main__":
    web.run_app(make_app(), host="127.0.0.1", port=8800)
