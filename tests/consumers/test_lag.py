"""Consumer lag read from the broker (committed offsets against the high watermark), through
`consumers.lag` and `cameoguard worker lag`."""

from __future__ import annotations

import json
import uuid

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from typer.testing import CliRunner

from assembly.cli import app
from consumers.lag import group_lag, total_lag

pytestmark = pytest.mark.kafka


def _consume(bootstrap: str, group: str, topic: str, count: int) -> None:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=count,
    )
    consumer.subscribe([topic])
    taken = 0
    while taken < count:
        for records in consumer.poll(timeout_ms=1000, max_records=count - taken).values():
            taken += len(records)
    consumer.commit()
    consumer.close()


def _topic_holding(bootstrap: str, topic: str, partitions: int, messages: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, partitions, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for n in range(messages):
        producer.send(topic, key=str(n).encode(), value=b"{}")
    producer.flush()
    producer.close()


def test_lag_follows_what_the_group_committed(bootstrap: str) -> None:
    topic, group = f"lag-{uuid.uuid4().hex[:8]}", f"lag-group-{uuid.uuid4().hex[:8]}"
    _topic_holding(bootstrap, topic, partitions=3, messages=30)

    before = group_lag(bootstrap, group, [topic])
    assert [p.committed for p in before] == [None, None, None]
    assert total_lag(before) == 30

    _consume(bootstrap, group, topic, 10)
    assert total_lag(group_lag(bootstrap, group, [topic])) == 20

    _consume(bootstrap, group, topic, 20)
    after = group_lag(bootstrap, group, [topic])
    assert total_lag(after) == 0
    assert sum(p.high_watermark for p in after) == 30


def test_the_cli_reports_a_worker_group(bootstrap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = f"t{uuid.uuid4().hex[:6]}."
    monkeypatch.setenv("CAMEOGUARD_KAFKA_TOPIC_PREFIX", prefix)
    from cameoguard.settings import reset_settings_cache

    reset_settings_cache()
    topic = prefix + "content.published"
    _topic_holding(bootstrap, topic, partitions=2, messages=4)
    try:
        result = CliRunner().invoke(
            app, ["worker", "lag", "--group", "minors", "--bootstrap", bootstrap, "--json"]
        )
    finally:
        reset_settings_cache()
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["topic"] for r in rows} == {topic}
    assert sum(r["lag"] for r in rows) == 4
