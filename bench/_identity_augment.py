"""Channel and capture conditions for the identity evaluation: what a phone, a codec, a dim room
or a cheap camera does to a voice or a face. Deterministic (seeded), numpy + PyAV + Pillow only.

Voices (16 kHz mono float32 in and out): the channels of safety/models/voice_channels.py
(clean, phone AMR-NB, Opus 16 kbit/s, noise + MP3), which multi-condition enrollment uses too.

Faces (RGB uint8 in and out): brightness and gamma, a rotation with an off-centre crop, a
mirror image, JPEG at quality 25, a 3x downscale, a blur, sensor noise.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from safety.models.voice_channels import CHANNELS, RATE, resample
from safety.models.voice_channels import channel as voice_variant

__all__ = ["RATE", "resample", "voice_variant"]

VOICE_VARIANTS = CHANNELS
FACE_VARIANTS = (
    "original",
    "dark",
    "bright",
    "rotate_crop",
    "mirror",
    "jpeg25",
    "downscale3",
    "blur",
    "noise",
)


def face_variant(rgb: np.ndarray, variant: str, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
    if variant == "original":
        out = image
    elif variant == "dark":
        arr = np.asarray(image, dtype=np.float32) / 255.0
        out = Image.fromarray((255 * (arr**1.8) * 0.6).astype(np.uint8))
    elif variant == "bright":
        out = ImageEnhance.Contrast(ImageEnhance.Brightness(image).enhance(1.4)).enhance(0.7)
    elif variant == "rotate_crop":
        angle = float(rng.choice([-1, 1]) * rng.uniform(8, 14))
        rotated = image.rotate(angle, resample=Image.BICUBIC, expand=False)
        w, h = rotated.size
        dx, dy = int(w * rng.uniform(0.02, 0.08)), int(h * rng.uniform(0.02, 0.08))
        out = rotated.crop((dx, dy, w - int(w * 0.05), h - int(h * 0.03)))
    elif variant == "mirror":
        out = image.transpose(Image.FLIP_LEFT_RIGHT)
    elif variant == "jpeg25":
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=25)
        out = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    elif variant == "downscale3":
        w, h = image.size
        out = image.resize((max(1, w // 3), max(1, h // 3)), Image.BILINEAR)
    elif variant == "blur":
        out = image.filter(ImageFilter.GaussianBlur(radius=max(1.0, image.size[0] / 400)))
    elif variant == "noise":
        arr = np.asarray(image, dtype=np.float32) + rng.normal(0, 12, np.asarray(image).shape)
        out = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    else:
        raise ValueError(f"unknown face variant {variant}")
    return np.asarray(out.convert("RGB"))
