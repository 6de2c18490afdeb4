"""Speaker embeddings: Resemblyzer's GE2E voice encoder (256-d, weights inside the PyPI wheel).

Input is 16 kHz mono float audio. Resemblyzer's preprocessing normalises the volume and cuts
silences with WebRTC VAD, so what is left is the speech; its length is what the enrollment's
liveness check compares with the challenge phrase."""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass

import numpy as np

from safety.models.text_embedder import ModelUnavailable

SAMPLE_RATE = 16_000
MIN_SPEECH_SECONDS = 1.0  # below this an utterance embedding is noise
VOICE_MATCH_THRESHOLD = 0.80  # cosine; see the README for how it was set and what it gives


@dataclass(frozen=True)
class VoicePrint:
    embedding: np.ndarray  # float32, unit length
    speech_seconds: float


class VoiceEmbedder:
    name = "resemblyzer-0.1.4-ge2e"
    dim = 256
    match_threshold = VOICE_MATCH_THRESHOLD

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
