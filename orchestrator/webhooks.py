"""Delivery of the webhook outbox to client URLs: bounded, ordered, and surviving restarts.

Events were written to the outbox in the same transaction as their cause. This worker claims
due rows (only the oldest pending row of each ordering key, so the events of one conversation
reach a webhook in order), POSTs them with a per-attempt timeout, and on failure retries with
capped exponential backoff up to `webhooks.max_attempts`. A claimed row is leased, not
removed: if the process dies mid-delivery, the row becomes due again when the lease ends.

No head-of-line blocking: each delivery runs on its own, at most `MAX_IN_FLIGHT` at once and
`PER_WEBHOOK` per webhook, and the worker claims again as soon as one finishes, so a receiver
that hangs holds only its own slots for one timeout. The outbox is capped: every
`webhooks.trim_interval` seconds each webhook keeps at most `webhooks.max_pending` rows (failed
ones dropped first, then the oldest pending), and each trim is a `webhook-overflow` health event.
A storage fault pauses the worker (logged once per episode by `StorageHealth`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from typing import Any

import aiohttp
from yarl import URL

from .backoff import exponential
from .bus import Bus, Subscription
from .bus.topics import OUTBOX, WEBHOOK_FAILED, WebhookFailed
from .config import WebhookSettings
from .metrics import Metrics
from .services.health import HealthService
from .store import StorageFault, Store
from .store.records import Delivery

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 100
PER_WEBHOOK = 10
OVERFLOW_CHANNEL = "webhooks"  # the health report's entry for outbox trims


class WebhookWorker:
    """Background task that empties the outbox."""

    def __init__(
        self,
        store: Store,
        bus: Bus,
        settings: WebhookSettings,
        health: HealthService,
        metrics: Metrics | None = None,
    ) -> None:
        self._store, self._bus, self._settings, self._health = store, bus, settings, health
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self._session: aiohttp.ClientSession | None = None
        self._stopping = False
        self._running: dict[asyncio.Task[None], str] = {}  # delivery -> webhook id
        self._trimmed_at = 0.0
        self.delivered = 0
        self.failed = 0

    async def start(self) -> None:
        """Start delivering, beginning with whatever was pending before a restart."""
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._settings.timeout),
            headers={"User-Agent": "orchestrator-webhooks"},
        )
        self._subscription = self._bus.subscribe(OUTBOX, lambda _: self._wake.set())
        self._task = asyncio.create_task(self._run(), name="webhook-worker")

    async def stop(self) -> None:
        """Finish the deliveries under way (within one timeout), then stop; undelivered rows
        stay in the outbox for the next start."""
        if self._subscription:
            self._subscription.cancel()
        if self._task:
            self._stopping = True
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self._settings.timeout + 1)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self._session:
            await self._session.close()

    async def _run(self) -> None:
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    await self._trim()
                    claimed = await self._claim()
                except StorageFault as exc:  # logged once per episode by StorageHealth
                    await self._pause(exc.retry_after)
                    continue
                except Exception:
                    log.exception("cannot read the webhook outbox")
                    await self._pause(1.0)
                    continue
                for delivery in claimed:
                    task = asyncio.create_task(self._deliver(delivery))
                    self._running[task] = delivery.webhook_id
                    task.add_done_callback(self._finished)
                if not claimed or len(self._running) >= MAX_IN_FLIGHT:
                    await self._sleep_until_due()
        finally:
            if self._running:
                await asyncio.wait(list(self._running))

    async def _claim(self) -> list[Delivery]:
        room = MAX_IN_FLIGHT - len(self._running)
        if room <= 0:
            return []
        lease = self._settings.timeout + 5
        in_flight = Counter(self._running.values())
        return await self._store.claim_deliveries(
            time.time(), lease, room, per_webhook=PER_WEBHOOK, in_flight=in_flight
        )

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        self._wake.set()  # a slot is free: claim again
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if not isinstance(exc, StorageFault):
                log.error("webhook delivery failed: %s", exc, exc_info=exc)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _sleep_until_due(self) -> None:
        try:
            due = await self._store.next_delivery_at()
        except StorageFault as exc:
            due = time.time() + exc.retry_after
        delay = 60.0 if due is None else max(0.0, due - time.time())
        delay = min(delay, 60.0, max(0.0, self._trimmed_at + self._settings.trim_interval - time.time()))
        await self._pause(delay)

    async def _trim(self) -> None:
        if time.time() - self._trimmed_at < self._settings.trim_interval:
            return
        self._trimmed_at = time.time()
        cap = self._settings.max_pending
        for client_id, webhook_id, dropped in await self._store.trim_outbox(cap):
            log.warning(
                "webhook %s of client %s: outbox over %d; dropped %d oldest",
                webhook_id,
                client_id,
                cap,
                dropped,
            )
            data: dict[str, Any] = {"webhookId": webhook_id, "dropped": dropped, "cap": cap}
            await self._health.record(client_id, OVERFLOW_CHANNEL, "webhook-overflow", data)

    async def _deliver(self, delivery: Delivery) -> None:
        assert self._session is not None
        headers = {
            "Content-Type": "application/json",
            "x-bp-messaging-client-id": delivery.client_id,
            "x-bp-messaging-webhook-token": delivery.token,
            # The same on every attempt: a receiver drops the duplicates at-least-once brings.
            "x-bp-messaging-event-id": str(delivery.seq),
        }
        started = time.perf_counter()
        try:
            async with self._session.post(delivery.url, data=delivery.body, headers=headers) as resp:
                await resp.read()
                ok, error = 200 <= resp.status < 300, f"HTTP {resp.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            ok, error = False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if self._metrics is not None:
            outcome = (
                "delivered"
                if ok
                else "failed"
                if delivery.attempts + 1 >= self._settings.max_attempts
                else "retried"
            )
            self._metrics.delivery(outcome, time.perf_counter() - started)
        if ok:
            await self._store.complete_delivery(delivery.seq)
            self.delivered += 1
            return
        await self._failed(delivery, error)

    async def _failed(self, delivery: Delivery, error: str) -> None:
        attempts = delivery.attempts + 1
        if attempts >= self._settings.max_attempts:
            self.failed += 1
            log.error(
                "webhook delivery to %s failed after %d attempts (%s); giving up",
                loggable(delivery.url),
                attempts,
                error,
            )
            await self._store.fail_delivery(delivery.seq, attempts, error)
            await self._bus.publish(WEBHOOK_FAILED, WebhookFailed(loggable(delivery.url), error))
            return
        backoff = exponential(attempts, self._settings.retry_base, self._settings.retry_max)
        if attempts == 1:
            log.warning("webhook delivery to %s failed (%s); retrying", loggable(delivery.url), error)
        await self._store.retry_delivery(delivery.seq, attempts, time.time() + backoff, error)


def loggable(url: str) -> str:
    """A webhook URL without credentials or query string (which may carry secrets)."""
    try:
        return str(URL(url).with_user(None).with_query(None).with_fragment(None))
    except (ValueError, TypeError):
        return url.split("?", 1)[0]
