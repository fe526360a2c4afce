"""The support-desk bot holds the same scripted conversation on every channel (Telegram, Slack,
Twilio, Messenger, Teams, Sunshine Conversations, Vonage, WhatsApp Cloud, Qiscus, Tiledesk,
Chat21, MessageMedia), each against its fake; every step is checked at the fake in the
platform's format.

The script: hi → the welcome menu; a menu button (FAQ) → the FAQ topics as quick replies; a
quick reply (Opening hours) → the answer and "Anything else?" with quick replies; the quick
reply "Main menu" → the welcome menu; "pricing" → the plans carousel; a card button (Choose
Pro) → its buttons; "link my account" → the login link; "I want a real person" → the hand-off
prompt. Each channel's `Driver`
says how its user acts (a button click, a quick reply, typed text) and checks what reached the
fake for each step.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.fakes.base import FakePlatform, Recorded, Webhook, serving
from tests.fakes.chat21 import Chat21Fake
from tests.fakes.messagemedia import MessageMediaFake
from tests.fakes.messenger import MessengerFake
from tests.fakes.qiscus import QiscusFake
from tests.fakes.slack import SlackFake
from tests.fakes.smooch import SmoochFake
from tests.fakes.teams import HERO, TeamsFake
from tests.fakes.telegram import TelegramFake
from tests.fakes.tiledesk import TiledeskFake
from tests.fakes.twilio import TwilioFake
from tests.fakes.vonage import VonageFake
from tests.fakes.whatsapp import WhatsAppFake
from tests.integration.harness import Harness, actions, postbacks, start

STEPS = ("hi", "menu_button", "faq", "quick_reply", "carousel", "card_button", "account_linking", "handoff")
MENU = ["MENU_FAQ", "MENU_ORDER", "MENU_CONTACT", "MENU_LINK"]
FAQ = {
    "Opening hours": "FAQ_HOURS",
    "Shipping": "FAQ_SHIPPING",
    "Returns & refunds": "FAQ_RETURNS",
    "Pricing": "FAQ_PRICING",
}
HOURS = "Our team answers Monday to Friday, 9:00 to 18:00 (Paris time). We're open right now."
CONNECTING = "I'm connecting you with a member of our team. They'll be with you shortly."


class Driver:
    """How one channel's user acts, and what its platform must have received."""

    name: str
    fake: FakePlatform
    steps: tuple[str, ...] = STEPS

    def config(self) -> dict[str, Any]:
        raise NotImplementedError

    tail = ""

    def act(self, step: str) -> dict[str, Any]:
        """The webhook spec of the user's action in `step`."""
        raise NotImplementedError

    def check(self, step: str, calls: list[Recorded], h: Harness) -> None:
        """Assert what the platform received during `step`."""
        raise NotImplementedError

    def check_sync(self, calls: list[Recorded], h: Harness) -> None:
        """Assert the credentials test and set-up calls made at sync."""
        raise NotImplementedError

    def forged(self, h: Harness) -> list[tuple[Webhook, str, int]]:
        """Requests the platform did not sign as it does: (webhook, URL, expected status)."""
        raise NotImplementedError

    def statuses(self) -> list[dict[str, Any]]:
        """Webhook specs of delivery statuses, a delivered one then a failed one ([]: none)."""
        return []


# ---------------------------------------------------------------- Telegram


def inline_data(body: dict[str, Any]) -> list[str]:
    rows = (body.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b["callback_data"] for row in rows for b in row if "callback_data" in b]


class TelegramDriver(Driver):
    name = "telegram"

    def __init__(self, fake: TelegramFake) -> None:
        self.fake = fake
        self.tg = fake
        self.tail = f"/{fake.token}"

    def config(self) -> dict[str, Any]:
        return {
            "apiUrl": self.fake.url,
            "botToken": self.tg.token,
            "webhookSecret": "desk-secret_0123",
            "loginUrlDomains": ["accounts.example.com"],
        }

    def check_sync(self, calls: list[Recorded], h: Harness) -> None:
        assert [c.path.rsplit("/", 1)[1] for c in calls] == ["getMe", "setWebhook"]
        assert self.tg.webhook == {
            "url": f"https://orchestrator.example.com/webhooks/v1/{h.client.id}/telegram/{self.tg.token}",
            "secret_token": "desk-secret_0123",
            "allowed_updates": ["message", "callback_query"],
        }

    def forged(self, h: Harness) -> list[tuple[Webhook, str, int]]:
        base = h.hook.removesuffix(self.tail)
        good = self.tg.build_webhook({"text": "hi"})
        return [
            (good, base, 401),  # no token in the URL
            (good, f"{base}/{self.tg.bot_id}:guessed", 403),
            (self.tg.build_webhook({"text": "hi", "secret": "none"}), h.hook, 401),
            (self.tg.build_webhook({"text": "hi", "secret": "forged"}), h.hook, 403),
        ]

    def act(self, step: str) -> dict[str, Any]:
        return {
            "hi": {"text": "hi"},
            "menu_button": {"kind": "callback", "data": "MENU_FAQ"},
            "faq": {"text": "Opening hours"},  # a key of the reply keyboard
            "quick_reply": {"text": "Main menu"},
            "carousel": {"text": "pricing"},
            "card_button": {"kind": "callback", "data": "PLAN:pro"},
            "account_linking": {"text": "link my account"},
            "handoff": {"text": "I want a real person"},
        }[step]

    def check(self, step: str, calls: list[Recorded], h: Harness) -> None:
        methods = [c.path.rsplit("/", 1)[1] for c in calls]
        assert all(c.status == 200 for c in calls), [(c.path, c.status, c.body) for c in calls]
        assert all(c.path.startswith(f"/bot{self.tg.token}/") for c in calls)
        bodies = [c.json for c in calls if c.path.endswith(("/sendMessage", "/sendPhoto"))]
        if step in ("hi", "quick_reply"):
            assert methods == ["sendChatAction", "sendMessage"]
            [welcome] = bodies
            assert welcome["chat_id"] == "777001" and welcome["text"].startswith("Hi! I'm the support bot")
            assert inline_data(welcome) == [*MENU, "HANDOFF"]
        elif step == "menu_button":
            assert methods == ["answerCallbackQuery", "sendChatAction", "sendMessage"]
            [faq] = bodies
            keyboard = faq["reply_markup"]
            assert keyboard["one_time_keyboard"] is True
            assert [row[0]["text"] for row in keyboard["keyboard"]] == list(FAQ)
            assert self.tg.open_queries == set()
        elif step == "faq":
            assert methods == ["sendChatAction", "sendMessage", "sendMessage"]
            hours, more = bodies
            assert hours["text"] == HOURS
            assert hours["reply_markup"] == {"remove_keyboard": True}  # the used keyboard goes
            assert [row[0]["text"] for row in more["reply_markup"]["keyboard"]] == [
                "Main menu",
                "Talk to a person",
            ]
            assert h.watch.user_messages()[-1].message.payload == {
                "type": "quick_reply",
                "payload": "FAQ_HOURS",
                "text": "Opening hours",
            }
        elif step == "carousel":
            assert methods == ["sendChatAction", "sendMessage", "sendPhoto", "sendPhoto", "sendMessage"]
            intro, free, pro, business = bodies
            assert intro["text"] == "Here are our plans:"
            assert free["photo"] == "https://shop.example.com/img/free.png"
            assert pro["caption"].startswith("<b>Pro</b>\n19 EUR / month") and pro["parse_mode"] == "HTML"
            assert inline_data(pro) == ["PLAN:pro"]
            rows = pro["reply_markup"]["inline_keyboard"]
            assert rows[1] == [{"text": "Details", "url": "https://shop.example.com/pricing#pro"}]
            assert "Call sales: +33123456789" in business["text"]
        elif step == "card_button":
            assert methods == ["answerCallbackQuery", "sendChatAction", "sendMessage"]
            [chosen] = bodies
            assert chosen["text"].startswith("Great choice: the Pro plan.")
            assert inline_data(chosen) == ["MENU_CONTACT", "MENU"]
        elif step == "account_linking":
            assert methods == ["sendChatAction", "sendMessage"]
            [link] = bodies
            [[button]] = link["reply_markup"]["inline_keyboard"]
            assert button["text"] == "Log in"
            assert button["login_url"]["url"].startswith("https://accounts.example.com/link?")
        elif step == "handoff":
            assert methods == ["sendChatAction", "sendMessage"]
            assert bodies[0]["text"] == CONNECTING


