"""Heavy pure-Python work in worker processes. Threads share the API process's GIL: a thread
normalising and rule-matching megabytes of text holds it for most of its run, and the event
loop answering everyone's light checks waits its turn. Work sent here runs in
`heavy_work_processes` spawned processes at a lower CPU priority (0: in a thread, as before);
the function and its arguments must be picklable: an area sends plain data and a module-level
function.

A worker that dies (killed, out of memory) breaks the pool: the caller gets the error (a
failed check, never an `allow`) and the next call starts a fresh pool."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")
log = logging.getLogger("cameoguard.process_pool")

_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


def _processes() -> int:
    from cameoguard.settings import get_settings

    return get_settings().heavy_work_processes


def pool() -> ProcessPoolExecutor | None:
    """The shared pool, started on first use; None when heavy work runs in threads."""
    global _pool
    with _lock:
        if _pool is None:
            processes = _processes()
            if processes == 0:
                return None
            context = multiprocessing.get_context("spawn")  # no fork of a threaded process
            _pool = ProcessPoolExecutor(
                max_workers=processes, mp_context=context, initializer=_start_worker
            )
        return _pool


WORKER_NICENESS = 10


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)  # the API process is gone (killed, or ended by a signal without its atexit)


def _start_worker() -> None:
    """A worker process yields the CPU to the API process (on a busy machine the scheduler runs
    the event loop answering light checks before the heavy work), and ends with it."""
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()


def _discard(broken: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is broken:
            _pool = None
    broken.shutdown(wait=False, cancel_futures=True)


def _ready() -> bool:
    return True


def warm_up() -> None:
    """Starts every worker process now rather than on the first heavy request (imports take a
    second or two); a no-op when heavy work runs in threads."""
    executor = pool()
    if executor is None:
        return
    for future in [executor.submit(_ready) for _ in range(_processes())]:
        future.result(timeout=60)


async def run_in_process(work: Callable[..., T], *args: Any) -> T:
    """`work(*args)` in a worker process (or a worker thread when there are none)."""
    executor = pool()
    if executor is None:
        return await run_in_threadpool(work, *args)
    try:
        return await asyncio.wrap_future(executor.submit(work, *args))
    except BrokenProcessPool:
        log.error("a heavy-work process died; the pool is restarted on the next call")
        _discard(executor)
        raise


def shutdown() -> None:
    global _pool
    with _lock:
        executor, _pool = _pool, None
    if executor is not None:
        executor.shutdown(wait=True, cancel_futures=True)
