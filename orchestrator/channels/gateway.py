"""The service side of channels: inbound webhook routes and outbound dispatch (to be built)."""

from __future__ import annotations

from aiohttp import web

from ..services.container import Services


def setup_channels(app: web.Application, services: Services) -> None:
    """Add `/webhooks/v1/<scope>/<channel>` and start outbound dispatch with the app."""
