"""Item 10: the platform message id is recorded in the transaction that stores the message, so
a crash between the two loses nothing and the platform's retry is stored."""

from __future__ import annotations

from typing import Any

from orchestrator.api import SERVICES
from tests.fakes.chat21 import Chat21Fake
from tests.integration.test_chat21_e2e import chat21_app


async def test_a_retry_after_a_failed_store_is_stored(aiohttp_client, tmp_path, chat21: Chat21Fake) -> None:
    h = await chat21_app(aiohttp_client, tmp_path, chat21)
    store = h.http.app[SERVICES].store
    real = store.create_messages
    calls: list[int] = []

    async def crash_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("killed between the dedupe id and the message")
        return await real(*args, **kwargs)

    store.create_messages = crash_once
    webhook = chat21.build_webhook({"text": "hello"})
    first, _ = await h.post_raw(webhook)
    assert first >= 500 and h.count("messages") == 0
    assert (await h.post_raw(webhook))[0] == 200  # the platform retries
    [event] = h.watch.user_messages()
    assert event.message.payload["text"] == "hello"
    assert (await h.post_raw(webhook))[0] == 200  # a third copy is still a duplicate
    assert len(h.watch.user_messages()) == 1
