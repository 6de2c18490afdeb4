"""Scoring around the face and voice embeddings, model-independent and pure (numpy only):

- `template`: one enrollment vector from several samples (frames, photos, utterances), each
  weighted by its quality;
- `snorm`: symmetric score normalisation of a cosine score against a cohort of other people's
  embeddings (adaptive: the top-k closest cohort members), so that one threshold holds for voices
  and faces that sit in crowded or empty parts of the embedding space;
- `face_quality_issue`: a gate in front of enrollment that asks for a better sample (too small,
  blurred, turned away, tilted, too dark or washed out) instead of enrolling a bad one.

Thresholds for these live with the backends (`match_threshold`, `snorm_threshold`) and were
chosen on the dev pairs of bench/identity_quality.py; see the README.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# The face gate's limits, set on the dev photos (see the README's face-matching section).
MIN_FACE_SIDE_PX = 64  # dlib's chip is 150 px; below 64 px identity detail is mostly gone
MIN_SHARPNESS = 100.0  # variance of the Laplacian on the 112 px grey face crop (originals: >= 360)
MAX_YAW_RATIO = 0.28  # nose offset from the eyes' midpoint / eye distance (about 30 degrees)
MAX_ROLL_DEGREES = 25.0
MIN_MEAN_LUMA, MAX_MEAN_LUMA = 45.0, 215.0
MIN_CONTRAST = 18.0  # standard deviation of the crop's luma


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.atleast_2d(np.asarray(matrix, dtype=np.float32))
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def template(
    embeddings: Sequence[np.ndarray] | np.ndarray,
    weights: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """The unit-length, quality-weighted mean of several unit embeddings of one person.

    `weights` are non-negative qualities (e.g. detector score x sharpness for a face, seconds
    of speech for a voice); None weighs every sample alike. Samples of weight 0 are ignored.
    """
    matrix = _unit_rows(np.asarray(embeddings))
    if matrix.shape[0] == 0:
        raise ValueError("template needs at least one embedding")
    w = np.ones(matrix.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (matrix.shape[0],) or np.any(w < 0) or not np.isfinite(w).all():
        raise ValueError("one non-negative finite weight per embedding")
    if float(w.sum()) <= 0:
        raise ValueError("all weights are zero")
    mean = (matrix * (w / w.sum())[:, None]).sum(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def snorm(
    score: float, enroll: np.ndarray, probe: np.ndarray, cohort: np.ndarray, top_k: int = 100
) -> float:
    """Adaptive symmetric normalisation of the cosine `score` between `enroll` and `probe`.

    `cohort` is an (n, d) matrix of unit embeddings of people who are neither of the two (the
    same model's). Each side's score against its top_k closest cohort members gives a mean and a
    standard deviation; the result is the mean of the two z-scores. A score of 0 means "as
    similar as a typical close stranger"; thresholds are in those units (see the backends'
    `snorm_threshold`).
    """
    cohort = _unit_rows(cohort)
    if cohort.shape[0] < 2:
        raise ValueError("the cohort needs at least two embeddings")
    k = max(2, min(top_k, cohort.shape[0]))

    def stats(vector: np.ndarray) -> tuple[float, float]:
        scores = cohort @ _unit_rows(vector)[0]
        top = np.partition(scores, scores.size - k)[-k:]
        return float(top.mean()), max(float(top.std()), 1e-6)

    mean_e, std_e = stats(enroll)
    mean_p, std_p = stats(probe)
    return 0.5 * ((score - mean_e) / std_e + (score - mean_p) / std_p)


def snorm_matrix(
    enroll: np.ndarray, probe: np.ndarray, cohort: np.ndarray, top_k: int = 100
) -> np.ndarray:
    """`snorm` for every (enroll row, probe row) pair at once: an (n_enroll, n_probe) matrix."""
    enroll, probe, cohort = _unit_rows(enroll), _unit_rows(probe), _unit_rows(cohort)
    k = max(2, min(top_k, cohort.shape[0]))

    def stats(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = matrix @ cohort.T
        top = np.partition(scores, scores.shape[1] - k, axis=1)[:, -k:]
        return top.mean(axis=1), np.maximum(top.std(axis=1), 1e-6)

    mean_e, std_e = stats(enroll)
    mean_p, std_p = stats(probe)
    raw = enroll @ probe.T
    return 0.5 * ((raw - mean_e[:, None]) / std_e[:, None] + (raw - mean_p[None]) / std_p[None])


def _grey_crop(rgb: np.ndarray, box: tuple[int, int, int, int], size: int = 112) -> np.ndarray:
    left, top, right, bottom = box
    height, width = rgb.shape[:2]
    left, top = max(0, int(left)), max(0, int(top))
    right, bottom = min(width, int(right)), min(height, int(bottom))
    crop = np.asarray(rgb[top:bottom, left:right], dtype=np.float32)
    if crop.size == 0:
        return np.zeros((size, size), np.float32)
    grey = crop @ np.array([0.299, 0.587, 0.114], np.float32) if crop.ndim == 3 else crop
    rows = np.linspace(0, grey.shape[0] - 1, size).round().astype(int)
    cols = np.linspace(0, grey.shape[1] - 1, size).round().astype(int)
    return grey[rows][:, cols]


def sharpness(rgb: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """Variance of the 4-neighbour Laplacian on the face crop resampled to 112 px."""
    grey = _grey_crop(rgb, box)
    lap = grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1] - 4 * grey[1:-1, 1:-1]
    return float(lap.var())


def pose(landmarks: np.ndarray) -> tuple[float, float]:
    """(yaw ratio, roll degrees) from dlib's 5 points: eye corners (0-1, 2-3) and the nose (4)."""
    points = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    eye_a, eye_b, nose = points[0:2].mean(axis=0), points[2:4].mean(axis=0), points[4]
    left, right = (eye_a, eye_b) if eye_a[0] < eye_b[0] else (eye_b, eye_a)
    span = right - left
    distance = max(float(np.hypot(*span)), 1e-6)
    roll = float(np.degrees(np.arctan2(span[1], span[0])))
    direction = span / distance
    yaw = float(np.dot(nose - (left + right) / 2, direction)) / distance
    return yaw, roll


def face_quality_issue(
    rgb: np.ndarray, box: tuple[int, int, int, int], landmarks: np.ndarray | None = None
) -> str | None:
    """Why this face is not good enough to enroll (ask for another), or None when it is.

    Reasons: `face_too_small`, `face_too_dark`, `face_overexposed`, `face_low_contrast`,
    `face_blurred`, `face_turned_away`, `face_tilted`.
    """
    side = min(box[2] - box[0], box[3] - box[1])
    if side < MIN_FACE_SIDE_PX:
        return "face_too_small"
    grey = _grey_crop(rgb, box)
    mean = float(grey.mean())
    if mean < MIN_MEAN_LUMA:
        return "face_too_dark"
    if mean > MAX_MEAN_LUMA:
        return "face_overexposed"
    if float(grey.std()) < MIN_CONTRAST:
        return "face_low_contrast"
    if sharpness(rgb, box) < MIN_SHARPNESS:
        return "face_blurred"
    if landmarks is not None:
        yaw, roll = pose(landmarks)
        if abs(yaw) > MAX_YAW_RATIO:
            return "face_turned_away"
        if abs(roll) > MAX_ROLL_DEGREES:
            return "face_tilted"
    return None
