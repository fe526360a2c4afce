"""The webhook events of Botpress Messaging, built as outbox rows (see `store.OutboxEvent`)."""

from __future__ import annotations

from typing import Any

from ..store.records import Conversation, Message, OutboxEvent, User

EVENT_TYPES = (
    "user.new",
    "user.updated",
    "conversation.new",
    "conversation.started",
    "message.new",
    "health.new",
)


def user_new(user: User) -> OutboxEvent:
    data: dict[str, Any] = {"userId": user.id}
    if user.data is not None:
        data["userData"] = user.data
    return OutboxEvent(user.client_id, "user.new", data, ordering_key=user.id)


def conversation_new(conversation: Conversation) -> OutboxEvent:
    data = {"userId": conversation.user_id, "conversationId": conversation.id}
    return OutboxEvent(conversation.client_id, "conversation.new", data, conversation.id)


def conversation_started(conversation: Conversation, channel: str) -> OutboxEvent:
    data = {"userId": conversation.user_id, "conversationId": conversation.id, "channel": channel}
    return OutboxEvent(conversation.client_id, "conversation.started", data, conversation.id)


def message_new(conversation: Conversation, message: Message, channel: str, collect: bool) -> OutboxEvent:
    data: dict[str, Any] = {
        "userId": conversation.user_id,
        "conversationId": conversation.id,
        "channel": channel,
    }
    if collect:
        data["collect"] = True
    data["message"] = message.to_api()
    return OutboxEvent(conversation.client_id, "message.new", data, conversation.id)


def health_new(client_id: str, channel: str, event: dict[str, Any]) -> OutboxEvent:
    return OutboxEvent(client_id, "health.new", {"channel": channel, "event": event}, "health")