# ---------------------------------------------------------------- Slack


def slack_values(body: dict[str, Any]) -> list[str]:
    return [
        e["value"]
        for b in body.get("blocks", [])
        if b["type"] == "actions"
        for e in b["elements"]
        if "value" in e
    ]


class SlackDriver(Driver):
    name = "slack"

    def __init__(self, fake: SlackFake) -> None:
        self.fake = self.sl = fake

    def config(self) -> dict[str, Any]:
        return {
            "apiUrl": f"{self.fake.url}/api",
            "botToken": self.sl.bot_token,
            "signingSecret": self.sl.signing_secret,
        }

    def check_sync(self, calls: list[Recorded], h: Harness) -> None:
        assert [c.path for c in calls] == ["/api/auth.test"]

    def forged(self, h: Harness) -> list[tuple[Webhook, str, int]]:
        return [
            (self.sl.build_webhook({"signature": "none"}), h.hook, 401),
            (self.sl.build_webhook({"signature": "forged"}), h.hook, 403),
            (self.sl.build_webhook({"signature": "stale"}), h.hook, 403),
        ]

    def act(self, step: str) -> dict[str, Any]:
        return {
            "hi": {"text": "hi"},
            "menu_button": {"kind": "click", "value": "MENU_FAQ"},
            "faq": {"kind": "click", "value": "FAQ_HOURS"},
            "quick_reply": {"kind": "click", "value": "MENU"},
            "carousel": {"kind": "mention", "text": "pricing"},
            "card_button": {"kind": "click", "value": "PLAN:pro"},
            "account_linking": {"text": "link my account"},
            "handoff": {"text": "I want a real person"},
        }[step]

    def check(self, step: str, calls: list[Recorded], h: Harness) -> None:
        assert all(c.status == 200 and c.json["channel"] == "D0DM" for c in calls)
        assert all(c.headers["Authorization"] == f"Bearer {self.sl.bot_token}" for c in calls)
        paths = [c.path.removeprefix("/api/") for c in calls]
        posts = [c.json for c in calls if c.path.endswith("chat.postMessage")]
        clicked = step in ("menu_button", "faq", "quick_reply", "card_button")
        if clicked:  # the clicked message loses its buttons first
            assert paths[0] == "chat.update"
            update = calls[0].json
            assert not [b for b in update["blocks"] if b["type"] == "actions"]
            assert update["blocks"][-1]["type"] == "context"
        if step in ("hi", "quick_reply"):
            [welcome] = posts
            assert welcome["text"].startswith("Hi! I'm the support bot")
            assert slack_values(welcome) == [*MENU, "HANDOFF"]
        elif step == "menu_button":
            [faq] = posts
            assert slack_values(faq) == list(FAQ.values())
        elif step == "faq":
            hours, more = posts
            assert hours["blocks"][0]["text"]["text"] == HOURS.replace("'", "'")
            assert slack_values(more) == ["MENU", "HANDOFF"]
        elif step == "carousel":
            intro, carousel = posts
            assert intro["text"] == "Here are our plans:"
            sections = [b for b in carousel["blocks"] if b["type"] == "section"]
            assert [s["text"]["text"].split("\n")[0] for s in sections] == ["*Free*", "*Pro*", "*Business*"]
            assert sections[0]["accessory"]["image_url"] == "https://shop.example.com/img/free.png"
            assert slack_values(carousel) == ["PLAN:free", "PLAN:pro", "PLAN:business"]
            assert "Call sales: +33123456789" in sections[2]["text"]["text"]
        elif step == "card_button":
            [chosen] = posts
            assert chosen["text"].startswith("Great choice: the Pro plan.")
        elif step == "account_linking":
            [link] = posts
            [button] = link["blocks"][1]["elements"]
            assert button["url"].startswith("https://accounts.example.com/link?") and "value" not in button
        elif step == "handoff":
            assert posts[0]["text"] == CONNECTING


# ---------------------------------------------------------------- Twilio


class TwilioDriver(Driver):
    name = "twilio"

    def __init__(self, fake: TwilioFake) -> None:
        self.fake = self.tw = fake
        self.url = ""

    def config(self) -> dict[str, Any]:
        return {
            "apiUrl": self.fake.url,
            "accountSID": self.tw.account_sid,
            "authToken": self.tw.auth_token,
            "messageDelay": "10ms",
            "retryMaxAttempts": 2,
            "retryDelay": "1ms",
        }

    def check_sync(self, calls: list[Recorded], h: Harness) -> None:
        assert [c.path for c in calls] == [f"/2010-04-01/Accounts/{self.tw.account_sid}.json"]
        # the URL Twilio was given: server.external_url + the webhook route
        self.url = f"https://orchestrator.example.com/webhooks/v1/{h.client.id}/twilio"

    def forged(self, h: Harness) -> list[tuple[Webhook, str, int]]:
        self.url = f"https://orchestrator.example.com/webhooks/v1/{h.client.id}/twilio"
        signed_for_test_server = self.tw.build_webhook({"url": h.hook})
        return [
            (self.tw.build_webhook({"url": self.url, "signature": "none"}), h.hook, 401),
            (self.tw.build_webhook({"url": self.url, "signature": "forged"}), h.hook, 403),
            (signed_for_test_server, h.hook, 403),  # signed over another URL than the public one
        ]

    def act(self, step: str) -> dict[str, Any]:
        text = {
            "hi": "hi",
            "menu_button": "1",  # FAQ
            "faq": "1",  # Opening hours
            "quick_reply": "1",  # Main menu
            "carousel": "pricing",
            "card_button": "2",  # Choose Pro
            "account_linking": "link my account",
            "handoff": "I want a real person",
        }[step]
        return {"url": self.url, "text": text, "from": "whatsapp:+33612345678"}

    def check(self, step: str, calls: list[Recorded], h: Harness) -> None:
        assert all(c.status == 201 for c in calls), [(c.status, c.body) for c in calls]
        forms = [c.form or {} for c in calls]
        assert all((f["To"], f["From"]) == ("whatsapp:+33612345678", "whatsapp:+15005550006") for f in forms)
        bodies = [f.get("Body", "") for f in forms]
        if step in ("hi", "quick_reply"):
            [welcome] = bodies
            assert welcome.startswith("Hi! I'm the support bot") and "1. FAQ" in welcome
            assert "5. Talk to a person" in welcome
        elif step == "menu_button":
            [faq] = bodies
            assert "1. Opening hours" in faq and "4. Pricing" in faq
            assert h.watch.user_messages()[-1].message.payload["payload"] == "MENU_FAQ"
        elif step == "faq":
            assert bodies == [HOURS, "Anything else?\n1. Main menu\n2. Talk to a person"]
        elif step == "carousel":
            intro, carousel = bodies
            assert intro == "Here are our plans:"
            assert "2. Choose Pro" in carousel and "Details: https://shop.example.com/pricing#pro" in carousel
        elif step == "card_button":
            [chosen] = bodies
            assert chosen.startswith("Great choice: the Pro plan.")
        elif step == "account_linking":
            [link] = bodies
            assert "https://accounts.example.com/link?" in link
        elif step == "handoff":
            assert bodies[0] == CONNECTING


