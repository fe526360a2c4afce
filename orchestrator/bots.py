"""Runs a client's built-in bot on its users' messages, on timers, and on injected events.

One turn at a time per conversation (a lock each), different conversations concurrently.
A turn loads the conversation's state, runs the pure engine, stores the new state, timers,
trace and replies in one transaction (replies built by `MessageService.prepare_replies`, with
`incomingId` so collect gathers them), announces the replies, and then ends the turn, which
releases a waiting collect at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .bus import Subscription
from .bus.topics import (
    CLIENT_SYNCED,
    CONVERSATION_HANDOFF,
    HANDOFF_REQUESTED,
    MESSAGE_CREATED,
    ClientSynced,
    HandoffChanged,
    HandoffRequested,
    MessageCreated,
)
from .engine import ActionRegistry, BotLoadError, BotVersion, Diagnostic, Engine, HttpPort, TurnInput
from .engine.checker import CheckResult, check_bot
from .payloads import inbound_adapter, text_of
from .services.container import Services
from .state_cache import StateCache
from .store import StorageFault
from .store.records import BotState, Conversation, Message, Timer, utcnow

log = logging.getLogger(__name__)

TIMER_LEASE = 60.0  # seconds a claimed timer waits before another instance may fire it again

Clock = Callable[[], datetime]


class BotCatalog:
    """The bots defined under `bots.dir`, each compiled into an immutable version.

    Bots are loaded through the full checker (`orchestrator check`): errors refuse the bot,
    warnings are kept in `warnings`."""

    def __init__(self, bots_dir: Path) -> None:
        self.bots_dir = bots_dir
        self.root = bots_dir.resolve().parent
        self._bots: dict[str, BotVersion] = {}
        self._actions: dict[str, ActionRegistry] = {}
        self._files: dict[str, Path] = {}
        self._warnings: dict[str, list[Diagnostic]] = {}

    def bot_files(self) -> list[Path]:
        """Every bot file (`bots/<id>.yaml`)."""
        if not self.bots_dir.is_dir():
            return []
        return sorted(p for p in self.bots_dir.glob("*.y*ml") if p.is_file())

    def check(self, path: Path) -> CheckResult:
        """Load and check one bot file (nothing is installed)."""
        return check_bot(path, self.root)

    def load_all(self) -> None:
        """Load every bot; raise BotLoadError (all diagnostics of all bots, warnings included)
        if any has errors."""
        files = self.bot_files()
        results = [self.check(path) for path in files]
        if any(not r.ok for r in results):
            raise BotLoadError([d for r in results for d in r.diagnostics])
        for path, result in zip(files, results, strict=True):
            assert result.bot is not None
            self.put(result.bot, path, result.warnings)

    def put(
        self, bot: BotVersion, path: Path | None = None, warnings: list[Diagnostic] | None = None
    ) -> None:
        """Install (or atomically replace) a bot version."""
        self._actions[bot.id] = ActionRegistry.from_bot(bot)
        self._bots[bot.id] = bot
        if path is not None:
            self._files[bot.id] = path
        if warnings is not None:
            self._warnings[bot.id] = list(warnings)

    @property
    def warnings(self) -> list[Diagnostic]:
        """The checker's warnings for the installed bots."""
        return [d for bot_id in sorted(self._warnings) for d in self._warnings[bot_id]]

    def file_of(self, bot_id: str) -> Path | None:
        """The bot file a bot was loaded from."""
        return self._files.get(bot_id)

    def get(self, bot_id: str) -> BotVersion | None:
        return self._bots.get(bot_id)

    def actions(self, bot_id: str) -> ActionRegistry:
        return self._actions[bot_id]

    def exists(self, bot_id: str) -> bool:
        return bot_id in self._bots

    def ids(self) -> list[str]:
        return sorted(self._bots)


@dataclass(frozen=True, slots=True)
class Turn:
    """What a bot turn answers: an inbound event in a conversation of a client's bot."""

    client_id: str
    bot_id: str
    conversation: Conversation
    inbound: dict[str, Any]
    incoming_id: str | None = None  # the user message answered (its collect is released)
    channel: str = "api"


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    replies: list[Message]
    handoff: Any | None
    handoff_state: str


