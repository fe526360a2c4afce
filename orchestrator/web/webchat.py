"""The web chat channel: one WebSocket per browser tab, carrying both directions.

Protocol (JSON text frames; see docs/webchat.md):

client → server
  {"type": "hello", "userId"?, "userToken"?, "conversationId"?, "lastSeen"?}   first frame
  {"type": "message", "id": "<uuid>", "payload": {text | postback | quick_reply}}
  {"type": "ping"}
server → client
  {"type": "ready", "userId", "conversationId", "userToken"? (only for a new user), "handoff"}
  {"type": "message", "message": {id, conversationId, authorId?, sentOn, payload}}
  {"type": "synced"}                 history (or what was missed) has been sent
  {"type": "typing", "on": bool}     the bot's turn runs / ended
  {"type": "handoff", "state": "bot" | "pending" | "agent" | ...}
  {"type": "error", "code", "message"}  then the socket closes (4400 bad frame, 4401 bad token)

Identity: a user token of the API (`<id>.<secret>`, stored hashed) kept by the browser.
Resume: after a drop the browser says which message it saw last; everything after it is sent,
then live messages (sent once each: a session remembers the ids it sent). A user message
carries an id chosen by the browser, so re-sending it after a drop stores nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from typing import Any

from aiohttp import WSMsgType, web
from pydantic import ValidationError

from .. import jsonutil
from ..bus import REMOTE, Subscription
from ..bus.topics import CONVERSATION_HANDOFF, MESSAGE_CREATED, HandoffChanged, MessageCreated, turn_topic
from ..payloads import inbound_adapter
from ..services.container import Services
from ..services.errors import NotFound
from ..store.records import Conversation, Message, StoredEndpoint
from .access import CHANNEL, AccessCache, WebchatAccess, normalise_origin

log = logging.getLogger("orchestrator.webchat")

HISTORY = 100  # messages sent on open
HELLO_TIMEOUT = 10.0  # seconds to say hello
MAX_FRAME = 16_384  # bytes per frame from the browser
MAX_TEXT = 4_000  # characters of one user message
RATE = (20, 10.0)  # at most 20 messages per 10 s per socket
TURN_WATCH = 60.0  # seconds a typing indicator waits for its turn to end
USER_TYPES = frozenset({"text", "postback", "quick_reply"})
SENT_IDS = 2_000  # message ids a session remembers (duplicates are dropped)


class Refused(Exception):
    """A frame or hello the server will not take: sent as an error, then the socket closes."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class Session:
    """One open socket of one conversation: sends frames in order, each message once."""

    def __init__(self, ws: web.WebSocketResponse, conversation: Conversation) -> None:
        self.ws = ws
        self.conversation = conversation
        self._sent: OrderedDict[str, None] = OrderedDict()
        self._held: list[Message] | None = []  # live messages that arrive during the backlog
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=1000)
        self._writer = asyncio.create_task(self._write(), name="webchat-writer")

    def push(self, frame: dict[str, Any]) -> None:
        """Queue a frame (dropped, and the socket closed, when the browser cannot keep up)."""
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            log.warning("webchat: a socket of %s is too slow; closing it", self.conversation.id)
            self._writer.cancel()

    def push_live(self, message: Message) -> None:
        """A message from the bus: held back until the backlog is sent, so order is kept."""
        if self._held is not None:
            self._held.append(message)
        else:
            self.push_message(message)

    def release(self) -> None:
        """The backlog is queued: send the live messages held meanwhile."""
        held, self._held = self._held or [], None
        for message in held:
            self.push_message(message)

    def push_message(self, message: Message) -> None:
        """Queue a message unless this socket already had it."""
        if message.id in self._sent:
            return
        self._sent[message.id] = None
        if len(self._sent) > SENT_IDS:
            self._sent.popitem(last=False)
        self.push({"type": "message", "message": message.to_api()})

    async def _write(self) -> None:
        try:
            while True:
                frame = await self._queue.get()
                if frame is None:
                    return
                await self.ws.send_str(jsonutil.dumps(frame))
        except (ConnectionError, RuntimeError):
            return  # the socket is gone: the browser resumes from its last message
        finally:
            if not self.ws.closed:
                await self.ws.close()

    async def close(self) -> None:
        """Send what is queued, then stop."""
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._writer), 5)
        self._writer.cancel()


