"""The engine's HTTP port: request/response types and the protocol production and tests implement.

The engine never opens sockets: an `http` step builds an `HttpRequest` and awaits the injected
`HttpPort`. The production port lives in `orchestrator/engine_http.py`; tests pass fakes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

REDACTED = "***"


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One outbound call. `retries` is the step's budget of extra attempts on transient errors;
    `secrets` are values (from env.*) that must never appear in logs or traces."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    form: Mapping[str, str] | None = None
    timeout: float = 10.0
    retries: int = 0
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """What the port returns; `json` is None when the body is not JSON."""

    status: int
    json: Any = None
    text: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The value an `http` step stores in `into`: {status, json, text, headers}."""
        return {
            "status": self.status,
            "json": self.json,
            "text": self.text,
            "headers": dict(self.headers),
        }


class HttpError(Exception):
    """A call that failed without a response (network error, timeout), after its retries."""


class HttpPort(Protocol):
    """Anything that performs an `HttpRequest` (production: engine_http.AiohttpHttpPort)."""

    async def __call__(self, req: HttpRequest) -> HttpResponse: ...


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value replaced by ***."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, REDACTED)
    return text
