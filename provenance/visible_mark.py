"""The visible mark: a small badge with the platform's name and the creator's handle, burned
into every frame and moving between the corners, so that cropping one corner does not remove it
(as the big video apps do). Drawn with Pillow's bundled scalable font; no font files needed."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

HOLD_SECONDS = 4.0  # time spent in each corner
GLIDE_SECONDS = 0.6  # time to move to the next one
OPACITY = 0.6
MAX_HANDLE = 40


def mark_text(brand: str, handle: str | None) -> str:
    """`brand · @handle`, with control and invisible characters removed and the handle capped."""
    clean = "".join(
        ch for ch in (handle or "") if unicodedata.category(ch)[0] not in ("C", "Z") or ch == " "
    ).strip()[:MAX_HANDLE]
    return f"{brand} · @{clean.lstrip('@')}" if clean else brand


@dataclass
class MarkRenderer:
    width: int
    height: int
    alpha: np.ndarray  # h x w, 0..1, already scaled by OPACITY
    color: np.ndarray  # h x w x 3, 0..255
    spots: list[tuple[int, int]]  # top-left corners, visited in order

    @classmethod
    def build(cls, text: str, width: int, height: int) -> MarkRenderer:
        size = max(12, height // 26)
        font = ImageFont.load_default(size=size)
        left, top, right, bottom = font.getbbox(text)
        pad = max(3, size // 4)
        badge = Image.new("RGBA", (right - left + 2 * pad, bottom - top + 2 * pad), (0, 0, 0, 0))
        draw = ImageDraw.Draw(badge)
        draw.rounded_rectangle(
            (0, 0, badge.width - 1, badge.height - 1), radius=pad, fill=(0, 0, 0, 110)
        )
        draw.text((pad - left, pad - top), text, font=font, fill=(255, 255, 255, 255))
        rgba = np.asarray(badge, dtype=np.float32)
        bw, bh = min(badge.width, width), min(badge.height, height)
        rgba = rgba[:bh, :bw]
        margin_x, margin_y = max(4, width // 40), max(4, height // 40)
        right_x, bottom_y = max(0, width - bw - margin_x), max(0, height - bh - margin_y)
        left_x, top_y = min(margin_x, right_x), min(margin_y, bottom_y)
        spots = [(left_x, top_y), (right_x, bottom_y), (right_x, top_y), (left_x, bottom_y)]
        return cls(width, height, rgba[..., 3] / 255.0 * OPACITY, rgba[..., :3], spots)

    def position(self, t: float) -> tuple[int, int]:
        period = HOLD_SECONDS + GLIDE_SECONDS
        step = int(max(t, 0.0) // period)
        into = max(t, 0.0) - step * period
        here = self.spots[step % len(self.spots)]
        if into <= HOLD_SECONDS:
            return here
        nxt = self.spots[(step + 1) % len(self.spots)]
        f = (into - HOLD_SECONDS) / GLIDE_SECONDS
        f = f * f * (3 - 2 * f)  # smoothstep
        return (round(here[0] + (nxt[0] - here[0]) * f), round(here[1] + (nxt[1] - here[1]) * f))

    def apply(self, rgb: np.ndarray, t: float) -> np.ndarray:
        """Blends the badge into a copy of `rgb` (H x W x 3 uint8) at its position for time t."""
        x, y = self.position(t)
        h, w = self.alpha.shape
        out = rgb.copy()
        region = out[y : y + h, x : x + w].astype(np.float32)
        a = self.alpha[: region.shape[0], : region.shape[1], None]
        blended = region * (1 - a) + self.color[: region.shape[0], : region.shape[1]] * a
        out[y : y + h, x : x + w] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        return out
