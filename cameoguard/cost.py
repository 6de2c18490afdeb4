"""What a request may cost, so that no caller degrades the service for everyone.

Each costly route estimates its work in CPU-milliseconds before doing it (texts x length, media
seconds x pixels) and charges it to the calling key's work budget: a token bucket refilled at
`work_budget_ms_per_minute`. A key over its budget gets 429 with Retry-After and nothing runs.
The work itself runs off the event loop in one of `heavy_work_slots` slots (in a worker thread,
or in a worker process for pure-Python work that would hold the GIL); a request that
cannot get a slot within `heavy_work_wait_s` gets 503 with Retry-After instead of queueing
without bound behind the others."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from prometheus_client import Counter
from starlette.concurrency import run_in_threadpool

from cameoguard.errors import ApiError
from cameoguard.process_pool import run_in_process
from cameoguard.ratelimit import RateLimiter, retry_after

T = TypeVar("T")
REFUSED = Counter(
    "cameoguard_work_refused_total", "Costly requests refused before any work", ["reason"]
)

_budget: RateLimiter | None = None
_slots: asyncio.Semaphore | None = None
_slots_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def _settings() -> Any:
    from cameoguard.settings import get_settings

    return get_settings()


def budget() -> RateLimiter:
    """Work budgets per key, in estimated CPU-milliseconds."""
    global _budget
    with _lock:
        if _budget is None:
            settings = _settings()
            _budget = RateLimiter(settings.work_budget_ms_per_minute, settings.work_budget_burst_ms)
        return _budget


def reset_costs() -> None:
    global _budget, _slots, _slots_loop
    with _lock:
        _budget, _slots, _slots_loop = None, None, None


def charge(key_id: str, estimate_ms: float) -> None:
    """Takes the estimated work from the key's budget, or refuses the request (429)."""
    bucket = budget()
    if estimate_ms > bucket.burst:
        REFUSED.labels("too_costly").inc()
        raise ApiError(
            413,
            f"this request would cost about {estimate_ms:,.0f} ms of CPU, more than one request"
            f" may ({bucket.burst:,.0f} ms): send less",
            code="request_too_costly",
            details={"estimate_ms": round(estimate_ms), "limit_ms": round(bucket.burst)},
        )
    wait = bucket.take(f"work:{key_id}", cost=estimate_ms)
    if wait > 0:
        REFUSED.labels("budget").inc()
        raise ApiError(
            429,
            "this key's work budget is spent for now",
            code="rate_limited",
            headers={"Retry-After": retry_after(wait)},
            details={"estimate_ms": round(estimate_ms)},
        )


def _semaphore() -> asyncio.Semaphore:
    global _slots, _slots_loop
    loop = asyncio.get_running_loop()
    with _lock:
        if _slots is None or _slots_loop is not loop:
            _slots, _slots_loop = asyncio.Semaphore(_settings().heavy_work_slots), loop
        return _slots


@asynccontextmanager
async def heavy_slot() -> AsyncIterator[None]:
    """One of the bounded slots for heavy work, or 503 when none frees up in time."""
    slots = _semaphore()
    wait = _settings().heavy_work_wait_s
    try:
        await asyncio.wait_for(slots.acquire(), timeout=wait)
    except TimeoutError as exc:
        REFUSED.labels("busy").inc()
        raise ApiError(
            503,
            "the service is busy with other heavy requests; try again shortly",
            code="busy",
            headers={"Retry-After": retry_after(max(1.0, wait))},
        ) from exc
    try:
        yield
    finally:
        slots.release()


async def run_costly(
    key_id: str, estimate_ms: float, work: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    """Charges the key, then runs `work` in a worker thread inside a heavy-work slot."""
    charge(key_id, estimate_ms)
    async with heavy_slot():
        return await run_in_threadpool(work, *args, **kwargs)


async def run_costly_in_process(
    key_id: str, estimate_ms: float, work: Callable[..., T], *args: Any
) -> T:
    """`run_costly` for pure-Python work that would hold the GIL: `work(*args)` runs in a
    worker process (cameoguard.process_pool), so the event loop keeps answering."""
    charge(key_id, estimate_ms)
    async with heavy_slot():
        return await run_in_process(work, *args)