class WebchatHub:
    """Open sessions by conversation, fed from the bus; counts refused sockets."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.access = AccessCache(services, services.bus)
        self.sessions: dict[str, set[Session]] = {}
        self.refused = 0
        self._turns: dict[str, tuple[Subscription, asyncio.TimerHandle]] = {}
        bus = services.bus
        self._subscriptions = [
            bus.subscribe(MESSAGE_CREATED, self._on_message),
            bus.subscribe(CONVERSATION_HANDOFF, self._on_handoff),
            # the same events from other instances (a reply posted to another instance)
            bus.subscribe(REMOTE + MESSAGE_CREATED, self._on_message),
            bus.subscribe(REMOTE + CONVERSATION_HANDOFF, self._on_handoff),
        ]

    async def close(self) -> None:
        """Unsubscribe and close every socket (1001: the browser reconnects and resumes)."""
        for subscription in self._subscriptions:
            subscription.cancel()
        self.access.close()
        for subscription, timer in self._turns.values():
            subscription.cancel()
            timer.cancel()
        self._turns.clear()
        for sessions in list(self.sessions.values()):
            for session in list(sessions):
                await session.ws.close(code=1001, message=b"server shutting down")
                await session.close()

    def attach(self, session: Session) -> None:
        self.sessions.setdefault(session.conversation.id, set()).add(session)

    def detach(self, session: Session) -> None:
        sessions = self.sessions.get(session.conversation.id)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self.sessions[session.conversation.id]

    def _broadcast(self, conversation_id: str, frame: dict[str, Any]) -> None:
        for session in self.sessions.get(conversation_id, ()):
            session.push(frame)

    def _on_message(self, event: MessageCreated) -> None:
        sessions = self.sessions.get(event.conversation.id)
        if not sessions:
            return
        for session in sessions:
            session.push_live(event.message)
        if event.message.author_id is not None:
            self._watch_turn(event.conversation.id, event.message.id)

    def _on_handoff(self, event: HandoffChanged) -> None:
        self._broadcast(event.conversation_id, {"type": "handoff", "state": event.state})

    def _watch_turn(self, conversation_id: str, message_id: str) -> None:
        """Typing on now; off when the bot's turn for this message ends (or after a minute)."""
        self._broadcast(conversation_id, {"type": "typing", "on": True})

        def done(_: Any = None) -> None:
            entry = self._turns.pop(message_id, None)
            if entry is not None:
                entry[0].cancel()
                entry[1].cancel()
                self._broadcast(conversation_id, {"type": "typing", "on": False})

        subscription = self.services.bus.subscribe(turn_topic(message_id), done)
        timer = asyncio.get_running_loop().call_later(TURN_WATCH, done)
        self._turns[message_id] = (subscription, timer)


