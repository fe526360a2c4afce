"""The shared base of the platform fakes: an aiohttp app on 127.0.0.1 that records what it
receives, can be told to fail its next calls, and posts signed webhooks on request.

Control API, on every fake (not recorded, never failed):
- `POST /_fake/send {"target": URL, ...spec}`: build a webhook from `spec` (see each fake's
  `build_webhook`) and post it to `target`; answers `{"status", "body"}` of the target.
- `POST /_fake/fail {"count": 1, "status": 500, "retry_after": null}`: fail the next calls.
- `GET /_fake/requests`: what was received; `DELETE /_fake/requests` forgets it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import aiohttp
import orjson
from aiohttp import web
from multidict import CIMultiDict

CONTROL_PREFIX = "/_fake/"


@dataclass
class Recorded:
    """One request a fake received, and the status it answered."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]
    body: bytes
    json: Any = None
    form: dict[str, str] | None = None
    status: int = 0

    @property
    def data(self) -> dict[str, Any]:
        """The JSON object or form fields of the body ({} when neither)."""
        if isinstance(self.json, dict):
            return self.json
        return dict(self.form or {})


@dataclass
class Webhook:
    """A webhook as the platform would send it: exact body bytes and headers."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        """The body, parsed (the text of a form-encoded body)."""
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            return self.body.decode()


@dataclass
class _Failure:
    status: int
    retry_after: str | None
    body: str


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response as Node/Go servers send them."""
    return web.Response(
        status=status, body=orjson.dumps(data), content_type="application/json", headers=headers
    )


def text_response(text: str, status: int) -> web.Response:
    """A plain-text response (Express' `res.send(string)`)."""
    return web.Response(status=status, text=text, content_type="text/plain")


async def read_fields(request: web.Request) -> dict[str, Any] | None:
    """The request's JSON object or form fields; None when the body is neither."""
    body = await request.read()
    if request.content_type == "application/json":
        try:
            data = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            return None
        return data if isinstance(data, dict) else None
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return dict(await request.post())
    return {} if not body else None


class FakePlatform:
    """Base of the fakes: recording, failure injection, webhook posting, start/stop."""

    name: ClassVar[str] = "fake"

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._failures: list[_Failure] = []
        self._arrived = asyncio.Event()
        self.app = web.Application(middlewares=[self._middleware])
        self.app.router.add_post("/_fake/send", self._control_send)
        self.app.router.add_post("/_fake/fail", self._control_fail)
        self.app.router.add_get("/_fake/requests", self._control_requests)
        self.app.router.add_delete("/_fake/requests", self._control_reset)
        self.add_routes(self.app.router)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ------------------------------------------------------------ to override

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Register the platform's endpoints."""
        raise NotImplementedError

    def build_webhook(self, spec: dict[str, Any]) -> Webhook:
        """A webhook built from a spec (see the subclass docstring)."""
        raise NotImplementedError

    # ------------------------------------------------------------ for tests

    def fail_next(
        self, count: int = 1, status: int = 500, *, retry_after: str | None = None, body: str = ""
    ) -> None:
        """Answer the next `count` platform calls with `status` (and `Retry-After`)."""
        text = body or orjson.dumps({"error": "injected failure"}).decode()
        self._failures.extend(_Failure(status, retry_after, text) for _ in range(count))

    def received(self, path_suffix: str = "", *, ok: bool | None = None) -> list[Recorded]:
        """Recorded requests whose path ends with `path_suffix` (only 2xx ones if `ok`)."""
        return [
            r
            for r in self.requests
            if r.path.endswith(path_suffix) and (ok is None or (200 <= r.status < 300) == ok)
        ]

    async def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[Recorded]:
        """Wait (on an event, not a sleep) until `count` requests have been recorded."""
        async with asyncio.timeout(timeout):
            while len(self.requests) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.requests

    async def post_webhook(self, target: str, webhook: Webhook) -> tuple[int, str]:
        """POST a webhook to `target`; returns the target's status and body text."""
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                target,
                data=webhook.body,
                headers={"Content-Type": "application/json", **webhook.headers},
            ) as resp,
        ):
            return resp.status, await resp.text()

    async def send(self, target: str, spec: dict[str, Any]) -> tuple[int, str]:
        """Build a webhook from `spec` and post it to `target`."""
        return await self.post_webhook(target, self.build_webhook(spec))

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0: an ephemeral port); returns the base URL."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0][1]
        self.url = f"http://{host}:{bound}"
        return self.url

    async def close(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------ machinery

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await handler(request)
        body = await request.read()
        record = Recorded(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=CIMultiDict(request.headers),
            body=body,
        )
        fields = await read_fields(request)
        if request.content_type == "application/json":
            record.json = fields
        elif fields:
            record.form = {k: str(v) for k, v in fields.items()}
        try:
            if self._failures:
                failure = self._failures.pop(0)
                headers = {"Retry-After": failure.retry_after} if failure.retry_after else None
                response: web.StreamResponse = web.Response(
                    status=failure.status, text=failure.body, content_type="application/json", headers=headers
                )
            else:
                try:
                    response = await handler(request)
                except web.HTTPException as exc:
                    response = exc
            record.status = response.status
            return response
        finally:
            self.requests.append(record)
            self._arrived.set()

    async def _control_send(self, request: web.Request) -> web.Response:
        spec = await request.json()
        target = spec.pop("target", None)
        if not isinstance(target, str) or not target:
            return json_response({"error": "target (the URL to post to) is required"}, 400)
        try:
            webhook = self.build_webhook(spec)
        except (KeyError, ValueError) as exc:
            return json_response({"error": f"bad spec: {exc}"}, 400)
        try:
            status, text = await self.post_webhook(target, webhook)
        except aiohttp.ClientError as exc:
            return json_response({"error": f"cannot reach target: {exc}"}, 502)
        return json_response({"status": status, "body": text, "sent": webhook.json})

    async def _control_fail(self, request: web.Request) -> web.Response:
        spec = await request.json() if request.can_read_body else {}
        retry_after = spec.get("retry_after")
        self.fail_next(
            int(spec.get("count", 1)),
            int(spec.get("status", 500)),
            retry_after=str(retry_after) if retry_after is not None else None,
        )
        return json_response({"pending_failures": len(self._failures)})

    async def _control_requests(self, request: web.Request) -> web.Response:
        return json_response(
            [
                {
                    "method": r.method,
                    "path": r.path,
                    "query": r.query,
                    "status": r.status,
                    "json": r.json,
                    "form": r.form,
                }
                for r in self.requests
            ]
        )

    async def _control_reset(self, request: web.Request) -> web.Response:
        self.requests.clear()
        return json_response({"ok": True})


F = TypeVar("F", bound="FakePlatform")


async def serving(fake: F) -> AsyncIterator[F]:
    """Run a fake for a pytest fixture: `async for fake in serving(QiscusFake()): yield fake`."""
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
