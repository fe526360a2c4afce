"""Start the platform fakes on fixed ports: `python -m tests.fakes [--base-port 8701]`.

Prints each fake's URL, the channel config that points at it, and how to make it post a signed
webhook to the orchestrator (`POST /_fake/send`). Stops on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json

from tests.fakes.base import FakePlatform
from tests.fakes.chat21 import Chat21Fake
from tests.fakes.messagemedia import MessageMediaFake
from tests.fakes.messenger import MessengerFake
from tests.fakes.qiscus import QiscusFake
from tests.fakes.slack import SlackFake
from tests.fakes.smooch import SmoochFake
from tests.fakes.teams import TeamsFake
from tests.fakes.telegram import TelegramFake
from tests.fakes.tiledesk import TiledeskFake
from tests.fakes.twilio import TwilioFake
from tests.fakes.vonage import VonageFake
from tests.fakes.whatsapp import WhatsAppFake

HOST = "127.0.0.1"
WEBHOOK_SECRET = "local-webhook-secret"
ORCHESTRATOR = "http://127.0.0.1:3100/webhooks/v1/<scope>"


def _configs(
    qiscus: QiscusFake,
    tiledesk: TiledeskFake,
    chat21: Chat21Fake,
    mm: MessageMediaFake,
    tg: TelegramFake,
    sl: SlackFake,
    tw: TwilioFake,
    ms: MessengerFake,
    sm: SmoochFake,
    vn: VonageFake,
    wa: WhatsAppFake,
    tm: TeamsFake,
) -> dict[str, dict[str, object]]:
    """The `channels` section of a sync body that points every channel at its fake."""
    return {
        "qiscus": {
            "apiUrl": qiscus.url,
            "appId": qiscus.app_id,
            "secretKey": qiscus.secret_key,
            "botUserId": qiscus.bot_user_id,
            "signatureToken": qiscus.signature_token,
        },
        "tiledesk": {
            "apiUrl": tiledesk.url,
            "projectId": tiledesk.project_id,
            "botId": tiledesk.bot_id,
            "botSecret": tiledesk.bot_secret,
            "subscriptionSecret": tiledesk.subscription_secret,
        },
        "chat21": {
            "apiUrl": f"{chat21.url}/api",
            "appId": chat21.app_id,
            "botId": chat21.bot_id,
            "jwtKey": chat21.jwt_key,
            "webhookSecret": WEBHOOK_SECRET,
        },
        "messagemedia": {
            "apiUrl": mm.url,
            "apiKey": mm.api_key,
            "apiSecret": mm.api_secret,
            "webhookSecret": WEBHOOK_SECRET,
        },
        "telegram": {"apiUrl": tg.url, "botToken": tg.token},
        "slack": {"apiUrl": f"{sl.url}/api", "botToken": sl.bot_token, "signingSecret": sl.signing_secret},
        "twilio": {"apiUrl": tw.url, "accountSID": tw.account_sid, "authToken": tw.auth_token},
        "messenger": {
            "apiUrl": ms.url,
            "appId": ms.app_id,
            "appSecret": ms.app_secret,
            "verifyToken": ms.verify_token,
            "pageId": ms.page_id,
            "accessToken": ms.access_token,
        },
        "smooch": {
            "apiUrl": sm.url,
            "appId": sm.app_id,
            "keyId": sm.key_id,
            "keySecret": sm.key_secret,
            "webhookSecret": sm.webhook_secret,
        },
        "vonage": {
            "apiUrl": vn.url,
            "apiKey": vn.api_key,
            "apiSecret": vn.api_secret,
            "signatureSecret": vn.signature_secret,
        },
        "whatsapp": {
            "apiUrl": wa.url,
            "phoneNumberId": wa.phone_number_id,
            "accessToken": wa.access_token,
            "appSecret": wa.app_secret,
            "verifyToken": wa.verify_token,
        },
        "teams": {
            "apiUrl": tm.url,
            "openIdMetadataUrl": tm.metadata_url,
            "appId": tm.app_id,
            "appPassword": tm.app_password,
        },
    }


def _examples(fakes: dict[str, FakePlatform]) -> list[str]:
    target = {
        "qiscus": f"{ORCHESTRATOR}/qiscus",
        "tiledesk": f"{ORCHESTRATOR}/tiledesk",
        "chat21": f"{ORCHESTRATOR}/chat21?secret={WEBHOOK_SECRET}",
        "messagemedia": f"{ORCHESTRATOR}/messagemedia?secret={WEBHOOK_SECRET}",
        "telegram": f"{ORCHESTRATOR}/telegram/<botToken>",
        "slack": f"{ORCHESTRATOR}/slack",
        "twilio": f"{ORCHESTRATOR}/twilio",
        "messenger": f"{ORCHESTRATOR}/messenger",
        "smooch": f"{ORCHESTRATOR}/smooch",
        "vonage": f"{ORCHESTRATOR}/vonage",
        "whatsapp": f"{ORCHESTRATOR}/whatsapp",
        "teams": f"{ORCHESTRATOR}/teams",
    }
    spec = {
        "qiscus": {"kind": "text", "text": "hello", "room_id": "1"},
        "tiledesk": {"kind": "text", "text": "hello"},
        "chat21": {"kind": "text", "text": "hello"},
        "messagemedia": {"kind": "text", "text": "hello"},
        "telegram": {"kind": "text", "text": "hello"},
        "slack": {"kind": "text", "text": "hello"},
        "twilio": {"text": "hello", "url": "<server.external_url>/webhooks/v1/<scope>/twilio"},
        "messenger": {"kind": "text", "text": "hello"},
        "smooch": {"kind": "text", "text": "hello"},
        "vonage": {"kind": "text", "text": "hello"},
        "whatsapp": {"kind": "text", "text": "hello"},
        "teams": {"kind": "text", "text": "hello"},
    }
    lines = []
    for name, fake in fakes.items():
        body = json.dumps({"target": target[name], **spec[name]})
        lines.append(f"curl -s -X POST {fake.url}/_fake/send -H 'Content-Type: application/json' -d '{body}'")
    return lines


async def main(base_port: int) -> None:
    """Start, print, wait for Ctrl-C, stop."""
    qiscus, tiledesk, chat21, mm = QiscusFake(), TiledeskFake(), Chat21Fake(), MessageMediaFake()
    tg, sl, tw, ms = TelegramFake(), SlackFake(), TwilioFake(), MessengerFake()
    sm, vn, wa, tm = SmoochFake(), VonageFake(), WhatsAppFake(), TeamsFake()
    fakes: dict[str, FakePlatform] = {
        "qiscus": qiscus,
        "tiledesk": tiledesk,
        "chat21": chat21,
        "messagemedia": mm,
        "telegram": tg,
        "slack": sl,
        "twilio": tw,
        "messenger": ms,
        "smooch": sm,
        "vonage": vn,
        "whatsapp": wa,
        "teams": tm,
    }
    for offset, fake in enumerate(fakes.values()):
        await fake.start(HOST, base_port + offset)
    try:
        for name, fake in fakes.items():
            print(f"{name:13} {fake.url}")
        print("\nChannel configs (the `channels` of a sync body):")
        print(json.dumps(_configs(qiscus, tiledesk, chat21, mm, tg, sl, tw, ms, sm, vn, wa, tm), indent=2))
        print(
            "\nMake a fake post a signed webhook (spec keys: see each fake's docstring;"
            ' add "signature": "forged" or "none" for bad ones):'
        )
        print("\n".join(_examples(fakes)))
        print('\nAlso: POST /_fake/fail {"count":2,"status":500}, GET /_fake/requests. Ctrl-C stops.')
        await asyncio.Event().wait()
    finally:
        for fake in fakes.values():
            await fake.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--base-port",
        type=int,
        default=8701,
        help="qiscus on this port, then tiledesk, chat21, messagemedia, telegram, slack, twilio, messenger, "
        "smooch, vonage, whatsapp, teams",
    )
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.base_port))
