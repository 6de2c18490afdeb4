"""The visible mark: readable text with the creator's handle, moving between corners, and the
invisible watermark still decodes under it."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from provenance.marking import mark_file
from provenance.visible_mark import GLIDE_SECONDS, HOLD_SECONDS, MarkRenderer, mark_text
from provenance.watermark.video import detect_video
from tests.media_factory import make_clip


def test_mark_text_is_cleaned() -> None:
    assert mark_text("cameoguard", "@ana") == "cameoguard · @ana"
    assert mark_text("cameoguard", "a\u200bn\u202ea\n") == "cameoguard · @ana"
    assert mark_text("cameoguard", None) == "cameoguard"
    assert len(mark_text("x", "y" * 500)) == len("x · @") + 40


def test_badge_moves_between_corners() -> None:
    renderer = MarkRenderer.build("cameoguard · @ana", 640, 360)
    first, second = renderer.position(1.0), renderer.position(HOLD_SECONDS + GLIDE_SECONDS + 1)
    assert first[0] < 100 and first[1] < 60  # top left
    assert second[0] > 400 and second[1] > 250  # bottom right
    gliding = renderer.position(HOLD_SECONDS + GLIDE_SECONDS / 2)
    assert first[0] < gliding[0] < second[0]
    h, w = renderer.alpha.shape
    assert 10 < h < 40 and w > 100 and renderer.alpha.max() > 0.5


def _frame_at(path: Path, t: float) -> np.ndarray:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= t:
                return frame.to_ndarray(format="rgb24").astype(np.int16)
    raise AssertionError("no frame")


def test_marked_clip_shows_the_badge_and_keeps_the_watermark(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "src.mp4", seconds=10.0, width=640, height=360, seed=4)
    marked = tmp_path / "marked.mp4"
    mark_file(source, marked, b"k" * 32, 0xC0FFEE, visible_text="cameoguard · @ana")
    renderer = MarkRenderer.build("cameoguard · @ana", 640, 360)
    h, w = renderer.alpha.shape
    for t in (1.0, HOLD_SECONDS + GLIDE_SECONDS + 1.0):
        x, y = renderer.position(t)
        diff = np.abs(_frame_at(marked, t) - _frame_at(source, t)).mean(axis=2)
        inside = diff[y : y + h, x : x + w].mean()
        outside = np.delete(diff, np.s_[y : y + h], axis=0).mean()
        assert inside > 20 and outside < 3, (t, inside, outside)
    result = detect_video(marked, b"k" * 32)
    assert result.whole.found and result.whole.identifier == 0xC0FFEE
