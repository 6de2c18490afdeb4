"""The generation worker: takes queued jobs from the database under a lease and runs the
pipeline; also resumes jobs that a reviewer released. Several workers may run side by side."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import Counter

from cameoguard.settings import get_settings
from generator.backends import make_backend
from generator.jobs import claim, resume_reviewed
from generator.pipeline import Publisher, Tools, run_job
from safety.review.cases import case_outcome

log = logging.getLogger("cameoguard.generator")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def make_tools(publish: Publisher) -> Tools:
    """Loads the backend and every model the pipeline needs (fails if one cannot load);
    `publish` puts finished generations into the feed."""
    from safety.consent.models import get_models
    from safety.models.nsfw import get_nsfw
    from safety.policy.engine import get_engine

    settings = get_settings()
    return Tools(
        backend=make_backend(settings.generator_backend),
        engine=get_engine(),
        models=get_models(),
        nsfw=get_nsfw(),
        publish=publish,
    )


def work(
    stop: threading.Event,
    tools: Tools,
    *,
    name: str | None = None,
    poll_seconds: float = 1.0,
    until_idle: bool = False,
    counts: Counter[str] | None = None,
) -> int:
    """Runs jobs until `stop` is set (or, with `until_idle`, until the queue is empty); returns
    how many jobs it ran. A SIGTERM handler that sets `stop` lets the job in hand finish."""
    me = name or worker_name()
    lease = get_settings().generation_lease_seconds
    done = 0
    while not stop.is_set():
        resume_reviewed(case_outcome)
        job = claim(me, lease)
        if job is None:
            if until_idle:
                break
            stop.wait(poll_seconds)
            continue
        state = run_job(job, tools, me)
        log.info("generation finished", extra={"generation_id": job.id, "state": state})
        done += 1
        if counts is not None:
            counts["processed"] += 1
            counts["failed"] += state == "failed"
    return done


def queued_jobs() -> int:
    """Jobs waiting for a worker: the generator's lag."""
    from sqlalchemy import func, select

    from cameoguard.db import session_scope
    from generator.tables import GenerationJob

    with session_scope() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(GenerationJob)
                .where(GenerationJob.state == "queued")
            )
            or 0
        )
