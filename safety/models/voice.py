"""Speaker embeddings: Resemblyzer's GE2E voice encoder (256-d, weights inside the PyPI wheel).

Input is 16 kHz mono float audio. Resemblyzer's preprocessing normalises the volume and cuts
silences with WebRTC VAD, so what is left is the speech; its length is what the enrollment's
liveness check compares with the challenge phrase.

Scoring (thresholds chosen on the dev pairs of bench/identity_quality.py, see the README):
- one enrollment embedding against a probe: cosine >= `match_threshold`;
- multi-condition enrollment (`embed_views`: the enrollment audio embedded as heard through a
  phone, a messaging codec and a noisy room, safety/models/voice_channels.py), scored with
  `multi_condition_score` (the best of the views): >= `multi_condition_threshold`, or
  >= `multi_condition_template_threshold` when each view averages 3 utterances. GE2E loses most
  of its margin when the probe comes through another channel than the enrollment; this halves
  the EER on our pairs;
- the same after cohort s-norm (safety.models.scoring.snorm for each view, then the best):
  >= `snorm_threshold`.
Several utterances per cameo: average each view over them with safety.models.scoring.template
(weights: seconds of speech)."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from safety.models.text_embedder import ModelUnavailable
from safety.models.voice_channels import CHANNELS as CHANNEL_NAMES

SAMPLE_RATE = 16_000
MIN_SPEECH_SECONDS = 1.0  # below this an utterance embedding is noise
# Chosen on the dev pairs of bench/identity_quality.py (KDE KTuberling speakers and a LibriVox
# reader): the EER point of each scoring mode, rounded. One enrollment embedding has no answer
# to a channel change (the EER point for phone probes is 0.59, for clean ones 0.73): its
# threshold is the clean-probe EER point, and probes through other channels need the
# multi-condition modes, whose points (probes through all four channels) hold for every channel.
VOICE_MATCH_THRESHOLD = 0.73  # one clean enrollment embedding vs a probe (was 0.80: set by hand)
MULTI_CONDITION_THRESHOLD = 0.76  # the best of an utterance's four channel views vs a probe
MULTI_CONDITION_TEMPLATE_THRESHOLD = 0.81  # the same with 3 utterances averaged per view
SNORM_THRESHOLD = 2.18  # multi-condition template, each view s-normed against a dev cohort


@dataclass(frozen=True)
class VoicePrint:
    embedding: np.ndarray  # float32, unit length
    speech_seconds: float


@dataclass(frozen=True)
class VoiceEnrollment:
    views: np.ndarray  # (n_views, dim) float32 unit rows, in CHANNEL_NAMES order when n > 1
    utterances: int


class VoiceEmbedder:
    name = "resemblyzer-0.1.4-ge2e"
    dim = 256
    match_threshold = VOICE_MATCH_THRESHOLD
    multi_condition_threshold = MULTI_CONDITION_THRESHOLD
    multi_condition_template_threshold = MULTI_CONDITION_TEMPLATE_THRESHOLD
    snorm_threshold = SNORM_THRESHOLD

    def __init__(self) -> None:
        try:
            with warnings.catch_warnings():  # webrtcvad imports pkg_resources
                warnings.simplefilter("ignore")
                from resemblyzer import VoiceEncoder, preprocess_wav

            self._encoder = VoiceEncoder(device="cpu", verbose=False)
            self._preprocess = preprocess_wav
            # The first preprocessing call compiles librosa's numba kernels (about 2 s): pay it now.
            noise = np.random.default_rng(0).normal(0, 0.01, SAMPLE_RATE).astype(np.float32)
            self._preprocess(noise, source_sr=SAMPLE_RATE)
        except Exception as exc:
            raise ModelUnavailable(f"cannot load the voice encoder: {exc}") from exc
        self._lock = threading.Lock()

    def speech(self, samples: np.ndarray) -> np.ndarray:
        """The speech left after volume normalisation and VAD silence trimming."""
        samples = np.asarray(samples, dtype=np.float32)
        if samples.size == 0 or float(np.max(np.abs(samples))) < 1e-4:
            return np.zeros(0, dtype=np.float32)
        return self._preprocess(samples, source_sr=SAMPLE_RATE)

    def embed(self, samples: np.ndarray) -> VoicePrint | None:
        """None when there is less than MIN_SPEECH_SECONDS of speech."""
        with self._lock:
            speech = self.speech(samples)
            seconds = speech.size / SAMPLE_RATE
            if seconds < MIN_SPEECH_SECONDS:
                return None
            vector = self._encoder.embed_utterance(speech)
        vector = np.asarray(vector, dtype=np.float32)
        return VoicePrint(vector / max(float(np.linalg.norm(vector)), 1e-12), seconds)

    def embed_views(self, samples: np.ndarray) -> dict[str, VoicePrint] | None:
        """Multi-condition enrollment: one print per simulated channel (None: too little speech)."""
        from safety.models.voice_channels import channel_views

        prints = {}
        for name, audio in channel_views(np.asarray(samples, dtype=np.float32)).items():
            found = self.embed(audio)
            if found is None:
                return None
            prints[name] = found
        return prints

    def enroll_views(self, utterances: Sequence[np.ndarray]) -> dict[str, np.ndarray] | None:
        """A multi-condition enrollment from one or more utterances of one person: per channel
        view, the template (mean weighted by seconds of speech) of the utterances' prints.
        Utterances with too little speech are skipped; None when none is usable. Compare with
        `multi_condition_score` at `threshold_for(len(utterances used))`."""
        from safety.models.scoring import template

        per_view: dict[str, list[VoicePrint]] = {}
        for samples in utterances:
            prints = self.embed_views(samples)
            for name, found in (prints or {}).items():
                per_view.setdefault(name, []).append(found)
        if not per_view:
            return None
        return {
            name: template([p.embedding for p in found], [p.speech_seconds for p in found])
            for name, found in per_view.items()
        }

    def enroll(self, utterances: Sequence[np.ndarray]) -> VoiceEnrollment | None:
        """What a cameo or a protected person keeps of their voice: per channel view, the
        template of their utterances' prints (`enroll_views`); when every channel leaves too
        little speech in some utterance, the clean template alone (one view). None when no
        utterance has MIN_SPEECH_SECONDS of speech."""
        from safety.models.scoring import template

        per_view: dict[str, list[VoicePrint]] = {}
        clean: list[VoicePrint] = []
        for samples in utterances:
            prints = self.embed_views(samples)
            if prints is not None:
                for name, found in prints.items():
                    per_view.setdefault(name, []).append(found)
            elif (found := self.embed(samples)) is not None:
                clean.append(found)
        if per_view and not clean:
            matrix = np.stack(
                [
                    template([p.embedding for p in found], [p.speech_seconds for p in found])
                    for found in (per_view[name] for name in CHANNEL_NAMES)
                ]
            )
            return VoiceEnrollment(matrix, utterances=len(per_view[CHANNEL_NAMES[0]]))
        clean += per_view.get("clean", [])
        if not clean:
            return None
        single = template([p.embedding for p in clean], [p.speech_seconds for p in clean])
        return VoiceEnrollment(single[None], utterances=len(clean))

    def threshold_for_enrollment(self, views: int, utterances: int) -> float:
        """The threshold for a probe scored (best view) against an enrollment of this shape."""
        if views <= 1:
            return self.match_threshold
        return self.threshold_for(utterances)

    def threshold_for(self, utterances: int) -> float:
        """The multi-condition threshold for an enrollment of this many utterances (measured at
        1 and 3; 2 takes the 1-utterance value)."""
        if utterances >= 3:
            return self.multi_condition_template_threshold
        return self.multi_condition_threshold


def multi_condition_score(views: np.ndarray, probe: np.ndarray) -> float:
    """The best cosine between a probe and the (n_views, dim) unit prints of one enrollment."""
    views = np.atleast_2d(np.asarray(views, dtype=np.float32))
    return float(np.max(views @ np.asarray(probe, dtype=np.float32)))
