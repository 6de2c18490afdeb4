"""Is this voice synthetic? Evidence, never a decision on its own.

`synthetic_voice_score(audio_16k)` gives a probability that the speech was produced by a
text-to-speech engine rather than recorded from a person. It is a small logistic regression over
21 prosodic and temporal statistics (how the pitch bends and steps, voicing switches, how the
loudness moves at syllable rates, how fast the spectrum changes, spectral flatness, flux and
centroid), whose weights are in
`synthetic_voice_model.json` beside this file (a few KB), trained by
`scripts/train_synthetic_voice.py` on the dev split of the corpus that
`scripts/build_identity_set.py` builds: real speech (KDE KTuberling volunteers, a LibriVox reader)
against espeak-ng and Festival voices, every clip also through phone, Opus and noisy-MP3
channels. The JSON records the training data's digest and the held-out figures (Flite voices and
the KLettres speakers, never seen in training). Spectral-envelope features (MFCC means and
spreads) were tried and dropped: they learn the timbre of the engines seen in training and fall
to chance on an engine left out (leave-one-engine-out on the dev split), while these do not.

What it is not: a deepfake detector for neural voice clones. The engines it learnt from are
formant, diphone and HMM synthesisers; a modern neural clone can sound natural to these
features. Use it beside the speaker match and the other signals; see the README.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

RATE = 16_000
MODEL_PATH = Path(__file__).with_name("synthetic_voice_model.json")
MIN_SPEECH_SECONDS = 1.0
FRAME, HOP, NFFT, MELS, CEPS = 400, 160, 512, 32, 13


@functools.lru_cache(maxsize=1)
def _mel_filters() -> np.ndarray:
    def mel(hz: np.ndarray) -> np.ndarray:
        return 2595 * np.log10(1 + hz / 700)

    edges_mel = np.linspace(mel(np.array(60.0)), mel(np.array(7600.0)), MELS + 2)
    edges = 700 * (10 ** (edges_mel / 2595) - 1)
    bins = np.fft.rfftfreq(NFFT, 1 / RATE)
    filters = np.zeros((MELS, bins.size), np.float32)
    for i in range(MELS):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        up = (bins - lo) / (mid - lo)
        down = (hi - bins) / (hi - mid)
        filters[i] = np.clip(np.minimum(up, down), 0, None)
    return filters


@functools.lru_cache(maxsize=1)
def _dct() -> np.ndarray:
    n = np.arange(MELS)
    return np.cos(np.pi / MELS * (n[None] + 0.5) * np.arange(1, CEPS + 1)[:, None]).astype(
        np.float32
    )


def _frames(audio: np.ndarray, length: int) -> np.ndarray:
    count = 1 + (audio.size - length) // HOP
    index = np.arange(length)[None] + HOP * np.arange(count)[:, None]
    return audio[index]


def _pitch(audio: np.ndarray, loud: np.ndarray) -> np.ndarray:
    """F0 in Hz per 10 ms frame (0 where unvoiced), normalised autocorrelation over 40 ms."""
    frames = _frames(audio, 640)[: loud.size]
    loud = loud[: frames.shape[0]]
    frames = frames - frames.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(frames * np.hanning(640), n=1280, axis=1)
    ac = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :640]
    ac = ac / np.maximum(ac[:, :1], 1e-9)
    lo, hi = RATE // 400, RATE // 60
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    peak = ac[np.arange(ac.shape[0]), lag]
    return np.where((peak > 0.45) & loud, RATE / lag, 0.0)


def _stats(values: np.ndarray) -> list[float]:
    if values.size == 0:
        return [0.0, 0.0]
    return [float(values.mean()), float(values.std())]


def voice_features(audio_16k: np.ndarray) -> np.ndarray:
    """The classifier's input: a fixed-length vector of spectral and prosodic statistics."""
    audio = np.asarray(audio_16k, dtype=np.float32).reshape(-1)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if audio.size < MIN_SPEECH_SECONDS * RATE or peak < 1e-4:
        raise ValueError("needs at least 1 s of audio with sound in it")
    audio = audio / peak
    audio = np.append(audio[0], audio[1:] - 0.97 * audio[:-1])  # pre-emphasis
    frames = _frames(audio, FRAME) * np.hamming(FRAME).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, n=NFFT, axis=1)) ** 2 + 1e-10
    energy_db = 10 * np.log10(power.sum(axis=1))
    loud = energy_db > energy_db.max() - 35
    if int(loud.sum()) < 50:
        raise ValueError("needs at least 0.5 s of speech")
    speech = power[loud]
    logmel = np.log(speech @ _mel_filters().T + 1e-10)
    mfcc = logmel @ _dct().T
    delta = np.diff(mfcc, axis=0)
    flatness = np.exp(np.mean(np.log(speech), axis=1)) / np.mean(speech, axis=1)
    norm = speech / speech.sum(axis=1, keepdims=True)
    flux = np.sqrt(np.sum(np.diff(np.sqrt(norm), axis=0) ** 2, axis=1))
    bins = np.fft.rfftfreq(NFFT, 1 / RATE)
    centroid = (norm * bins).sum(axis=1) / 1000
    f0 = _pitch(audio, loud)
    voiced = f0[f0 > 0]
    semitones = 12 * np.log2(voiced / max(float(np.median(voiced)), 1.0)) if voiced.size else voiced
    runs = (f0[1:] > 0) & (f0[:-1] > 0)
    step = np.abs(12 * np.log2(f0[1:][runs] / f0[:-1][runs])) if runs.any() else np.zeros(0)
    loud_db = energy_db[loud]
    # How the pitch bends inside voiced stretches (second difference, semitones): synthesisers
    # draw smooth or piecewise-linear contours.
    contour = np.full(f0.shape, np.nan)
    if voiced.size:
        contour[f0 > 0] = 12 * np.log2(f0[f0 > 0] / max(float(np.median(voiced)), 1.0))
    bend = np.abs(contour[2:] - 2 * contour[1:-1] + contour[:-2])
    bend = bend[np.isfinite(bend)]
    # How the loudness envelope moves at syllable rates (2-8 Hz) against all of 0.5-25 Hz.
    envelope = energy_db - energy_db.mean()
    modulation = np.abs(np.fft.rfft(envelope * np.hanning(envelope.size))) ** 2
    mod_hz = np.fft.rfftfreq(envelope.size, HOP / RATE)
    syllabic = modulation[(mod_hz > 2) & (mod_hz < 8)].sum()
    syllabic /= max(float(modulation[(mod_hz > 0.5) & (mod_hz < 25)].sum()), 1e-9)
    acceleration = float(np.abs(np.diff(mfcc, n=2, axis=0)).mean())
    features = [
        float(np.median(bend)) if bend.size else 0.0,
        float(np.mean(bend > 0.5)) if bend.size else 0.0,
        float(np.mean(np.diff((f0 > 0).astype(int)) != 0)),  # voiced/unvoiced switches
        float(syllabic),
        acceleration,
        float(np.abs(delta).mean()) / max(acceleration, 1e-9),
        *_stats(np.log(flatness)),
        *_stats(flux),
        *_stats(centroid),
        *_stats(semitones),
        float(np.median(step)) if step.size else 0.0,
        float(np.mean(step > 1.0)) if step.size else 0.0,
        float(voiced.size / max(int(loud.sum()), 1)),
        *_stats(np.abs(np.diff(loud_db))),
        float(loud_db.std()),
        float(loud.mean()),
    ]
    return np.nan_to_num(np.asarray(features, dtype=np.float64))


@functools.lru_cache(maxsize=1)
def load_model(path: Path = MODEL_PATH) -> dict:
    return json.loads(Path(path).read_text())


def synthetic_voice_score(audio_16k: np.ndarray) -> float:
    """Probability (0-1) that the speech in `audio_16k` (mono float, 16 kHz) is synthetic.

    Calibrated on the dev split (logistic regression with balanced classes); raises ValueError
    when there is less than about 1 s of sound. Evidence only: see the module's docstring.
    """
    model = load_model()
    x = (voice_features(audio_16k) - np.asarray(model["mean"])) / np.asarray(model["scale"])
    logit = float(x @ np.asarray(model["coef"]) + model["intercept"])
    return float(1 / (1 + np.exp(-np.clip(logit, -50, 50))))
