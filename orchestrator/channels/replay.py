"""Replay protection for platform tokens that carry a time (`iat`) and a nonce (`jti`)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from orchestrator.channels.base import VerificationError

WINDOW = 300.0  # seconds either side of `iat` (clock skew and platform queueing included)


class ReplayGuard:
    """Accepts a token only within WINDOW of its `iat`, and a `jti` seen before only again for
    the same platform message id (the platform's own retry, which dedupe then answers)."""

    def __init__(self, window: float = WINDOW, clock: Callable[[], float] = time.time) -> None:
        self._window, self._clock = window, clock
        self._seen: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def check(self, iat: object, jti: object, message_id: str) -> None:
        """VerificationError(403) for a stale, undated or replayed token."""
        now = self._clock()
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            raise VerificationError(403, "token has no iat")
        if abs(now - iat) > self._window:
            raise VerificationError(403, "token is stale (iat outside the freshness window)")
        if not isinstance(jti, str) or not jti:
            raise VerificationError(403, "token has no jti")
        while self._seen:  # forget what the window refuses anyway
            oldest, (_, at) = next(iter(self._seen.items()))
            if now - at <= 2 * self._window:
                break
            del self._seen[oldest]
        seen = self._seen.get(jti)
        if seen is not None and seen[0] != message_id:
            raise VerificationError(403, "token replayed with another message")
        if seen is None:
            self._seen[jti] = (message_id, now)
