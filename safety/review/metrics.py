"""Review-queue figures on `/metrics`, read from the database at scrape time: queue depth and
the age of the oldest case per queue, and decisions in the last hour."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from cameoguard.db import session_scope
from safety.review.queue import queue_stats
from safety.review.routing import review_policy


class ReviewQueueCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        try:
            with session_scope() as session:
                stats = queue_stats(session, review_policy())
        except SQLAlchemyError:
            return  # the database is down: /readyz says so; the scrape still answers
        depth = GaugeMetricFamily(
            "cameoguard_review_queue_depth", "Undecided review cases", labels=["queue", "status"]
        )
        oldest = GaugeMetricFamily(
            "cameoguard_review_oldest_case_age_seconds",
            "Age of the oldest undecided case",
            labels=["queue"],
        )
        for entry in stats.queues:
            depth.add_metric([entry.name, "open"], entry.open)
            depth.add_metric([entry.name, "claimed"], entry.claimed)
            oldest.add_metric([entry.name], entry.oldest_age_s)
        yield depth
        yield oldest
        yield GaugeMetricFamily(
            "cameoguard_review_decisions_last_hour",
            "Reviewers' decisions in the last hour",
            value=stats.decisions_last_hour,
        )


_registered = False


def register() -> None:
    """Adds the collector to the default registry once per process."""
    global _registered
    if not _registered:
        REGISTRY.register(ReviewQueueCollector())
        _registered = True
