"""Writes a backend's frames and audio as an H.264 + AAC MP4 with PyAV (FFmpeg in the wheel)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from generator.backends import BackendError, Rendering
from provenance.marking import encode_audio


def write_mp4(rendering: Rendering, path: Path, crf: int = 18) -> float:
    """Encodes the rendering to `path`; returns the video's duration in seconds. Frames of the
    wrong size or type are refused (a backend bug must not become a broken file)."""
    frames = 0
    audio = np.asarray(rendering.audio, dtype=np.float32).reshape(1, -1)
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=rendering.fps)
        video.width, video.height, video.pix_fmt = rendering.width, rendering.height, "yuv420p"
        video.options = {"crf": str(crf), "preset": "veryfast"}
        sound = out.add_stream("aac", rate=rendering.sample_rate, layout="mono")
        audio_at = 0
        for image in rendering.frames:
            if image.shape != (rendering.height, rendering.width, 3) or image.dtype != np.uint8:
                raise BackendError(
                    f"frame {frames} is {image.shape} {image.dtype}, expected "
                    f"{(rendering.height, rendering.width, 3)} uint8"
                )
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = frames
            for packet in video.encode(frame):
                out.mux(packet)
            frames += 1
            until = int(frames / rendering.fps * rendering.sample_rate)
            audio_at = encode_audio(out, sound, audio, audio_at, until)
        if frames == 0:
            raise BackendError("the backend rendered no frames")
        for packet in video.encode():
            out.mux(packet)
        encode_audio(out, sound, audio, audio_at, audio.shape[1])
        for packet in sound.encode():
            out.mux(packet)
    return frames / rendering.fps
