"""A fake Telegram Bot API, from the public Bot API documentation (core.telegram.org/bots/api).

- Every method is `POST|GET /bot<token>/<method>` with JSON, form or query parameters; the
  answer is `{"ok": true, "result": …}` or `{"ok": false, "error_code", "description"}`
  (`parameters.retry_after` on 429). An unknown token: 401 `Unauthorized`; an unknown method:
  404 `Not Found`.
- Methods: getMe, getWebhookInfo, setWebhook (an HTTPS `url`, `secret_token` of 1-256 of
  `A-Za-z0-9_-`), deleteWebhook, sendMessage, sendPhoto, sendAnimation, sendAudio, sendVideo,
  sendDocument, sendLocation, sendVenue, sendDice, sendChatAction, answerCallbackQuery,
  editMessageReplyMarkup. Checked as Telegram does: `chat_id` of a chat the bot has seen
  ("chat not found"), non-empty text ("message text is empty"), text ≤ 4096 ("message is too
  long") and caption ≤ 1024 characters after entities parsing, reply markup
  (one action per inline button; `callback_data` 1-64 bytes → `BUTTON_DATA_INVALID`; URL
  buttons http(s) or tg only), `parse_mode` HTML with only Telegram's tags and escaped `<`/`&`,
  MarkdownV2 with its reserved characters escaped ("can't parse entities"), a callback query
  answered once.
- `throttle_next(n, retry_after)`: the next calls answer 429 `Too Many Requests: retry after N`.

Webhooks (`build_webhook(spec)`), posted to the URL given to setWebhook with the
`X-Telegram-Bot-Api-Secret-Token` it registered. Spec keys: `kind` (`text` default; `callback`:
an inline button click with `data`, on the bot message `message_id` or the last one sent;
`photo`; `bot`: a message from a bot), `text`, `user` (id), `chat` (id, default the user's),
`chat_type` (`private`, `group`, `supergroup`), `secret` (`forged` or `none`).
"""

from __future__ import annotations

import hmac
import html
import itertools
import re
import time
from typing import Any

import orjson
from aiohttp import web
from yarl import URL

from tests.fakes.base import FakePlatform, Webhook, json_response, read_fields

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HTML_TAGS = re.compile(r"</?(b|strong|i|em|u|ins|s|strike|del|code|pre|tg-spoiler|a(\s+href=\"[^\"]*\")?)>")
MARKDOWN_V2_RESERVED = set("_*[]()~`>#+-=|{}.!")
SENDERS = {
    "sendMessage": None,
    "sendPhoto": "photo",
    "sendAnimation": "animation",
    "sendAudio": "audio",
    "sendVideo": "video",
    "sendDocument": "document",
    "sendLocation": None,
    "sendVenue": None,
    "sendDice": None,
}


def _visible(text: str, parse_mode: Any) -> str:
    """The text as shown, which Telegram's length limits count ("after entities parsing")."""
    if parse_mode == "HTML":
        return html.unescape(HTML_TAGS.sub("", text))
    return text


def tg_error(status: int, description: str, **parameters: Any) -> web.Response:
    """The Bot API's error body."""
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return json_response(body, status)


class BadRequest(Exception):
    """A 400 `Bad Request: …`."""


