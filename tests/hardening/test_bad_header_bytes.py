"""Item 7: non-UTF-8 bytes in credential headers are 401/403, never 500.

aiohttp decodes header bytes as UTF-8 with `surrogateescape`, so a stray 0xff reaches the code
as the lone surrogate U+DCFF: the unit tests below give the verify functions exactly that, and
the HTTP tests send the raw byte over a socket."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from orchestrator.app import create_app
from orchestrator.channels.base import InboundRequest, VerificationError
from orchestrator.channels.chat21 import Chat21Channel
from orchestrator.channels.qiscus import QiscusChannel
from orchestrator.channels.tiledesk import TiledeskChannel
from orchestrator.logs import MalformedRequests
from tests.channels import test_channel_chat21, test_channel_qiscus, test_channel_tiledesk
from tests.conftest import make_settings, new_client
from tests.fakes.chat21 import Chat21Fake
from tests.fakes.qiscus import QiscusFake
from tests.fakes.tiledesk import TiledeskFake

BAD = "\udcff"  # what aiohttp makes of the byte 0xff in a header


async def raw_status(http: Any, path: str, headers: list[bytes]) -> int:
    """Send a request with raw header bytes; the status code of the answer."""
    reader, writer = await asyncio.open_connection(http.server.host, http.server.port)
    head = b"\r\n".join([f"POST {path} HTTP/1.1".encode(), b"Host: x", b"Content-Length: 2", *headers])
    writer.write(head + b"\r\n\r\n{}")
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    return int(status_line.split()[1])


async def test_admin_key_with_bad_bytes_is_401(aiohttp_client, tmp_path) -> None:
    http = await aiohttp_client(create_app(make_settings(tmp_path, server={"admin_key": "k"})))
    assert await raw_status(http, "/api/v1/admin/clients", [b"x-bp-messaging-admin-key: k\xff"]) == 401


async def test_client_token_with_bad_bytes_is_403(aiohttp_client, tmp_path) -> None:
    http = await aiohttp_client(create_app(make_settings(tmp_path)))
    client = await new_client(http)
    token_id = client.token.split(".")[0]
    headers = [
        f"x-bp-messaging-client-id: {client.id}".encode(),
        f"x-bp-messaging-client-token: {token_id}.".encode() + b"\xff",
    ]
    assert await raw_status(http, "/api/v1/users", headers) in (401, 403)
    # and once the token is cached (verified once), still refused
    await client.user()
    assert await raw_status(http, "/api/v1/users", headers) in (401, 403)


async def _refused(channel: Any, req: InboundRequest, config: Any) -> int:
    with pytest.raises(VerificationError) as err:
        await channel.verify(req, config)
    return err.value.status


async def test_tiledesk_hook_secret_with_bad_bytes() -> None:
    fake = TiledeskFake()
    req = InboundRequest.build(headers={"x-hook-secret": fake.subscription_secret + BAD}, body=b"{}")
    cfg = test_channel_tiledesk.config(fake)
    assert await _refused(TiledeskChannel(), req, cfg) == 403


async def test_qiscus_signature_with_bad_bytes() -> None:
    fake = QiscusFake()
    signed = fake.build_webhook({})
    headers = {"QISCUS-SDK-SIGNATURE": BAD + signed.headers["QISCUS-SDK-SIGNATURE"][1:]}
    req = InboundRequest.build(headers=headers, body=signed.body)
    assert await _refused(QiscusChannel(), req, test_channel_qiscus.sdk_config(fake)) == 403


async def test_chat21_authorization_with_bad_bytes() -> None:
    fake = Chat21Fake()
    webhook = fake.build_webhook({})
    req = InboundRequest.build(headers={"Authorization": "ey" + BAD}, body=webhook.body)
    assert await _refused(Chat21Channel(), req, test_channel_chat21.config(fake)) == 401


async def test_url_secret_with_bad_bytes() -> None:
    fake = Chat21Fake()
    webhook = fake.build_webhook({})
    req = InboundRequest.build(query={"secret": "hook" + BAD}, body=webhook.body)
    assert await _refused(Chat21Channel(), req, test_channel_chat21.config(fake)) == 403


async def test_a_nul_in_a_token_header_is_400_and_one_log_line_without_the_token(
    aiohttp_client, tmp_path, caplog
) -> None:
    server_log, quiet = logging.getLogger("aiohttp.server"), MalformedRequests()
    server_log.addFilter(quiet)  # as `serve` sets it up
    http = await aiohttp_client(create_app(make_settings(tmp_path)))
    try:
        with caplog.at_level(logging.INFO, logger="aiohttp.server"):
            status = await raw_status(http, "/api/v1/users", [b"x-bp-messaging-client-token: s3cret\x00"])
    finally:
        server_log.removeFilter(quiet)
    assert status == 400
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("WARNING", "malformed HTTP request refused (400): Invalid header value char")
    ]
    assert records[0].exc_info is None and "s3cret" not in caplog.text
