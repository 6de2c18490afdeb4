"""Phone, messaging-app and noisy channels simulated on 16 kHz mono speech, in process (PyAV's
FFmpeg codecs, scipy filters). Used for multi-condition voice enrollment (an enrollment clip is
embedded as heard through each channel, and a probe is scored against the closest one) and by
the identity evaluation corpus.

- `clean`: as recorded;
- `phone`: 300-3400 Hz band, 8 kHz, AMR-NB at 12.2 kbit/s (the GSM/3G narrow-band codec);
- `opus16`: Opus at 16 kbit/s (a messaging app's voice note);
- `noisy`: pink-ish noise at 15 dB SNR, then MP3 at 32 kbit/s.
"""

from __future__ import annotations

import io

import av
import numpy as np

RATE = 16_000
CHANNELS = ("clean", "phone", "opus16", "noisy")


def _roundtrip(audio: np.ndarray, codec: str, rate: int, bit_rate: int, fmt: str) -> np.ndarray:
    """Encodes mono float audio at `rate` with `codec` in memory and decodes it back."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.bit_rate = bit_rate
        stream.layout = "mono"
        pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)[None]
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    buffer.seek(0)
    chunks = []
    with av.open(buffer) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        for frame in container.decode(audio=0):
            for converted in resampler.resample(frame):
                chunks.append(converted.to_ndarray().reshape(-1))
    decoded = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return decoded.astype(np.float32)


def resample(audio: np.ndarray, src: int, dst: int) -> np.ndarray:
    from scipy.signal import resample_poly

    g = np.gcd(src, dst)
    return resample_poly(audio, dst // g, src // g).astype(np.float32)


def _bandpass(audio: np.ndarray, low: float, high: float, rate: int) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    sos = butter(6, [low, high], btype="band", fs=rate, output="sos")
    return sosfiltfilt(sos, audio).astype(np.float32)


def _fit(audio: np.ndarray, length: int) -> np.ndarray:
    out = np.zeros(length, np.float32)
    out[: min(length, audio.size)] = audio[:length]
    return out


def channel(audio: np.ndarray, variant: str, seed: int = 0) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if variant == "clean":
        return audio
    if variant == "phone":
        narrow = resample(_bandpass(audio, 300, 3400, RATE), RATE, 8000)
        coded = _roundtrip(narrow, "libopencore_amrnb", 8000, 12_200, "amr")
        return _fit(resample(coded, 8000, RATE), audio.size)
    if variant == "opus16":
        coded = _roundtrip(resample(audio, RATE, 48_000), "libopus", 48_000, 16_000, "ogg")
        return _fit(resample(coded, 48_000, RATE), audio.size)
    if variant == "noisy":
        rng = np.random.default_rng(seed)
        white = rng.normal(size=audio.size + 1).astype(np.float32)
        pink = np.cumsum(white)  # brown, then high-passed back towards pink
        pink = np.diff(pink) * 0.3 + white[1:] * 0.7
        signal_power = float(np.mean(audio**2)) + 1e-12
        noise = pink / np.sqrt(np.mean(pink**2)) * np.sqrt(signal_power / 10 ** (15 / 10))
        coded = _roundtrip(resample(audio + noise, RATE, 16_000), "libmp3lame", RATE, 32_000, "mp3")
        return _fit(coded, audio.size)
    raise ValueError(f"unknown channel {variant}")


def channel_views(audio: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """The audio as heard through each of CHANNELS (same length as the input)."""
    return {name: channel(audio, name, seed) for name in CHANNELS}
