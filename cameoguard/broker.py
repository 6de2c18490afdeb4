"""Reachability of the configured Kafka cluster, for /readyz. Any Kafka-protocol broker works."""

from __future__ import annotations

import logging
import threading
import time

from kafka import KafkaConsumer
from kafka.errors import KafkaError

log = logging.getLogger("cameoguard.broker")

_cache: dict[str, tuple[float, str | None]] = {}
_CACHE_SECONDS = 5.0
_lock = threading.Lock()
_refreshing: set[str] = set()


def probe_broker(bootstrap: str, timeout_s: float = 2.0) -> str | None:
    """None when a metadata request succeeds, else the reason. The answer is cached for a few
    seconds, and an expired answer is served while one background thread probes again: a storm
    of /readyz requests costs the broker one connection, and no request waits for a probe of a
    broker that is down (only the very first probe is waited for)."""
    cached = _cache.get(bootstrap)
    if cached is not None:
        if time.monotonic() - cached[0] >= _CACHE_SECONDS:
            with _lock:
                start = bootstrap not in _refreshing
                _refreshing.add(bootstrap)
            if start:
                threading.Thread(
                    target=_refresh, args=(bootstrap, timeout_s), name="broker-probe", daemon=True
                ).start()
        return cached[1]
    with _lock:  # the first probe: every caller waits for it, and only one runs
        cached = _cache.get(bootstrap)
        if cached is None:
            _probe(bootstrap, timeout_s)
        return _cache[bootstrap][1]


def _refresh(bootstrap: str, timeout_s: float) -> None:
    try:
        _probe(bootstrap, timeout_s)
    finally:
        with _lock:
            _refreshing.discard(bootstrap)


def _probe(bootstrap: str, timeout_s: float) -> None:
    timeout_ms = int(timeout_s * 1000)
    reason: str | None = None
    consumer = None
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap.split(","),
            request_timeout_ms=timeout_ms + 1000,
            bootstrap_timeout_ms=timeout_ms,
            connections_max_idle_ms=timeout_ms + 5000,
            metadata_max_age_ms=timeout_ms,
        )
        consumer.topics()
    except (KafkaError, OSError, ValueError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
    finally:
        if consumer is not None:
            consumer.close()
    _cache[bootstrap] = (time.monotonic(), reason)