# ---------------------------------------------------------------- Messenger


def chips(body: dict[str, Any]) -> list[str]:
    return [q["payload"] for q in body["message"].get("quick_replies", [])]


class MessengerDriver(Driver):
    name = "messenger"
    # Messenger reports account linking itself: its callback is the bot's account_linked event.
    steps = (*STEPS[:-1], "account_linked", STEPS[-1])

    def __init__(self, fake: MessengerFake) -> None:
        self.fake = self.ms = fake

    def config(self) -> dict[str, Any]:
        ms = self.ms
        return {
            "apiUrl": ms.url,
            "appId": ms.app_id,
            "appSecret": ms.app_secret,
            "verifyToken": ms.verify_token,
            "pageId": ms.page_id,
            "accessToken": ms.access_token,
            "greeting": "Hello {{user_first_name}}, we answer within minutes.",
            "getStarted": "MENU",
            "persistentMenu": [
                {
                    "locale": "default",
                    "composer_input_disabled": False,
                    "call_to_actions": [{"type": "postback", "title": "Main menu", "payload": "MENU"}],
                }
            ],
        }

    def check_sync(self, calls: list[Recorded], h: Harness) -> None:
        assert [c.path for c in calls] == ["/v12.0/me", "/v12.0/app", "/v12.0/me/messenger_profile"]
        assert self.ms.profile["get_started"] == {"payload": "MENU"}
        assert self.ms.profile["greeting"][0]["locale"] == "default"
        assert self.ms.profile["persistent_menu"][0]["call_to_actions"][0]["payload"] == "MENU"

    def forged(self, h: Harness) -> list[tuple[Webhook, str, int]]:
        return [
            (self.ms.build_webhook({"signature": "none"}), h.hook, 403),  # Botpress: 500
            (self.ms.build_webhook({"signature": "forged"}), h.hook, 403),
        ]

    def act(self, step: str) -> dict[str, Any]:
        return {
            "hi": {"text": "hi"},
            "menu_button": {"kind": "quick_reply", "payload": "MENU_FAQ", "text": "FAQ"},
            "faq": {"kind": "quick_reply", "payload": "FAQ_HOURS", "text": "Opening hours"},
            "quick_reply": {"kind": "quick_reply", "payload": "MENU", "text": "Main menu"},
            "carousel": {"text": "pricing"},
            "card_button": {"kind": "postback", "payload": "PLAN:pro", "title": "Choose Pro"},
            "account_linking": {"text": "link my account"},
            "account_linked": {"kind": "account_linking", "code": "acct-42"},
            "handoff": {"text": "I want a real person"},
        }[step]

    def check(self, step: str, calls: list[Recorded], h: Harness) -> None:
        assert all(c.status == 200 and c.query["access_token"] == self.ms.access_token for c in calls)
        bodies = [c.json for c in calls]
        assert all(b["recipient"] == {"id": "6123456789012345"} for b in bodies)
        if step != "account_linked":  # a user's message is marked seen before the bot answers
            seen, *bodies = bodies
            assert seen["sender_action"] == "mark_seen"
        if step in ("hi", "quick_reply"):
            [welcome] = bodies
            assert welcome["message"]["text"].startswith("Hi! I'm the support bot")
            assert chips(welcome) == [*MENU, "HANDOFF"]  # more than 3 buttons: quick replies
        elif step == "menu_button":
            [faq] = bodies
            assert chips(faq) == list(FAQ.values())
            assert h.watch.user_messages()[-1].message.payload["type"] == "quick_reply"
        elif step == "faq":
            hours, more = bodies
            assert hours["message"] == {"text": HOURS}
            assert chips(more) == ["MENU", "HANDOFF"]
        elif step == "carousel":
            intro, carousel = bodies
            assert intro["message"] == {"text": "Here are our plans:"}
            template = carousel["message"]["attachment"]["payload"]
            assert template["template_type"] == "generic"
            assert [e["title"] for e in template["elements"]] == ["Free", "Pro", "Business"]
            assert template["elements"][1]["buttons"][1] == {
                "type": "web_url",
                "title": "Details",
                "url": "https://shop.example.com/pricing#pro",
            }
            assert template["elements"][2]["buttons"][1]["type"] == "phone_number"
        elif step == "card_button":
            [chosen] = bodies
            template = chosen["message"]["attachment"]["payload"]
            assert template["template_type"] == "button" and template["text"].startswith("Great choice")
            assert [b["payload"] for b in template["buttons"]] == ["MENU_CONTACT", "MENU"]
            assert h.watch.user_messages()[-1].message.payload == {
                "type": "postback",
                "payload": "PLAN:pro",
                "text": "Choose Pro",
            }
        elif step == "account_linking":
            [link] = bodies
            [button] = link["message"]["attachment"]["payload"]["buttons"]
            assert button["type"] == "account_link"
            assert button["url"].startswith("https://accounts.example.com/link?")
        elif step == "account_linked":
            thanks, more = bodies
            assert thanks["message"]["text"] == "Thanks! Your account acct-42 is now linked."
            assert chips(more) == ["MENU", "HANDOFF"]
        elif step == "handoff":
            assert bodies[0]["message"]["text"] == CONNECTING


# ---------------------------------------------------------------- Sunshine Conversations


def smooch_payloads(body: dict[str, Any], kind: str) -> list[str]:
    content = body["content"]
    actions = content.get("actions", []) + [a for i in content.get("items", []) for a in i.get("actions", [])]
    return [a["payload"] for a in actions if a["type"] == kind]


