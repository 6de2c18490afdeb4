"""Tracing a cropped copy: where does the query's picture sit inside an output on record?

A crop moves a PDQ hash by 40-90 bits, so a cropped re-upload does not match the whole-frame
hashes. Records also keep the hashes of REGIONS of their frames every 0.5 s
(provenance.fingerprint.region_hashes: 76% of each side, centred and offset 4% diagonally). A
crop that keeps at least that much of the picture still contains one of those regions whole;
if we knew the crop, cutting that region out of the query frame would give back (nearly) the
hash on record.

So the search guesses the crop: a uniform scale (the share of each side kept, 0.87-0.99) and
the position of the query's top-left corner in the original (shares of its width and height),
first over a coarse grid of ~90 guesses, then refined by a pattern search around the two best.
For a guess, the region best inside the query frame is cut out of a few query frames, hashed
and looked up in a FAISS binary index over every record's hashes of that region (Hamming
distance); the guess whose frames come closest wins. With the winning guess every kept query
frame is hashed; a frame votes for a record holding a hash within MATCH_BITS of it, and a
record matches when at least half the query frames vote for it at one offset in time (within
2.5% of the record's length, at least REGION_EVERY_S).

Only run when the whole-frame match found nothing. Not supported: a mirrored crop, a crop that
is not uniform (a different share of the width and of the height, e.g. a change of aspect
ratio), crops of more than ~13% of a side, rotation or added borders, stills (one frame is
too little evidence for ~90 guesses), and only the first KEEP_FRAMES_S (30 s) of a query are
searched."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import faiss
import numpy as np
from PIL import Image

from provenance.fingerprint import (
    REGION_EVERY_S,
    REGION_SIDE,
    REGIONS,
    FingerprintMatch,
    box_hash,
    parse_region,
    region_box,
    region_tag,
)

MATCH_BITS = 40  # a region hash of a cropped, re-encoded copy within 40 of 256 bits
SCALES = (0.87, 0.90, 0.93, 0.96, 0.99)  # the share of each side a crop keeps
GRID_STEP = 0.025  # positions of the coarse grid, as a share of a side
COARSE_FRAMES = 4  # query frames scored per guess while searching
REFINE_FROM = 2  # the best coarse guesses refined
MIN_STEP = 0.002
MAX_MOVES = 12  # per refined guess
MIN_FRAMES = 2  # a still (one frame) is not searched
TIMELINE_SHARE = 0.025

Guess = tuple[float, float, float]  # scale, left, top (shares of the original's sides)


@dataclass(frozen=True)
class CropMatch(FingerprintMatch):
    """A whole-frame match's figures (never mirrored), and the crop that gave them."""

    crop: Guess = (1.0, 0.0, 0.0)  # the crop found: scale, left, top
    guesses: int = 0  # guesses tried


@dataclass
class _RegionIndex:
    index: faiss.IndexBinaryFlat
    keys: list[str]
    times: np.ndarray


def region_indexes(records: dict[str, list[str]]) -> dict[str, _RegionIndex]:
    """A FAISS binary index per region tag over every record's region hashes."""
    rows: dict[str, tuple[list[bytes], list[str], list[float]]] = {}
    for key, entries in records.items():
        for entry in entries:
            region = parse_region(entry)
            if region is None:
                continue
            tag, at, digest = region
            hashes, keys, times = rows.setdefault(tag, ([], [], []))
            hashes.append(bytes.fromhex(digest))
            keys.append(key)
            times.append(at)
    indexes = {}
    for tag, (hashes, keys, times) in rows.items():
        index = faiss.IndexBinaryFlat(256)
        index.add(np.frombuffer(b"".join(hashes), np.uint8).reshape(len(hashes), 32))
        indexes[tag] = _RegionIndex(index, keys, np.array(times))
    return indexes


def _durations(indexes: dict[str, _RegionIndex]) -> dict[str, float]:
    longest: dict[str, float] = {}
    for region in indexes.values():
        for key, t in zip(region.keys, region.times, strict=True):
            longest[key] = max(longest.get(key, 0.0), float(t) + REGION_EVERY_S)
    return longest


def coarse_guesses() -> list[Guess]:
    """The coarse grid: each scale, its top-left corner every GRID_STEP over the margin."""
    guesses = []
    for scale in SCALES:
        margin = 1 - scale
        places = np.linspace(0, margin, max(1, round(margin / GRID_STEP) + 1))
        guesses += [(scale, float(x), float(y)) for x, y in itertools.product(places, places)]
    return guesses


def _region_for(guess: Guess, tags: set[str]) -> tuple[str, tuple[float, float, float]] | None:
    """The stored region best inside the query frame under `guess`, and where it is in the
    query (left, top, side as shares of the query's width and height)."""
    scale, left, top = guess
    best, best_margin = None, -0.006
    for dx, dy in REGIONS:
        tag = region_tag(dx, dy)
        if tag not in tags:
            continue
        rx, ry = region_box(dx, dy)
        u, v, side = (rx - left) / scale, (ry - top) / scale, REGION_SIDE / scale
        margin = min(u, v, 1 - u - side, 1 - v - side)
        if margin > best_margin:
            best, best_margin = (tag, (u, v, side)), margin
    return best


