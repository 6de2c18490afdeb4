"""Liveness of an enrollment: is this a live person saying the challenge, or someone else's
picture and voice? Three measures, each a pure function of the decoded media and the face boxes
the face model found (no HTTP, no database):

- **digits**: what an offline recogniser hears, restricted to the ten digit words (PocketSphinx
  5.1.1 from PyPI, whose wheel carries CMU's US English acoustic model and CMUdict; BSD-style
  licences), compared with the challenge by edit distance.
- **motion**: a still photo moved, zoomed or tilted as a whole is one picture under a
  homography. Each face crop is aligned onto a reference crop with a homography fitted on the
  rigid parts of the face (forehead, nose, cheeks); what is left in the mouth/jaw and eye
  regions beyond what is left on the rigid parts is non-rigid change, which a live face shows
  and a moved photo does not.
- **sync**: that non-rigid change of the mouth region over time, correlated with the audio's
  loudness at lags up to +-1 s: the best correlation within a small window around zero must be
  high enough, and no lag outside the window may fit better. A face that does not move with
  the voice, or a voice laid over a talking face out of step, fails.

The thresholds live in the settings (`liveness_*`); `bench/liveness.py` prints the figures they
were set on (synthetic media only: no recordings of real people enrolling exist here).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter, map_coordinates

from safety.models.text_embedder import ModelUnavailable

AUDIO_RATE = 16_000
TRACK_FPS = 15.0  # frames per second the motion and sync measures read (at most)
TRACK_MAX_FRAMES = 240  # a longer video is read at a lower rate (16 s at the full rate)
MIN_TRACK_FRAMES = 20  # about 2 s of face

Box = tuple[int, int, int, int]  # left, top, right, bottom

# --- spoken digits ----------------------------------------------------------------------------

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
RECOGNISER = "pocketsphinx-5.1.1/en-us digit grammar"
# Decoder settings, set on espeak-ng voices (bench/liveness.py): a word insertion probability of
# 0.01 (default 0.65) keeps the decoder from splitting one digit into two; a noise floor (-44 dB
# under the normalised peak) keeps digital silence (exact zeros, as in synthetic or gated audio)
# from producing degenerate log energies, after which the decoder drops or invents words; half a
# second of that floor before and after gives the first and last digits room.
WORD_INSERTION_PENALTY = 1e-2
NOISE_FLOOR = 3e-3
PEAK = 0.5
PAD_SECONDS = 0.5


class DigitRecogniser:
    """Hears a given number of spoken digits ("oh" counts as zero) in 16 kHz mono audio: the
    grammar allows exactly that many digit words (a challenge's length is no secret), so the
    decoder cannot split one digit into two or run two together."""

    name = RECOGNISER

    def __init__(self) -> None:
        try:
            import os

            from pocketsphinx import Decoder, get_model_path

            model = os.path.join(get_model_path(), "en-us")
            self._decoder = Decoder(
                hmm=os.path.join(model, "en-us"),
                dict=os.path.join(model, "cmudict-en-us.dict"),
                lm=None,
                wip=WORD_INSERTION_PENALTY,
                loglevel="FATAL",
            )
            # The cepstral mean adapts from one utterance to the next; each one starts from the
            # initial mean, so that what is heard does not depend on what was heard before.
            self._initial_cmn = self._decoder.get_cmn()
        except Exception as exc:  # not installed, or its model files are missing
            raise ModelUnavailable(f"speech recogniser unavailable: {exc}") from exc
        self._grammars: set[int] = set()
        self._lock = threading.Lock()

    def _use_grammar(self, count: int) -> None:
        name = f"digits{count}"
        if count not in self._grammars:
            word = "( " + " | ".join([*DIGIT_WORDS, "oh"]) + " )"
            rule = " ".join([word] * count)
            self._decoder.add_jsgf_string(
                name, f"#JSGF V1.0;\ngrammar {name};\npublic <digits> = {rule} ;\n"
            )
            self._grammars.add(count)
        self._decoder.activate_search(name)

    def digits(self, audio: np.ndarray, count: int) -> list[int]:
        audio = np.asarray(audio, dtype=np.float32)
        pad = np.zeros(int(PAD_SECONDS * AUDIO_RATE), np.float32)
        signal = np.concatenate([pad, audio, pad])
        signal *= PEAK / max(float(np.abs(signal).max()), 1e-6)
        signal += np.random.default_rng(0).normal(0, NOISE_FLOOR, signal.size).astype(np.float32)
        pcm = (np.clip(signal, -1, 1) * 32767).astype(np.int16).tobytes()
        with self._lock:
            self._use_grammar(count)
            self._decoder.set_cmn(self._initial_cmn)
            self._decoder.start_utt()
            self._decoder.process_raw(pcm, full_utt=True)
            self._decoder.end_utt()
            hyp = self._decoder.hyp()
        words = hyp.hypstr.split() if hyp is not None else []
        return [0 if w == "oh" else DIGIT_WORDS.index(w) for w in words]


@lru_cache(maxsize=1)
def digit_recogniser() -> DigitRecogniser:
    return DigitRecogniser()


def edit_distance(a: Sequence[int], b: Sequence[int]) -> int:
    """Levenshtein distance: insertions, deletions and substitutions each cost 1."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        diagonal, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (x != y))
    return row[-1]


# --- the face track ---------------------------------------------------------------------------

CROP_W, CROP_H = 64, 76
# The crop around dlib's face box: its box runs from the brows to about the lower lip, so the
# crop reaches 30% of the box's height further down for the chin and jaw.
CROP_MARGINS = (0.1, 0.1, 0.1, 0.3)  # left, top, right, bottom, as fractions of the box


def _region(u0: float, u1: float, v0: float, v1: float) -> np.ndarray:
    mask = np.zeros((CROP_H, CROP_W), bool)
    mask[int(v0 * CROP_H) : int(v1 * CROP_H), int(u0 * CROP_W) : int(u1 * CROP_W)] = True
    return mask


# Regions of the crop (fractions of its width u and height v), from dlib's 68 landmarks on our
# photos: eyes at v 0.2-0.35, the mouth at v 0.5-0.7 and the chin near v 0.85.
MOUTH = _region(0.25, 0.75, 0.5, 0.93)
EYES = _region(0.17, 0.83, 0.2, 0.35)
RIGID = _region(0.15, 0.85, 0.04, 0.5) & ~EYES


@dataclass(frozen=True)
class FaceTrack:
    times: np.ndarray  # (n,) seconds
    crops: np.ndarray  # (n, CROP_H, CROP_W) float32 grey levels in 0-1


def _crop(gray: np.ndarray, box: Sequence[float]) -> np.ndarray:
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    x0, x1 = left - CROP_MARGINS[0] * width, right + CROP_MARGINS[2] * width
    y0, y1 = top - CROP_MARGINS[1] * height, bottom + CROP_MARGINS[3] * height
    sigma = max((x1 - x0) / CROP_W / 2, 0.0)  # anti-alias before sampling down
    pad = int(3 * sigma) + 2
    r0, c0 = max(int(y0) - pad, 0), max(int(x0) - pad, 0)
    patch = gray[r0 : int(y1) + pad + 1, c0 : int(x1) + pad + 1].astype(np.float32)
    if sigma > 0.5:
        patch = gaussian_filter(patch, sigma)
    rows = y0 + (np.arange(CROP_H) + 0.5) * (y1 - y0) / CROP_H - r0
    cols = x0 + (np.arange(CROP_W) + 0.5) * (x1 - x0) / CROP_W - c0
    grid = np.meshgrid(rows, cols, indexing="ij")
    return (map_coordinates(patch, grid, order=1, mode="nearest") / 255.0).astype(np.float32)


def track_face(
    frames: Iterable[tuple[float, np.ndarray]],
    sightings: Sequence[tuple[float, Box]],
    reach: float = 0.5,
) -> FaceTrack:
    """Face crops from `frames` ((time, grayscale image), consumed one at a time), the face box
    of each frame interpolated between `sightings` (time, box) of the one enrolling face.
    Frames more than `reach` seconds outside the sightings are skipped."""
    order = sorted(sightings)
    if not order:
        return FaceTrack(np.zeros(0), np.zeros((0, CROP_H, CROP_W), np.float32))
    seen = np.array([t for t, _ in order])
    boxes = np.array([b for _, b in order], dtype=np.float64)
    # The detector's boxes jitter in size by 10-20% from frame to frame: the crop keeps the
    # median size and follows the box's centre; the alignment takes up the rest.
    half_w = float(np.median(boxes[:, 2] - boxes[:, 0])) / 2
    half_h = float(np.median(boxes[:, 3] - boxes[:, 1])) / 2
    centre_x, centre_y = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    times, crops = [], []
    for t, gray in frames:
        if t < seen[0] - reach or t > seen[-1] + reach:
            continue
        x, y = float(np.interp(t, seen, centre_x)), float(np.interp(t, seen, centre_y))
        times.append(t)
        crops.append(_crop(gray, (x - half_w, y - half_h, x + half_w, y + half_h)))
    if not crops:
        return FaceTrack(np.zeros(0), np.zeros((0, CROP_H, CROP_W), np.float32))
    return FaceTrack(np.array(times), np.stack(crops))


# --- rigid alignment --------------------------------------------------------------------------

_ROWS, _COLS = np.mgrid[0:CROP_H, 0:CROP_W].astype(np.float64)
_SCALE = CROP_W / 2
_X = (_COLS - (CROP_W - 1) / 2) / _SCALE  # centred coordinates, in half crop widths
_Y = (_ROWS - (CROP_H - 1) / 2) / _SCALE


def _warp_coords(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = p[6] * _X + p[7] * _Y + 1.0
    x = ((1 + p[0]) * _X + p[1] * _Y + p[2]) / d
    y = (p[3] * _X + (1 + p[4]) * _Y + p[5]) / d
    return x, y, d


def _sample(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    rows = y * _SCALE + (CROP_H - 1) / 2
    cols = x * _SCALE + (CROP_W - 1) / 2
    return map_coordinates(image, [rows, cols], order=1, mode="nearest")


def warp(image: np.ndarray, p: np.ndarray) -> np.ndarray:
    """`image` under the homography p[:8], with the gain p[8] and offset p[9] applied."""
    x, y, _ = _warp_coords(p)
    return (1 + p[8]) * _sample(image, x, y) + p[9]


def _fit_error(reference: np.ndarray, image: np.ndarray, p: np.ndarray, mask: np.ndarray) -> float:
    return float(np.mean(np.abs(reference[mask] - warp(image, p)[mask])))


def align(
    reference: np.ndarray,
    image: np.ndarray,
    mask: np.ndarray = RIGID,
    start: np.ndarray | None = None,
) -> np.ndarray:
    """The homography (8 parameters) and the gain and offset (2 more) that map `image` onto
    `reference` over `mask`: Lucas-Kanade (Gauss-Newton with Levenberg-Marquardt damping, so a
    step that makes the fit worse is refused) from `start` (none: identity), coarse to fine,
    with Huber weights so that a few non-rigid pixels in the mask do not drag the fit."""
    p = np.zeros(10) if start is None else start.copy()
    xm, ym = _X[mask], _Y[mask]
    for blur in (3.0, 1.5, 0.0):
        ref = gaussian_filter(reference, blur) if blur else reference
        img = gaussian_filter(image, blur) if blur else image
        grad_y, grad_x = np.gradient(img.astype(np.float64))
        damping, error_now = 1e-3, _fit_error(ref, img, p, mask)
        for _ in range(30):
            x, y, d = _warp_coords(p)
            x, y, d = x[mask], y[mask], d[mask]
            gain = 1 + p[8]
            values = _sample(img, x, y)
            error = ref[mask] - (gain * values + p[9])
            gx = _sample(grad_x, x, y) * _SCALE * gain
            gy = _sample(grad_y, x, y) * _SCALE * gain
            radial = -(gx * x + gy * y)
            jacobian = np.stack(
                [gx * xm, gx * ym, gx, gy * xm, gy * ym, gy, radial * xm, radial * ym]
                + [np.zeros_like(d)] * 2,
                axis=1,
            )
            jacobian[:, :8] /= d[:, None]
            jacobian[:, 8], jacobian[:, 9] = values, 1.0
            spread = 1.4826 * float(np.median(np.abs(error))) + 1e-6
            weight = np.minimum(1.0, 1.345 * spread / np.maximum(np.abs(error), 1e-12))
            hessian = jacobian.T @ (jacobian * weight[:, None])
            gradient = jacobian.T @ (weight * error)
            while damping < 1e6:
                step = np.linalg.solve(
                    hessian + damping * np.diag(np.diag(hessian) + 1e-9), gradient
                )
                error_next = _fit_error(ref, img, p + step, mask)
                if error_next <= error_now:
                    p, error_now, damping = p + step, error_next, max(damping / 3, 1e-6)
                    break
                damping *= 4
            else:
                break
            if float(np.abs(step[:8]).max()) < 1e-4:
                break
    return p


# --- motion and sync --------------------------------------------------------------------------


@dataclass(frozen=True)
class Motion:
    score: float  # 90th percentile over frames of the non-rigid excess (mouth or eyes)
    mouth: np.ndarray  # (n,) the mouth region's non-rigid excess per frame: the sync signal
    eyes: np.ndarray  # (n,)
    rigid: np.ndarray  # (n,) the rigid region's residual after alignment (the noise floor)
    reference_time: float


def loudness(audio: np.ndarray, times: np.ndarray, window: float = 0.1) -> np.ndarray:
    """The audio's level around each time (RMS over `window` s) in dB under its loudest moment,
    floored at -50 dB."""
    half = int(window * AUDIO_RATE / 2)
    rms = np.zeros(len(times))
    for i, t in enumerate(times):
        centre = int(t * AUDIO_RATE)
        chunk = audio[max(centre - half, 0) : centre + half]
        rms[i] = float(np.sqrt(np.mean(np.square(chunk, dtype=np.float64)))) if chunk.size else 0
    level = 20 * np.log10(np.maximum(rms, 1e-9) / max(float(rms.max()), 1e-9))
    return np.maximum(level, -50.0)


def measure_motion(track: FaceTrack, audio: np.ndarray) -> Motion:
    """Aligns every crop onto the crop at the quietest moment (a closed mouth, most likely) and
    measures what the alignment cannot explain, per region."""
    level = loudness(audio, track.times)
    ref_index = int(np.argmin(level))
    reference = track.crops[ref_index]
    contrast = max(float(reference[RIGID | EYES | MOUTH].std()), 1e-3)  # residuals in its units
    n = len(track.crops)
    mouth, eyes, rigid = np.zeros(n), np.zeros(n), np.zeros(n)
    # Outwards from the reference, each fit starting from its neighbour's: the face moves
    # little between frames, so the fit starts close to the answer.
    for order in (range(ref_index, n), range(ref_index, -1, -1)):
        p = np.zeros(10)
        for i in order:
            p = align(reference, track.crops[i], start=p)
            residual = np.abs(warp(track.crops[i], p) - reference) / contrast
            rigid[i] = float(residual[RIGID].mean())
            mouth[i] = float(residual[MOUTH].mean()) - rigid[i]
            eyes[i] = float(residual[EYES].mean()) - rigid[i]
    score = float(np.percentile(np.maximum(mouth, eyes), 90))
    return Motion(score, mouth, eyes, rigid, float(track.times[ref_index]))


@dataclass(frozen=True)
class Sync:
    correlation: float  # the best Pearson correlation within +-max_lag
    lag_seconds: float  # its lag; > 0: the sound comes after the mouth moves
    elsewhere: float  # the best correlation at the other lags searched (up to +-SYNC_SEARCH)
    elsewhere_lag_seconds: float


SYNC_SEARCH = 1.0  # seconds of lag searched either way, to see where the best alignment is


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    scale = float(np.sqrt(np.sum(a * a) * np.sum(b * b)))
    return float(np.sum(a * b) / scale) if scale > 1e-12 else 0.0


def measure_sync(times: np.ndarray, mouth: np.ndarray, audio: np.ndarray, max_lag: float) -> Sync:
    """Correlation of the mouth region's change with the audio's loudness at each lag within
    +-SYNC_SEARCH seconds: the best within +-max_lag, and the best beyond it. Speech is
    rhythmic, so a voice shifted against the face can line up again a syllable or a word
    later; the true alignment is the one that fits best."""
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1 / TRACK_FPS
    level = loudness(audio, times)
    near: tuple[float, int] = (-1.0, 0)
    far: tuple[float, int] = (-1.0, 0)
    window, search = round(max_lag / step), round(SYNC_SEARCH / step)
    for lag in range(-search, search + 1):
        if lag >= 0:
            a, b = mouth[: len(mouth) - lag], level[lag:]
        else:
            a, b = mouth[-lag:], level[: len(level) + lag]
        if len(a) < MIN_TRACK_FRAMES // 2:
            continue
        score = _pearson(a, b)
        if abs(lag) <= window and score > near[0]:
            near = (score, lag)
        elif abs(lag) > window and score > far[0]:
            far = (score, lag)
    return Sync(
        round(near[0], 4), round(near[1] * step, 3), round(far[0], 4), round(far[1] * step, 3)
    )


# --- the checks -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    min_motion: float
    min_sync: float
    max_lag_seconds: float


class LivenessFailed(Exception):
    """The enrollment is not a live person saying the challenge; `check` says which test
    failed, `measures` what was measured."""

    def __init__(self, check: str, message: str, measures: dict[str, Any]) -> None:
        super().__init__(message)
        self.check = check
        self.message = message
        self.measures = measures


def check_digits(
    audio: np.ndarray, phrase: str, recogniser: DigitRecogniser, max_edits: int
) -> dict[str, Any]:
    expected = [int(d) for d in phrase.split()]
    heard = recogniser.digits(audio, len(expected))
    edits = edit_distance(heard, expected)
    measures = {
        "recogniser": recogniser.name,
        "digits_heard": " ".join(str(d) for d in heard),
        "digit_edits": edits,
        "max_digit_edits": max_edits,
    }
    if edits > max_edits:
        said = measures["digits_heard"] or "no digits"
        raise LivenessFailed(
            "digits",
            f"the recording does not say the challenge digits (heard: {said}; "
            f"{edits} differences, at most {max_edits} allowed)",
            measures,
        )
    return measures


def check_face_motion(
    frames: Iterable[tuple[float, np.ndarray]],
    sightings: Sequence[tuple[float, Box]],
    audio: np.ndarray,
    thresholds: Thresholds,
) -> dict[str, Any]:
    """Motion, then sync, of the one face in a video; the measures, or LivenessFailed."""
    track = track_face(frames, sightings)
    measures: dict[str, Any] = {"track_frames": len(track.times), "track_fps": TRACK_FPS}
    if len(track.times) < MIN_TRACK_FRAMES:
        raise LivenessFailed(
            "motion",
            f"the face is tracked in {len(track.times)} frames; the liveness check needs "
            f"{MIN_TRACK_FRAMES} ({MIN_TRACK_FRAMES / TRACK_FPS:.0f} s)",
            measures,
        )
    motion = measure_motion(track, audio)
    measures |= {
        "motion_score": round(motion.score, 4),
        "min_motion": thresholds.min_motion,
        "rigid_residual": round(float(np.median(motion.rigid)), 4),
    }
    if motion.score < thresholds.min_motion:
        raise LivenessFailed(
            "motion",
            f"the face does not move like a live face (non-rigid motion {motion.score:.3f} < "
            f"{thresholds.min_motion}): a still photo moved as a whole is not a live enrollment",
            measures,
        )
    sync = measure_sync(track.times, motion.mouth, audio, thresholds.max_lag_seconds)
    measures |= {
        "sync_correlation": sync.correlation,
        "sync_lag_seconds": sync.lag_seconds,
        "sync_elsewhere": sync.elsewhere,
        "sync_elsewhere_lag_seconds": sync.elsewhere_lag_seconds,
        "min_sync": thresholds.min_sync,
        "max_lag_seconds": thresholds.max_lag_seconds,
    }
    if sync.correlation < thresholds.min_sync:
        raise LivenessFailed(
            "sync",
            f"the mouth does not move with the voice (correlation {sync.correlation:.2f} < "
            f"{thresholds.min_sync} within +-{thresholds.max_lag_seconds} s)",
            measures,
        )
    if sync.elsewhere > sync.correlation:
        raise LivenessFailed(
            "sync",
            f"the voice fits the mouth better {sync.elsewhere_lag_seconds:+.2f} s away "
            f"({sync.elsewhere:.2f} against {sync.correlation:.2f}): the sound is not this "
            "face's",
            measures,
        )
    return measures
