"""Python actions of the support-desk example bot (`do:` steps in flows/support-desk/).

Actions get an `ActionContext` (ids, injected clock, env) and the step's `with:` values.
They must not print or log secrets from `ctx.env`.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from orchestrator.engine import ActionContext, action

DEFAULT_ACCOUNT_LINK_URL = "https://accounts.example.com/link"


@action("account_link_url")
async def account_link_url(ctx: ActionContext) -> str:
    """The login page of the account-linking pair, tagged with this conversation."""
    base = ctx.env.get("ACCOUNT_LINK_URL") or DEFAULT_ACCOUNT_LINK_URL
    query = urlencode({"bot": ctx.bot_id, "user": ctx.user_id, "conversation": ctx.conversation_id})
    return f"{base}{'&' if '?' in base else '?'}{query}"


@action("create_ticket")
async def create_ticket(ctx: ActionContext, email: str, message: str) -> dict[str, str]:
    """Open a support ticket. The example derives a stable id; a real deployment would call
    its helpdesk here (or use an `http` step)."""
    if not email or not message:
        raise ValueError("a ticket needs an email and a message")
    seed = f"{ctx.conversation_id}|{email}|{message}|{ctx.now.isoformat()}"
    ticket_id = "T-" + hashlib.sha256(seed.encode()).hexdigest()[:6].upper()
    return {"id": ticket_id, "email": email}