class BotRunner:
    """Subscribes to user messages and runs bot turns; fires due timers."""

    def __init__(
        self,
        services: Services,
        catalog: BotCatalog,
        http: HttpPort,
        *,
        clock: Clock = utcnow,
        timer_poll: float = 1.0,
        state_cache: StateCache | None = None,
    ) -> None:
        self._services, self._catalog, self._http = services, catalog, http
        self._state_cache = state_cache  # only where this process runs all turns (see state_cache)
        self._clock, self._timer_poll = clock, timer_poll
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._subscriptions: list[Subscription] = []
        self._timer_task: asyncio.Task[None] | None = None
        self._timers_wake = asyncio.Event()
        self._bot_of_client: dict[str, str | None] = {}
        self._engines: dict[str, Engine] = {}

    async def start(self) -> None:
        bus = self._services.bus
        self._subscriptions = [
            bus.subscribe(MESSAGE_CREATED, self._on_message),
            bus.subscribe(CLIENT_SYNCED, self._on_synced),
        ]
        self._timer_task = asyncio.create_task(self._fire_timers(), name="bot-timers")

    async def drain(self, timeout: float) -> None:
        """Wait up to `timeout` s for the turns under way (at shutdown, before collects end)."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=timeout)

    async def stop(self) -> None:
        for subscription in self._subscriptions:
            subscription.cancel()
        if self._timer_task:
            self._timer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer_task
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    # -- inbound

    def _on_synced(self, event: ClientSynced) -> None:
        self._bot_of_client.pop(event.client_id, None)

    def _on_message(self, event: MessageCreated) -> None:
        if event.message.author_id is None or event.bot_absent:
            return  # the bot's own (or an external bot's) message, or the bot has left
        if event.client_id in self._bot_of_client and self._bot_of_client[event.client_id] is None:
            return  # known to have no built-in bot: its webhook consumer answers
        task = asyncio.create_task(self._answer(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _bot_id(self, client_id: str) -> str | None:
        if client_id not in self._bot_of_client:
            client = await self._services.clients.get(client_id)
            self._bot_of_client[client_id] = client.bot_id if client else None
        return self._bot_of_client[client_id]

    async def _answer(self, event: MessageCreated) -> None:
        bot_id = await self._bot_id(event.client_id)
        if bot_id is None:
            return  # no built-in bot: the client's webhook consumer answers
        inbound = normalise_inbound(event.message.payload)
        channel = event.source.channel if event.source else "api"
        await self.run_turn(
            Turn(event.client_id, bot_id, event.conversation, inbound, event.message.id, channel)
        )

    async def inject_event(
        self, client_id: str, conversation: Conversation, event: str, data: dict[str, Any]
    ) -> TurnOutcome | None:
        """Run a turn on a system event (account linked, agent released…); None without bot."""
        bot_id = await self._bot_id(client_id)
        if bot_id is None:
            return None
        payload = {"type": "event", "event": event, "data": data}
        return await self.run_turn(Turn(client_id, bot_id, conversation, payload))

    # -- the turn

    async def run_turn(self, turn: Turn) -> TurnOutcome | None:
        """One turn of the bot for one inbound event; always ends the turn for collect."""
        try:
            async with self._conversation_lock(turn.conversation.id):
                started = time.perf_counter()
                try:
                    return await self._turn(turn)
                except BaseException:
                    if self._state_cache is not None:
                        self._state_cache.forget(turn.conversation.id, turn.conversation.user_id)
                    raise
                finally:
                    self._services.metrics.turn_seconds.observe(time.perf_counter() - started)
        except StorageFault as exc:  # logged once per episode by StorageHealth
            self._services.storage_health.met(turn.client_id, exc)
            log.debug("bot %s, conversation %s: turn not stored (%s)", turn.bot_id, turn.conversation.id, exc)
            return None
        except Exception:
            log.exception("bot %s failed on conversation %s", turn.bot_id, turn.conversation.id)
            return None
        finally:
            if turn.incoming_id is not None:
                await self._services.messages.announce_turn_end(turn.incoming_id)

    async def _turn(self, turn: Turn) -> TurnOutcome | None:
        client_id, bot_id, conversation = turn.client_id, turn.bot_id, turn.conversation
        bot = self._catalog.get(bot_id)
        if bot is None:
            log.error("client %s names bot %r, which is not loaded", client_id, bot_id)
            return None
        store = self._services.store
        cache = self._state_cache
        state = cache.get(conversation.id, conversation.user_id, bot_id) if cache else None
        if state is None:
            state = await store.get_bot_state(conversation.id, conversation.user_id, bot_id)
        engine = self._engine(bot)
        result = await engine.run_turn(
            TurnInput(
                event=turn.inbound,
                conv_state=state.state,
                user_vars=state.user_vars,
                now=self._clock(),
                channel=turn.channel,
                conversation_id=conversation.id,
                user_id=conversation.user_id,
            )
        )
        self._services.metrics.engine_steps.inc(len(result.trace.get("steps", ())))
        if result.error:
            log.error("bot %s, conversation %s: %s", bot_id, conversation.id, result.error)
        timers = [Timer(conversation.id, t.id, t.due, t.data) for t in result.timers]
        new_state = BotState(conversation.id, bot_id, result.conv_state, result.user_vars)
        keep = self._services.settings.bots.trace_turns
        messages = self._services.messages
        replies = await messages.prepare_replies(client_id, conversation.id, result.replies, turn.incoming_id)
        # State, timers, trace and replies in one transaction: a turn interrupted (SIGTERM, a
        # storage fault) is stored whole or not at all; shielded so a cancelled turn that got
        # as far as its write finishes it.
        await asyncio.shield(
            store.save_turn(conversation.user_id, new_state, timers, result.trace, keep, replies.records)
        )
        if cache is not None:
            cache.put(conversation.user_id, new_state)
        soon = self._clock().timestamp() + self._timer_poll
        if any(t.due.timestamp() <= soon for t in timers):
            self._timers_wake.set()
        await asyncio.shield(messages.announce(replies))
        before = ((state.state or {}).get("handoff") or {}).get("state") or "bot"
        if result.handoff_state != before:
            changed = HandoffChanged(client_id, conversation.id, result.handoff_state)
            await self._services.bus.publish(CONVERSATION_HANDOFF, changed)
        if result.handoff is not None:
            requested = HandoffRequested(client_id, conversation, result.handoff)
            await self._services.bus.publish(HANDOFF_REQUESTED, requested)
        return TurnOutcome(replies.messages, result.handoff, result.handoff_state)

    def _engine(self, bot: BotVersion) -> Engine:
        """The engine of a bot version, built once (it keeps no turn's state; a reloaded bot
        is a new version, so a new engine)."""
        engine = self._engines.get(bot.id)
        if engine is None or engine.bot is not bot:
            actions, env = self._catalog.actions(bot.id), self._services.settings.bots.env
            engine = Engine(bot, http=self._http, actions=actions, env=env)
            self._engines[bot.id] = engine
        return engine

    @contextlib.asynccontextmanager
    async def _conversation_lock(self, conversation_id: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(conversation_id, asyncio.Lock())
        try:
            async with lock, self._services.store.turn_lock(conversation_id):
                yield
        finally:
            if not lock.locked() and not lock._waiters:
                self._locks.pop(conversation_id, None)

    # -- timers

    async def _fire_timers(self) -> None:
        while True:
            try:
                due = await self._services.store.due_timers(self._clock(), 100)
                for timer in due:
                    await self._fire(timer)
            except StorageFault:
                pass  # logged once per episode by StorageHealth; timers wait in the store
            except Exception:
                log.exception("timer loop failed; retrying")
            self._timers_wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._timers_wake.wait(), self._timer_poll)

    async def _fire(self, timer: Timer) -> None:
        """Run the timer's turn, which drops the timer in its own transaction (a crash before
        it commits leaves the timer due, so a restart fires it); then delete it in case the
        turn did not run (no bot, a failed turn), so it does not fire again and again.

        Several instances may see the same due timer: only the one whose claim moves its due
        time (by `TIMER_LEASE`) runs it; should that instance die mid-turn, the timer comes due
        again after the lease."""
        lease_until = self._clock() + timedelta(seconds=TIMER_LEASE)
        if not await self._services.store.claim_timer(timer, lease_until):
            return  # another instance took it: a timer fires once across the cluster
        conversation = await self._services.conversations.find(timer.conversation_id)
        bot_id = await self._bot_id(conversation.client_id) if conversation is not None else None
        if conversation is not None and bot_id is not None:
            data = {"timer_id": timer.timer_id, **timer.data}
            payload = {"type": "event", "event": "timer", "data": data}
            await self.run_turn(Turn(conversation.client_id, bot_id, conversation, payload))
        await self._services.store.delete_timer(timer.conversation_id, timer.timer_id)


def normalise_inbound(payload: dict[str, Any]) -> dict[str, Any]:
    """Any stored message payload as a canonical inbound event (text when unrecognised)."""
    if len(payload) == 2 and payload.get("type") == "text" and type(payload.get("text")) is str:
        return {"type": "text", "text": payload["text"]}  # the commonest, already canonical
    try:
        return inbound_adapter.validate_python(payload).to_dict()
    except ValidationError:
        return {"type": "text", "text": text_of(payload)}