class _Query:
    def __init__(self, frames: list[tuple[float, np.ndarray]]) -> None:
        self.times = [t for t, _ in frames]
        self.images = [Image.fromarray(rgb) for _, rgb in frames]

    def hashes(self, which: list[int], place: tuple[float, float, float]) -> np.ndarray:
        u, v, side = place
        rows = []
        for i in which:
            width, height = self.images[i].size
            box = (
                max(0.0, u * width),
                max(0.0, v * height),
                min(float(width), (u + side) * width),
                min(float(height), (v + side) * height),
            )
            rows.append(bytes.fromhex(box_hash(self.images[i], box)[0]))
        return np.frombuffer(b"".join(rows), np.uint8).reshape(len(rows), 32)


def search(
    frames: list[tuple[float, np.ndarray]], records: dict[str, list[str]]
) -> CropMatch | None:
    """The record a cropped copy comes from (the best candidate, matching or not; None without
    query frames or region hashes). `frames`: the query's sampled frames (time, RGB)."""
    if len(frames) < MIN_FRAMES:
        return None
    indexes = region_indexes(records)
    if not indexes:
        return None
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # a few hundred hashes a call: threads cost more than they give
    try:
        return _search(_Query(frames), indexes)
    finally:
        faiss.omp_set_num_threads(threads)


def _search(query: _Query, indexes: dict[str, _RegionIndex]) -> CropMatch | None:
    tags = set(indexes)
    n = len(query.images)
    sample = sorted({round(i * (n - 1) / max(1, COARSE_FRAMES - 1)) for i in range(COARSE_FRAMES)})
    known: dict[Guess, float] = {}

    def scores(guesses: list[Guess]) -> list[float]:
        """Each guess's mean distance from the sampled frames' regions to the nearest region
        hash on record (256: a guess outside the frame); one index search per region tag."""
        keys = [tuple(round(g, 4) for g in guess) for guess in guesses]
        todo: dict[str, list[tuple[Guess, tuple[float, float, float]]]] = {}
        for key in keys:
            if key in known:
                continue
            scale, left, top = key
            found = _region_for(key, tags) if 0.8 <= scale <= 1.0 else None  # type: ignore[arg-type]
            if found is None or min(left, top) < -0.01 or max(left, top) + scale > 1.01:
                known[key] = 256.0  # type: ignore[index]
                continue
            todo.setdefault(found[0], []).append((key, found[1]))  # type: ignore[arg-type]
        for tag, wanted in todo.items():
            batch = np.concatenate([query.hashes(sample, place) for _, place in wanted])
            distances, _ = indexes[tag].index.search(batch, 1)
            per_guess = distances[:, 0].reshape(len(wanted), len(sample)).mean(axis=1)
            for (key, _), distance in zip(wanted, per_guess, strict=True):
                known[key] = float(distance)
        return [known[key] for key in keys]  # type: ignore[index]

    coarse = coarse_guesses()
    ranked = [g for _, g in sorted(zip(scores(coarse), coarse, strict=True))]
    refined = [_refine(guess, scores) for guess in ranked[:REFINE_FROM]]
    best = min(refined, key=lambda guess: scores([guess])[0])
    tag, place = _region_for(best, tags)  # type: ignore[misc]
    return _vote(query, indexes, tag, place, best, len(known))


def _refine(start: Guess, scores: Callable[[list[Guess]], list[float]]) -> Guess:
    """A pattern search: move one parameter by `step` while that lowers the score, else halve
    the step (at most MAX_MOVES moves)."""
    best, step, moves = start, 0.01, 0
    (current,) = scores([best])
    while step >= MIN_STEP and moves < MAX_MOVES:
        around: list[Guess] = [
            tuple(best[k] + sign * step * (k == j) for k in range(3))  # type: ignore[misc]
            for j in range(3)
            for sign in (-1, 1)
        ]
        found = scores(around)
        i = int(np.argmin(found))
        if found[i] < current:
            best, current, moves = around[i], found[i], moves + 1
        else:
            step /= 2
    return best


def _vote(
    query: _Query,
    indexes: dict[str, _RegionIndex],
    tag: str,
    place: tuple[float, float, float],
    guess: Guess,
    tried: int,
) -> CropMatch | None:
    region = indexes[tag]
    every = list(range(len(query.images)))
    k = min(16, region.index.ntotal)
    distances, ids = region.index.search(query.hashes(every, place), k)
    longest = _durations(indexes)
    # (record -> per query frame: the record times within MATCH_BITS, and the distances)
    hits: dict[str, list[list[tuple[float, int]]]] = {}
    for i, (row_d, row_i) in enumerate(zip(distances, ids, strict=True)):
        for d, j in zip(row_d, row_i, strict=True):
            if j < 0 or d > MATCH_BITS:
                continue
            key = region.keys[j]
            per_frame = hits.setdefault(key, [[] for _ in every])
            per_frame[i].append((float(region.times[j]) - query.times[i], int(d)))
    best: CropMatch | None = None
    for key, per_frame in hits.items():
        tolerance = max(REGION_EVERY_S, TIMELINE_SHARE * longest.get(key, 0.0))
        offsets = {o for frame in per_frame for o, _ in frame}
        for offset in offsets:
            near = [
                min((d for o, d in frame if abs(o - offset) <= tolerance), default=None)
                for frame in per_frame
            ]
            agreed = [d for d in near if d is not None]
            match = CropMatch(
                key=key,
                matched_frames=len(agreed),
                frames=len(every),
                median_distance=float(np.median(agreed)),
                crop=tuple(round(g, 3) for g in guess),  # type: ignore[arg-type]
                guesses=tried,
            )
            if match.beats(best):
                best = match
    return best
