"""Storage faults as the operator and the clients see them.

Per fault episode (see `store.faults.FaultWatch`): one log line when it starts and one when it
ends, no traceback; for each client that met it (a request answered 503, a bot turn or a
webhook delivery that could not be stored), a `storage-fault` health event and, once writes
work again, a `storage-recovered` one with how long it lasted. Both fire `health.new`.

Health events are themselves stored, so while the store refuses writes they are kept here and
written as soon as it takes writes again; a probe write every few seconds notices recovery
even when no request arrives. At most one `storage-fault` event per client and fault class per
`INTERVAL` seconds, like the channels' health events; the ones left out are counted in the
next one's `suppressed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any, Literal

from ..store import Store
from ..store.faults import Episode, FaultWatch, StorageFault
from ..store.records import iso
from .health import HealthService

log = logging.getLogger("orchestrator.storage")

CHANNEL = "storage"  # the health report's entry for these events
INTERVAL = 60.0
MAX_CLIENTS = 1000  # clients remembered per episode
PROBE_EVERY = 2.0  # seconds between probe writes while an episode is open (at most)
PROBE_KEY = "orchestrator.storage_probe"

# Per client met in an episode: its storage-fault event is waiting, stored, or rate-limited.
Recorded = Literal["waiting", "stored", "skipped"]


class StorageHealth:
    """Logs fault episodes, records their health events, and probes for recovery."""

    def __init__(
        self, store: Store, watch: FaultWatch, health: HealthService, probe_every: float = PROBE_EVERY
    ) -> None:
        self._store, self._watch, self._health = store, watch, health
        self._probe_every = probe_every
        self._met: dict[str, Recorded] = {}
        self._last: dict[tuple[str, str], float] = {}
        self._suppressed: dict[tuple[str, str], int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._probe: asyncio.Task[None] | None = None
        watch.listen(self._started, self._ended)

    def status(self) -> dict[str, Any]:
        """`{"status": "ok"}`, or the open episode: its class, since when, calls refused."""
        episode = self._watch.current
        if episode is None:
            return {"status": "ok"}
        return {
            "status": episode.fault.kind,
            "detail": episode.fault.detail,
            "since": _iso(episode.started),
            "refused": episode.failures,
        }

    def met(self, client_id: str | None, fault: StorageFault) -> None:
        """A client's call failed with `fault`: it gets the episode's health events."""
        episode = self._watch.current
        if client_id is None or episode is None or client_id in self._met:
            return
        if len(self._met) >= MAX_CLIENTS:
            return
        if not self._due(client_id, episode):
            self._met[client_id] = "skipped"  # rate-limited: counted in the next one
            return
        self._met[client_id] = "waiting"
        self._spawn(self._record_fault(client_id, episode))

    async def close(self) -> None:
        """Stop probing; give pending health events a moment, then drop them."""
        tasks = [*self._tasks, *([self._probe] if self._probe else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- episodes

    def _started(self, episode: Episode) -> None:
        fault = episode.fault
        log.warning(
            "%s (%s): writes are answered 503 with Retry-After %d s until it clears",
            fault.kind,
            fault.detail,
            fault.retry_after,
        )
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(self._probe_until_clear())

    def _ended(self, episode: Episode) -> None:
        log.warning(
            "%s cleared after %.1f s (%d calls refused)",
            episode.fault.kind,
            episode.seconds,
            episode.failures,
        )
        met, self._met = self._met, {}
        for client_id, recorded in met.items():
            if recorded != "skipped":
                self._spawn(self._record_recovery(client_id, episode, recorded == "stored"))

    async def _probe_until_clear(self) -> None:
        while self._watch.current is not None:
            await asyncio.sleep(min(self._probe_every, self._watch.current.fault.retry_after))
            with contextlib.suppress(StorageFault):
                await self._store.set_kv(PROBE_KEY, time.time())

    # -- health events

    async def _record_fault(self, client_id: str, episode: Episode) -> None:
        """Best effort now; `_record_recovery` writes it later if the store refused it."""
        with contextlib.suppress(StorageFault):
            await self._health.record(
                client_id, CHANNEL, "storage-fault", self._fault_data(client_id, episode)
            )
            if self._met.get(client_id) == "waiting":
                self._met[client_id] = "stored"

    async def _record_recovery(self, client_id: str, episode: Episode, fault_recorded: bool) -> None:
        try:
            if not fault_recorded:
                data = self._fault_data(client_id, episode)
                await self._health.record(client_id, CHANNEL, "storage-fault", data)
            recovered = {"fault": episode.fault.kind, "seconds": episode.seconds, "refused": episode.failures}
            await self._health.record(client_id, CHANNEL, "storage-recovered", recovered)
        except StorageFault as exc:
            log.warning("cannot record the storage health events of client %s: %s", client_id, exc)

    def _due(self, client_id: str, episode: Episode) -> bool:
        key = (client_id, episode.fault.kind)
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < INTERVAL:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        if len(self._last) > 10_000:
            self._last.clear()
        self._last[key] = now
        return True

    def _fault_data(self, client_id: str, episode: Episode) -> dict[str, Any]:
        data: dict[str, Any] = {
            "fault": episode.fault.kind,
            "detail": episode.fault.detail,
            "since": _iso(episode.started),
        }
        suppressed = self._suppressed.pop((client_id, episode.fault.kind), 0)
        if suppressed:
            data["suppressed"] = suppressed
        return data

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _iso(timestamp: float) -> str:
    return iso(datetime.fromtimestamp(timestamp, UTC))