class TelegramFake(FakePlatform):
    """The Telegram Bot API (see the module docstring)."""

    name = "telegram"

    def __init__(
        self, *, token: str = "123456789:AAE-fake_token_0123456789abcdefghij", username: str = "DeskBot"
    ):
        self.token = token
        self.username = username
        self.bot_id = int(token.split(":")[0])
        self.webhook: dict[str, Any] = {}
        self.chats: set[str] = set()
        self.sent: list[dict[str, Any]] = []  # every message the bot sent, with its method
        self.actions: list[dict[str, Any]] = []  # sendChatAction calls
        self.open_queries: set[str] = set()
        self.answered: list[str] = []
        self._throttled: list[int] = []
        self._ids = itertools.count(1000)
        super().__init__()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_route("*", "/bot{token}/{method}", self._method)

    def throttle_next(self, count: int = 1, retry_after: int = 3) -> None:
        """Answer the next `count` calls with Telegram's flood-control 429."""
        self._throttled.extend([retry_after] * count)

    # ------------------------------------------------------------ methods

    async def _method(self, request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.match_info["token"], self.token):
            return tg_error(401, "Unauthorized")
        if self._throttled:
            wait = self._throttled.pop(0)
            return tg_error(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        method = request.match_info["method"]
        handler = {
            "getMe": self._get_me,
            "getWebhookInfo": self._get_webhook_info,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "sendChatAction": self._chat_action,
            "answerCallbackQuery": self._answer_callback,
            "editMessageReplyMarkup": self._edit_markup,
        }.get(method)
        params = dict(request.query)
        params.update(await read_fields(request) or {})
        try:
            if handler is not None:
                result = handler(params)
            elif method in SENDERS:
                result = self._send(method, params)
            else:
                return tg_error(404, "Not Found")
        except BadRequest as exc:
            return tg_error(400, f"Bad Request: {exc}")
        return json_response({"ok": True, "result": result})

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Desk", "username": self.username}

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = params.get("url")
        if not isinstance(url, str):
            raise BadRequest("url is required")
        if url and URL(url).scheme != "https":
            raise BadRequest("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise BadRequest("bad webhook: secret token contains unallowed characters")
        self.webhook = {k: v for k, v in params.items() if k in ("url", "secret_token", "allowed_updates")}
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        self.webhook = {}
        return True

    def _chat_action(self, params: dict[str, Any]) -> bool:
        self._chat(params)
        if params.get("action") not in ("typing", "upload_photo", "upload_document", "find_location"):
            raise BadRequest("wrong parameter action in request")
        self.actions.append(params)
        return True

    def _answer_callback(self, params: dict[str, Any]) -> bool:
        query = str(params.get("callback_query_id"))
        if query not in self.open_queries:
            raise BadRequest("query is too old and response timeout expired or query ID is invalid")
        self.open_queries.discard(query)
        self.answered.append(query)
        return True

    def _edit_markup(self, params: dict[str, Any]) -> bool:
        self._chat(params)
        self._markup(params.get("reply_markup"))
        return True

    def _send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params)
        key = SENDERS[method]
        if method == "sendMessage":
            text = params.get("text")
            if not isinstance(text, str) or not text.strip():
                raise BadRequest("message text is empty")
            self._entities(text, params.get("parse_mode"))
            if len(_visible(text, params.get("parse_mode"))) > 4096:
                raise BadRequest("message is too long")
        elif method == "sendDice":
            if params.get("emoji", "🎲") not in ("🎲", "🎯", "🏀", "⚽", "🎳", "🎰"):
                raise BadRequest("wrong parameter emoji in request")
        elif method in ("sendLocation", "sendVenue"):
            if not all(isinstance(params.get(k), int | float) for k in ("latitude", "longitude")):
                raise BadRequest("wrong latitude or longitude")
            if method == "sendVenue" and not (params.get("title") and params.get("address")):
                raise BadRequest("title and address are required")
        else:
            assert key is not None
            if not isinstance(params.get(key), str) or not params[key]:
                raise BadRequest(f"there is no {key} in the request")
            caption = params.get("caption", "")
            self._entities(caption, params.get("parse_mode"))
            if len(_visible(caption, params.get("parse_mode"))) > 1024:
                raise BadRequest("message caption is too long")
        self._markup(params.get("reply_markup"))
        message_id = next(self._ids)
        self.sent.append({"method": method, "message_id": message_id, **params})
        return {"message_id": message_id, "date": int(time.time()), "chat": {"id": int(chat)}}

    # ------------------------------------------------------------ checks

    def _chat(self, params: dict[str, Any]) -> str:
        chat = str(params.get("chat_id", ""))
        if chat not in self.chats:
            raise BadRequest("chat not found")
        return chat

    def _entities(self, text: str, parse_mode: Any) -> None:
        if parse_mode is None:
            return
        if parse_mode == "HTML":
            stripped = HTML_TAGS.sub("", text)
            if "<" in stripped or ">" in stripped:
                raise BadRequest("can't parse entities: Unsupported start tag")
            if re.search(r"&(?!(lt|gt|amp|quot|#\d+);)", stripped):
                raise BadRequest("can't parse entities: Unsupported entity")
        elif parse_mode == "MarkdownV2":
            for index, char in enumerate(text):
                escaped = index > 0 and text[index - 1] == "\\"
                if char in MARKDOWN_V2_RESERVED and not escaped and char not in "*_`[]()":
                    raise BadRequest(f"can't parse entities: Character '{char}' is reserved")
        elif parse_mode != "Markdown":
            raise BadRequest("unsupported parse_mode")

    def _markup(self, markup: Any) -> None:
        if markup is None:
            return
        if isinstance(markup, str):
            markup = orjson.loads(markup)
        if not isinstance(markup, dict):
            raise BadRequest("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            for row in markup["inline_keyboard"]:
                for button in row:
                    self._inline_button(button)
        elif "keyboard" in markup:
            for row in markup["keyboard"]:
                for button in row:
                    if not isinstance(button, dict) or not button.get("text"):
                        raise BadRequest("keyboard button text is empty")
        elif markup.get("remove_keyboard") is not True and "force_reply" not in markup:
            raise BadRequest("can't parse reply keyboard markup JSON object")

    def _inline_button(self, button: Any) -> None:
        if not isinstance(button, dict) or not button.get("text"):
            raise BadRequest("inline keyboard button text is empty")
        actions = [k for k in ("url", "callback_data", "login_url") if k in button]
        if len(actions) != 1:
            raise BadRequest("can't parse inline keyboard button: exactly one action is required")
        if "callback_data" in button:
            data = str(button["callback_data"]).encode()
            if not 1 <= len(data) <= 64:
                raise BadRequest("BUTTON_DATA_INVALID")
        url = button.get("url") or (button.get("login_url") or {}).get("url")
        if url is not None and URL(str(url)).scheme not in ("http", "https", "tg"):
            raise BadRequest(f"inline keyboard button URL '{url}' is invalid: unsupported URL protocol")

    # ------------------------------------------------------------ webhooks

    def build_webhook(self, spec: dict[str, Any]) -> Webhook:
        """An Update as Telegram posts it; see the module docstring for `spec`."""
        kind = spec.get("kind", "text")
        user_id = int(spec.get("user", 777001))
        chat_id = int(spec.get("chat", user_id))
        chat_type = spec.get("chat_type", "private" if chat_id == user_id else "group")
        self.chats.add(str(chat_id))
        sender = {"id": user_id, "is_bot": kind == "bot", "first_name": "Ada", "language_code": "en"}
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = "Ada"
        else:
            chat["title"] = "Support group"
        update: dict[str, Any] = {"update_id": next(self._ids)}
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "from": sender,
            "chat": chat,
            "date": int(time.time()),
        }
        if kind == "callback":
            clicked = self._clicked(spec, chat_id)
            query_id = str(next(self._ids) * 1000003)
            self.open_queries.add(query_id)
            update["callback_query"] = {
                "id": query_id,
                "from": sender,
                "message": clicked,
                "chat_instance": "-4021",
                "data": spec["data"],
            }
        else:
            if kind == "photo":
                message["photo"] = [
                    {"file_id": "AgAD-small", "file_unique_id": "s1", "width": 90, "height": 90},
                    {"file_id": "AgAD-large", "file_unique_id": "l1", "width": 800, "height": 800},
                ]
                if spec.get("text"):
                    message["caption"] = spec["text"]
            else:
                message["text"] = spec.get("text", "hello")
            update["message"] = message
        headers = {}
        secret = self.webhook.get("secret_token")
        if spec.get("secret") == "forged":
            headers[SECRET_HEADER] = "forged-secret"
        elif spec.get("secret") != "none" and secret:
            headers[SECRET_HEADER] = str(secret)
        return Webhook(orjson.dumps(update), headers)

    def _clicked(self, spec: dict[str, Any], chat_id: int) -> dict[str, Any]:
        """The bot message whose button is clicked, as Telegram includes it."""
        wanted = spec.get("message_id")
        mine = [m for m in self.sent if str(m.get("chat_id")) == str(chat_id)]
        found = next((m for m in mine if m["message_id"] == wanted), mine[-1] if mine else None)
        message: dict[str, Any] = {
            "message_id": found["message_id"] if found else next(self._ids),
            "from": {"id": self.bot_id, "is_bot": True, "first_name": "Desk", "username": self.username},
            "chat": {"id": chat_id, "type": "private"},
            "date": int(time.time()),
            "text": (found or {}).get("text", ""),
        }
        markup = (found or {}).get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message
