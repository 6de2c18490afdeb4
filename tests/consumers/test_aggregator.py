"""The feed policy and the aggregator: decisions from risk scores, idempotent on replay, a new
version when the inputs change, and a broken policy refused with its line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from cameoguard.contracts import CONTENT_DECISIONS
from cameoguard.db import session_scope
from cameoguard.events import OutboxEvent
from consumers.aggregator import aggregate
from consumers.feed_policy import FeedPolicy, decide, load_feed_policy
from consumers.tables import FeedScore
from safety.policy.pack import PackError


def test_the_shipped_policy_loads_and_decides() -> None:
    policy = load_feed_policy()
    assert policy.require is None  # every registered signal
    assert sorted(policy.required) == ["deepfake", "harassment", "hashbank", "minors"]
    calm = decide(policy, {"deepfake": 0.1, "minors": 0.1, "harassment": 0.2})
    assert calm.action == "publish" and calm.priority is None
    teen = decide(policy, {"deepfake": 0.1, "minors": 0.4, "harassment": 0.2})
    assert teen.action == "age_restrict"
    mean = decide(policy, {"deepfake": 0.1, "minors": 0.4, "harassment": 0.6})
    assert mean.action == "review" and mean.priority == 2 and len(mean.reasons) == 2
    fake = decide(policy, {"deepfake": 0.95, "minors": 0.7, "harassment": 0.6})
    assert fake.action == "remove" and fake.priority == 1
    assert any("deepfake risk 0.95 >= remove 0.90 (feed-default@1)" in r for r in fake.reasons)


def test_a_broken_policy_is_refused_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "feed.yaml"
    bad.write_text(
        "id: x\nversion: 1\nrequire: [harassment]\nclassifiers:\n"
        "  harassment:\n    review: 0.8\n    remove: 0.5\n    priority: 2\n"
    )
    with pytest.raises(PackError, match="remove must be at least review") as info:
        load_feed_policy(bad)
    assert info.value.line == 6
    bad.write_text("id: x\nversion: 1\nrequire: [nudity]\nclassifiers: {}\n")
    with pytest.raises(PackError, match="unknown signal"):
        load_feed_policy(bad)


def _score(item: str, classifier: str, risk: float, version: str = "v1") -> None:
    with session_scope(write=True) as session:
        session.add(
            FeedScore(item_id=item, classifier=classifier, version=version, scores={"risk": risk})
        )


def test_aggregator_waits_decides_once_and_versions_new_inputs(database: str) -> None:
    policy = FeedPolicy.model_validate(
        {
            "id": "t",
            "version": 3,
            "require": ["harassment", "minors"],
            "classifiers": {
                "harassment": {"review": 0.5, "remove": 0.9, "priority": 2},
                "minors": {"age_restrict": 0.3, "review": 0.6, "priority": 1},
            },
        }
    )
    _score("item1", "harassment", 0.7)
    assert aggregate(policy, "item1") is None  # minors has not scored yet
    _score("item1", "minors", 0.1)
    first = aggregate(policy, "item1")
    assert first is not None and first.action == "review" and first.decision_version == 1
    assert aggregate(policy, "item1") is None  # a replay: nothing new
    _score("item1", "harassment", 0.95, version="v2")  # a rescore with a new model
    second = aggregate(policy, "item1")
    assert second is not None and second.action == "remove" and second.decision_version == 2
    with session_scope() as session:
        events = session.scalars(
            select(OutboxEvent).where(OutboxEvent.topic == CONTENT_DECISIONS)
        ).all()
        assert [(e.payload["decision_version"], e.payload["action"]) for e in events] == [
            (1, "review"),
            (2, "remove"),
        ]


def test_revoked_consent_takes_down_items_that_used_the_cameo(database: str) -> None:
    from cameoguard.contracts import ConsentRevoked
    from consumers.aggregator import apply_revocation

    policy = load_feed_policy()
    with session_scope(write=True) as session:
        session.add_all(
            [
                FeedScore(item_id="used", classifier="deepfake", version="v1",
                          scores={"risk": 0.05}, cameos_seen=["cam_a"]),
                FeedScore(item_id="matched", classifier="minors", version="v1",
                          scores={"risk": 0.05}, cameos_seen=["cam_b", "cam_a"]),
                FeedScore(item_id="other", classifier="deepfake", version="v1",
                          scores={"risk": 0.0}, cameos_seen=["cam_b"]),
            ]
        )  # fmt: skip
    event = ConsentRevoked(
        cameo_id="cam_a",
        cameo_version=3,
        reason="revoked",
        status="revoked",
        permission="only_me",
        approved_user_ids=[],
        at=datetime.now(UTC),
    )
    made = apply_revocation(policy, event)
    assert sorted(d.item_id for d in made) == ["matched", "used"]
    assert all(d.action == "remove" and "cam_a" in d.reasons[0] for d in made)
    assert apply_revocation(policy, event) == []  # a replay changes nothing
    narrowed = event.model_copy(update={"reason": "permissions_changed", "cameo_version": 4})
    assert {d.action for d in apply_revocation(policy, narrowed)} == {"review"}
