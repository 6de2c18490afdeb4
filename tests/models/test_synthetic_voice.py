"""The synthetic-voice scorer: its committed model, its features and its scores on real and
synthesised speech (a sanity check: the evaluation is bench/identity_quality.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from safety.media import load_media
from safety.models.synthetic_voice import (
    MODEL_PATH,
    load_model,
    synthetic_voice_score,
    voice_features,
)
from tests.media_factory import speech

VOICES = Path(__file__).parents[1] / "data" / "voices"


def test_the_committed_model_is_small_and_says_what_it_was_trained_on() -> None:
    assert MODEL_PATH.stat().st_size < 100_000
    model = load_model()
    n = model["features"]
    assert len(model["mean"]) == len(model["scale"]) == len(model["coef"]) == n
    assert len(model["training"]["data_sha256"]) == 64
    assert 0.5 < model["test"]["auc"] <= 1.0
    assert voice_features(speech("one two three four five six seven")).shape == (n,)


def test_features_need_sound() -> None:
    with pytest.raises(ValueError):
        voice_features(np.zeros(32_000, np.float32))
    with pytest.raises(ValueError):
        voice_features(np.ones(8_000, np.float32) * 0.1)  # half a second
    features = voice_features(speech("the quick brown fox jumps over the lazy dog"))
    assert np.isfinite(features).all()


def test_synthetic_speech_scores_above_a_real_reader() -> None:
    fake = [
        synthetic_voice_score(speech(text, voice))
        for text, voice in [
            ("please confirm that this is really my own voice today", "en-us"),
            ("the weather changed quickly after lunch in the hills", "en-gb+f3"),
        ]
    ]
    real = []
    for name in ("librivox_austen_0870.wav", "librivox_austen_0920.wav"):
        audio = load_media(VOICES / name, max_seconds=60).audio
        assert audio is not None
        real.append(synthetic_voice_score(audio))
    assert all(0.0 <= s <= 1.0 for s in fake + real)
    assert min(fake) > 0.5 > max(real), (fake, real)
