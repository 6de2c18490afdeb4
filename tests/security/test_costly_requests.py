"""Bounding what one request costs: image and video bombs are refused from their headers before
anything is decoded (413 with the limit, and the server's memory does not move), a request's
estimated work is charged to its key's budget (413 when one request is too costly, 429 when the
budget is spent), and heavy work runs in a bounded number of slots (503 when none frees up)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bench._abuse import jpeg_bomb
from bench._abuse import video_bomb as make_video_bomb
from cameoguard import cost
from cameoguard.errors import ApiError
from cameoguard.settings import reset_settings_cache
from safety.consent.models import get_models
from tests.conftest import auth, make_key
from tests.media_factory import make_clip

pytestmark = pytest.mark.slow


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.fixture(scope="module")
def video_bomb(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small MP4 of three 8192x8192 frames (each 200 MB once decoded to RGB)."""
    return make_video_bomb(tmp_path_factory.mktemp("bomb") / "bomb.mp4", side=8192)


@pytest.fixture
def platform(client: TestClient) -> dict[str, str]:
    get_models()  # the likeness route needs them loaded
    return auth(make_key("platform"))


def test_bombs_are_refused_from_their_headers(
    client: TestClient, platform: dict[str, str], video_bomb: bytes
) -> None:
    bomb = jpeg_bomb(8900, 8900)
    assert len(bomb) < 1000
    before = _rss_mb()
    for path in ("/v1/checks/likeness", "/v1/provenance/verify", "/v1/generations/references"):
        answer = client.post(path, content=bomb, headers=platform)
        assert answer.status_code == 413, (path, answer.text)
        error = answer.json()["error"]
        assert error["code"] == "media_too_large"
        assert error["details"]["limit_pixels"] == 25_000_000
        assert error["details"]["pixels"] == 8900 * 8900
    for path in ("/v1/checks/likeness", "/v1/provenance/verify", "/v1/media"):
        answer = client.post(path, content=video_bomb, headers=platform)
        assert answer.status_code == 413, (path, answer.text)
        assert answer.json()["error"]["details"]["limit_pixels"] == 3840 * 2160
    assert _rss_mb() - before < 100  # one decoded frame alone would be 200 MB


def test_a_request_is_charged_to_its_keys_work_budget(
    client: TestClient, platform: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = make_clip(tmp_path / "clip.mp4", seconds=10.0, width=640, height=360).read_bytes()
    monkeypatch.setenv("CAMEOGUARD_WORK_BUDGET_BURST_MS", "300")
    reset_settings_cache()
    cost.reset_costs()
    too_costly = client.post("/v1/checks/likeness", content=clip, headers=platform)
    assert too_costly.status_code == 413, too_costly.text
    assert too_costly.json()["error"]["code"] == "request_too_costly"
    assert too_costly.json()["error"]["details"]["limit_ms"] == 300

    monkeypatch.setenv("CAMEOGUARD_WORK_BUDGET_BURST_MS", "2000")
    monkeypatch.setenv("CAMEOGUARD_WORK_BUDGET_MS_PER_MINUTE", "600")
    reset_settings_cache()
    cost.reset_costs()
    assert client.post("/v1/checks/likeness", content=clip, headers=platform).status_code == 200
    spent = client.post("/v1/checks/likeness", content=clip, headers=platform)
    assert spent.status_code == 429 and int(spent.headers["retry-after"]) >= 1
    other = auth(make_key("platform", name="other tenant"))
    assert client.post("/v1/checks/likeness", content=clip, headers=other).status_code == 200
    cost.reset_costs()


def test_heavy_work_waits_in_bounded_slots(monkeypatch: pytest.MonkeyPatch, database: str) -> None:
    monkeypatch.setenv("CAMEOGUARD_HEAVY_WORK_SLOTS", "1")
    monkeypatch.setenv("CAMEOGUARD_HEAVY_WORK_WAIT_S", "0.2")
    reset_settings_cache()
    cost.reset_costs()

    async def two_at_once() -> list[object]:
        def slow() -> str:
            time.sleep(1.0)
            return "done"

        first = asyncio.create_task(cost.run_costly("k1", 10, slow))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(cost.run_costly("k2", 10, slow))
        return await asyncio.gather(first, second, return_exceptions=True)

    first, second = asyncio.run(two_at_once())
    assert first == "done"
    assert isinstance(second, ApiError) and second.status == 503 and second.code == "busy"
    assert second.headers and int(second.headers["Retry-After"]) >= 1
    cost.reset_costs()
