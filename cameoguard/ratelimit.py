"""Rate limits: a token bucket per API key, and one per client address for requests that carry
no valid key, in this process (one service process per machine in the embedded default; behind
several replicas each holds its own buckets, so the effective limit is the sum). Over a limit:
429 with Retry-After, and nothing runs."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None, cost: float = 1.0) -> float:
        """Takes `cost` tokens for `key`; returns 0 when allowed, else the seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return 0.0
            return (cost - bucket.tokens) / self.rate

    def forget_idle(self, now: float | None = None) -> None:
        """Drops buckets that have refilled completely (they hold no state worth keeping)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            full = [
                key
                for key, bucket in self._buckets.items()
                if bucket.tokens + (now - bucket.updated) * self.rate >= self.burst
            ]
            for key in full:
                del self._buckets[key]


MAX_ADDRESSES = 100_000  # address buckets kept before idle ones are dropped

_limiters: dict[str, RateLimiter] = {}
_limiter_lock = threading.Lock()


def _get(name: str) -> RateLimiter:
    with _limiter_lock:
        found = _limiters.get(name)
        if found is None:
            from cameoguard.settings import get_settings

            settings = get_settings()
            if name == "key":
                found = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
            else:
                found = RateLimiter(
                    settings.unauthenticated_rate_limit_per_minute,
                    settings.unauthenticated_rate_limit_burst,
                )
            _limiters[name] = found
        return found


def limiter() -> RateLimiter:
    """Requests per API key."""
    return _get("key")


def address_limiter() -> RateLimiter:
    """Requests per client address that carry no valid key."""
    found = _get("address")
    if len(found._buckets) > MAX_ADDRESSES:
        found.forget_idle()
    return found


def reset_limiter() -> None:
    with _limiter_lock:
        _limiters.clear()


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
