"""Deciding a likeness claim is atomic: two rights reviewers accepting the same claim at the same
moment (two threads, PostgreSQL) apply it once: one gets the accepted claim, the other a clear
conflict (`claim_decided`), and the protected bank, the prompt gate's names and the audit log
hold it once. A decision that fails on the way (the claim's media has no face) gives the claim
back: it is pending again and can be decided. Real photos and models."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from cameoguard.audit.tables import AuditEntry
from cameoguard.db import session_scope
from cameoguard.errors import Refusal
from rights import claims
from safety.consent.models import LikenessModels
from safety.consent.tables import ProtectedPerson
from safety.policy.named_people import NamedPerson
from tests.conftest import auth, make_key
from tests.rights.test_claims import claim

pytestmark = pytest.mark.slow


def _count(model, column, value: str) -> int:  # type: ignore[no-untyped-def]
    with session_scope() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(column == value)))


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_two_accepts_at_once_apply_the_claim_once(
    client: TestClient, platform: dict[str, str], models: LikenessModels
) -> None:
    pending = claim(client, platform, "opt_out", "obama2.jpg")
    start = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def accept(reviewer: str) -> None:
        start.wait()
        try:
            outcomes[reviewer] = claims.decide(
                pending["id"], True, "verified", reviewer, {"rights"}, models
            )
        except claims.ClaimError as exc:
            outcomes[reviewer] = exc

    threads = [threading.Thread(target=accept, args=(r,)) for r in ("rita", "ravi")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    views = [o for o in outcomes.values() if isinstance(o, claims.ClaimView)]
    errors = [o for o in outcomes.values() if isinstance(o, claims.ClaimError)]
    assert len(views) == 1 and len(errors) == 1, outcomes
    assert views[0].status == "accepted" and views[0].reviewer in ("rita", "ravi")
    assert errors[0].code == "claim_decided" and errors[0].kind.value == "conflict"
    source = f"claim:{pending['id']}"
    assert _count(ProtectedPerson, ProtectedPerson.source, source) == 1
    assert _count(NamedPerson, NamedPerson.source, source) == 2  # the name and its alias
    assert _count(AuditEntry, AuditEntry.action, "likeness.claim.accepted") == 1
    # Through the route, the loser's answer is a 409 that says so.
    rights = auth(make_key("reviewer", roles=["rights"], name="late-reviewer"))
    late = client.post(
        f"/v1/likeness/claims/{pending['id']}/decision",
        json={"decision": "reject", "reason": "too late"}, headers=rights,
    )  # fmt: skip
    assert late.status_code == 409 and late.json()["error"]["code"] == "claim_decided"


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_decision_that_fails_gives_the_claim_back(
    client: TestClient, platform: dict[str, str], models: LikenessModels, tmp_path: Path
) -> None:
    noise = np.random.default_rng(3).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "PNG")
    pending = client.post(
        "/v1/likeness/claims",
        data={"person_name": "Nobody Atall", "claimant_id": "agent-x", "claimant_role": "agent",
              "evidence": "a contract signed in 2021", "policy": "opt_out"},
        files=[("files", ("noise.png", buffer.getvalue(), "image/png"))], headers=platform,
    )  # fmt: skip
    assert pending.status_code == 201, pending.text
    claim_id = pending.json()["id"]
    with pytest.raises(Refusal) as failed:
        claims.decide(claim_id, True, "looks fine", "rita", {"rights"}, models)
    assert failed.value.code == "no_face"
    assert claims.get_claim(claim_id).status == "pending"
    rejected = claims.decide(claim_id, False, "no usable media", "rita", {"rights"}, models)
    assert rejected.status == "rejected" and rejected.reviewer == "rita"
