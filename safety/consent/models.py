"""The face, age and voice models in the service: loaded once in the background at start,
reported to /readyz, and required by every check that needs them (a model that is not loaded
makes the check a 503, never an `allow`).

Also the sentence embedder that compares prompts with cameo owners' restrictions: the full
six-layer MiniLM, whose similarities the restriction thresholds were set on (the policy
classifier reads a shallower cut of the same model, trained for its heads, which is a coarser
measure of similarity)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from cameoguard.errors import Refusal, RefusalKind
from cameoguard.health import register_model_check
from cameoguard.settings import get_settings
from safety.models.age import AgeEstimator
from safety.models.face import DlibFaceBackend, FaceBackend, InsightFaceBackend
from safety.models.text_embedder import MODEL_LAYERS, ModelUnavailable, TextEmbedder
from safety.models.voice import VoiceEmbedder

log = logging.getLogger("cameoguard.consent")


@dataclass
class LikenessModels:
    face: FaceBackend
    age: AgeEstimator
    voice: VoiceEmbedder


_models: LikenessModels | None = None
_error: str | None = None
_lock = threading.Lock()
_restriction_embedder: TextEmbedder | None = None
_restriction_error: str | None = None
_restriction_lock = threading.Lock()
# The operator's protected-people folder (settings.protected_seed_dir) is seeded at start: until
# it is, the service is not ready (a check before it would protect nobody in it).
_seed_pending: str | None = None


def load_face_backend() -> FaceBackend:
    settings = get_settings()
    if settings.face_backend == "dlib":
        return DlibFaceBackend()
    if settings.face_backend == "insightface":
        if settings.insightface_pack is None:
            raise ModelUnavailable("face_backend=insightface needs CAMEOGUARD_INSIGHTFACE_PACK")
        return InsightFaceBackend(settings.insightface_pack, threads=settings.model_threads)
    raise ModelUnavailable(f"unknown face backend {settings.face_backend!r} (dlib, insightface)")


def _limit_torch_threads() -> None:
    """The voice model runs on PyTorch, whose default of one thread per core spins idle threads
    against every other model and request in the process: `model_threads` it is."""
    import torch

    torch.set_num_threads(get_settings().model_threads)


def get_models() -> LikenessModels:
    """Loads on first use (the CLI, tests); the service calls `start` instead."""
    global _models, _error
    with _lock:
        if _models is None:
            try:
                _limit_torch_threads()
                _models = LikenessModels(load_face_backend(), AgeEstimator(), VoiceEmbedder())
                _error = None
            except Exception as exc:
                _error = f"{type(exc).__name__}: {exc}"
                raise
        return _models


def start() -> None:
    register_model_check("face-voice-age", readiness)

    global _seed_pending
    seed_dir = get_settings().protected_seed_dir
    _seed_pending = "protected bank seeding" if seed_dir is not None else None

    def load() -> None:
        global _seed_pending
        try:
            models = get_models()
        except Exception:
            log.error("likeness models failed to load", extra={"error": _error})
        else:
            if seed_dir is not None:
                from safety.consent.protected import seed_protected_bank

                try:
                    report = seed_protected_bank(seed_dir, models, actor="system:seed")
                    log.info(
                        "protected bank seeded",
                        extra={"added": len(report.added), "failed": len(report.failed)},
                    )
                    _seed_pending = None
                except Exception as exc:  # stays not ready: the bank is not what it should be
                    _seed_pending = f"protected bank seeding failed: {exc}"
                    log.error("protected bank seeding failed", extra={"error": str(exc)})
        try:
            restriction_embedder()
        except ModelUnavailable:
            log.error("restriction embedder failed to load", extra={"error": _restriction_error})

    threading.Thread(target=load, name="likeness-models", daemon=True).start()


def readiness() -> str | None:
    if _models is not None and _restriction_embedder is not None and _seed_pending is None:
        return None
    if _seed_pending is not None and _models is not None:
        return _seed_pending
    return _error or _restriction_error or "likeness models loading"


def restriction_embedder() -> TextEmbedder:
    """The full-depth sentence embedder, loaded on first use; raises ModelUnavailable."""
    global _restriction_embedder, _restriction_error
    with _restriction_lock:
        if _restriction_embedder is None:
            threads = get_settings().model_threads
            try:
                _restriction_embedder = TextEmbedder(threads=threads, layers=MODEL_LAYERS)
                _restriction_error = None
            except ModelUnavailable as exc:
                _restriction_error = f"restriction embedder: {exc}"
                raise
        return _restriction_embedder


def require_models() -> LikenessModels:
    if _models is None:
        raise Refusal(
            RefusalKind.unavailable,
            "model_unavailable",
            f"face/voice models unavailable ({readiness()}); nothing can be allowed",
        )
    return _models