class SmoochDriver(Driver):
    name = "smooch"

    def __init__(self, fake: SmoochFake) -> None:
        self.fake = self.sm = fake

    def config(self) -> dict[str, Any]:
        sm = self.sm
        return {
            "apiUrl": sm.url,
            "appId": sm.app_id,
            "keyId": sm.key_id,
            "keySecret": sm.key_secret,
            "webhookSecret": sm.webhook_secret,
        }

    def check_sync(self, calls: list[Recorded], h: Harness) -> None:
        assert [c.path for c in calls] == [f"/v2/apps/{self.sm.app_id}"]

    def forged(self, h: Harness) -> list[tuple[Webhook, str, int]]:
        return [
            (self.sm.build_webhook({"secret": "none"}), h.hook, 401),
            (self.sm.build_webhook({"secret": "forged"}), h.hook, 403),
        ]

    def act(self, step: str) -> dict[str, Any]:
        return {
            "hi": {"text": "hi"},
            "menu_button": {"kind": "postback", "payload": "MENU_FAQ", "text": "FAQ"},
            "faq": {"kind": "reply", "payload": "FAQ_HOURS", "text": "Opening hours"},
            "quick_reply": {"kind": "reply", "payload": "MENU", "text": "Main menu"},
            "carousel": {"text": "pricing"},
            "card_button": {"kind": "postback", "payload": "PLAN:pro", "text": "Choose Pro"},
            "account_linking": {"text": "link my account"},
            "handoff": {"text": "I want a real person"},
        }[step]

    def check(self, step: str, calls: list[Recorded], h: Harness) -> None:
        assert all(
            c.status == 201 and c.path.endswith("/conversations/c51d7a8e3e1f2d8a1ab0b1a8/messages")
            for c in calls
        )
        assert all(c.json["author"] == {"type": "business"} for c in calls)
        bodies = [c.json for c in calls]
        if step in ("hi", "quick_reply"):
            [welcome] = bodies
            assert welcome["content"]["text"].startswith("Hi! I'm the support bot")
            assert smooch_payloads(welcome, "postback") == [*MENU, "HANDOFF"]
        elif step == "menu_button":
            [faq] = bodies
            assert smooch_payloads(faq, "reply") == list(FAQ.values())
            assert h.watch.user_messages()[-1].message.payload["type"] == "postback"
        elif step == "faq":
            hours, more = bodies
            assert hours["content"] == {"type": "text", "text": HOURS}
            assert smooch_payloads(more, "reply") == ["MENU", "HANDOFF"]
            assert h.watch.user_messages()[-1].message.payload == {
                "type": "quick_reply",
                "payload": "FAQ_HOURS",
                "text": "Opening hours",
            }
        elif step == "carousel":
            intro, carousel = bodies
            assert intro["content"]["text"] == "Here are our plans:"
            items = carousel["content"]["items"]
            assert [i["title"] for i in items] == ["Free", "Pro", "Business"]
            assert items[0]["mediaUrl"] == "https://shop.example.com/img/free.png"
            assert items[1]["actions"][1] == {
                "type": "link",
                "text": "Details",
                "uri": "https://shop.example.com/pricing#pro",
            }
            assert items[2]["actions"][1]["uri"] == "tel:+33123456789"
        elif step == "card_button":
            [chosen] = bodies
            assert chosen["content"]["text"].startswith("Great choice: the Pro plan.")
            assert smooch_payloads(chosen, "postback") == ["MENU_CONTACT", "MENU"]
        elif step == "account_linking":
            [link] = bodies
            [action] = link["content"]["actions"]
            assert action["type"] == "link" and action["uri"].startswith("https://accounts.example.com/link?")
        elif step == "handoff":
            assert bodies[0]["content"]["text"] == CONNECTING


# ---------------------------------------------------------------- Vonage (WhatsApp)


def interactive_ids(body: dict[str, Any]) -> list[str]:
    interactive = body["custom"]["interactive"]
    if interactive["type"] == "button":
        return [b["reply"]["id"] for b in interactive["action"]["buttons"]]
    return [r["id"] for s in interactive["action"]["sections"] for r in s["rows"]]


class VonageDriver(Driver):
    name = "vonage"
    user = "447700900001"

    def __init__(self, fake: VonageFake) -> None:
        self.fake = self.vn = fake

    def config(self) -> dict[str, Any]:
        vn = self.vn
        return {
            "apiUrl": vn.url,
            "apiKey": vn.api_key,
            "apiSecret": vn.api_secret,
            "signatureSecret": vn.signature_secret,
        }

    def check_sync(self, calls: list[Recorded], h: Harness) -> None:
        assert [c.path for c in calls] == ["/account/get-balance"]

    def forged(self, h: Harness) -> list[tuple[Webhook, str, int]]:
        return [
            (self.vn.build_webhook({"signature": "none"}), h.hook, 401),
            (self.vn.build_webhook({"signature": "forged"}), h.hook, 403),
            (self.vn.build_webhook({"signature": "hash"}), h.hook, 403),
            (self.vn.build_webhook({"signature": "api_key"}), h.hook, 403),
        ]

    def statuses(self) -> list[dict[str, Any]]:
        return [{"kind": "status", "status": "delivered"}, {"kind": "status", "status": "rejected"}]

    def act(self, step: str) -> dict[str, Any]:
        return {
            "hi": {"text": "hi"},
            "menu_button": {"kind": "reply", "payload": "MENU_FAQ", "title": "FAQ"},  # a list row
            "faq": {"kind": "reply", "payload": "FAQ_HOURS", "title": "Opening hours"},
            "quick_reply": {"kind": "reply", "payload": "MENU", "title": "Main menu"},  # a button
            "carousel": {"text": "pricing"},
            "card_button": {"text": "2"},  # Choose Pro, from the numbered carousel
            "account_linking": {"text": "link my account"},
            "handoff": {"text": "I want a real person"},
        }[step]

    def check(self, step: str, calls: list[Recorded], h: Harness) -> None:
        assert all(c.status == 202 for c in calls), [(c.status, c.body) for c in calls]
        bodies = [c.json for c in calls]
        assert all(
            (b["channel"], b["from"], b["to"]) == ("whatsapp", self.vn.number, self.user) for b in bodies
        )
        if step in ("hi", "quick_reply"):
            [welcome] = bodies
            assert welcome["custom"]["interactive"]["type"] == "list"
            assert welcome["custom"]["interactive"]["body"]["text"].startswith("Hi! I'm the support bot")
            assert interactive_ids(welcome) == [*MENU, "HANDOFF"]
        elif step == "menu_button":
            [faq] = bodies
            assert interactive_ids(faq) == list(FAQ.values())
        elif step == "faq":
            hours, more = bodies
            assert hours == {**hours, "message_type": "text", "text": HOURS}
            assert more["custom"]["interactive"]["type"] == "button"
            assert interactive_ids(more) == ["MENU", "HANDOFF"]
        elif step == "carousel":
            intro, carousel = bodies
            assert intro["text"] == "Here are our plans:"
            assert "2. Choose Pro" in carousel["text"]
            assert "Details: https://shop.example.com/pricing#pro" in carousel["text"]
        elif step == "card_button":
            [chosen] = bodies
            assert h.watch.user_messages()[-1].message.payload["payload"] == "PLAN:pro"
            assert chosen["custom"]["interactive"]["body"]["text"].startswith("Great choice: the Pro plan.")
        elif step == "account_linking":
            [link] = bodies
            assert "https://accounts.example.com/link?" in link["text"]
        elif step == "handoff":
            assert bodies[0]["text"] == CONNECTING


