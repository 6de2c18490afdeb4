"""The pure scoring functions: templates, cohort s-norm, the face quality gate, and the bench's
verification metrics."""

from __future__ import annotations

import numpy as np
import pytest

from bench._identity_metrics import auc, eer, fnmr_at_fmr, rates
from safety.models.scoring import (
    face_quality_issue,
    pose,
    sharpness,
    snorm,
    snorm_matrix,
    template,
)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_template_is_the_weighted_unit_mean() -> None:
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert np.allclose(template([a, b]), _unit(np.array([1.0, 1.0])))
    assert np.allclose(template([a, b], [3, 1]), _unit(np.array([3.0, 1.0])))
    assert np.allclose(template([a, b], [1, 0]), a)  # weight 0: ignored
    assert np.allclose(template([2 * a]), a)  # inputs are normalised first
    assert template([a, b]).dtype == np.float32


@pytest.mark.parametrize(
    ("embeddings", "weights"),
    [(np.zeros((0, 2)), None), ([[1.0, 0.0]], [-1.0]), ([[1.0, 0.0]], [0.0]), ([[1, 0]], [1, 1])],
)
def test_template_refuses_bad_input(embeddings, weights) -> None:
    with pytest.raises(ValueError):
        template(np.asarray(embeddings, dtype=float), weights)


def test_template_of_noisy_samples_is_closer_to_the_person() -> None:
    rng = np.random.default_rng(0)
    person = _unit(rng.normal(size=64))
    samples = _unit(person + 0.8 * rng.normal(size=(5, 64)))
    single = float(samples[0] @ person)
    assert float(template(samples) @ person) > single


def test_snorm_centres_on_the_cohort() -> None:
    rng = np.random.default_rng(1)
    cohort = _unit(rng.normal(size=(200, 32)))
    enroll, probe = _unit(rng.normal(size=32)), _unit(rng.normal(size=32))
    stranger = float(enroll @ probe)
    assert abs(snorm(stranger, enroll, probe, cohort, top_k=200)) < 3.5
    same = _unit(enroll + 0.1 * rng.normal(size=32))
    assert snorm(float(enroll @ same), enroll, same, cohort) > 5
    matrix = snorm_matrix(np.stack([enroll, same]), np.stack([probe, same]), cohort, top_k=50)
    assert matrix.shape == (2, 2)
    assert matrix[1, 1] == pytest.approx(snorm(float(same @ same), same, same, cohort, 50), 1e-4)
    assert matrix[0, 0] == pytest.approx(snorm(stranger, enroll, probe, cohort, 50), 1e-4)
    with pytest.raises(ValueError):
        snorm(0.5, enroll, probe, cohort[:1])


def _face_image(blur: bool = False, brightness: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(2)
    squares = (np.indices((200, 200)) // 25).sum(axis=0) % 2  # large shapes survive a blur
    texture = 90 + 80 * squares + rng.normal(0, 25, size=(200, 200))
    if blur:
        for _ in range(40):  # a box blur, repeated
            texture = (
                np.roll(texture, 1, 0)
                + np.roll(texture, -1, 0)
                + np.roll(texture, 1, 1)
                + np.roll(texture, -1, 1)
                + texture
            ) / 5
    rgb = np.repeat(texture[..., None], 3, axis=2) * brightness
    return np.clip(rgb, 0, 255).astype(np.uint8)


FRONTAL = np.array([[140, 80], [120, 80], [60, 80], [80, 80], [100, 120]], dtype=float)


def test_face_quality_gate_reasons() -> None:
    box = (20, 20, 180, 180)
    assert face_quality_issue(_face_image(), box, FRONTAL) is None
    assert face_quality_issue(_face_image(), (20, 20, 60, 60)) == "face_too_small"
    assert face_quality_issue(_face_image(brightness=0.2), box) == "face_too_dark"
    assert face_quality_issue(_face_image(brightness=3.0), box) == "face_overexposed"
    flat = np.full((200, 200, 3), 128, np.uint8)
    assert face_quality_issue(flat, box) == "face_low_contrast"
    assert face_quality_issue(_face_image(blur=True), box) == "face_blurred"
    assert sharpness(_face_image(blur=True), box) < sharpness(_face_image(), box)
    turned = FRONTAL.copy()
    turned[4] = [135, 120]  # the nose far to one side of the eyes' midpoint
    assert face_quality_issue(_face_image(), box, turned) == "face_turned_away"
    angle = np.radians(40)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    tilted = (FRONTAL - 100) @ rotation.T + 100
    assert abs(pose(tilted)[1]) == pytest.approx(40, abs=0.5)
    assert face_quality_issue(_face_image(), box, tilted) == "face_tilted"


def test_metrics_on_known_scores() -> None:
    genuine = np.array([0.9, 0.8, 0.7, 0.4])
    impostor = np.array([0.1, 0.2, 0.3, 0.75])
    rate, threshold = eer(genuine, impostor)
    assert rate == pytest.approx(0.25)
    assert 0.4 < threshold <= 0.75
    r = rates(genuine, impostor, 0.5)
    assert (r.fnmr, r.fmr, r.accuracy) == (0.25, 0.25, 0.75)
    assert fnmr_at_fmr(genuine, impostor, 0.0) == pytest.approx(0.5)  # only 0.9, 0.8 pass
    assert fnmr_at_fmr(genuine, impostor, 0.25) == pytest.approx(0.5)  # 0.75 itself passes
    assert auc(genuine, impostor) == pytest.approx(14 / 16)
    assert auc(np.array([1.0, 2.0]), np.array([0.0])) == 1.0
