"""The production implementation of the engine's `HttpPort`, on aiohttp.

Every call has a total timeout (the step's `timeout`). Network errors, timeouts, 5xx and 429
are retried up to the step's `retries` (capped by `max_retries`) with exponential backoff and
jitter, honouring a numeric `Retry-After` (capped). A call that never gets a response raises
`HttpError`; a final 5xx/429 response is returned as is (the flow decides). Logs carry the
method, the URL without query or credentials, the status and the attempt; never headers,
bodies, or any value from `env` (they are masked).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
from yarl import URL

from orchestrator.backoff import exponential
from orchestrator.engine.http import HttpError, HttpRequest, HttpResponse, redact

log = logging.getLogger("orchestrator.engine.http")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def safe_url(url: str, secrets: tuple[str, ...]) -> str:
    """The URL as it may be logged: no credentials, no query string, secrets masked."""
    try:
        clean = str(URL(url).with_user(None).with_query(None).with_fragment(None))
    except (ValueError, TypeError):
        clean = url.split("?", 1)[0]
    return redact(clean, secrets)


class AiohttpHttpPort:
    """`HttpPort` over one shared `aiohttp.ClientSession` (created lazily if not given)."""

    def __init__(
        self,
        session: aiohttp.ClientSession | None = None,
        *,
        max_retries: int = 3,
        backoff: float = 0.25,
        backoff_max: float = 5.0,
        max_body: int = 1 << 20,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ):
        self._session = session
        self._own_session = session is None
        self.max_retries = max_retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.max_body = max_body
        self._sleep = sleep
        self._jitter = jitter

    async def __aenter__(self) -> AiohttpHttpPort:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this port created it."""
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(json_serialize=lambda v: orjson.dumps(v).decode())
        return self._session

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait before attempt `attempt + 1`."""
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), self.backoff_max)
            except ValueError:
                pass  # an HTTP date: fall back to our own backoff
        base = exponential(attempt, self.backoff, self.backoff_max)
        return base * (0.5 + self._jitter() / 2)

    async def __call__(self, req: HttpRequest) -> HttpResponse:
        attempts = 1 + max(0, min(req.retries, self.max_retries))
        where = f"{req.method} {safe_url(req.url, req.secrets)}"
        for attempt in range(1, attempts + 1):
            retry_after = None
            try:
                response = await self._once(req)
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = type(exc).__name__
                log.warning("http %s failed: %s (attempt %d/%d)", where, problem, attempt, attempts)
                if attempt == attempts:
                    detail = redact(str(exc), req.secrets) if str(exc) else problem
                    raise HttpError(f"{problem}: {detail}" if detail != problem else problem) from None
            else:
                log.info("http %s -> %d (attempt %d/%d)", where, response.status, attempt, attempts)
                if response.status not in RETRY_STATUSES or attempt == attempts:
                    return response
                retry_after = response.headers.get("Retry-After")
            await self._sleep(self.delay(attempt, retry_after))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, req: HttpRequest) -> HttpResponse:
        kwargs: dict[str, Any] = {
            "headers": dict(req.headers),
            "timeout": aiohttp.ClientTimeout(total=req.timeout),
            "allow_redirects": True,
        }
        if req.query:
            kwargs["params"] = dict(req.query)
        if req.json is not None:
            kwargs["json"] = req.json
        elif req.form is not None:
            kwargs["data"] = dict(req.form)
        async with self._client().request(req.method, req.url, **kwargs) as resp:
            body = await resp.content.read(self.max_body + 1)
            truncated = len(body) > self.max_body
            body = body[: self.max_body]
            text = body.decode(resp.charset or "utf-8", errors="replace")
            data = None
            if not truncated and ("json" in resp.content_type or text.lstrip()[:1] in ("{", "[")):
                try:
                    data = orjson.loads(body)
                except orjson.JSONDecodeError:
                    data = None
            return HttpResponse(resp.status, data, text, dict(resp.headers))
