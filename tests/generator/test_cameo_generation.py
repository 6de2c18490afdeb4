"""Generations with a real enrolled cameo (face photo turned into a speaking selfie, enrolled
through the API with the face image stored on the owner's opt-in): the renderer composites the
face, the output scan finds it and matches it to the cameo with consent; a reference photo of
somebody else's enrolled face blocks the job before anything is rendered."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from generator.pipeline import Tools
from provenance.verify import verify_file
from tests.consent.conftest import FACES
from tests.generator.conftest import enroll, job, run_queue, submit


@pytest.mark.slow
def test_a_consented_cameo_is_composited_and_recognised(
    client: TestClient, platform: dict[str, str], tools: Tools, tmp_path: Path
) -> None:
    cameo = enroll(
        client, platform, tmp_path, "ana", "obama.jpg",
        permission="approved", approved_user_ids='["bob"]', store_face_image="true",
    )  # fmt: skip
    created = submit(
        client, platform, cameo_ids=[cameo],
        prompt='My friend waves from a sailboat and says "what a beautiful day on the water"',
    )  # fmt: skip
    run_queue(tools)
    done = job(client, platform, created["generation_id"])
    assert done["state"] == "done", done
    steps = {s["step"]: s["details"] for s in done["steps"]}
    assert steps["consent_check"]["decision"] == "allow" and done["grant_ids"]
    assert steps["render"]["cameo_faces_composited"] == [cameo]
    matched = {m["id"]: m["consent"] for f in steps["output_scan"]["faces"] for m in f["matches"]}
    assert matched == {cameo: "granted"}
    usages = client.get(f"/v1/cameos/{cameo}/usages", params={"owner_id": "ana"}, headers=platform)
    assert [g["generation_id"] for g in usages.json()["generations"]] == [created["generation_id"]]

    # Once the owner revokes the cameo, its media is no longer served and verify says so.
    media = client.get(f"/v1/generations/{created['generation_id']}/media", headers=platform)
    assert media.status_code == 200
    clip = tmp_path / "downloaded.mp4"
    clip.write_bytes(media.content)
    before = verify_file(clip, full_record=True, thorough=False)
    assert before["record"]["consent"] == {"state": "in_force"}
    revoked = client.delete(f"/v1/cameos/{cameo}", params={"owner_id": "ana"}, headers=platform)
    assert revoked.status_code == 200, revoked.text
    gone = client.get(f"/v1/generations/{created['generation_id']}/media", headers=platform)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "consent_withdrawn"
    after = verify_file(clip, full_record=True, thorough=False)
    assert after["record"]["consent"]["withdrawn"] == {cameo: "revoked"}
    assert "WITHDRAWN" in after["verdict"]
    for_platform = verify_file(clip, full_record=False, thorough=False)["record"]["consent"]
    assert for_platform == {"state": "withdrawn", "withdrawn_count": 1}


@pytest.mark.slow
def test_a_reference_photo_of_someone_else_blocks_the_job(
    client: TestClient, platform: dict[str, str], tools: Tools, tmp_path: Path
) -> None:
    enroll(client, platform, tmp_path, "joe", "biden.jpg", permission="only_me")
    reference = client.post(
        "/v1/generations/references",
        content=(FACES / "biden.jpg").read_bytes(),
        headers={**platform, "content-type": "application/octet-stream"},
    )
    assert reference.status_code == 201 and reference.json()["kind"] == "image"
    created = submit(
        client, platform, prompt="a man gives a speech",
        reference_location=reference.json()["reference_location"],
    )  # fmt: skip
    run_queue(tools)
    blocked = job(client, platform, created["generation_id"])
    assert blocked["state"] == "blocked"
    assert blocked["steps"][-1]["step"] == "reference_check"
    assert "without consent" in blocked["reason"]