# ---------------------------------------------------------------- WhatsApp Cloud API


def wa_ids(body: dict[str, Any]) -> list[str]:
    interactive = body["interactive"]
    if interactive["type"] == "button":
        return [b["reply"]["id"] for b in interactive["action"]["buttons"]]
    return [r["id"] for s in interactive["action"]["sections"] for r in s["rows"]]


class WhatsAppDriver(Driver):
    name = "whatsapp"
    user = "16505551234"

    def __init__(self, fake: WhatsAppFake) -> None:
        self.fake = self.wa = fake

    def config(self) -> dict[str, Any]:
        wa = self.wa
        return {
            "apiUrl": wa.url,
            "phoneNumberId": wa.phone_number_id,
            "accessToken": wa.access_token,
            "appSecret": wa.app_secret,
            "verifyToken": wa.verify_token,
        }

    def check_sync(self, calls: list[Recorded], h: Harness) -> None:
        assert [c.path for c in calls] == [f"/v19.0/{self.wa.phone_number_id}"]

    def forged(self, h: Harness) -> list[tuple[Webhook, str, int]]:
        return [
            (self.wa.build_webhook({"signature": "none"}), h.hook, 401),
            (self.wa.build_webhook({"signature": "forged"}), h.hook, 403),
        ]

    def statuses(self) -> list[dict[str, Any]]:
        return [{"kind": "status", "status": "delivered"}, {"kind": "status", "status": "failed"}]

    def act(self, step: str) -> dict[str, Any]:
        return {
            "hi": {"text": "hi"},
            "menu_button": {"kind": "list_reply", "payload": "MENU_FAQ", "title": "FAQ"},
            "faq": {"kind": "list_reply", "payload": "FAQ_HOURS", "title": "Opening hours"},
            "quick_reply": {"kind": "button_reply", "payload": "MENU", "title": "Main menu"},
            "carousel": {"text": "pricing"},
            "card_button": {"text": "2"},  # Choose Pro, from the numbered carousel
            "account_linking": {"text": "link my account"},
            "handoff": {"text": "I want a real person"},
        }[step]

    def check(self, step: str, calls: list[Recorded], h: Harness) -> None:
        assert all(c.status == 200 for c in calls), [(c.status, c.body) for c in calls]
        assert all(c.headers["Authorization"] == f"Bearer {self.wa.access_token}" for c in calls)
        bodies = [c.json for c in calls]
        assert all((b["messaging_product"], b["to"]) == ("whatsapp", self.user) for b in bodies)
        assert self.wa.undelivered == []  # every reply within the 24-hour window
        if step in ("hi", "quick_reply"):
            [welcome] = bodies
            assert welcome["interactive"]["type"] == "list"
            assert welcome["interactive"]["body"]["text"].startswith("Hi! I'm the support bot")
            assert wa_ids(welcome) == [*MENU, "HANDOFF"]
        elif step == "menu_button":
            [faq] = bodies
            assert wa_ids(faq) == list(FAQ.values())
            assert h.watch.user_messages()[-1].message.payload["payload"] == "MENU_FAQ"
        elif step == "faq":
            hours, more = bodies
            assert hours["text"] == {"body": HOURS, "preview_url": False}
            assert more["interactive"]["type"] == "button" and wa_ids(more) == ["MENU", "HANDOFF"]
        elif step == "carousel":
            intro, free, pro, carousel = bodies
            assert intro["text"]["body"] == "Here are our plans:"
            assert (free["image"], pro["image"]["caption"]) == (
                {"link": "https://shop.example.com/img/free.png", "caption": "Free"},
                "Pro",
            )
            text = carousel["text"]["body"]
            assert "2. Choose Pro" in text and "Details: https://shop.example.com/pricing#pro" in text
            assert "Call sales: tel:+33123456789" in text and carousel["text"]["preview_url"]
        elif step == "card_button":
            [chosen] = bodies
            assert h.watch.user_messages()[-1].message.payload["payload"] == "PLAN:pro"
            assert chosen["interactive"]["body"]["text"].startswith("Great choice: the Pro plan.")
        elif step == "account_linking":
            [link] = bodies
            assert link["interactive"]["type"] == "cta_url"
            assert link["interactive"]["action"]["parameters"]["url"].startswith(
                "https://accounts.example.com/link?"
            )
        elif step == "handoff":
            assert bodies[0]["text"]["body"] == CONNECTING


# ---------------------------------------------------------------- Microsoft Teams


def hero_values(activity: dict[str, Any]) -> list[str]:
    cards = [a["content"] for a in activity.get("attachments", []) if a["contentType"] == HERO]
    buttons = [b for c in cards for b in c.get("buttons", [])]
    return [b["value"]["payload"] for b in buttons if b["type"] == "messageBack"]


def suggested(activity: dict[str, Any]) -> list[str]:
    return [a["title"] for a in (activity.get("suggestedActions") or {}).get("actions", [])]


