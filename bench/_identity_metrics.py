"""Verification metrics over genuine and impostor score lists (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rates:
    genuine: int
    impostor: int
    threshold: float
    fnmr: float  # genuine pairs scored below the threshold
    fmr: float  # impostor pairs scored at or above it
    accuracy: float  # balanced: 1 - (fnmr + fmr) / 2
    eer: float
    eer_threshold: float
    fnmr_at_fmr_1: float  # FNMR at the threshold that lets through at most 1% of impostors
    fnmr_at_fmr_01: float  # the same at 0.1%


def eer(genuine: np.ndarray, impostor: np.ndarray) -> tuple[float, float]:
    """Equal error rate and the threshold where FNMR and FMR cross (scores: higher = same)."""
    genuine, impostor = np.sort(np.asarray(genuine)), np.sort(np.asarray(impostor))
    candidates = np.unique(np.concatenate([genuine, impostor]))
    fnmr = np.searchsorted(genuine, candidates, side="left") / genuine.size
    fmr = 1 - np.searchsorted(impostor, candidates, side="left") / impostor.size
    i = int(np.argmin(np.abs(fnmr - fmr)))
    rate = (fnmr[i] + fmr[i]) / 2
    return float(rate), float(candidates[i])


def fnmr_at_fmr(genuine: np.ndarray, impostor: np.ndarray, target: float) -> float:
    """FNMR at the lowest threshold whose FMR is at most `target`."""
    impostor = np.sort(np.asarray(impostor))
    allowed = int(np.floor(target * impostor.size))  # impostors allowed at or above threshold
    threshold = np.nextafter(impostor[-1], np.inf) if allowed == 0 else impostor[-allowed]
    if allowed and np.sum(impostor >= threshold) > allowed:
        threshold = np.nextafter(threshold, np.inf)
    return float(np.mean(np.asarray(genuine) < threshold))


def rates(genuine: np.ndarray, impostor: np.ndarray, threshold: float) -> Rates:
    genuine, impostor = np.asarray(genuine, float), np.asarray(impostor, float)
    fnmr = float(np.mean(genuine < threshold))
    fmr = float(np.mean(impostor >= threshold))
    rate, at = eer(genuine, impostor)
    return Rates(
        genuine=genuine.size,
        impostor=impostor.size,
        threshold=threshold,
        fnmr=fnmr,
        fmr=fmr,
        accuracy=1 - (fnmr + fmr) / 2,
        eer=rate,
        eer_threshold=at,
        fnmr_at_fmr_1=fnmr_at_fmr(genuine, impostor, 0.01),
        fnmr_at_fmr_01=fnmr_at_fmr(genuine, impostor, 0.001),
    )


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Area under the ROC curve (probability a positive outscores a negative; ties count half)."""
    positive, negative = np.asarray(positive, float), np.asarray(negative, float)
    scores = np.concatenate([positive, negative])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(scores.size)
    sorted_scores = scores[order]
    # average ranks over ties
    _, start, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for s, c in zip(start, counts, strict=True):
        ranks[order[s : s + c]] = s + (c + 1) / 2
    rank_sum = ranks[: positive.size].sum()
    return float(
        (rank_sum - positive.size * (positive.size + 1) / 2) / (positive.size * negative.size)
    )
