"""The embedded backend: an honest procedural renderer that needs no model weights, so the whole
pipeline runs on a laptop. It is not a generative model: it draws a scene from the prompt (a sky
and ground in colours picked from the prompt, the prompt as a title, its main words as moving
labelled shapes), composites each cameo's enrolled face image when the owner opted in to storing
it, and speaks the prompt's quoted dialogue with espeak-ng over generated ambient sound."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
import textwrap
import wave
from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from generator.backends import BackendError, Rendering, RenderRequest

VERSION = "embedded-procedural-1"
SAMPLE_RATE = 48_000
_STOPWORD_TEXT = (  # English and French function words: not subjects of a scene
    "a an the and or of in on at to with from into over under for by is are was were be been "
    "this that these those it its as while who whom which what when where very some any their "
    "his her our your my me you he she they we them us says said saying une un le la les des du "
    "de et dans sur avec pour par est sont qui que dit"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def _rng(request: RenderRequest) -> np.random.Generator:
    digest = hashlib.sha256(f"{request.seed}:{request.prompt}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def subjects(prompt: str, limit: int = 4) -> list[str]:
    """The prompt's main words, in order: the things the scene shows."""
    words = re.findall(r"[^\W\d_]{3,}", prompt.lower())
    seen: list[str] = []
    for word in words:
        if word not in STOPWORDS and word not in seen:
            seen.append(word)
    return seen[:limit]


def dialogue_of(prompt: str) -> str:
    """The quoted text of a prompt ("...", '...', « ... »): what the scene says aloud."""
    parts = re.findall(r"\"([^\"]{1,400})\"|“([^”]{1,400})”|«\s*([^»]{1,400}?)\s*»", prompt)
    return " ".join(p for group in parts for p in group if p).strip()


def speak(text: str, rate: int = SAMPLE_RATE, voice: str = "en-us") -> np.ndarray:
    """Speech by espeak-ng (a Debian package the setup installs) as float32 mono at `rate`."""
    if not text:
        return np.zeros(0, np.float32)
    if shutil.which("espeak-ng") is None:
        raise BackendError("espeak-ng is not installed (scripts/setup.sh installs it)")
    try:
        wav = subprocess.run(
            ["espeak-ng", "-v", voice, "-s", "150", "--stdout", text[:2000]],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (subprocess.SubprocessError, OSError) as exc:
        raise BackendError(f"espeak-ng failed: {exc}") from exc
    with wave.open(io.BytesIO(wav)) as reader:
        source_rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")
    samples = samples.astype(np.float32) / 32768.0
    positions = np.arange(int(len(samples) * rate / source_rate)) * source_rate / rate
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


def ambient(seconds: float, rng: np.random.Generator, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Soft pink-ish noise under a slow chord: room tone, so the clip is never silent."""
    n = int(seconds * rate)
    white = rng.normal(0, 1, n).astype(np.float32)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(n, 1 / rate)
    spectrum /= np.sqrt(np.maximum(freqs, 20.0))
    noise = np.fft.irfft(spectrum, n).astype(np.float32)
    noise *= 0.03 / (np.abs(noise).max() + 1e-9)
    t = np.arange(n) / rate
    root = rng.uniform(110, 220)
    chord = sum(np.sin(2 * np.pi * root * r * t) for r in (1.0, 1.25, 1.5)) / 3
    swell = 0.5 + 0.5 * np.sin(2 * np.pi * t / 8.0)
    return (noise + 0.02 * chord * swell).astype(np.float32)


def _palette(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[tuple[int, ...]]]:
    sky = rng.uniform(60, 220, 3)
    ground = rng.uniform(30, 160, 3)
    shapes = [tuple(int(v) for v in rng.uniform(40, 255, 3)) for _ in range(8)]
    return sky, ground, shapes


def _faces(request: RenderRequest) -> list[Image.Image]:
    faces = []
    for cameo_id, jpeg in sorted(request.cameo_faces.items()):
        try:
            image = Image.open(io.BytesIO(jpeg)).convert("RGB")
        except OSError as exc:
            raise BackendError(f"the face image of cameo {cameo_id} is unreadable") from exc
        side = int(min(request.width, request.height) * 0.55)
        scale = side / max(image.size)
        faces.append(
            image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))))
        )
    return faces


class EmbeddedBackend:
    name = VERSION

    def render(self, request: RenderRequest) -> Rendering:
        rng = _rng(request)
        frames_total = max(1, round(request.duration_s * request.fps))
        sky, ground, colours = _palette(rng)
        words = subjects(request.prompt)
        paths = rng.uniform(0.2, 1.0, (len(words), 4))
        faces = _faces(request)
        dialogue = request.dialogue or dialogue_of(request.prompt)
        voice = speak(dialogue)
        audio = ambient(request.duration_s, rng)
        start = int(0.5 * SAMPLE_RATE)
        end = min(len(audio), start + len(voice))
        audio[start:end] += 0.8 * voice[: end - start]
        np.clip(audio, -1, 1, out=audio)
        return Rendering(
            frames=self._frames(request, frames_total, sky, ground, colours, words, paths, faces),
            fps=request.fps,
            width=request.width,
            height=request.height,
            audio=audio,
            sample_rate=SAMPLE_RATE,
            transcript=dialogue,
            backend=VERSION,
        )

    def _frames(
        self,
        request: RenderRequest,
        total: int,
        sky: np.ndarray,
        ground: np.ndarray,
        colours: list[tuple[int, ...]],
        words: list[str],
        paths: np.ndarray,
        faces: list[Image.Image],
    ) -> Iterator[np.ndarray]:
        w, h = request.width, request.height
        horizon = int(h * 0.68)
        rows = np.linspace(0, 1, horizon, dtype=np.float32)[:, None, None]
        backdrop = np.zeros((h, w, 3), np.float32)
        backdrop[:horizon] = sky * (1 - 0.45 * rows)
        backdrop[horizon:] = ground
        font = ImageFont.load_default(size=max(12, h // 22))
        label_font = ImageFont.load_default(size=max(10, h // 28))
        title = "\n".join(textwrap.wrap(request.prompt, width=max(20, w // (h // 40 + 6)))[:3])
        for n in range(total):
            t = n / request.fps
            image = Image.fromarray(backdrop.astype(np.uint8))
            draw = ImageDraw.Draw(image)
            sun_x = int(w * (0.15 + 0.7 * (t / max(request.duration_s, 1e-6))))
            draw.ellipse(
                (sun_x - h // 12, h // 6, sun_x + h // 12, h // 6 + h // 6), fill=(250, 230, 160)
            )
            for i, word in enumerate(words):
                ax, ay, fx, fy = paths[i]
                x = int(w * (0.5 + 0.38 * np.sin(2 * np.pi * fx * t / 4 + i)))
                y = int(horizon - h * 0.12 - h * 0.2 * ay * abs(np.sin(2 * np.pi * fy * t / 3 + i)))
                r = int(h * (0.05 + 0.03 * ax))
                colour = colours[i % len(colours)]
                if i % 2:
                    draw.rectangle((x - r, y - r, x + r, y + r), fill=colour)
                else:
                    draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
                draw.text((x, y + r + 4), word, font=label_font, fill=(255, 255, 255), anchor="ma")
            for i, face in enumerate(faces):
                slot = (i + 1) / (len(faces) + 1)
                x = int(w * slot - face.width / 2 + 0.02 * w * np.sin(2 * np.pi * t / 5 + i))
                y = int(h * 0.18)
                image.paste(face, (x, y))
            draw.multiline_text((w // 30, h // 30), title, font=font, fill=(255, 255, 255))
            yield np.asarray(image)
