"""Generator backends behind one small interface: a prompt and cameo faces in, frames and audio
out. `embedded` renders procedurally and needs no weights; `http` calls an external video API;
`diffusers` runs a local text-to-video pipeline on operator-supplied weights."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

ASPECTS = {"16:9": (640, 360), "9:16": (360, 640), "1:1": (480, 480)}


class BackendError(RuntimeError):
    """The backend could not render (unreachable, bad answer, bad weights)."""


@dataclass(frozen=True)
class RenderRequest:
    prompt: str
    duration_s: float
    width: int
    height: int
    fps: int = 25
    seed: int = 0
    dialogue: str = ""  # what is said aloud (quoted text in the prompt)
    cameo_faces: dict[str, bytes] = field(default_factory=dict)  # cameo id -> JPEG (opt-in)


@dataclass
class Rendering:
    frames: Iterator[np.ndarray]  # RGB uint8, height x width x 3
    fps: int
    width: int
    height: int
    audio: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    transcript: str
    backend: str  # name and version, recorded with the generation


class Backend(Protocol):
    name: str

    def render(self, request: RenderRequest) -> Rendering: ...


def make_backend(name: str) -> Backend:
    """The configured backend (`CAMEOGUARD_GENERATOR_BACKEND`)."""
    from cameoguard.settings import get_settings

    settings = get_settings()
    if name == "embedded":
        from generator.backends.embedded import EmbeddedBackend

        return EmbeddedBackend()
    if name == "http":
        from generator.backends.http import HttpBackend

        if not settings.generator_http_url:
            raise BackendError("the http backend needs CAMEOGUARD_GENERATOR_HTTP_URL")
        return HttpBackend(settings.generator_http_url, timeout_s=settings.generator_http_timeout_s)
    if name == "diffusers":
        from generator.backends.diffusion import DiffusersBackend

        if not settings.generator_diffusers_path:
            raise BackendError("the diffusers backend needs CAMEOGUARD_GENERATOR_DIFFUSERS_PATH")
        return DiffusersBackend(settings.generator_diffusers_path)
    raise BackendError(f"unknown generator backend {name!r} (embedded, http, diffusers)")