class SocketHandler:
    """`GET /webchat/ws?clientId=…`: checks the client and origin, then runs one session."""

    def __init__(self, hub: WebchatHub, own_origins: tuple[str, ...]) -> None:
        self.hub = hub
        self.services = hub.services
        self.own_origins = own_origins

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        client_id = request.query.get("clientId", "")
        access = await self.hub.access.get(client_id) if 0 < len(client_id) <= 64 else None
        origin = request.headers.get("Origin", "")
        own = (*self.own_origins, normalise_origin(f"{request.scheme}://{request.host}"))
        if access is None or not access.allows(origin, own):
            self.hub.refused += 1
            why = "no web chat for this client" if access is None else "origin not allowed"
            log.info("webchat: refused a socket for client %r from %r: %s", client_id, origin, why)
            return web.Response(status=403, text=f"Forbidden: {why}")
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_FRAME)
        await ws.prepare(request)
        try:
            await self._run(ws, access)
        except Refused as exc:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str(jsonutil.dumps({"type": "error", "code": exc.code, "message": exc.reason}))
                await ws.close(code=exc.code, message=exc.reason.encode()[:120])
        return ws

    async def _run(self, ws: web.WebSocketResponse, access: WebchatAccess) -> None:
        try:
            first = await asyncio.wait_for(ws.receive(), HELLO_TIMEOUT)
        except TimeoutError as exc:
            raise Refused(4408, "no hello within 10 s") from exc
        hello = _frame(first)
        if hello is None:
            return
        if hello.get("type") != "hello":
            raise Refused(4400, '"type" of the first frame must be "hello"')
        ready, conversation, endpoint = await self._identify(access, hello)
        session = Session(ws, conversation)
        self.hub.attach(session)  # before reading history: nothing falls between the two
        try:
            session.push(ready)
            for message in await self._backlog(conversation, hello.get("lastSeen")):
                session.push_message(message)
            session.release()
            session.push({"type": "synced"})
            await self._receive(ws, session, access, endpoint)
        except Refused as exc:
            session.push({"type": "error", "code": exc.code, "message": exc.reason})
        finally:
            self.hub.detach(session)
            await session.close()

    async def _identify(
        self, access: WebchatAccess, hello: dict[str, Any]
    ) -> tuple[dict[str, Any], Conversation, StoredEndpoint]:
        services, client_id = self.services, access.client_id
        user_id, token = hello.get("userId"), hello.get("userToken")
        ready: dict[str, Any] = {"type": "ready"}
        if user_id or token:
            if not isinstance(user_id, str) or not isinstance(token, str) or len(token) > 256:
                raise Refused(4401, '"userId" and "userToken" must be strings')
            user = await services.users.authenticate(client_id, user_id, token)
            if user is None:
                raise Refused(4401, "unknown user or wrong user token")
            conversation, endpoint = await self._conversation_of(
                client_id, user.id, hello.get("conversationId")
            )
        else:
            endpoint = StoredEndpoint(CHANNEL, CHANNEL, str(uuid.uuid4()), CHANNEL)
            mapping = await services.endpoints.map(client_id, endpoint)
            _, token = await services.users.create_token(client_id, mapping.user_id)
            conversation = await services.conversations.get(client_id, mapping.conversation_id)
            ready["userToken"] = token
        ready.update(
            userId=conversation.user_id,
            conversationId=conversation.id,
            handoff=await self._handoff_state(access, conversation),
        )
        return ready, conversation, endpoint

    async def _conversation_of(
        self, client_id: str, user_id: str, wanted: Any
    ) -> tuple[Conversation, StoredEndpoint]:
        """The user's web chat conversation (the one named when it is theirs)."""
        services = self.services
        conversation = None
        if isinstance(wanted, str) and wanted:
            with contextlib.suppress(NotFound):
                found = await services.conversations.get(client_id, wanted)
                conversation = found if found.user_id == user_id else None
        if conversation is None:
            latest = await services.conversations.list_for_user(client_id, user_id, 1)
            if not latest:
                raise Refused(4401, "this user has no conversation")
            conversation = latest[0]
        for endpoint in await services.endpoints.of_conversation(conversation.id):
            if endpoint.channel == CHANNEL:
                return conversation, endpoint
        return conversation, StoredEndpoint(CHANNEL, CHANNEL, user_id, conversation.id)

    async def _handoff_state(self, access: WebchatAccess, conversation: Conversation) -> str:
        if access.bot_id is None:
            return "bot"
        state = await self.services.store.get_bot_state(conversation.id, conversation.user_id, access.bot_id)
        handoff = (state.state or {}).get("handoff") or {}
        return str(handoff.get("state") or "bot")

    async def _backlog(self, conversation: Conversation, last_seen: Any) -> list[Message]:
        """What the browser has not seen: after `lastSeen`, or the last HISTORY messages."""
        services, client_id = self.services, conversation.client_id
        if isinstance(last_seen, str) and last_seen:
            everything = await services.messages.list(client_id, conversation.id, 0, None)
            everything.reverse()
            for i, message in enumerate(everything):
                if message.id == last_seen:
                    return everything[i + 1 :]
            return everything[-HISTORY:]
        recent = await services.messages.list(client_id, conversation.id, HISTORY, None)
        recent.reverse()
        return recent

    async def _receive(
        self, ws: web.WebSocketResponse, session: Session, access: WebchatAccess, endpoint: StoredEndpoint
    ) -> None:
        loop = asyncio.get_running_loop()
        window: list[float] = []
        while True:
            frame = _frame(await ws.receive())
            if frame is None:
                return
            kind = frame.get("type")
            if kind == "ping":
                session.push({"type": "pong"})
                continue
            if kind != "message":
                raise Refused(4400, '"type" must be "message" or "ping"')
            now = loop.time()
            window = [t for t in window if now - t < RATE[1]]
            if len(window) >= RATE[0]:
                raise Refused(4429, f"more than {RATE[0]} messages in {RATE[1]:g} s")
            window.append(now)
            await self._user_message(session, access, endpoint, frame)

    async def _user_message(
        self, session: Session, access: WebchatAccess, endpoint: StoredEndpoint, frame: dict[str, Any]
    ) -> None:
        message_id, payload = frame.get("id"), _user_payload(frame.get("payload"))
        if not isinstance(message_id, str) or not _is_uuid(message_id):
            raise Refused(4400, '"id" must be a UUID chosen by the browser')
        conversation = session.conversation
        existing = await self.services.store.get_message(message_id)
        if existing is not None:
            if existing.conversation_id != conversation.id:
                raise Refused(4400, '"id" is taken')
            session.push_message(existing)  # a re-send after a drop: stored already
            return
        await self.services.messages.create(
            access.client_id,
            conversation.id,
            payload,
            author_id=conversation.user_id,
            message_id=message_id,
            source=endpoint,
        )


def _frame(msg: Any) -> dict[str, Any] | None:
    """A JSON object frame, None when the socket closed; Refused for anything else."""
    if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
        return None
    if msg.type != WSMsgType.TEXT:
        raise Refused(4400, "frames must be JSON text")
    try:
        data = jsonutil.loads(msg.data)
    except jsonutil.JSONDecodeError as exc:
        raise Refused(4400, "frame is not valid JSON") from exc
    if not isinstance(data, dict):
        raise Refused(4400, "frame must be a JSON object")
    return data


def _user_payload(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or raw.get("type") not in USER_TYPES:
        raise Refused(4400, '"payload.type" must be one of text, postback, quick_reply')
    try:
        payload = inbound_adapter.validate_python(raw).to_dict()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "payload"
        raise Refused(4400, f'"payload.{where}": {first["msg"]}') from exc
    text = payload.get("text") or ""
    if len(text) > MAX_TEXT or len(payload.get("payload") or "") > MAX_TEXT:
        raise Refused(4400, f'"payload.text" is longer than {MAX_TEXT} characters')
    if payload["type"] == "text" and not text.strip():
        raise Refused(4400, '"payload.text" is empty')
    return payload


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36