class TeamsDriver(Driver):
    name = "teams"

    def __init__(self, fake: TeamsFake) -> None:
        self.fake = self.tm = fake

    def config(self) -> dict[str, Any]:
        tm = self.tm
        return {
            "apiUrl": tm.url,
            "openIdMetadataUrl": tm.metadata_url,
            "appId": tm.app_id,
            "appPassword": tm.app_password,
            "tenantId": tm.tenant_id,
        }

    def check_sync(self, calls: list[Recorded], h: Harness) -> None:
        assert [c.path for c in calls] == [f"/{self.tm.tenant_id}/oauth2/v2.0/token"]

    def forged(self, h: Harness) -> list[tuple[Webhook, str, int]]:
        return [
            (self.tm.build_webhook({"signature": mode}), h.hook, status)
            for mode, status in (
                ("none", 401),
                ("forged", 403),
                ("unknown_kid", 403),
                ("audience", 403),
                ("expired", 403),
                ("service_url", 403),
            )
        ] + [(self.tm.build_webhook({"tenant": "another-tenant"}), h.hook, 403)]

    def act(self, step: str) -> dict[str, Any]:
        return {
            "hi": {"text": "hi"},
            "menu_button": {"kind": "click", "payload": "MENU_FAQ", "text": "FAQ"},
            "faq": {"text": "Opening hours"},  # a suggested action: its title comes back
            "quick_reply": {"text": "Main menu"},
            "carousel": {"text": "<at>Support desk</at> pricing"},
            "card_button": {"kind": "click", "payload": "PLAN:pro", "text": "Choose Pro"},
            "account_linking": {"text": "link my account"},
            "handoff": {"text": "I want a real person"},
        }[step]

    def check(self, step: str, calls: list[Recorded], h: Harness) -> None:
        posts = [c for c in calls if "/v3/conversations/" in c.path]
        assert all(c.status == 201 for c in posts), [(c.status, c.body) for c in posts]
        assert all(c.path.startswith("/smba/v3/conversations/a%3A17I0") or "a:17I0" in c.path for c in posts)
        assert all(c.json["from"] == {"id": self.tm.bot_id} for c in posts)
        bodies = [c.json for c in posts if c.json["type"] == "message"]
        if step in ("hi", "quick_reply"):
            [welcome] = bodies
            assert welcome["attachments"][0]["content"]["text"].startswith("Hi! I'm the support bot")
            assert hero_values(welcome) == MENU and suggested(welcome) == ["Talk to a person"]
        elif step == "menu_button":
            [faq] = bodies
            assert suggested(faq) == list(FAQ)
            assert h.watch.user_messages()[-1].message.payload["type"] == "postback"
        elif step == "faq":
            hours, more = bodies
            assert hours["text"] == HOURS
            assert suggested(more) == ["Main menu", "Talk to a person"]
            assert h.watch.user_messages()[-1].message.payload == {
                "type": "quick_reply",
                "payload": "FAQ_HOURS",
                "text": "Opening hours",
            }
        elif step == "carousel":
            intro, carousel = bodies
            assert intro["text"] == "Here are our plans:"
            assert carousel["attachmentLayout"] == "carousel"
            cards = [a["content"] for a in carousel["attachments"]]
            assert [c["title"] for c in cards] == ["Free", "Pro", "Business"]
            assert cards[0]["images"] == [{"url": "https://shop.example.com/img/free.png"}]
            assert cards[1]["buttons"][1] == {
                "type": "openUrl",
                "title": "Details",
                "value": "https://shop.example.com/pricing#pro",
            }
            assert hero_values(carousel) == ["PLAN:free", "PLAN:pro", "PLAN:business"]
        elif step == "card_button":
            [chosen] = bodies
            assert chosen["attachments"][0]["content"]["text"].startswith("Great choice: the Pro plan.")
            assert hero_values(chosen) == ["MENU_CONTACT", "MENU"]
        elif step == "account_linking":
            [link] = bodies
            [button] = link["attachments"][0]["content"]["buttons"]
            assert button["type"] == "openUrl"
            assert button["value"].startswith("https://accounts.example.com/link?")
        elif step == "handoff":
            assert bodies[0]["text"] == CONNECTING


# ---------------------------------------------------------------- the seed platforms


class ActionsDriver(Driver):
    """Tiledesk and Chat21: Tiledesk-style messages whose buttons carry `action`s."""

    extra: dict[str, Any] = {}

    def act(self, step: str) -> dict[str, Any]:
        def click(action: str, text: str) -> dict[str, Any]:
            return {"kind": "action", "action": action, "text": text}

        return {
            **self.extra,
            **{
                "hi": {"text": "hi"},
                "menu_button": click("MENU_FAQ", "FAQ"),
                "faq": click("FAQ_HOURS", "Opening hours"),
                "quick_reply": click("MENU", "Main menu"),
                "carousel": {"text": "pricing"},
                "card_button": click("PLAN:pro", "Choose Pro"),
                "account_linking": {"text": "link my account"},
                "handoff": {"text": "I want a real person"},
            }[step],
        }

    def check(self, step: str, calls: list[Recorded], h: Harness) -> None:
        posts = [c for c in calls if c.method == "POST" and c.path.endswith("/messages")]
        assert posts and all(c.status == 200 for c in posts), [(c.status, c.body) for c in calls]
        bodies = [c.json for c in posts]
        if step in ("hi", "quick_reply"):
            [welcome] = bodies
            assert welcome["text"].startswith("Hi! I'm the support bot")
            assert actions(welcome) == [*MENU, "HANDOFF"]
        elif step == "menu_button":
            assert actions(bodies[0]) == list(FAQ.values())
        elif step == "faq":
            hours, more = bodies
            assert hours["text"] == HOURS and actions(more) == ["MENU", "HANDOFF"]
        elif step == "carousel":
            intro, gallery = bodies
            assert intro["text"] == "Here are our plans:"
            assert gallery["attributes"]["attachment"]["type"] == "gallery"
            assert actions(gallery) == ["PLAN:free", "PLAN:pro", "PLAN:business"]
        elif step == "card_button":
            assert bodies[0]["text"].startswith("Great choice: the Pro plan.")
            assert actions(bodies[0]) == ["MENU_CONTACT", "MENU"]
        elif step == "account_linking":
            [button] = bodies[0]["attributes"]["attachment"]["buttons"]
            assert button["type"] == "url" and button["link"].startswith("https://accounts.example.com/link?")
        elif step == "handoff":
            assert bodies[0]["text"] == CONNECTING


class TiledeskDriver(ActionsDriver):
    name = "tiledesk"
    extra = {"request_id": "support-group-64690469599137001a6dc6f5-0000000000000000000000000000000a"}
    steps = STEPS[:-1]  # the hand-off goes to Tiledesk's agents: its own test

    def __init__(self, fake: TiledeskFake) -> None:
        self.fake = self.td = fake

    def config(self) -> dict[str, Any]:
        td = self.td
        return {
            "apiUrl": td.url,
            "projectId": td.project_id,
            "botId": td.bot_id,
            "botSecret": td.bot_secret,
            "subscriptionSecret": td.subscription_secret,
        }

    def check_sync(self, calls: list[Recorded], h: Harness) -> None:
        assert [c.path for c in calls] == [f"/{self.td.project_id}/bots/{self.td.bot_id}"]

    def forged(self, h: Harness) -> list[tuple[Webhook, str, int]]:
        return [
            (self.td.build_webhook({**self.extra, "text": "hi", "signature": "forged"}), h.hook, 403),
            (self.td.build_webhook({**self.extra, "text": "hi", "signature": "none"}), h.hook, 401),
            (self.td.build_webhook({"text": "hi", "via": "resthook", "signature": "forged"}), h.hook, 403),
        ]


CHAT21_SECRET = "chat21-webhook-secret-0123"


class Chat21Driver(ActionsDriver):
    name = "chat21"
    tail = f"?secret={CHAT21_SECRET}"

    def __init__(self, fake: Chat21Fake) -> None:
        self.fake = self.c21 = fake

    def config(self) -> dict[str, Any]:
        c21 = self.c21
        return {
            "apiUrl": f"{c21.url}/api",
            "appId": c21.app_id,
            "botId": c21.bot_id,
            "jwtKey": c21.jwt_key,
            "webhookSecret": CHAT21_SECRET,
        }

    def check_sync(self, calls: list[Recorded], h: Harness) -> None:
        assert [c.path for c in calls] == [f"/api/{self.c21.app_id}/{self.c21.bot_id}/conversations"]

    def forged(self, h: Harness) -> list[tuple[Webhook, str, int]]:
        bare = h.hook.partition("?")[0]
        webhook = self.c21.build_webhook({"text": "hi"})
        return [
            (webhook, bare, 401),
            (webhook, f"{bare}?secret=guess", 403),
            (self.c21.build_webhook({"signature": "forged"}), bare, 401),
            (self.c21.build_webhook({"signature": "jwt"}), bare, 401),  # every Chat21 user has one
        ]


