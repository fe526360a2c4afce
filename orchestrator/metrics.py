"""`GET /metrics`: this instance's figures in the Prometheus text format (prometheus-client).

Each app has its own registry (tests run many apps in one process) and every figure carries an
`instance` label (`host:port`), so instances behind one load balancer can be told apart even
when scraped through it. Figures: requests by route and status, open collects, bot turn latency
and engine steps, webhook outbox pending/failed and delivery latency, channel send failures by
channel, and the store's call latency (reads and writes).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from .store import StoreError

FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The figures of one instance."""

    def __init__(self, instance: str) -> None:
        self.instance = instance
        registry = self.registry = CollectorRegistry()
        self._requests = Counter(
            "orchestrator_http_requests",
            "HTTP requests answered, by method, route and status.",
            ("instance", "method", "route", "status"),
            registry=registry,
        )
        self._request_children: dict[tuple[str, str, int], Counter] = {}
        self.open_collects = Gauge(
            "orchestrator_open_collects",
            "messages/collect requests waiting.",
            ("instance",),
            registry=registry,
        ).labels(instance)
        self.turn_seconds = Histogram(
            "orchestrator_bot_turn_seconds",
            "Bot turn latency.",
            ("instance",),
            buckets=FAST,
            registry=registry,
        ).labels(instance)
        self.engine_steps = Counter(
            "orchestrator_engine_steps", "Flow steps run by bot turns.", ("instance",), registry=registry
        ).labels(instance)
        self._outbox = Gauge(
            "orchestrator_outbox_events",
            "Webhook events in the outbox (shared by every instance), by status.",
            ("instance", "status"),
            registry=registry,
        )
        self.delivery_seconds = Histogram(
            "orchestrator_webhook_delivery_seconds",
            "Webhook delivery attempt latency.",
            ("instance",),
            buckets=FAST,
            registry=registry,
        ).labels(instance)
        self._deliveries = Counter(
            "orchestrator_webhook_deliveries",
            "Webhook delivery attempts by outcome (delivered, retried, failed).",
            ("instance", "outcome"),
            registry=registry,
        )
        self._send_failures = Counter(
            "orchestrator_channel_send_failures",
            "Bot messages a channel could not send, by channel.",
            ("instance", "channel"),
            registry=registry,
        )
        self._store_seconds = Histogram(
            "orchestrator_store_seconds",
            "Store call latency, by kind (read, write).",
            ("instance", "kind"),
            buckets=FAST,
            registry=registry,
        )
        self._store_children: dict[str, Histogram] = {}

    def request(self, method: str, route: str, status: int) -> None:
        key = (method, route, status)
        child = self._request_children.get(key)
        if child is None:  # `labels` validates and locks: once per (method, route, status)
            child = self._request_children[key] = self._requests.labels(
                self.instance, method, route, str(status)
            )
        child.inc()

    def delivery(self, outcome: str, seconds: float) -> None:
        self._deliveries.labels(self.instance, outcome).inc()
        self.delivery_seconds.observe(seconds)

    def send_failure(self, channel: str) -> None:
        self._send_failures.labels(self.instance, channel).inc()

    def store_call(self, kind: str, seconds: float) -> None:
        child = self._store_children.get(kind)
        if child is None:  # `labels` validates and locks: once per kind
            child = self._store_children[kind] = self._store_seconds.labels(self.instance, kind)
        child.observe(seconds)

    def outbox(self, counts: dict[str, int]) -> None:
        for status in ("pending", "failed"):
            self._outbox.labels(self.instance, status).set(counts.get(status, 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def instance_name(port: int) -> str:
    """`host:port` of this instance."""
    return f"{socket.gethostname()}:{port}"


def route_of(request: web.Request) -> str:
    """A request's route pattern (never the raw path: ids stay out of the labels)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def handler(
    metrics: Metrics, outbox_counts: Callable[[], Awaitable[dict[str, int]]]
) -> Callable[..., Awaitable[web.Response]]:
    """`GET /metrics`; the outbox figures are read from the store at each scrape."""

    async def scrape(_: web.Request) -> web.Response:
        with contextlib.suppress(StoreError):  # a store fault: the other figures still count
            metrics.outbox(await outbox_counts())
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return scrape
