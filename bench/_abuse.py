"""Abusive traffic for `bench/load.py --abuse` and the abuse test: what an attacker on the same
network can send at the service, with bounded counts and durations, on loopback only.

- a flood of requests with an invalid key (and of /metrics), open loop;
- huge unauthenticated bodies (a 199 MB Content-Length, streamed until the server answers);
- media bombs from a valid key: a JPEG header claiming 8900x8900, an MP4 of 4096x4096 frames;
- costly requests from a valid key: 128 texts of 8,000 characters to /v1/moderations, and
  likeness checks of half a minute of video.

Every attack records the status codes it got; the caller checks them and the server's memory.
"""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import av
import httpx
import numpy as np
from PIL import Image

from bench._http import open_loop


@dataclass
class AbuseReport:
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, attack: str, status: int) -> None:
        with self.lock:
            self.statuses.setdefault(attack, Counter())[status] += 1

    def unexpected(self) -> dict[str, dict[int, int]]:
        """Answers no attack should ever get: a success for the unauthenticated ones, a 5xx
        other than 503 (busy) for any."""
        bad: dict[str, dict[int, int]] = {}
        for attack, counts in self.statuses.items():
            for status, n in counts.items():
                success = 200 <= status < 300 and attack in ("flood", "big_bodies", "bombs")
                if success or (status >= 500 and status != 503) or status == 0:
                    bad.setdefault(attack, {})[status] = n
        return bad


def jpeg_bomb(width: int = 8900, height: int = 8900) -> bytes:
    """A few hundred bytes of JPEG whose header claims `width` x `height` pixels."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 120, 150)).save(buffer, format="JPEG", quality=50)
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 7] = height.to_bytes(2, "big")
    data[sof + 7 : sof + 9] = width.to_bytes(2, "big")
    return bytes(data)


def video_bomb(path: Path, side: int = 4096, frames: int = 3) -> bytes:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=1)
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "51"}
        frame = av.VideoFrame.from_ndarray(np.zeros((side, side, 3), np.uint8), format="rgb24")
        for index in range(frames):
            frame.pts = index
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path.read_bytes()


def _big_body(base: str, report: AbuseReport, stop: threading.Event) -> None:
    """Declares 199 MB and streams zeros until the server answers or closes (20 MB at most)."""
    parts = urlsplit(base)
    while not stop.is_set():
        status = 0
        try:
            with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
                sock.sendall(
                    b"POST /v1/checks/prompt HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/octet-stream\r\n"
                    b"Content-Length: 208666624\r\n\r\n"
                )
                sock.settimeout(0.05)
                chunk, sent, answer = b"\0" * 1_048_576, 0, b""
                while sent < 20 * 1_048_576 and not answer:
                    with contextlib.suppress(TimeoutError):
                        answer = sock.recv(64)
                    if not answer:
                        try:
                            sock.sendall(chunk)
                        except OSError:
                            break
                        sent += len(chunk)
                if not answer:
                    sock.settimeout(5)
                    answer = sock.recv(64)
                status = int(answer.split(b" ")[1]) if answer.startswith(b"HTTP/") else 0
        except OSError:
            status = 0
        report.add("big_bodies", status)
        stop.wait(0.2)


def _repeat(
    client: httpx.Client,
    attack: str,
    send: list[tuple[str, dict]],
    report: AbuseReport,
    stop: threading.Event,
    pause_s: float,
) -> None:
    index = 0
    while not stop.is_set():
        path, kwargs = send[index % len(send)]
        index += 1
        try:
            status = client.post(path, **kwargs).status_code
        except httpx.HTTPError:
            status = 0
        report.add(attack, status)
        stop.wait(pause_s)


def run_abuse(
    base: str, abuser_key: str, seconds: float, media: dict[str, bytes], flood_rate: float = 150.0
) -> AbuseReport:
    """Runs every attack at once for `seconds`; returns what each got back."""
    report = AbuseReport()
    stop = threading.Event()
    headers = {"Authorization": f"Bearer {abuser_key}"}
    client = httpx.Client(base_url=base, headers=headers, timeout=60)
    long_texts = {"input": ["word " * 1600] * 128}
    threads = [
        threading.Thread(target=_big_body, args=(base, report, stop)),
        threading.Thread(target=_big_body, args=(base, report, stop)),
        threading.Thread(
            target=_repeat,
            args=(
                client,
                "bombs",
                [
                    ("/v1/checks/likeness", {"content": media["jpeg_bomb"]}),
                    ("/v1/provenance/verify", {"content": media["video_bomb"]}),
                    ("/v1/checks/likeness", {"content": media["video_bomb"]}),
                ],
                report,
                stop,
                0.3,
            ),
        ),
        threading.Thread(
            target=_repeat,
            args=(
                client,
                "long_texts",
                [("/v1/moderations", {"json": long_texts})],
                report,
                stop,
                0.2,
            ),
        ),
        threading.Thread(
            target=_repeat,
            args=(
                client,
                "costly_media",
                [("/v1/checks/likeness", {"content": media["long_clip"]})],
                report,
                stop,
                0.5,
            ),
        ),
    ]
    for thread in threads:
        thread.start()
    bad_key = "Bearer cg_00000000_" + "z" * 43
    flood_url = f"{base}/v1/whoami"
    parts = urlsplit(flood_url)
    raw = (
        f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: {bad_key}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    flood = open_loop(flood_url, lambda i: raw, flood_rate, seconds, connections=16,
                      ok=lambda status: status in (401, 429))  # fmt: skip
    for status, n in flood.statuses.items():
        report.statuses.setdefault("flood", Counter())[status] += n
    if flood.errors:
        report.statuses.setdefault("flood", Counter())[0] += flood.errors - sum(
            n for s, n in flood.statuses.items() if s not in (401, 429)
        )
    stop.wait(max(0.0, seconds - (time.monotonic() - started)))
    stop.set()
    for thread in threads:
        thread.join(timeout=90)
    client.close()
    return report


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
