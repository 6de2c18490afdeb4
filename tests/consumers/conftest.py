"""The real broker for the feed tests (scripts/test.sh starts one and sets the variable)."""

from __future__ import annotations

import os

import pytest
from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord


@pytest.fixture
def bootstrap() -> str:
    value = os.environ.get("CAMEOGUARD_TEST_KAFKA_BOOTSTRAP")
    if not value:
        if os.environ.get("CI"):
            pytest.fail("CI must run the broker tests: CAMEOGUARD_TEST_KAFKA_BOOTSTRAP is unset")
        pytest.skip("no broker: use scripts/test.sh")
    return value


def read_topic(topic: str, bootstrap: str, wait_ms: int = 3000) -> list[ConsumerRecord]:
    """Everything in `topic` from the beginning, without joining a group."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap.split(","),
        group_id=None,
        auto_offset_reset="earliest",
        consumer_timeout_ms=wait_ms,
    )
    try:
        return list(consumer)
    finally:
        consumer.close()
