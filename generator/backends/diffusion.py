"""A local text-to-video backend on `diffusers`, for operators with a GPU and their own
weights: any diffusers text-to-video pipeline saved in a folder (`save_pretrained` layout) is
loaded from that folder only, never from the network. No weights ship with cameoguard (none
that run offline exist in any package); the loading and rendering code is tested on a tiny,
randomly initialised pipeline that the test builds and saves.

The pipeline makes frames at its native size and rate; they are resized to the requested size
and repeated to the requested frame rate. Text-to-video models make no sound: the audio is the
embedded backend's speech of the prompt's dialogue over ambient sound."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from generator.backends import BackendError, Rendering, RenderRequest
from generator.backends.embedded import SAMPLE_RATE, ambient, dialogue_of, speak


class DiffusersBackend:
    def __init__(
        self,
        path: Path,
        *,
        native_width: int = 512,
        native_height: int = 288,
        native_fps: int = 8,
        steps: int = 25,
        device: str | None = None,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import torch
            from diffusers import DiffusionPipeline
        except ImportError as exc:
            raise BackendError(f"the diffusers backend needs torch and diffusers: {exc}") from exc
        folder = Path(path)
        if not (folder / "model_index.json").is_file():
            raise BackendError(f"{folder} is not a saved diffusers pipeline (no model_index.json)")
        try:
            self._pipe = DiffusionPipeline.from_pretrained(str(folder), local_files_only=True)
        except Exception as exc:
            raise BackendError(f"cannot load the pipeline in {folder}: {exc}") from exc
        self._device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._pipe.to(self._device)
        self._torch = torch
        self.native = (native_width, native_height)
        self.native_fps = native_fps
        self.steps = steps
        self.name = f"diffusers:{type(self._pipe).__name__}:{folder.name}"

    def render(self, request: RenderRequest) -> Rendering:
        count = max(2, math.ceil(request.duration_s * self.native_fps))
        generator = self._torch.Generator(device="cpu").manual_seed(request.seed)
        try:
            with self._torch.inference_mode():
                result = self._pipe(
                    prompt=request.prompt,
                    num_frames=count,
                    width=self.native[0],
                    height=self.native[1],
                    num_inference_steps=self.steps,
                    generator=generator,
                    output_type="np",
                )
        except Exception as exc:
            raise BackendError(f"the diffusers pipeline failed: {exc}") from exc
        video = np.asarray(result.frames[0])  # (frames, height, width, 3), floats in [0, 1]
        if video.ndim != 4 or video.shape[-1] != 3:
            raise BackendError(f"unexpected frames of shape {video.shape}")
        dialogue = request.dialogue or dialogue_of(request.prompt)
        audio = ambient(request.duration_s, np.random.default_rng(request.seed))
        voice = speak(dialogue)
        start = int(0.5 * SAMPLE_RATE)
        end = min(len(audio), start + len(voice))
        audio[start:end] += 0.8 * voice[: end - start]
        return Rendering(
            frames=self._frames(video, request),
            fps=request.fps,
            width=request.width,
            height=request.height,
            audio=np.clip(audio, -1, 1),
            sample_rate=SAMPLE_RATE,
            transcript=dialogue,
            backend=self.name,
        )

    def _frames(self, video: np.ndarray, request: RenderRequest) -> Iterator[np.ndarray]:
        total = max(1, round(request.duration_s * request.fps))
        for n in range(total):
            source = min(len(video) - 1, int(n / request.fps * self.native_fps))
            picture = (np.clip(video[source], 0, 1) * 255).round().astype(np.uint8)
            resized = Image.fromarray(picture).resize((request.width, request.height))
            yield np.asarray(resized.convert("RGB"))
