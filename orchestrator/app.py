"""Composition root: build the services from Settings and wire them into an aiohttp app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from .api import SERVICES, setup_api
from .bus import open_bus
from .config import Settings
from .services.container import Services
from .store import open_store
from .webhooks import WebhookWorker

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> web.Application:
    """The whole service as an aiohttp application (started by its startup hooks)."""
    app = web.Application(client_max_size=settings.server.body_limit)
    services = Services.build(settings, open_store(settings.storage.url), open_bus(settings.bus.url))
    app[SERVICES] = services
    setup_api(app)
    app.cleanup_ctx.append(_lifecycle)
    return app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    await services.store.open()
    if not services.settings.server.admin_key:
        log.warning(
            "server.admin_key is empty: the admin routes (and client creation by sync) are open"
        )
    worker = WebhookWorker(services.store, services.bus, services.settings.webhooks)
    services.extras["webhooks"] = worker
    await worker.start()
    try:
        yield
    finally:
        await worker.stop()
        await services.bus.close()
        await services.store.close()
