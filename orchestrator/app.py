"""Composition root: build the services from Settings and wire them into an aiohttp app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from .api import SERVICES, setup_api
from .bots import BotCatalog, BotRunner, Clock
from .bus import MemoryBus, open_bus
from .channels import registry
from .channels.gateway import setup_channels
from .config import Settings
from .engine_http import AiohttpHttpPort
from .housekeeping import Housekeeping
from .reload import BotReloader
from .services.container import Services
from .state_cache import StateCache
from .store import FaultWatch, open_store
from .store.records import utcnow
from .web import setup_web
from .webhooks import WebhookWorker

log = logging.getLogger(__name__)

CATALOG = web.AppKey("catalog", BotCatalog)
CLOCK = web.AppKey("clock", object)
RELOADER = web.AppKey("reloader", BotReloader)
SHUTDOWN_GRACE = 5.0  # seconds running bot turns get to finish on SIGTERM


def create_app(settings: Settings, *, clock: Clock = utcnow) -> web.Application:
    """The whole service as an aiohttp application (started by its startup hooks).

    Loads every bot first: a broken bot raises `BotLoadError` with all its diagnostics.
    `clock` is the bots' notion of now (tests pin it to check business hours)."""
    app = web.Application(client_max_size=settings.server.body_limit)
    watch = FaultWatch()
    storage = settings.storage
    services = Services.build(
        settings,
        open_store(storage.url, storage.encryption_key, timeout=storage.timeout, watch=watch),
        open_bus(settings.bus.url),
        registry.CATALOGUE,
        watch,
    )
    catalog = BotCatalog(Path(settings.bots.dir))
    catalog.load_all()
    services.sync.bot_exists = catalog.exists
    app[SERVICES] = services
    app[CATALOG] = catalog
    app[CLOCK] = clock
    if settings.bots.reload:
        app[RELOADER] = BotReloader(catalog)  # started with the app (see _lifecycle)
    setup_api(app)
    setup_channels(app, services)
    setup_web(app, services, catalog, app.get(RELOADER), clock)
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_answer_open_collects)
    return app


async def _answer_open_collects(app: web.Application) -> None:
    """On SIGTERM, once the server stops listening: let the bot turns under way finish (up to
    `SHUTDOWN_GRACE` s), then answer every open collect with the replies it gathered, so no
    long-poll holds the shutdown up to its own timeout (up to 50 s)."""
    services = app[SERVICES]
    if isinstance(services.bots, BotRunner):
        await services.bots.drain(SHUTDOWN_GRACE)
    released = services.collect.release_all()
    if released:
        log.info("shutdown: answered %d open collects with what they had gathered", released)


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    await services.store.open()
    await services.bus.open()
    if not services.settings.server.admin_key:
        log.warning("server.admin_key is empty: the admin routes (and client creation by sync) are open")
    worker = WebhookWorker(services.store, services.bus, services.settings.webhooks, services.health)
    services.extras["webhooks"] = worker
    http = AiohttpHttpPort()
    # one process runs every turn only on the in-memory bus: only then is bot state cached
    cache = StateCache() if isinstance(services.bus, MemoryBus) else None
    runner = BotRunner(services, app[CATALOG], http, clock=app[CLOCK], state_cache=cache)  # type: ignore[arg-type]
    services.bots = runner
    housekeeping = Housekeeping(services)
    await worker.start()
    await runner.start()
    housekeeping.start()
    reloader = app.get(RELOADER)
    if reloader is not None:
        await reloader.start()
    try:
        yield
    finally:
        if reloader is not None:
            await reloader.stop()
        await housekeeping.stop()
        await runner.stop()
        await worker.stop()
        await http.close()
        await services.bus.close()
        await services.storage_health.close()
        await services.store.close()
