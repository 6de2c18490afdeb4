"""The outbox relay against the real broker: rows reach their topic once acknowledged, keyed and
with their event id; a row that fails its schema goes to the dead-letter topic."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from cameoguard.contracts import CONSENT_REVOKED, dead_letter_topic, validate
from cameoguard.db import session_scope
from cameoguard.events import OutboxEvent, emit
from consumers.relay import OutboxRelay, make_producer, pending_count, wait_until_drained
from tests.consumers.conftest import read_topic


def _revoked(cameo_id: str) -> dict:
    return {
        "schema_version": 1,
        "cameo_id": cameo_id,
        "cameo_version": 2,
        "reason": "revoked",
        "status": "revoked",
        "permission": "only_me",
        "approved_user_ids": [],
        "at": datetime.now(UTC).isoformat(),
    }


def test_schemas_refuse_bad_payloads() -> None:
    assert validate(CONSENT_REVOKED, _revoked("cam_1")).cameo_id == "cam_1"
    with pytest.raises(ValidationError):
        validate(CONSENT_REVOKED, {**_revoked("cam_1"), "extra": 1})
    with pytest.raises(ValidationError):
        validate(CONSENT_REVOKED, {**_revoked("cam_1"), "schema_version": 2})
    with pytest.raises(ValueError, match="unknown topic"):
        validate("nope", {})


def _read(topic: str, bootstrap: str, keys: set[str]) -> list:
    return [m for m in read_topic(topic, bootstrap) if m.key and m.key.decode() in keys]


@pytest.mark.kafka
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_relay_publishes_acknowledged_rows_in_order(database: str, bootstrap: str) -> None:
    ids = [f"cam_{uuid.uuid4().hex[:12]}" for _ in range(3)]
    with session_scope(write=True) as session:
        for cameo_id in ids:
            emit(session, CONSENT_REVOKED, cameo_id, _revoked(cameo_id))
        emit(session, CONSENT_REVOKED, "cam_broken", {"cameo_id": "cam_broken"})
    assert pending_count() == 4
    producer = make_producer(bootstrap)
    relay = OutboxRelay(producer)
    assert wait_until_drained(relay)
    producer.close()
    assert pending_count() == 0 and relay.published == 4 and relay.dead_lettered == 1

    messages = _read(CONSENT_REVOKED, bootstrap, set(ids))
    assert sorted(m.key.decode() for m in messages) == sorted(ids)
    for message in messages:
        body = json.loads(message.value)
        assert body["cameo_id"] == message.key.decode() and body["schema_version"] == 1
        assert dict(message.headers)["event-id"]
    dead = _read(dead_letter_topic("relay"), bootstrap, {"cam_broken"})
    assert dead and "cameo_version" in json.loads(dead[0].value)["error"]
    with session_scope() as session:
        rows = session.scalars(select(OutboxEvent)).all()
        assert all(r.published_at is not None for r in rows)
