"""Outbound: every message the bot (or a desk's agent) writes goes to the conversation's channel
endpoints, in order per conversation.

On `message.created` for a message without author, each endpoint of the conversation whose
channel is implemented and configured for the client, except the one the message came from
(`source`: never echo), gets the message rendered by its channel and sent with the channel's
retry policy. Users' own messages are not sent to channels (Botpress Messaging does the same).

Order: one queue per conversation, a worker task draining it, created on the first job and gone
when the queue is empty; different conversations send concurrently. The bus handler only
enqueues, so the request that created the message never waits for a platform.

The choices a rendering offers (`Rendered.choices`: a numbered list's number → payload map, a
reply keyboard's labels) are kept in kv before it is sent. A render or send that fails for good is a
`send-failure` health event (status and the platform's error text, no bodies or headers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from ..bus import Bus
from ..bus.topics import MESSAGE_CREATED, MessageCreated
from ..services.endpoints import EndpointService
from ..store.records import StoredEndpoint
from .base import Channel, ChannelConfig, RenderError, SendError
from .hub import ChannelHub, same_endpoint

log = logging.getLogger("orchestrator.channels")

Job = Callable[[], Awaitable[Any]]
MAX_PENDING = 1000  # jobs waiting per conversation; more are dropped (and logged)


class ConversationQueues:
    """Runs jobs one after the other per key; different keys run concurrently."""

    def __init__(self, max_pending: int = MAX_PENDING) -> None:
        self._queues: dict[str, deque[tuple[Job, asyncio.Future[Any]]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._max_pending = max_pending
        self._closed = False

    def submit(self, key: str, job: Job) -> asyncio.Future[Any]:
        """Queue `job` behind the key's earlier jobs; the future has its result (None when the
        job failed: jobs handle and report their own errors, this only logs)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._closed:
            future.cancel()
            return future
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
            self._workers[key] = asyncio.create_task(self._drain(key, queue), name=f"channels:{key}")
        elif len(queue) >= self._max_pending:
            log.error("conversation %s has %d jobs waiting; dropping one", key, len(queue))
            future.cancel()
            return future
        queue.append((job, future))
        return future

    def pending(self) -> int:
        """Keys with a worker (for tests and leak checks)."""
        return len(self._workers)

    async def _drain(self, key: str, queue: deque[tuple[Job, asyncio.Future[Any]]]) -> None:
        try:
            while queue:
                job, future = queue.popleft()
                try:
                    result = await job()
                except asyncio.CancelledError:
                    future.cancel()
                    raise
                except Exception:
                    log.exception("channel job of %s failed", key)
                    result = None
                if not future.done():
                    future.set_result(result)
        finally:
            # No await between the empty check and here: a submit either saw this queue (and
            # its job ran above) or finds none and starts a new worker.
            for _, future in queue:
                future.cancel()
            self._queues.pop(key, None)
            self._workers.pop(key, None)

    async def close(self, timeout: float) -> None:
        """Refuse new jobs, let the queued ones finish for up to `timeout` s, cancel the rest."""
        self._closed = True
        workers = list(self._workers.values())
        if not workers:
            return
        _, late = await asyncio.wait(workers, timeout=timeout)
        for task in late:
            task.cancel()
        for task in late:
            with contextlib.suppress(asyncio.CancelledError):
                await task


class Dispatcher:
    """Sends stored messages to the conversation's channel endpoints (see the module doc)."""

    def __init__(self, hub: ChannelHub, bus: Bus, endpoints: EndpointService) -> None:
        self.hub = hub
        self._bus, self._endpoints = bus, endpoints
        self.queues = ConversationQueues()
        self._subscription: Any = None

    def start(self) -> None:
        self._subscription = self._bus.subscribe(MESSAGE_CREATED, self._on_message)

    async def stop(self, timeout: float) -> None:
        if self._subscription is not None:
            self._subscription.cancel()
        await self.queues.close(timeout)

    def submit(self, conversation_id: str, job: Job) -> asyncio.Future[Any]:
        """Run `job` in the conversation's order (hand-off calls go between its messages)."""
        return self.queues.submit(conversation_id, job)

    def _on_message(self, event: MessageCreated) -> None:
        if event.message.author_id is not None:
            return  # a user's own message: the platform already has it
        if self.hub.has_no_channels(event.client_id):
            return
        self.queues.submit(event.conversation.id, lambda: self._deliver(event))

    async def _deliver(self, event: MessageCreated) -> None:
        configs = await self.hub.configs(event.client_id)
        if not configs:
            return
        endpoints = await self._endpoints.of_conversation(event.conversation.id)
        for endpoint in endpoints:
            if same_endpoint(endpoint, event.source):
                continue  # never echo a message back where it came from
            channel, config = self.hub.channels.get(endpoint.channel), configs.get(endpoint.channel)
            if channel is None or config is None:
                continue
            await self._send(event, endpoint, channel, config)

    async def _send(
        self,
        event: MessageCreated,
        endpoint: StoredEndpoint,
        channel: Channel[Any],
        config: ChannelConfig,
    ) -> None:
        message, conversation_id = event.message, event.conversation.id
        where = {"messageId": message.id, "conversationId": conversation_id}
        try:
            rendered = channel.render(message.payload)
        except RenderError as exc:
            await self.hub.health(
                event.client_id,
                channel.name,
                "send-failure",
                {**where, "status": None, "detail": f"cannot render: {exc}"},
            )
            return
        bodies = rendered.bodies
        if not bodies:
            return  # typing on a platform without a typing indicator
        if rendered.choices:
            await self.hub.keep_choices(conversation_id, channel.name, rendered.choices)
        target = await self.hub.target(conversation_id, config, endpoint)
        try:
            await channel.send(target, bodies)
        except SendError as exc:
            log.warning("%s: message %s not sent: %s", channel.name, message.id, exc)
            await self.hub.health(
                event.client_id,
                channel.name,
                "send-failure",
                {**where, "status": exc.status, "detail": exc.detail, "sent": exc.sent, "of": len(bodies)},
            )
        except Exception as exc:
            log.exception("%s: sending message %s failed", channel.name, message.id)
            await self.hub.health(
                event.client_id,
                channel.name,
                "send-failure",
                {**where, "status": None, "detail": type(exc).__name__},
            )
