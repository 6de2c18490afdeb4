"""A likeness check decodes the media and runs the face and voice models in a heavy-work
process (their Python glue would hold the API process's GIL), then matches in the API process.
What the worker refuses reaches the caller as the same refusal, and the report is the same as
analysing in the API process."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cameoguard import process_pool
from cameoguard.errors import Refusal, RefusalKind
from safety.consent import likeness
from safety.consent.models import get_models
from safety.media import MediaError
from tests.conftest import auth, make_key

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"


def test_a_refusal_survives_the_trip_between_processes() -> None:
    refused = pickle.loads(
        pickle.dumps(MediaError("too big", RefusalKind.too_large, {"limit_pixels": 5}))
    )
    assert isinstance(refused, MediaError) and str(refused) == "too big"
    assert (refused.kind, refused.code, refused.details) == (
        RefusalKind.too_large,
        "media_too_large",
        {"limit_pixels": 5},
    )
    outage = pickle.loads(pickle.dumps(Refusal(RefusalKind.unavailable, "down", "later", None, 3)))
    assert (outage.code, outage.retry_after_s, outage.retryable) == ("down", 3, True)


@pytest.mark.slow
def test_likeness_is_analysed_in_a_worker_process(client: TestClient, tmp_path: Path) -> None:
    models = get_models()
    key = auth(make_key("platform"))
    photo = FACES / "biden.jpg"
    answer = client.post("/v1/checks/likeness", content=photo.read_bytes(), headers=key)
    assert answer.status_code == 200, answer.text
    executor = process_pool.pool()
    assert executor is not None and executor._processes  # type: ignore[union-attr]
    here = likeness.likeness(photo, models, requester_id=None)
    report = answer.json()
    assert report["summary"]["faces_found"] == here.summary.faces_found == 1
    assert report["media"] == here.media.model_dump()
    assert report["faces"][0]["box"] == here.faces[0].box

    truncated = photo.read_bytes()[:2000]  # the header reads, the pixels do not
    refused = client.post("/v1/checks/likeness", content=truncated, headers=key)
    assert refused.status_code in (400, 415, 422), refused.text
    assert refused.json()["error"]["code"] == "bad_media"
    again = client.post("/v1/checks/likeness", content=photo.read_bytes(), headers=key)
    assert again.status_code == 200  # the worker lived through it
