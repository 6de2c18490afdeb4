"""Adding a feed signal is one new file (`shouting_signal.py`) plus one registry line: the new
signal is then run by the scoring workers, known to the feed policy (with its own default
thresholds), decided on by the reactions worker, and shown to the reviewer who gets the case."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from assembly.reactions import all_reactions, consumer_groups
from cameoguard.contracts import CONTENT_PUBLISHED, CONTENT_SCORES, validate
from cameoguard.db import session_scope
from cameoguard.events import OutboxEvent
from consumers.runner import reactions_handler
from consumers.signals import registry
from tests.conftest import auth, make_key
from tests.consumers.shouting_signal import ShoutingSignal
from tests.feed import scorer
from tests.review.conftest import publish

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_new_signal_is_scored_decided_and_shown_to_a_reviewer(
    client: TestClient, platform_key: str, clip_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.SIGNALS, ShoutingSignal.name, ShoutingSignal)  # the one line
    assert consumer_groups()["shouting"] == [CONTENT_PUBLISHED]

    publish(client, platform_key, clip_bytes, "it_loud", caption="WHAT A DAY AT THE BEACH")
    with session_scope() as session:
        published = session.query(OutboxEvent).filter_by(topic=CONTENT_PUBLISHED).one().payload
    scorer(*registry.SIGNALS)(CONTENT_PUBLISHED, validate(CONTENT_PUBLISHED, published), {})
    react = reactions_handler(all_reactions())
    with session_scope() as session:
        scored = session.query(OutboxEvent).filter_by(topic=CONTENT_SCORES).all()
        payloads = [e.payload for e in scored]
    assert sorted(p["classifier"] for p in payloads) == sorted(registry.SIGNALS)
    for payload in payloads:
        react(CONTENT_SCORES, validate(CONTENT_SCORES, payload), {})

    item = client.get("/v1/feed/items/it_loud", headers=auth(platform_key)).json()
    assert item["state"] == "in_review"
    assert any("shouting risk 1.00 >= review 0.60" in r for r in item["state_reasons"])
    case = client.post("/v1/review/claims", headers=auth(make_key("reviewer"))).json()["case"]
    assert case["item_id"] == "it_loud" and "shouting" in case["signals"]
    shown = case["snapshot"]["scores"]["shouting"]
    assert shown["scores"]["capitals"] == 1.0 and shown["version"] == "shouting-v1"
    assert shown["evidence"] == [{"kind": "caption_style", "letters": 18}]
