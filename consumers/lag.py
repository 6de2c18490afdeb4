"""Consumer lag as the broker sees it: for each partition of a group's topics, the high watermark
minus the offset the group has committed.

Committed offsets come from the group coordinator (OffsetFetch). The high watermark comes from a
fetch: a probe consumer outside the group reads each partition at the group's committed offset
and takes the watermark from the fetch response; it commits nothing and joins no group, so it
disturbs no one. (ListOffsets would be the usual way to learn the log end, but the embedded
broker answers it wrongly, and a fetch response's watermark is what consumers act on anyway.)
A partition the group never committed counts from the start of its log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: the group never committed here
    high_watermark: int

    @property
    def lag(self) -> int:
        return max(0, self.high_watermark - (self.committed or 0))


def group_lag(
    bootstrap: str, group: str, topics: list[str], timeout_s: float = 10.0
) -> list[PartitionLag]:
    """Lag of `group` on every partition of `topics`. Raises TimeoutError when the broker does
    not report a watermark for every partition in time."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id=f"lag-{group}")
    probe = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        client_id=f"lag-probe-{group}",
        fetch_max_wait_ms=100,
    )
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(probe.partitions_for_topic(topic) or ())
        ]
        committed_offsets = admin.list_group_offsets({group: partitions}).get(group, {})
        committed: dict[TopicPartition, int | None] = {}
        for tp in partitions:
            meta = committed_offsets.get(tp)
            committed[tp] = meta.offset if meta is not None and meta.offset >= 0 else None
        probe.assign(partitions)
        for tp in partitions:
            offset = committed[tp]
            if offset is None:
                probe.seek_to_beginning(tp)
            else:
                probe.seek(tp, offset)
        deadline = time.monotonic() + timeout_s
        while any(probe.highwater(tp) is None for tp in partitions):
            if time.monotonic() > deadline:
                missing = [
                    f"{tp.topic}/{tp.partition}" for tp in partitions if probe.highwater(tp) is None
                ]
                raise TimeoutError(f"no high watermark from the broker for {missing}")
            probe.poll(timeout_ms=200, max_records=1)
        return [
            PartitionLag(tp.topic, tp.partition, committed[tp], int(probe.highwater(tp) or 0))
            for tp in partitions
        ]
    finally:
        probe.close()
        admin.close()


def total_lag(lags: list[PartitionLag]) -> int:
    return sum(p.lag for p in lags)
