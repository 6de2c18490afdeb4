"""Kafka topics, message schemas, the outbox relay, the feed classifier workers and the
aggregator. Workers call `safety` and `provenance` functions."""
