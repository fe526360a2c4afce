"""Faults of the storage environment: what a database error means for clients and operators.

A fault is not a bug: the disk is full, another process holds the write lock, the disk is too
slow, the file cannot be opened. A backend turns such an error into a `StorageFault` naming its
class (the text a client sees in its `503`), and tells a `FaultWatch`, which groups failures
into episodes (a first failure opens one, the next successful write closes it) so that the
operator hears once per episode, not once per request.
"""

from __future__ import annotations

import asyncio
import errno
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .base import StoreError

FULL = "storage full"
BUSY = "storage busy"
SLOW = "storage slow"
UNAVAILABLE = "storage unavailable"

# Seconds a client is told to wait (`Retry-After`) per fault class.
RETRY_AFTER = {FULL: 30, BUSY: 2, SLOW: 5, UNAVAILABLE: 10}

# SQLite primary result codes (the low byte of an extended code) that are the environment's.
_SQLITE_CODES = {
    13: FULL,  # SQLITE_FULL
    5: BUSY,  # SQLITE_BUSY
    6: BUSY,  # SQLITE_LOCKED
    9: SLOW,  # SQLITE_INTERRUPT (a statement stopped at its deadline)
    7: UNAVAILABLE,  # SQLITE_NOMEM
    8: UNAVAILABLE,  # SQLITE_READONLY
    10: UNAVAILABLE,  # SQLITE_IOERR
    11: UNAVAILABLE,  # SQLITE_CORRUPT
    14: UNAVAILABLE,  # SQLITE_CANTOPEN
    15: UNAVAILABLE,  # SQLITE_PROTOCOL
    26: UNAVAILABLE,  # SQLITE_NOTADB
}
T = TypeVar("T")

_OS_ERRORS = {errno.ENOSPC: FULL, errno.EDQUOT: FULL}


class StorageFault(StoreError):
    """The store cannot serve this call because of its environment (answered `503`)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind, self.detail = kind, detail

    @property
    def retry_after(self) -> int:
        return RETRY_AFTER.get(self.kind, 10)


def classify(exc: BaseException) -> StorageFault | None:
    """The fault an exception stands for, or None when it is not the environment's."""
    if isinstance(exc, StorageFault):
        return exc
    if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.IntegrityError):
        code = getattr(exc, "sqlite_errorcode", None)
        kind = _SQLITE_CODES.get(code & 0xFF) if isinstance(code, int) else None
        return StorageFault(kind, str(exc)) if kind else None
    if isinstance(exc, OSError):
        return StorageFault(_OS_ERRORS.get(exc.errno or 0, UNAVAILABLE), exc.strerror or str(exc))
    return None


async def await_queued_write(
    future: asyncio.Future[T],
    entry: Any,
    pending: Callable[[], list[Any]],
    deadline: float,
    waiting: str,
    timeout: float,
    watch: FaultWatch,
) -> T:
    """Await a write queued as `entry` (which holds `future`) in the list `pending()` returns,
    read when the deadline passes (a store swaps its queue for a new list as a batch starts).
    Cancelling the caller cancels the future, not the write. Should `deadline` (loop time)
    pass first, the caller gets the fault that says why (the watch told): `storage busy` when
    the write never started (it leaves the queue and will not be applied; `waiting` says what it
    waited for), `storage slow` when it is under way and may still complete. The deadline is
    one loop timer, not a timeout context and a shielded task per write."""

    def expire() -> None:
        if future.done():
            return
        queue = pending()
        if entry in queue:
            queue.remove(entry)
            fault = StorageFault(BUSY, f"{waiting} {timeout:g} s")
        else:
            fault = StorageFault(SLOW, f"a write took over {timeout:g} s and may still complete")
        watch.failed(fault)
        future.set_exception(fault)

    timer = asyncio.get_running_loop().call_at(deadline, expire)
    try:
        return await future
    finally:
        timer.cancel()


@dataclass(frozen=True, slots=True)
class Episode:
    """One stretch of time during which the store kept failing with one fault class."""

    fault: StorageFault
    started: float  # time.time()
    failures: int = 1
    ended: float | None = None

    @property
    def seconds(self) -> float:
        return round((self.ended or time.time()) - self.started, 3)


Listener = Callable[[Episode], None]

SETTLE = 1.0  # seconds without a failure before a successful write ends an episode


class FaultWatch:
    """Groups a backend's failures into episodes and tells listeners when one starts or ends.

    The store calls `failed` for every fault and `succeeded` after every committed write; a
    fault of another class while an episode is open ends it and starts a new one. A small write
    may fit on an almost full disk, so a success ends an episode only `SETTLE` seconds after
    its last failure."""

    def __init__(self) -> None:
        self.current: Episode | None = None
        self._last_failure = 0.0
        self._on_start: list[Listener] = []
        self._on_end: list[Listener] = []

    def listen(self, on_start: Listener, on_end: Listener) -> None:
        self._on_start.append(on_start)
        self._on_end.append(on_end)

    def failed(self, fault: StorageFault) -> None:
        self._last_failure = time.monotonic()
        current = self.current
        if current is not None and current.fault.kind == fault.kind:
            self.current = Episode(current.fault, current.started, current.failures + 1)
            return
        if current is not None:
            self._end(current)
        self.current = Episode(fault, time.time())
        for listener in self._on_start:
            listener(self.current)

    def succeeded(self) -> None:
        current = self.current
        if current is None or time.monotonic() - self._last_failure < SETTLE:
            return
        self._end(current)

    def _end(self, current: Episode) -> None:
        self.current = None
        ended = Episode(current.fault, current.started, current.failures, time.time())
        for listener in self._on_end:
            listener(ended)