MM_SECRET = "mm-callback-secret-0123"


class MessageMediaDriver(Driver):
    name = "messagemedia"
    tail = f"/{MM_SECRET}"

    def __init__(self, fake: MessageMediaFake) -> None:
        self.fake = self.mm = fake

    def config(self) -> dict[str, Any]:
        mm = self.mm
        return {
            "apiUrl": mm.url,
            "apiKey": mm.api_key,
            "apiSecret": mm.api_secret,
            "webhookSecret": MM_SECRET,
        }

    def check_sync(self, calls: list[Recorded], h: Harness) -> None:
        assert [c.path for c in calls] == ["/beta/conversations/users"]

    def forged(self, h: Harness) -> list[tuple[Webhook, str, int]]:
        base = h.hook.removesuffix(self.tail)
        webhook = self.mm.build_webhook({"text": "hi"})
        return [(webhook, base, 401), (webhook, f"{base}/guessed", 403)]

    def act(self, step: str) -> dict[str, Any]:
        return {
            "hi": {"text": "hi"},
            "menu_button": {"kind": "reply", "text": "1"},  # a tapped reply action: FAQ
            "faq": {"kind": "reply", "text": "1"},  # Opening hours
            "quick_reply": {"kind": "reply", "text": "1"},  # Main menu
            "carousel": {"text": "pricing"},
            "card_button": {"text": "2"},  # typed: Choose Pro
            "account_linking": {"text": "link my account"},
            "handoff": {"text": "I want a real person"},
        }[step]

    def check(self, step: str, calls: list[Recorded], h: Harness) -> None:
        assert calls and all(c.status == 200 and c.json["channel"] == "facebook" for c in calls)
        bodies = [c.json for c in calls]

        def replies(body: dict[str, Any]) -> list[str]:
            return [a["displayText"] for a in body.get("actions", [])]

        if step in ("hi", "quick_reply"):
            [welcome] = bodies
            assert welcome["text"].startswith("Hi! I'm the support bot") and "1. FAQ" in welcome["text"]
            assert replies(welcome)[0] == "FAQ" and replies(welcome)[-1] == "Talk to a person"
        elif step == "menu_button":
            assert replies(bodies[0]) == list(FAQ)
            assert h.watch.user_messages()[-1].message.payload["payload"] == "MENU_FAQ"
        elif step == "faq":
            hours, more = bodies
            assert hours["text"] == HOURS and replies(more) == ["Main menu", "Talk to a person"]
        elif step == "carousel":
            intro, carousel = bodies
            assert intro["text"] == "Here are our plans:"
            assert "2. Choose Pro" in carousel["text"]
            assert "Details: https://shop.example.com/pricing#pro" in carousel["text"]
        elif step == "card_button":
            assert bodies[0]["text"].startswith("Great choice: the Pro plan.")
            assert h.watch.user_messages()[-1].message.payload["payload"] == "PLAN:pro"
        elif step == "account_linking":
            assert "https://accounts.example.com/link?" in bodies[0]["text"]
        elif step == "handoff":
            assert bodies[0]["text"] == CONNECTING


class QiscusDriver(Driver):
    name = "qiscus"
    room = "42"

    def __init__(self, fake: QiscusFake) -> None:
        self.fake = self.qs = fake

    def config(self) -> dict[str, Any]:
        qs = self.qs
        return {
            "apiUrl": qs.url,
            "appId": qs.app_id,
            "secretKey": qs.secret_key,
            "botUserId": qs.bot_user_id,
            "signatureToken": qs.signature_token,
        }

    def check_sync(self, calls: list[Recorded], h: Harness) -> None:
        assert [c.path for c in calls] == ["/api/v2.1/rest/user_profile"]

    def forged(self, h: Harness) -> list[tuple[Webhook, str, int]]:
        return [
            (self.qs.build_webhook({"text": "hi", "room_id": self.room, "signature": mode}), h.hook, status)
            for mode, status in (("none", 401), ("forged", 403))
        ]

    def act(self, step: str) -> dict[str, Any]:
        def click(payload: str, text: str) -> dict[str, Any]:
            return {"kind": "postback", "payload": payload, "text": text, "room_id": self.room}

        return {
            "hi": {"text": "hi", "room_id": self.room},
            "menu_button": click("MENU_FAQ", "FAQ"),
            "faq": click("FAQ_HOURS", "Opening hours"),
            "quick_reply": click("MENU", "Main menu"),
            "carousel": {"text": "pricing", "room_id": self.room},
            "card_button": click("PLAN:pro", "Choose Pro"),
            "account_linking": {"text": "link my account", "room_id": self.room},
            "handoff": {"text": "I want a real person", "room_id": self.room},
        }[step]

    def check(self, step: str, calls: list[Recorded], h: Harness) -> None:
        posts = [c for c in calls if c.path.endswith("/post_comment")]
        assert posts and all(c.status == 200 and c.json["room_id"] == self.room for c in posts)
        bodies = [c.json for c in posts]
        if step in ("hi", "quick_reply"):
            [welcome] = bodies
            assert welcome["message"].startswith("Hi! I'm the support bot")
            assert postbacks(welcome) == [*MENU, "HANDOFF"]
        elif step == "menu_button":
            assert postbacks(bodies[0]) == list(FAQ.values())
        elif step == "faq":
            hours, more = bodies
            assert hours["message"] == HOURS and postbacks(more) == ["MENU", "HANDOFF"]
        elif step == "carousel":
            intro, carousel = bodies
            assert intro["message"] == "Here are our plans:" and carousel["type"] == "carousel"
            assert postbacks(carousel) == ["PLAN:free", "PLAN:pro", "PLAN:business"]
        elif step == "card_button":
            assert bodies[0]["message"].startswith("Great choice: the Pro plan.")
            assert postbacks(bodies[0]) == ["MENU_CONTACT", "MENU"]
        elif step == "account_linking":
            assert "https://accounts.example.com/link?" in str(bodies[0])
        elif step == "handoff":
            assert bodies[0]["message"] == CONNECTING


# ---------------------------------------------------------------- the test


FAKES: dict[str, Callable[[], FakePlatform]] = {
    "telegram": TelegramFake,
    "slack": SlackFake,
    "twilio": TwilioFake,
    "messenger": MessengerFake,
    "smooch": SmoochFake,
    "vonage": VonageFake,
    "whatsapp": WhatsAppFake,
    "teams": TeamsFake,
    "qiscus": QiscusFake,
    "tiledesk": TiledeskFake,
    "chat21": Chat21Fake,
    "messagemedia": MessageMediaFake,
}
DRIVERS: dict[str, Callable[[Any], Driver]] = {
    "telegram": TelegramDriver,
    "slack": SlackDriver,
    "twilio": TwilioDriver,
    "messenger": MessengerDriver,
    "smooch": SmoochDriver,
    "vonage": VonageDriver,
    "whatsapp": WhatsAppDriver,
    "teams": TeamsDriver,
    "qiscus": QiscusDriver,
    "tiledesk": TiledeskDriver,
    "chat21": Chat21Driver,
    "messagemedia": MessageMediaDriver,
}


