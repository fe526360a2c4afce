"""A fake Twilio Programmable Messaging API, from Twilio's public docs (twilio.com/docs).

- `POST /2010-04-01/Accounts/<AccountSid>/Messages.json` (form: `To`, `From`, `Body`,
  `MediaUrl`…) with HTTP Basic auth `AccountSid:AuthToken`; 201 with the Message resource.
  `GET /2010-04-01/Accounts/<AccountSid>.json`: the account.
- Errors are `{"code", "message", "more_info", "status"}`: 401 code 20003 `Authenticate`; 404
  code 20404 for another account; 400 code 21604 (`To` missing), 21603 (`From` missing), 21602
  (no `Body` nor `MediaUrl`), 21617 (`Body` over 1600 characters), 21620 (`MediaUrl` not a
  URL); `throttle_next`: 429 code 20429 `Too Many Requests` with `Retry-After`.

Webhooks (`build_webhook(spec)`): the incoming-message form Twilio posts, signed as Twilio signs
(`X-Twilio-Signature` = base64 HMAC-SHA1(AuthToken, URL + each sorted field name and value)).
Spec keys: `url` (the URL Twilio was given; the one signed), `text`, `from` (default a phone
number; `whatsapp:+…` for WhatsApp), `to`, `media` (an image URL), `signature` (`forged`,
`none`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from tests.fakes.base import FakePlatform, Webhook, json_response, read_fields


def twilio_error(status: int, code: int, message: str) -> web.Response:
    """Twilio's REST error body."""
    return json_response(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status,
    )


def twilio_signature(token: str, url: str, fields: dict[str, str]) -> str:
    """X-Twilio-Signature, computed as Twilio documents it."""
    data = url + "".join(f"{k}{fields[k]}" for k in sorted(fields))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


class TwilioFake(FakePlatform):
    """Twilio Messaging (see the module docstring)."""

    name = "twilio"

    def __init__(
        self,
        *,
        account_sid: str = "AC0123456789abcdef0123456789abcdef",
        auth_token: str = "twilio-auth-token-0123456789abcdef",
        number: str = "+15005550006",
    ) -> None:
        self.account_sid, self.auth_token, self.number = account_sid, auth_token, number
        self.messages: list[dict[str, str]] = []
        self._throttled: list[int] = []
        self._ids = itertools.count(1)
        super().__init__()

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._create)
        router.add_get("/2010-04-01/Accounts/{sid}.json", self._account)

    def throttle_next(self, count: int = 1, retry_after: int = 1) -> None:
        """Answer the next `count` calls with 429 (code 20429) and `Retry-After`."""
        self._throttled.extend([retry_after] * count)

    def _denied(self, request: web.Request) -> web.Response | None:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if not hmac.compare_digest(request.headers.get("Authorization", ""), f"Basic {expected}"):
            return twilio_error(401, 20003, "Authenticate")
        if request.match_info["sid"] != self.account_sid:
            return twilio_error(404, 20404, "The requested resource was not found")
        if self._throttled:
            wait = self._throttled.pop(0)
            response = twilio_error(429, 20429, "Too Many Requests")
            response.headers["Retry-After"] = str(wait)
            return response
        return None

    async def _account(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        return denied or json_response({"sid": self.account_sid, "friendly_name": "Desk", "status": "active"})

    async def _create(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied:
            return denied
        form = await read_fields(request) or {}
        if not form.get("To"):
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not form.get("From"):
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body") and not form.get("MediaUrl"):
            return twilio_error(400, 21602, "Message body is required.")
        if len(form.get("Body", "")) > 1600:
            return twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if form.get("MediaUrl") and not str(form["MediaUrl"]).startswith(("http://", "https://")):
            return twilio_error(400, 21620, "Invalid media URL(s).")
        sid = f"SM{next(self._ids):032x}"
        message = {k: str(v) for k, v in form.items()}
        self.messages.append(message)
        return json_response(
            {
                "sid": sid,
                "account_sid": self.account_sid,
                "to": message["To"],
                "from": message["From"],
                "body": message.get("Body", ""),
                "status": "queued",
                "num_media": "1" if "MediaUrl" in message else "0",
            },
            201,
        )

    def build_webhook(self, spec: dict[str, Any]) -> Webhook:
        """An incoming message, signed over `spec["url"]`; see the module docstring."""
        sender = spec.get("from", "+33612345678")
        fields = {
            "MessageSid": f"SM{next(self._ids):032x}",
            "SmsSid": "",
            "AccountSid": self.account_sid,
            "From": sender,
            "To": spec.get(
                "to", f"whatsapp:{self.number}" if sender.startswith("whatsapp:") else self.number
            ),
            "Body": spec.get("text", "hello"),
            "NumMedia": "0",
            "NumSegments": "1",
            "ApiVersion": "2010-04-01",
        }
        fields["SmsSid"] = fields["MessageSid"]
        if spec.get("media"):
            fields.update(NumMedia="1", MediaUrl0=spec["media"], MediaContentType0="image/jpeg")
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if spec.get("signature") != "none":
            token = "guessed-token" if spec.get("signature") == "forged" else self.auth_token
            headers["X-Twilio-Signature"] = twilio_signature(token, spec["url"], fields)
        return Webhook(urlencode(fields).encode(), headers)
