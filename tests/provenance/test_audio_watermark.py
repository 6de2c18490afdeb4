"""The audio watermark on real speech (LibriVox), through MP3 and AAC at 64 kbit/s, and in a
marked MP4; unmarked sound never reads as marked."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest

from provenance.marking import mark_file
from provenance.watermark import audio as awm
from safety.media import load_media
from tests.media_factory import make_clip, speech

KEY = b"k" * 32
ID = 0x0123456789ABCDEF
VOICES = Path(__file__).parents[1] / "data" / "voices"


def _reader(seconds: float = 10.0) -> np.ndarray:
    """Real speech: the LibriVox clips back to back, at 16 kHz."""
    clips = []
    for path in sorted(VOICES.glob("librivox_*.wav")):
        audio = load_media(path, max_seconds=60).audio
        assert audio is not None
        clips.append(audio)
    return np.concatenate(clips)[: int(seconds * 16_000)]


def _upsample(x: np.ndarray, factor: int = 3) -> np.ndarray:
    from scipy import signal

    return signal.resample_poly(x, factor, 1).astype(np.float32)


def _codec(x: np.ndarray, rate: int, codec: str, bitrate: int = 64_000) -> np.ndarray:
    """Encode and decode, back at 16 kHz mono."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3" if codec == "libmp3lame" else "adts") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.bit_rate, stream.layout = bitrate, "mono"
        for start in range(0, len(x), 1152):
            frame = av.AudioFrame.from_ndarray(
                x[None, start : start + 1152].astype(np.float32), format="flt", layout="mono"
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    buffer.seek(0)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=16_000)
    with av.open(buffer) as container:
        chunks = [
            o.to_ndarray().reshape(-1)
            for frame in container.decode(audio=0)
            for o in resampler.resample(frame)
        ]
    return np.concatenate(chunks)


@pytest.mark.parametrize("codec", ["aac", "libmp3lame"])
def test_real_speech_keeps_the_id_through_64k_codecs(codec: str) -> None:
    host = _upsample(_reader() * 0.9)
    marked = awm.embed(host, 48_000, KEY, ID)
    noise = marked - host
    snr = 10 * np.log10(np.sum(host**2) / np.sum(noise**2))
    assert 18 < snr < 26  # quiet: about 21 dB under the sound
    result = awm.detect(_codec(marked, 48_000, codec), KEY)
    assert result.found and result.identifier == ID, result
    assert result.sync_z >= awm.PRESENCE_Z
    wrong_key = awm.detect(_codec(marked, 48_000, codec), b"x" * 32)
    assert not wrong_key.found


def test_unmarked_sound_is_not_marked() -> None:
    rng = np.random.default_rng(5)
    hosts = [
        _reader(),
        speech("this recording was never marked by anyone at all, I promise you that"),
        (0.1 * rng.normal(size=160_000)).astype(np.float32),
        (0.2 * np.sin(2 * np.pi * 220 * np.arange(160_000) / 16_000)).astype(np.float32),
    ]
    for host in hosts:
        result = awm.detect(host, KEY)
        assert not result.found and result.sync_z < awm.PRESENCE_Z, result
    assert awm.detect(np.zeros(80_000, np.float32), KEY).reason == "silent"
    assert awm.detect(np.zeros(8_000, np.float32), KEY).reason == "audio too short"


def test_marked_mp4_carries_the_id_in_its_audio(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "src.mp4", seconds=6.0, width=320, height=180, seed=9)
    marked = tmp_path / "marked.mp4"
    mark_file(source, marked, KEY, ID)
    audio = load_media(marked, max_seconds=60).audio
    assert audio is not None and abs(audio.size / 16_000 - 6.0) < 0.2
    result = awm.detect(audio, KEY)
    assert result.found and result.identifier == ID
    original = load_media(source, max_seconds=60).audio
    assert original is not None and not awm.detect(original, KEY).found


def test_a_silent_video_without_an_audio_track_is_marked_too(tmp_path: Path) -> None:
    source = tmp_path / "mute.mp4"
    with av.open(str(source), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for i in range(50):
            rgb = np.full((96, 160, 3), (i * 5) % 255, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    marked = tmp_path / "marked.mp4"
    result = mark_file(source, marked, KEY, ID)
    assert result.frames == 50
    with av.open(str(marked)) as container:
        assert not container.streams.audio
    assert load_media(marked, max_seconds=10).audio is None
