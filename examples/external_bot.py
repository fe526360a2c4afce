"""An external bot in a dozen lines: it receives `message.new` webhooks and answers each user.

CLIENT_ID=… CLIENT_TOKEN=… WEBHOOK_TOKEN=… python examples/external_bot.py
(optional: API=http://127.0.0.1:3100/api/v1, PORT=8000 where it listens for the webhooks)
"""

import os

import aiohttp
from aiohttp import web

API = os.environ.get("API", "http://127.0.0.1:3100/api/v1")


def make_app(client_id: str, client_token: str, webhook_token: str) -> web.Application:
    headers = {"x-bp-messaging-client-id": client_id, "x-bp-messaging-client-token": client_token}

    async def on_event(request: web.Request) -> web.Response:
        if request.headers.get("x-bp-messaging-webhook-token") != webhook_token:
            return web.Response(status=403)
        event = await request.json()
        message = event["data"].get("message", {})
        if event["type"] == "message.new" and "authorId" in message:  # a user wrote
            reply = {"type": "text", "text": f"You said: {message['payload'].get('text')}"}
            async with aiohttp.ClientSession(headers=headers) as http:
                await http.post(
                    f"{API}/messages",
                    json={
                        "conversationId": message["conversationId"],
                        "payload": reply,
                        "incomingId": message["id"],
                    },
                )
                await http.post(f"{API}/messages/turn/{message['id']}")
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_post("/hook", on_event)
    return app


if __name__ == "__main__":
    env = os.environ
    app = make_app(env["CLIENT_ID"], env["CLIENT_TOKEN"], env["WEBHOOK_TOKEN"])
    web.run_app(app, host="127.0.0.1", port=int(env.get("PORT", "8000")))
