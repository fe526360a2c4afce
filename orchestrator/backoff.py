"""The one retry backoff formula (channel sends, webhook deliveries, the engine's HTTP calls)."""

from __future__ import annotations


def exponential(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): `base`, doubling with
    each attempt, never more than `cap`."""
    return min(cap, base * 2 ** (attempt - 1))