@pytest.fixture(params=sorted(FAKES))
async def driver(request: pytest.FixtureRequest) -> AsyncIterator[Driver]:
    async for fake in serving(FAKES[request.param]()):
        yield DRIVERS[request.param](fake)


async def test_support_desk_script(aiohttp_client, tmp_path, driver: Driver) -> None:
    h = await start(
        aiohttp_client,
        tmp_path,
        driver.name,
        driver.config(),
        driver.fake,
        tail=driver.tail,
        test_on_sync=True,
    )
    h.mark = len(driver.fake.requests)
    driver.check_sync(driver.fake.requests, h)
    for step in driver.steps:
        if step == "account_linked":  # a platform event, not a user message: wait for the replies
            assert (await h.post(driver.act(step)))[0] == 200
            calls = await h.sent(2)
        else:
            await h.quiet_turn(driver.act(step))
            calls = h.unseen()
            h.mark += len(calls)
        driver.check(step, calls, h)


async def test_forged_webhooks_store_nothing(aiohttp_client, tmp_path, driver: Driver) -> None:
    h = await start(
        aiohttp_client,
        tmp_path,
        driver.name,
        driver.config(),
        driver.fake,
        tail=driver.tail,
        test_on_sync=True,
    )
    h.mark = len(driver.fake.requests)
    for webhook, url, status in driver.forged(h):
        assert (await h.post_raw(webhook, url=url))[0] == status, url
    assert h.watch.created == []
    assert (h.count("messages"), h.count("conversations"), h.count("inbound_seen")) == (0, 0, 0)
    assert [e["type"] for e in await h.health()].count("verify-failure") == 1  # rate-limited
    assert [c for c in h.unseen() if "/.well-known/" not in c.path] == []  # Teams fetched its keys


@pytest.fixture(params=["vonage", "whatsapp"])
async def status_driver(request: pytest.FixtureRequest) -> AsyncIterator[Driver]:
    """The channels whose platforms post delivery statuses."""
    async for fake in serving(FAKES[request.param]()):
        yield DRIVERS[request.param](fake)


async def test_delivery_statuses_are_recorded_not_messages(
    aiohttp_client, tmp_path, status_driver: Driver
) -> None:
    driver = status_driver
    h = await start(aiohttp_client, tmp_path, driver.name, driver.config(), driver.fake)
    for spec in driver.statuses():
        assert (await h.post(spec))[0] == 200
    assert (h.count("messages"), h.count("conversations")) == (0, 0)
    [failure] = [e for e in await h.health() if e["type"] == "delivery-failure"]
    assert failure["data"]["detail"] and failure["data"]["status"] in ("rejected", "failed")


async def test_whatsapp_refuses_a_reply_outside_the_24_hour_window(aiohttp_client, tmp_path) -> None:
    async for fake in serving(WhatsAppFake()):
        h = await start(aiohttp_client, tmp_path, "whatsapp", WhatsAppDriver(fake).config(), fake)
        await h.quiet_turn({"text": "hi", "age": 25 * 3600})  # delivered a day late
        assert fake.requests == [] and fake.undelivered == []
        [refused] = [e for e in await h.health() if e["type"] == "send-failure"]
        assert "24-hour customer service window" in refused["data"]["detail"]


async def test_teams_bot_added_fires_conversation_started(aiohttp_client, tmp_path) -> None:
    async for fake in serving(TeamsFake()):
        h = await start(aiohttp_client, tmp_path, "teams", TeamsDriver(fake).config(), fake)
        hooks = [{"url": "http://127.0.0.1:1/hook"}]
        channels = {"teams": TeamsDriver(fake).config()}
        await h.client.post(
            "/sync", {"bot": "support-desk", "channels": channels, "webhooks": hooks}, status=200
        )
        assert (await h.post({"kind": "added"}))[0] == 200
        with contextlib.closing(sqlite3.connect(h.db)) as db:
            bodies = [json.loads(b) for (b,) in db.execute("SELECT body FROM outbox ORDER BY seq")]
        [started] = [b for b in bodies if b["type"] == "conversation.started"]
        assert started["data"]["channel"] == "teams"
        assert [b["type"] for b in bodies][:3] == ["user.new", "conversation.new", "conversation.started"]
        await h.quiet_turn({"text": "hi"})  # the conversation goes on as usual
        assert fake.sent[-1]["attachments"][0]["content"]["text"].startswith("Hi! I'm the support bot")


async def test_telegram_sync_refuses_a_wrong_token(aiohttp_client, tmp_path) -> None:
    async for fake in serving(TelegramFake()):
        h = await start(
            aiohttp_client, tmp_path, "telegram", TelegramDriver(fake).config(), fake, test_on_sync=True
        )
        refused = {"apiUrl": fake.url, "botToken": "1:wrong"}
        message = await h.client.post("/sync", {"channels": {"telegram": refused}}, status=400)
        assert "body.channels.telegram.botToken" in str(message) and "Unauthorized" in str(message)


async def test_the_seed_sync_example_configures_three_working_channels(aiohttp_client, tmp_path) -> None:
    """telegram + slack + twilio in one sync (the seed's example, pointed at the fakes)."""
    drivers: list[Driver] = []
    for fake in (TelegramFake(), SlackFake(), TwilioFake()):
        await fake.start()
        drivers.append(DRIVERS[fake.name](fake))
    try:
        telegram, slack, twilio = drivers
        h = await start(
            aiohttp_client, tmp_path, "telegram", telegram.config(), telegram.fake, test_on_sync=True
        )
        channels = {d.name: {"enabled": True, **d.config()} for d in drivers}
        await h.client.post("/sync", {"bot": "support-desk", "channels": channels}, status=200)
        assert sorted((await h.client.get("/health"))["channels"]) == ["slack", "telegram", "twilio"]
        base = str(h.http.make_url(f"/webhooks/v1/{h.client.id}"))
        assert (await telegram.fake.send(f"{base}/telegram{telegram.tail}", {"text": "hi"}))[0] == 200
        assert (await slack.fake.send(f"{base}/slack", {"text": "hi"}))[0] == 200
        signed = f"https://orchestrator.example.com/webhooks/v1/{h.client.id}/twilio"
        assert (await twilio.fake.send(f"{base}/twilio", {"text": "hi", "url": signed}))[0] == 204
        for driver, path in (
            (telegram, "/sendMessage"),
            (slack, "/api/chat.postMessage"),
            (twilio, "Messages.json"),
        ):
            async with asyncio.timeout(5):
                while not driver.fake.received(path, ok=True):
                    await driver.fake.wait_for_requests(len(driver.fake.requests) + 1)
    finally:
        for driver in drivers:
            await driver.fake.close()
