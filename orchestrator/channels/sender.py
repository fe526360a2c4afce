"""Outbound HTTP for channels: one call with a per-attempt timeout and bounded retries.

Retried: 429 (honouring `Retry-After`, capped), 5xx, network errors and timeouts, with capped
exponential backoff; also whatever a channel's `throttle` hook reads as the platform's own
throttling signal (Telegram's `parameters.retry_after`, the Graph API's rate-limit codes on a
400), waiting the delay it names. Not retried: any other non-2xx status, which raises `SendError` with the
platform's own error text (JSON `error.message`, `msg`, `message`, `errors`…, or a plain-text
body such as Chat21's 405 validation errors).

Order is the caller's business: `Channel.send` awaits each call before the next, and the
dispatcher runs one queue per conversation. Nothing here logs headers, bodies or query strings,
which may carry credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson
from yarl import URL

from orchestrator.channels.base import ChannelTestError, RetryPolicy, SendError

log = logging.getLogger("orchestrator.channels")


@dataclass(frozen=True, slots=True)
class Throttled:
    """A platform's throttling signal: retry after `delay` seconds (None: the backoff's)."""

    delay: float | None = None


# (status, parsed JSON body) -> Throttled when the answer says "slow down", else None.
Throttle = Callable[[int, Any], Throttled | None]


@dataclass(frozen=True, slots=True)
class Response:
    """A successful platform answer: status, the parsed JSON (or None) and the raw text."""

    status: int
    json: Any
    text: str


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header value, or None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_detail(status: int, body: Any, text: str) -> str:
    """The platform's own error text out of an error response, whatever its shape."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            detailed = error.get("detailed_messages")
            if isinstance(detailed, list) and detailed:
                return "; ".join(str(d) for d in detailed)
            if error.get("message"):
                return str(error["message"])
        for key in ("error_description", "msg", "err", "message", "error", "description", "detail", "title"):
            value = body.get(key)
            if isinstance(value, str) and value:
                details = body.get("details")
                if isinstance(details, list) and details:
                    return f"{value}: {'; '.join(str(d) for d in details)}"
                return value
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(
                str(e.get("msg") or e.get("title") or e) if isinstance(e, dict) else str(e) for e in errors
            )
    text = text.strip()
    return text[:500] if text else f"HTTP {status}"


def _parse_json(text: str) -> Any:
    if not text or text[0] not in "{[":
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    platform: str,
    policy: RetryPolicy,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    form: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    throttle: Throttle | None = None,
    log_path: str | None = None,
) -> Response:
    """One platform call with retries; returns the 2xx response or raises `SendError`.

    `json` is sent as an orjson-encoded body, `form` as application/x-www-form-urlencoded;
    `throttle` reads a platform's own throttling signal out of an error answer; `log_path`
    replaces the URL path in logs when the path carries a secret (Telegram's bot token).
    """
    all_headers = dict(headers or {})
    data: bytes | Mapping[str, str] | None = form
    if json is not None:
        data = orjson.dumps(json)
        all_headers.setdefault("Content-Type", "application/json")
    timeout = aiohttp.ClientTimeout(total=policy.timeout)
    path = log_path or URL(url).path  # never the query: it may carry a token
    attempt = 0
    while True:
        attempt += 1
        try:
            async with http.request(
                method, url, headers=all_headers, data=data, params=params, timeout=timeout
            ) as resp:
                text = await resp.text(errors="replace")
                status = resp.status
                retry_after_header = resp.headers.get("Retry-After")
        except (aiohttp.ClientError, TimeoutError) as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if attempt >= policy.attempts:
                raise SendError(None, detail, platform=platform, retryable=True) from exc
            delay = policy.backoff(attempt)
            log.warning(
                "%s %s %s failed (%s); retry %d/%d in %.2fs",
                platform,
                method,
                path,
                type(exc).__name__,
                attempt,
                policy.attempts - 1,
                delay,
            )
            await policy.sleep(delay)
            continue
        body = _parse_json(text)
        if 200 <= status < 300:
            return Response(status, body, text)
        throttled = throttle(status, body) if throttle is not None else None
        transient = status == 429 or status >= 500 or throttled is not None
        if not transient or attempt >= policy.attempts:
            raise SendError(status, error_detail(status, body, text), platform=platform, retryable=transient)
        delay = policy.backoff(attempt)
        waited = parse_retry_after(retry_after_header) if status == 429 else None
        if throttled is not None and throttled.delay is not None:
            waited = throttled.delay
        if waited is not None:
            delay = min(policy.max_delay, waited)
        log.warning(
            "%s %s %s answered %d; retry %d/%d in %.2fs",
            platform,
            method,
            path,
            status,
            attempt,
            policy.attempts - 1,
            delay,
        )
        await policy.sleep(delay)


async def probe(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    platform: str,
    policy: RetryPolicy,
    fields: Mapping[int, str],
    default_field: str = "apiUrl",
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    json: Any = None,
    form: Mapping[str, str] | None = None,
) -> Response:
    """A credentials test: one attempt; a failure becomes ChannelTestError naming the config
    field `fields[status]` (or `default_field` for other statuses and network errors)."""
    once = replace(policy, attempts=1)
    try:
        return await call(
            http,
            method,
            url,
            platform=platform,
            policy=once,
            headers=headers,
            params=params,
            json=json,
            form=form,
        )
    except SendError as exc:
        field = fields.get(exc.status, default_field) if exc.status else default_field
        where = f"HTTP {exc.status}" if exc.status is not None else "network error"
        message = f"{platform} answered {where}: {exc.detail}"
        raise ChannelTestError(field, message, retryable=exc.retryable) from exc
