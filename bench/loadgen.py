"""A load generator that does not get in the way: raw asyncio protocols, HTTP/1.1 keep-alive.

Run by bench/collect.py in its own process, pinned to a CPU the server does not use. It reads
one JSON job from stdin and writes JSON lines to stdout.

- `{"mode": "load", ...}`: `concurrency` connections, each sending its request again as soon
  as the answer arrives, for `seconds`; prints requests/s, p50/p99 (ms), errors and the share
  of its own CPU it used (near 1.0 means the load generator, not the server, was the limit).
- `{"mode": "park", ...}`: opens `count` connections and sends one request on each whose body
  carries the milliseconds left until a common `deadline`; prints `{"sent": n}` once all are
  sent, then, once every answer is in, how long after the deadline the last one came.

Each request is `[head, body]`: the head without Content-Length, and a body in which
`{timeout}` (park mode) is replaced by the milliseconds left.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from array import array
from typing import Any

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
    uvloop = None  # type: ignore[assignment]

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)


class HttpConnection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    def send(self, request: bytes) -> asyncio.Future[tuple[int, bytes]]:
        """Send a request; the future resolves to (status, body)."""
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end])
        found = _CONTENT_LENGTH.search(head)
        if found is None:
            self._finish(ConnectionError("no Content-Length in the response"))
            return
        length = int(found.group(1))
        if len(self.buffer) < end + 4 + length:
            return
        status = int(head[9:12])
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        self._finish((status, body))

    def _finish(self, outcome: tuple[int, bytes] | Exception) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is None or waiter.done():
            return
        if isinstance(outcome, Exception):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)


def encode(head: str, body: str) -> bytes:
    """A full HTTP/1.1 request from a head (without Content-Length) and a body."""
    raw = body.encode()
    return head.encode() + f"Content-Length: {len(raw)}\r\n\r\n".encode() + raw


def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * share))]


async def connect(host: str, port: int) -> HttpConnection:
    loop = asyncio.get_running_loop()
    _transport, protocol = await loop.create_connection(HttpConnection, host, port)
    return protocol


async def run_load(job: dict[str, Any]) -> dict[str, Any]:
    """Closed-loop load: each connection waits for its answer before sending again."""
    requests = [encode(head, body) for head, body in job["requests"]]
    expect_status, expect_text = job["status"], job.get("expect", "").encode()
    connections = [await connect(job["host"], job["port"]) for _ in range(job["concurrency"])]
    latencies = array("d")
    errors: list[str] = []
    deadline = time.monotonic() + job["seconds"]

    async def worker(n: int) -> None:
        connection, request = connections[n], requests[n % len(requests)]
        clock = time.perf_counter
        while time.monotonic() < deadline:
            started = clock()
            try:
                status, body = await connection.send(request)
            except ConnectionError as exc:
                errors.append(str(exc))
                return
            latencies.append(clock() - started)
            if status != expect_status or (expect_text and expect_text not in body):
                if len(errors) < 5:
                    errors.append(f"HTTP {status}: {body[:200]!r}")
                else:
                    errors.append("")

    cpu_before, wall_before = os.times(), time.monotonic()
    await asyncio.gather(*(worker(n) for n in range(len(connections))))
    cpu_after, elapsed = os.times(), time.monotonic() - wall_before
    for connection in connections:
        if connection.transport is not None:
            connection.transport.close()
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "rps": len(ordered) / elapsed,
        "p50": percentile(ordered, 0.50) * 1000,
        "p99": percentile(ordered, 0.99) * 1000,
        "errors": len(errors),
        "error_samples": [e for e in errors if e][:5],
        "cpu": cpu / elapsed,
    }


async def run_park(job: dict[str, Any]) -> dict[str, Any]:
    """Park `count` requests that all expire at `deadline` (a time.time()), sent at `rate` per
    second so the server keeps up (each timeout is reckoned when its request is sent, so a
    server that reads it late would be blamed for the lag); time when the last answer arrives."""
    head, body_template = job["request"]
    deadline, rate, count = job["deadline"], job["rate"], job["count"]

    async def open_and_send(n: int) -> asyncio.Future[tuple[int, bytes]]:
        connection = await connect(job["host"], job["port"])
        left_ms = max(1, int((deadline - time.time()) * 1000))
        body = body_template.replace("{timeout}", str(left_ms)).replace("{n}", str(n))
        return connection.send(encode(head, body))

    started = time.monotonic()
    sending: list[asyncio.Task[asyncio.Future[tuple[int, bytes]]]] = []
    for n in range(count):
        if n % 50 == 0:
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
        sending.append(asyncio.create_task(open_and_send(n)))
    waiters = await asyncio.gather(*sending)
    print(json.dumps({"sent": len(waiters), "at": time.time()}), flush=True)
    last = 0.0
    statuses: dict[str, int] = {}
    errors = 0

    async def wait(waiter: asyncio.Future[tuple[int, bytes]]) -> None:
        nonlocal last, errors
        try:
            status, _ = await waiter
        except ConnectionError:
            errors += 1
            return
        last = max(last, time.time())
        statuses[str(status)] = statuses.get(str(status), 0) + 1

    await asyncio.gather(*(wait(w) for w in waiters))
    return {"answered": sum(statuses.values()), "statuses": statuses, "errors": errors, "last": last}


def main() -> None:
    job = json.loads(sys.stdin.read())
    runner = run_load if job["mode"] == "load" else run_park
    result = asyncio.run(runner(job)) if uvloop is None else uvloop.run(runner(job))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
