"""Composition root: every part of the service built by its constructor, in one place.

`create_app` reads top to bottom: the bots, the backends chosen by URL, the services, the bot
runner and the workers, the channels, the web chat and studio; then the routes; then the running
parts as cleanup contexts in start order (aiohttp stops them in reverse). Nothing is set on a
part after it is built. See docs/architecture.md.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web

from .api import BOTS, SERVICES, setup_api
from .bots import BotCatalog, BotRunner, Clock
from .bus import MemoryBus, open_bus
from .bus.topics import CLIENT_SYNCED
from .channels import gateway, registry
from .channels.desk import DeskBridge
from .channels.dispatch import Dispatcher
from .channels.gateway import DISPATCHER, HUB, KEEPALIVE, RETRY, CredentialsTester, Inbound
from .channels.hub import ChannelHub
from .channels.keepalive import Keepalive
from .config import Settings
from .edge import edge_middleware
from .engine_http import AiohttpHttpPort
from .housekeeping import Housekeeping
from .lifecycle import cleanup_context, started
from .metrics import Metrics, instance_name
from .reload import BotReloader
from .services.channel_state import ChannelStateService
from .services.clients import ClientService
from .services.collect import CollectService
from .services.container import Services
from .services.endpoints import EndpointService
from .services.health import HealthService
from .services.messages import MessageService
from .services.storage_health import StorageHealth
from .services.sync import SyncService
from .services.users import ConversationService, UserService
from .state_cache import StateCache
from .store import FaultWatch, Store, open_store
from .store.records import utcnow
from .web import WEBCHAT_HUB, WebchatHub, add_web_routes
from .web.access import normalise_origin
from .web.studio import Studio
from .web.tryit import Sandbox
from .webhooks import WebhookWorker

log = logging.getLogger(__name__)

CATALOG = web.AppKey("catalog", BotCatalog)
CLOCK = web.AppKey("clock", object)
RELOADER = web.AppKey("reloader", BotReloader)
SHUTDOWN_GRACE = 5.0  # seconds running bot turns get to finish on SIGTERM


def create_app(settings: Settings, *, clock: Clock = utcnow) -> web.Application:
    """The whole service as an aiohttp application (its parts start with the app).

    Loads every bot first: a broken bot raises `BotLoadError` with all its diagnostics.
    `clock` is the bots' notion of now (tests pin it to check business hours)."""
    catalog = BotCatalog(Path(settings.bots.dir))
    catalog.load_all()
    if not settings.server.admin_key:
        log.warning("server.admin_key is empty: the admin routes (and client creation by sync) are open")

    # Backends, each chosen by its URL (`open_store`, `open_bus` are where a new one plugs in).
    watch = FaultWatch()
    storage = settings.storage
    store = open_store(storage.url, storage.encryption_key, timeout=storage.timeout, watch=watch)
    bus = open_bus(settings.bus.url)
    metrics = Metrics(instance_name(settings.server.port))
    store.observe = metrics.store_call

    # Services, and the channel hub that sync's credentials test needs.
    clients = ClientService(store)
    bus.subscribe(CLIENT_SYNCED, lambda event: clients.forget(event.client_id))  # on every instance
    users = UserService(store, bus)
    conversations = ConversationService(store, bus, users)
    endpoints = EndpointService(store, bus)
    messages = MessageService(store, bus, users, conversations, endpoints)
    health = HealthService(store, bus)
    health.on_send_failure = metrics.send_failure
    collect = CollectService(bus, messages, settings.collect)
    metrics.open_collects.set_function(lambda: collect.open_count)  # read at each scrape
    channel_state = ChannelStateService(store)
    hub = ChannelHub(settings.channels, bus, channel_state, health)
    sync = SyncService(
        store,
        bus,
        clients,
        registry.CATALOGUE,
        test_on_sync=settings.channels.test_on_sync,
        tester=CredentialsTester(hub, clients, settings.server.external_url),
        bot_exists=catalog.exists,
    )
    services = Services(
        settings=settings,
        store=store,
        bus=bus,
        clients=clients,
        users=users,
        conversations=conversations,
        endpoints=endpoints,
        messages=messages,
        collect=collect,
        sync=sync,
        health=health,
        channel_state=channel_state,
        storage_health=StorageHealth(store, watch, health),
        channel_catalogue=registry.CATALOGUE,
        metrics=metrics,
    )

    # Bots and background workers.
    engine_http = AiohttpHttpPort()
    # one process runs every turn only on the in-memory bus: only then is bot state cached
    cache = StateCache() if isinstance(bus, MemoryBus) else None
    runner = BotRunner(services, catalog, engine_http, clock=clock, state_cache=cache)
    worker = WebhookWorker(store, bus, settings.webhooks, health, metrics)
    housekeeping = Housekeeping(services)
    reloader = BotReloader(catalog) if settings.bots.reload else None

    # Channels: outbound dispatch, hand-off bridging, the inbound webhook route.
    dispatcher = Dispatcher(hub, bus, endpoints)
    desk = DeskBridge(hub, dispatcher, bus, endpoints, runner)
    keepalive = Keepalive(bus)
    inbound = Inbound(hub, desk, dispatcher, services, keepalive)

    # The web chat and the studio (its try-it sandbox has an HTTP port of its own).
    webchat = WebchatHub(services)
    tryit_http = AiohttpHttpPort()
    sandbox = Sandbox(catalog, tryit_http, settings.bots.env, clock)
    studio = Studio(services, catalog, reloader, sandbox, lambda: webchat.refused)

    app = web.Application(client_max_size=settings.server.body_limit)
    app.middlewares.append(edge_middleware(metrics))  # the only one (each is a frame per request)
    app[SERVICES] = services
    app[BOTS] = runner
    app[CATALOG] = catalog
    app[CLOCK] = clock
    app[HUB] = hub
    app[DISPATCHER] = dispatcher
    app[KEEPALIVE] = keepalive
    app[WEBCHAT_HUB] = webchat
    if reloader is not None:
        app[RELOADER] = reloader
    setup_api(app)
    gateway.add_webhook_route(app, inbound)
    add_web_routes(app, webchat, studio, (normalise_origin(settings.server.external_url),))

    # The running parts, in start order; aiohttp stops them in reverse.
    parts = [
        lambda _: _storage(store, services.storage_health),
        lambda _: started(bus.open, bus.close),
        lambda _: started(worker.start, worker.stop),
        lambda _: _bots(runner, engine_http),
        lambda app: gateway.running(hub, dispatcher, desk, app.get(RETRY), keepalive),
        lambda _: started(housekeeping.start, housekeeping.stop),
        lambda _: started(reloader.start if reloader else None, reloader.stop if reloader else None),
        lambda _: started(None, tryit_http.close),
    ]
    app.cleanup_ctx.extend(cleanup_context(part) for part in parts)
    app.on_shutdown.append(_answer_open_collects(runner, services.collect))
    return app


@contextlib.asynccontextmanager
async def _storage(store: Store, storage_health: StorageHealth) -> AsyncIterator[None]:
    """The store is open inside (its schema migrated); its fault watch closes with it."""
    await store.open()
    try:
        yield
    finally:
        await storage_health.close()
        await store.close()


@contextlib.asynccontextmanager
async def _bots(runner: BotRunner, http: AiohttpHttpPort) -> AsyncIterator[None]:
    """Bot turns and timers run inside; the engine's HTTP port closes after the last turn."""
    await runner.start()
    try:
        yield
    finally:
        await runner.stop()
        await http.close()


def _answer_open_collects(
    runner: BotRunner, collect: CollectService
) -> Callable[[web.Application], Awaitable[None]]:
    """On SIGTERM, once the server stops listening: let the bot turns under way finish (up to
    `SHUTDOWN_GRACE` s), then answer every open collect with the replies it gathered, so no
    long-poll holds the shutdown up to its own timeout (up to 50 s)."""

    async def on_shutdown(_: web.Application) -> None:
        await runner.drain(SHUTDOWN_GRACE)
        released = collect.release_all()
        if released:
            log.info("shutdown: answered %d open collects with what they had gathered", released)

    return on_shutdown
