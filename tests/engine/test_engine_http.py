"""The production HttpPort: timeouts, bounded retries with backoff, no secrets in logs."""

import asyncio
import logging
import socket

import pytest
from aiohttp import web

from orchestrator.engine import HttpError, HttpRequest
from orchestrator.engine_http import AiohttpHttpPort, safe_url

SECRET = "tok-very-secret"


class Recorder:
    def __init__(self):
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
async def server(aiohttp_server):
    hits: dict[str, int] = {}
    never = asyncio.Event()

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {
                "method": request.method,
                "query": dict(request.query),
                "auth": request.headers.get("Authorization"),
                "body": body.decode(),
                "type": request.content_type,
            }
        )

    async def flaky(request: web.Request) -> web.Response:
        n = hits[request.path] = hits.get(request.path, 0) + 1
        status = int(request.match_info["status"])
        if n <= int(request.query.get("fail", "1")):
            return web.Response(status=status, headers={"Retry-After": "2"} if status == 429 else {})
        return web.json_response({"attempt": n})

    async def slow(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response(text="late")  # pragma: no cover

    async def text(request: web.Request) -> web.Response:
        return web.Response(text="hello world, this is plain text")

    app = web.Application()
    app.router.add_route("*", "/echo/{tail:.*}", echo)
    app.router.add_get("/flaky/{status}", flaky)
    app.router.add_get("/slow", slow)
    app.router.add_get("/text", text)
    srv = await aiohttp_server(app)
    srv.hits = hits
    yield srv
    never.set()


@pytest.fixture
async def port():
    sleeps = Recorder()
    p = AiohttpHttpPort(sleep=sleeps, jitter=lambda: 1.0, backoff=0.5, backoff_max=5.0)
    p.sleeps = sleeps
    yield p
    await p.close()


async def test_json_query_headers_and_bodies(server, port):
    url = str(server.make_url("/echo/x"))
    got = await port(HttpRequest("GET", url, headers={"Authorization": "Bearer t"}, query={"q": "1"}))
    assert got.status == 200 and got.json["query"] == {"q": "1"} and got.json["auth"] == "Bearer t"
    posted = await port(HttpRequest("POST", url, json={"a": [1, "é"]}))
    assert posted.json["type"] == "application/json" and '"a"' in posted.json["body"]
    form = await port(HttpRequest("PUT", url, form={"k": "v"}))
    assert form.json["body"] == "k=v" and form.json["method"] == "PUT"
    plain = await port(HttpRequest("GET", str(server.make_url("/text"))))
    assert (plain.json, plain.text) == (None, "hello world, this is plain text")
    assert plain.as_dict()["headers"]["Content-Type"].startswith("text/plain")


async def test_retries_5xx_with_exponential_backoff(server, port):
    url = str(server.make_url("/flaky/503")) + "?fail=2"
    got = await port(HttpRequest("GET", url, retries=3))
    assert (got.status, got.json) == (200, {"attempt": 3})
    assert port.sleeps.delays == [0.5, 1.0]


async def test_429_honours_retry_after(server, port):
    got = await port(HttpRequest("GET", str(server.make_url("/flaky/429")), retries=1))
    assert got.status == 200 and port.sleeps.delays == [2.0]


async def test_final_5xx_is_returned_and_retries_are_bounded(server, port):
    url = str(server.make_url("/flaky/500")) + "?fail=99"
    got = await port(HttpRequest("GET", url, retries=5))
    # the step asked for 5 retries; the port caps them at max_retries=3
    assert got.status == 500 and server.hits["/flaky/500"] == 4
    assert port.sleeps.delays == [0.5, 1.0, 2.0]
    no_retry = await port(HttpRequest("GET", str(server.make_url("/flaky/502")) + "?fail=9"))
    assert no_retry.status == 502 and server.hits["/flaky/502"] == 1


async def test_network_errors_are_retried_then_raised(port):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    with pytest.raises(HttpError, match="ClientConnectorError"):
        await port(HttpRequest("GET", f"http://127.0.0.1:{closed_port}/x", retries=2))
    assert len(port.sleeps.delays) == 2


async def test_timeout(server, port):
    with pytest.raises(HttpError, match="TimeoutError"):
        await port(HttpRequest("GET", str(server.make_url("/slow")), timeout=0.05))


async def test_body_size_limit(server):
    async with AiohttpHttpPort(max_body=5) as small:
        got = await small(HttpRequest("GET", str(server.make_url("/echo/x"))))
    assert got.status == 200 and got.json is None and len(got.text) == 5


async def test_secrets_are_never_logged(server, port, caplog):
    caplog.set_level(logging.DEBUG, logger="orchestrator.engine.http")
    url = str(server.make_url("/flaky/503"))
    req = HttpRequest(
        "GET",
        url + f"?fail=1&token={SECRET}",
        headers={"Authorization": SECRET},
        retries=1,
        secrets=(SECRET,),
    )
    await port(req)
    assert "flaky/503" in caplog.text and SECRET not in caplog.text
    assert safe_url(f"https://u:p@h.test/a/{SECRET}?k={SECRET}", (SECRET,)) == "https://h.test/a/***"
