"""Reachability of the configured Kafka cluster, for /readyz. Any Kafka-protocol broker works."""

from __future__ import annotations

import logging
import time

from kafka import KafkaConsumer
from kafka.errors import KafkaError

log = logging.getLogger("cameoguard.broker")

_cache: dict[str, tuple[float, str | None]] = {}
_CACHE_SECONDS = 5.0


def probe_broker(bootstrap: str, timeout_s: float = 2.0) -> str | None:
    """None when a metadata request succeeds, else the reason. Cached for a few seconds so that
    a probe storm on /readyz does not turn into a connection storm on the broker."""
    now = time.monotonic()
    cached = _cache.get(bootstrap)
    if cached is not None and now - cached[0] < _CACHE_SECONDS:
        return cached[1]
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
    return reason
