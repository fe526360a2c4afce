"""Helpers shared by the channel tests."""

from __future__ import annotations

from orchestrator.channels.base import InboundRequest
from tests.fakes.base import Webhook


def inbound(webhook: Webhook, *, path: str = "", query: dict[str, str] | None = None) -> InboundRequest:
    """The InboundRequest a webhook becomes at `/webhooks/v1/<scope>/<channel><path>`."""
    return InboundRequest.build(path=path, query=query, headers=webhook.headers, body=webhook.body)
