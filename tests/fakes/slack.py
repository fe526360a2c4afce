"""A fake Slack Web API and Events API sender, from Slack's public docs (api.slack.com).

- `POST /api/<method>` with `Authorization: Bearer <bot token>` and a JSON or form body. Answers
  are HTTP 200 `{"ok": true, …}` or `{"ok": false, "error": "<code>"}` (`not_authed`,
  `invalid_auth`, `channel_not_found`, `no_text`, `msg_too_long` (text over 40 000),
  `invalid_blocks`, `message_not_found`, `unknown_method`); rate limits are HTTP 429 with
  `Retry-After` (`throttle_next`).
- Methods: auth.test, chat.postMessage (`channel`, `text` or `blocks`, `thread_ts`), chat.update
  (`channel`, `ts` of a message the bot posted). Blocks checked: ≤ 50; section text 1-3000
  characters; types section, actions,
  image, context, divider, header; buttons with plain_text text ≤ 75, a unique `action_id`
  ≤ 255, `value` ≤ 2000 or a `url`; actions ≤ 25 elements.

Webhooks (`build_webhook(spec)`), signed with the signing secret (v0, HMAC-SHA256 of
`v0:<ts>:<body>`). Spec keys: `kind` (`text` default: an `event_callback` message event;
`mention`: `app_mention` with `<@bot>`; `click`: a `block_actions` interaction, form-encoded,
clicking the button whose value is `value` on the last message posted; `bot`: a message with
`bot_id`; `url_verification`; `ssl_check`), `text`, `user`, `channel`, `thread_ts`, `signature`
(`forged`, `none` or `stale`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from tests.fakes.base import FakePlatform, Webhook, json_response, read_fields

BLOCK_TYPES = {"section", "actions", "image", "context", "divider", "header"}


class SlackError(Exception):
    """An `ok: false` answer."""


class SlackFake(FakePlatform):
    """Slack (see the module docstring)."""

    name = "slack"

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-1111-2222-fakebottoken",
        signing_secret: str = "8f742231b10e8888abcd99yyyzzz85a5",
        team: str = "T0001",
        bot_user: str = "U0BOT",
    ) -> None:
        self.bot_token, self.signing_secret = bot_token, signing_secret
        self.team, self.bot_user = team, bot_user
        self.posted: list[dict[str, Any]] = []
        self.updated: list[dict[str, Any]] = []
        self._throttled: list[int] = []
        self._ts = itertools.count(1)
        super().__init__()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/api/{method}", self._method)

    def throttle_next(self, count: int = 1, retry_after: int = 1) -> None:
        """Answer the next `count` calls with HTTP 429 and `Retry-After`."""
        self._throttled.extend([retry_after] * count)

    async def _method(self, request: web.Request) -> web.Response:
        if self._throttled:
            wait = self._throttled.pop(0)
            return json_response({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(wait)})
        auth = request.headers.get("Authorization", "")
        if not auth:
            return json_response({"ok": False, "error": "not_authed"})
        if not hmac.compare_digest(auth, f"Bearer {self.bot_token}"):
            return json_response({"ok": False, "error": "invalid_auth"})
        params = await read_fields(request) or {}
        handler = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post,
            "chat.update": self._update,
        }.get(request.match_info["method"])
        if handler is None:
            return json_response({"ok": False, "error": "unknown_method"})
        try:
            return json_response({"ok": True, **handler(params)})
        except SlackError as exc:
            return json_response({"ok": False, "error": str(exc)})

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://fake.slack.com/",
            "team": "Fake",
            "user": "desk",
            "team_id": self.team,
            "user_id": self.bot_user,
        }

    def _post(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._check(params)
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        message = {**params, "ts": ts}
        self.posted.append(message)
        return {"channel": channel, "ts": ts, "message": {"text": params.get("text", ""), "ts": ts}}

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._check(params)
        if not any(m["ts"] == params.get("ts") and m["channel"] == channel for m in self.posted):
            raise SlackError("message_not_found")
        self.updated.append(params)
        return {"channel": channel, "ts": params["ts"], "text": params.get("text", "")}

    def _check(self, params: dict[str, Any]) -> str:
        channel = params.get("channel")
        if not isinstance(channel, str) or not channel.startswith(("C", "D", "G")):
            raise SlackError("channel_not_found")
        blocks = params.get("blocks")
        if not params.get("text") and not blocks:
            raise SlackError("no_text")
        if len(str(params.get("text") or "")) > 40000:
            raise SlackError("msg_too_long")
        if blocks is not None:
            _check_blocks(blocks)
        return channel

    # ------------------------------------------------------------ webhooks

    def build_webhook(self, spec: dict[str, Any]) -> Webhook:
        """An event or interaction as Slack posts it, signed; see the module docstring."""
        kind = spec.get("kind", "text")
        user, channel = spec.get("user", "U0USER"), spec.get("channel", "D0DM")
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        content_type = "application/json"
        if kind == "url_verification":
            body = orjson.dumps(
                {
                    "token": "legacy",
                    "challenge": spec.get(
                        "challenge", "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
                    ),
                    "type": "url_verification",
                }
            )
        elif kind == "ssl_check":
            body, content_type = b"ssl_check=1&token=legacy", "application/x-www-form-urlencoded"
        elif kind == "click":
            body, content_type = self._click(spec, user, channel), "application/x-www-form-urlencoded"
        else:
            text = spec.get("text", "hello")
            event: dict[str, Any] = {
                "type": "app_mention" if kind == "mention" else "message",
                "channel": channel,
                "user": user,
                "text": f"<@{self.bot_user}> {text}" if kind == "mention" else text,
                "ts": ts,
                "client_msg_id": f"c-{ts}",
                "channel_type": "im" if channel.startswith("D") else "channel",
                "team": self.team,
            }
            if spec.get("thread_ts"):
                event["thread_ts"] = spec["thread_ts"]
            if kind == "bot":
                event["bot_id"] = "B0BOT"
            body = orjson.dumps(
                {
                    "token": "legacy",
                    "team_id": self.team,
                    "api_app_id": "A0APP",
                    "event": event,
                    "type": "event_callback",
                    "event_id": f"Ev{next(self._ts):08d}",
                    "event_time": int(time.time()),
                }
            )
        return Webhook(body, {"Content-Type": content_type, **self.sign(body, spec.get("signature"))})

    def sign(self, body: bytes, mode: str | None = None) -> dict[str, str]:
        """Slack's signature headers (`mode`: forged, none or stale for refused ones)."""
        if mode == "none":
            return {}
        timestamp = str(int(time.time()) - (600 if mode == "stale" else 0))
        base = f"v0:{timestamp}:".encode() + body
        digest = hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        if mode == "forged":
            digest = hmac.new(b"guessed", base, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}

    def _click(self, spec: dict[str, Any], user: str, channel: str) -> bytes:
        mine = [m for m in self.posted if m.get("channel") == channel]
        message = mine[-1] if mine else {"ts": "1.0", "blocks": [], "text": ""}
        button = next(
            (
                e
                for b in message.get("blocks") or []
                if b.get("type") == "actions"
                for e in b["elements"]
                if e.get("value") == spec["value"]
            ),
            {
                "type": "button",
                "action_id": f"postback:{spec['value']}",
                "value": spec["value"],
                "text": {"type": "plain_text", "text": spec["value"]},
            },
        )
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": "ada", "team_id": self.team},
            "api_app_id": "A0APP",
            "team": {"id": self.team, "domain": "fake"},
            "container": {
                "type": "message",
                "message_ts": message["ts"],
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "channel": {"id": channel, "name": "directmessage"},
            "message": {k: v for k, v in message.items() if k in ("ts", "text", "blocks", "thread_ts")},
            "response_url": "https://hooks.slack.com/actions/T0001/1/x",
            "trigger_id": "1.2.3",
            "actions": [{**button, "block_id": "b1", "action_ts": f"{time.time():.6f}"}],
        }
        return urlencode({"payload": orjson.dumps(payload).decode()}).encode()


def _check_blocks(blocks: Any) -> None:
    if isinstance(blocks, str):
        blocks = orjson.loads(blocks)
    if not isinstance(blocks, list) or len(blocks) > 50:
        raise SlackError("invalid_blocks")
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            raise SlackError("invalid_blocks")
        if block["type"] == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
                raise SlackError("invalid_blocks")
            ids = [e.get("action_id") for e in elements]
            if len(set(ids)) != len(ids):
                raise SlackError("invalid_blocks")
            for element in elements:
                text = (element.get("text") or {}).get("text", "")
                if (
                    element.get("type") != "button"
                    or not 1 <= len(text) <= 75
                    or len(element.get("action_id", "")) > 255
                ):
                    raise SlackError("invalid_blocks")
                if "url" not in element and len(str(element.get("value", ""))) > 2000:
                    raise SlackError("invalid_blocks")
        if block["type"] == "section" and not 1 <= len((block.get("text") or {}).get("text", "")) <= 3000:
            raise SlackError("invalid_blocks")
        if block["type"] == "image" and not block.get("image_url"):
            raise SlackError("invalid_blocks")
