"""A draft is a use too: a generation with Ana's cameo that finishes without being published is
announced to her (`likeness.used`, usage generation:<id>, state draft) when the reactions worker
reads its `generation.state`, once however often the event is delivered; a published generation
is announced as its item instead, and her own drafts tell her nothing. Real cameo, real
renders through the generator's pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assembly.reactions import all_reactions
from cameoguard.contracts import CONTENT_PUBLISHED, GENERATION_STATE, validate
from consumers.runner import reactions_handler
from generator.pipeline import Tools
from tests.generator.conftest import run_queue, submit, tools
from tests.rights.helpers import enroll_cameo, outbox

pytestmark = pytest.mark.slow
__all__ = ["tools"]


def _deliver(topic: str, times: int = 2) -> None:
    react = reactions_handler(all_reactions())
    for payload in outbox(topic) * times:
        react(topic, validate(topic, payload), {})


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_the_owner_hears_of_drafts_made_with_her_cameo(
    client: TestClient, platform: dict[str, str], tools: Tools, tmp_path: Path
) -> None:
    cameo = enroll_cameo(client, platform, tmp_path, "ana", "obama.jpg", permission="everyone")[
        "id"
    ]
    prompt = 'My friend waves from a sailboat and says "what a beautiful day"'
    draft = submit(client, platform, cameo_ids=[cameo], prompt=prompt, duration_s=3)
    published = submit(
        client, platform, cameo_ids=[cameo], prompt=prompt, duration_s=3,
        publish={"caption": "sailing"},
    )  # fmt: skip
    own = submit(
        client, platform, cameo_ids=[cameo], prompt=prompt, duration_s=3, requester_id="ana"
    )
    assert run_queue(tools) == 3
    states = {e["generation_id"]: e["state"] for e in outbox(GENERATION_STATE)}
    assert {states[j["generation_id"]] for j in (draft, published, own)} == {"done"}

    _deliver(GENERATION_STATE)
    _deliver(CONTENT_PUBLISHED)
    used = [(u["owner_id"], u["uses"][0]) for u in outbox("likeness.used")]
    assert used == [
        ("ana", {"usage": f"generation:{draft['generation_id']}", "made_by": "bob",
                 "state": "draft"}),
        ("ana", {"usage": f"item:{published['generation_id']}", "made_by": "bob",
                 "state": "published"}),
    ]  # fmt: skip
    uses = client.get(f"/v1/cameos/{cameo}/usages", params={"owner_id": "ana"}, headers=platform)
    by_usage = {u["usage"]: u["state"] for u in uses.json()["uses"]}
    assert by_usage[f"generation:{draft['generation_id']}"] == "draft"
