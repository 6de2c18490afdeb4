"""A light open-loop HTTP/1.1 load generator for the benchmarks (in the spirit of wrk2).

Request i is due at start + i/rate whatever happened before, and its latency is measured from
that due time, so a slow server cannot hide its queueing behind a waiting client. One asyncio
loop and raw keep-alive connections: the generator costs a small fraction of the CPU that a
thread-per-request client would take from the server it shares the machine with.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np


@dataclass
class OpenLoopResult:
    sent: int
    errors: int
    latencies_ms: np.ndarray
    statuses: dict[int, int] = field(default_factory=dict)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if len(self.latencies_ms) else 0.0

    def summary(self) -> dict[str, float]:
        return {
            "n": self.sent,
            "p50": self.percentile(50),
            "p99": self.percentile(99),
            "max": float(self.latencies_ms.max()) if len(self.latencies_ms) else 0.0,
            "errors": self.errors,
        }


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def request(self, raw: bytes) -> int:
        """Sends one request and reads the whole response; returns the status code."""
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if length:
            await self.reader.readexactly(length)
        return status

    def stale(self) -> bool:
        """The server closed it while it was idle (keep-alive timeout)."""
        return self.reader.at_eof() or self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


def build_post(url: str, body: dict[str, Any], headers: dict[str, str]) -> bytes:
    parts = urlsplit(url)
    payload = json.dumps(body).encode()
    lines = [
        f"POST {parts.path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def _open_loop(
    url: str,
    requests: Callable[[int], bytes],
    rate: float,
    seconds: float,
    connections: int,
    ok: Callable[[int], bool],
) -> OpenLoopResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    # A LIFO pool, as HTTP clients keep theirs: the most recently used connection is reused
    # first, so at a low rate the others idle (and may be closed by the server's keep-alive
    # timeout, which `_Connection.stale` notices before a request is written to them).
    idle: asyncio.LifoQueue[_Connection] = asyncio.LifoQueue()
    for _ in range(connections):
        idle.put_nowait(_Connection(*await asyncio.open_connection(host, port)))
    total = int(rate * seconds)
    latencies = np.zeros(total)
    statuses: dict[int, int] = {}
    errors = 0
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.1

    async def one(i: int) -> None:
        nonlocal errors
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - loop.time()))
        conn = await idle.get()
        if conn.stale():
            conn.close()
            conn = _Connection(*await asyncio.open_connection(host, port))
        try:
            try:
                status = await conn.request(requests(i))
            except (OSError, asyncio.IncompleteReadError):
                # The server may close an idle keep-alive connection just as a request goes out
                # (no byte of an answer came back): like HTTP clients' pools, retry once on a
                # new connection, the latency still counted from the first due time.
                conn.close()
                conn = _Connection(*await asyncio.open_connection(host, port))
                status = await conn.request(requests(i))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            statuses[0] = statuses.get(0, 0) + 1  # 0: no answer
            conn.close()
            conn = _Connection(*await asyncio.open_connection(host, port))
        else:
            statuses[status] = statuses.get(status, 0) + 1
            if not ok(status):
                errors += 1
        finally:
            idle.put_nowait(conn)
        latencies[i] = (loop.time() - due) * 1000

    # Tasks are created just ahead of their due time so that thousands of sleeping tasks do not
    # crowd the loop.
    tasks: list[asyncio.Task[None]] = []
    for i in range(total):
        lead = start + i / rate - loop.time() - 0.05
        if lead > 0:
            await asyncio.sleep(lead)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait().close()
    return OpenLoopResult(sent=total, errors=errors, latencies_ms=latencies, statuses=statuses)


def open_loop(
    url: str,
    requests: Callable[[int], bytes],
    rate: float,
    seconds: float,
    connections: int = 32,
    ok: Callable[[int], bool] = lambda status: status == 200,
) -> OpenLoopResult:
    """Sends `rate * seconds` requests (`requests(i)` gives request i's bytes) at a steady
    rate over `connections` keep-alive connections; a request waits for a free connection,
    and that wait counts in its latency."""
    return asyncio.run(_open_loop(url, requests, rate, seconds, connections, ok))
