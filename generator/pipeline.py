"""The generation pipeline, one job at a time: prompt check -> consent check -> likeness check of
the reference media -> render -> output scan -> visible mark, invisible watermark and C2PA
signing -> store -> publish. Every step is recorded with its timing and outcome; a block stops
the job with the reason, a `review` holds it for a reviewer, and nothing is stored or
published unless every step before it passed. Consent is asked again before anything leaves."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from cameoguard import media_store
from cameoguard.contracts import FeedItemRequest
from cameoguard.db import session_scope
from cameoguard.errors import Refusal
from generator import scan
from generator.backends import ASPECTS, Backend, BackendError, RenderRequest
from generator.backends.embedded import dialogue_of
from generator.encode import write_mp4
from generator.jobs import finish_in, save_progress
from generator.tables import GenerationJob
from provenance.records import GenerationFacts
from provenance.service import mark_and_sign
from provenance.verify import read_watermark
from safety.consent import cameos, checks
from safety.consent.likeness import likeness
from safety.consent.models import LikenessModels
from safety.policy.engine import CheckContext, PolicyEngine
from safety.review.cases import CaseRequest, open_case
from safety.review.routing import review_policy

log = logging.getLogger("cameoguard.generator")


class Stop(Exception):
    """Ends the job early: `state` is blocked, held, cancelled or failed."""

    def __init__(self, state: str, reason: str) -> None:
        super().__init__(reason)
        self.state, self.reason = state, reason


# Publishes a finished generation into the feed, in the generator's transaction (the feed's
# `publish`, handed over by the assembly: the generator does not import the feed).
Publisher = Callable[[Session, FeedItemRequest, str], object]


@dataclass
class Tools:
    backend: Backend
    engine: PolicyEngine
    models: LikenessModels
    nsfw: scan.NsfwModel
    publish: Publisher


@dataclass
class Run:
    """One run of one job: its steps so far, reported to `progress` as they start and end."""

    job: GenerationJob
    worker: str
    progress: Callable[[str, str], None] = lambda step, status: None
    steps: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def step(self, name: str, fn: Callable[[], tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        """Runs one step; records outcome (`ok`, `block`, `review`, `error`), details, time."""
        self.progress(name, "start")
        started = time.perf_counter()
        try:
            outcome, details = fn()
        except Stop:
            raise
        except Refusal as exc:
            # A check refused the request: a block with the reason. A part that is down (a
            # model, the database) or a limit fails the job instead: it may pass on a retry.
            outcome = "error" if exc.retryable else "block"
            details = {"error": exc.message, "code": exc.code}
        except BackendError as exc:
            outcome, details = "error", {"error": str(exc)}
        except Exception as exc:
            log.exception("generation %s: step %s failed", self.job.id, name)
            outcome, details = "error", {"error": f"{type(exc).__name__}: {exc}"}
        ms = round((time.perf_counter() - started) * 1000, 1)
        entry = {"step": name, "outcome": outcome, "ms": ms, "details": details}
        self.steps.append(entry)
        self.progress(name, outcome)
        if not save_progress(self.job.id, self.worker, self.steps):
            raise Stop("cancelled", "the job was cancelled or taken over while it ran")
        if outcome == "block":
            raise Stop("blocked", f"{name}: {details.get('reason') or details.get('error')}")
        if outcome == "review":
            raise Stop("held", f"{name}: {details.get('reason')}")
        if outcome == "error":
            raise Stop("failed", f"{name}: {details.get('error')}")
        return details


def _prompt_step(run: Run, tools: Tools) -> tuple[str, dict[str, Any]]:
    job = run.job
    context = CheckContext(
        age_group="teen" if job.requester_age_group == "teen" else "adult",
        uses_cameo=bool(job.cameo_ids),
        purpose="generation",
        requester_id=job.requester_id,
    )
    decision = tools.engine.check(job.prompt, context)
    run.facts["policy"] = decision
    details = {
        "decision": decision.action,
        "pack": decision.pack,
        "model": decision.model,
        "flagged": decision.flagged,
        "reason": "; ".join(decision.reasons) or "no category over its thresholds",
    }
    if decision.action == "review" and job.review_approved:
        return "ok", {**details, "note": "held before; a reviewer approved it"}
    outcome = {"allow": "ok", "review": "review", "block": "block"}[decision.action]
    return outcome, details


def _consent_step(run: Run, tools: Tools) -> tuple[str, dict[str, Any]]:
    job = run.job
    if not job.cameo_ids:
        return "ok", {"reason": "no cameo used"}
    answer = checks.check_consent(
        checks.ConsentRequest(
            requester_id=job.requester_id,
            cameo_ids=job.cameo_ids,
            prompt=job.prompt,
            requester_age_group=job.requester_age_group,
            mutual_owner_ids=job.mutual_owner_ids or [],
            tenant=job.tenant,
        ),
        tools.engine,
        actor=f"generation:{job.id}",
    )
    grants = answer.grant_ids
    run.facts["grant_ids"] = grants
    details = {"decision": answer.decision, "reason": answer.reason, "grant_ids": grants}
    return ("ok" if answer.decision == "allow" else "block"), details


def _reference_step(run: Run, tools: Tools) -> tuple[str, dict[str, Any]]:
    job = run.job
    if not job.reference_location:
        return "ok", {"reason": "no reference media"}
    path = media_store.resolve(job.reference_location)
    report = likeness(
        path,
        tools.models,
        requester_id=job.requester_id,
        mutual_owner_ids=job.mutual_owner_ids,
        tenant=job.tenant,
    )
    summary = report.summary
    details = {
        "matched": summary.matched,
        "unconsented": summary.unconsented,
        "possible_minor": summary.possible_minor,
        "reason": "; ".join(summary.reasons) or "no likeness without consent",
    }
    return ("block" if summary.decision == "block" else "ok"), details


def _render_step(run: Run, tools: Tools, out: Path) -> tuple[str, dict[str, Any]]:
    job = run.job
    width, height = ASPECTS[job.aspect_ratio]
    faces = cameos.face_images(job.cameo_ids) if job.cameo_ids else {}
    rendering = tools.backend.render(
        RenderRequest(
            prompt=job.prompt,
            duration_s=job.duration_s,
            width=width,
            height=height,
            seed=int(job.id[-8:], 16),
            dialogue=dialogue_of(job.prompt),
            cameo_faces=faces,
        )
    )
    seconds = write_mp4(rendering, out)
    run.facts["transcript"] = rendering.transcript
    run.facts["backend"] = rendering.backend
    return "ok", {
        "backend": rendering.backend,
        "seconds": round(seconds, 2),
        "size": f"{width}x{height}",
        "cameo_faces_composited": sorted(faces),
        "transcript": rendering.transcript,
    }


def _scan_step(run: Run, tools: Tools, out: Path) -> tuple[str, dict[str, Any]]:
    result = scan.scan_output(
        out,
        run.job,
        run.facts.get("transcript", ""),
        run.facts["policy"],
        tools.engine,
        tools.models,
        tools.nsfw,
    )
    return result.outcome, result.details


def _mark_step(run: Run, raw: Path, marked: Path) -> tuple[str, dict[str, Any]]:
    job = run.job
    problem = checks.grants_still_valid(run.facts.get("grant_ids", []))
    if problem:
        raise Stop("cancelled", f"consent withdrawn before release: {problem}")
    decision = run.facts["policy"]
    facts = GenerationFacts(
        generation_id=job.id,
        creator_id=job.requester_id,
        cameo_ids=job.cameo_ids,
        policy_pack=decision.pack,
        decision=decision.action,
        generator=run.facts.get("backend", "unknown"),
        creator_handle=job.requester_handle,
    )
    output = mark_and_sign(raw, marked, facts, actor=f"generation:{job.id}")
    run.facts["watermark_id"] = output.watermark_id
    # Read the mark back: nothing leaves unless our id can be found in it.
    readback = read_watermark(marked)
    details = {
        "visible_mark": True,
        "watermark_id": output.watermark_id,
        "c2pa": "signed",
        "sha256": output.sha256,
        "watermark_read_back": readback.get("found_in", []),
        "video_sync_z": readback.get("confidence", {}).get("sync_z"),
        "audio_sync_z": readback.get("audio", {}).get("sync_z"),
    }
    if not readback.get("found") or readback.get("id") != output.watermark_id:
        details["error"] = "the invisible watermark could not be read back from the output"
        return "error", details
    return "ok", details


def _store_step(run: Run, marked: Path) -> tuple[str, dict[str, Any]]:
    location = media_store.put(marked, ".mp4")
    run.facts["location"] = location
    return "ok", {"media_location": location}


def _hold_for_review(run: Run, reason: str) -> str:
    """Opens the review case of a held generation; returns its id."""
    job = run.job
    decision = run.facts.get("policy")
    flagged = list(decision.flagged) if decision else []
    signals = ["minors" if "minors" in f else f.split("/")[0] for f in flagged]
    with session_scope(write=True) as session:
        case = open_case(
            session,
            CaseRequest(
                kind="generation",
                item_id=job.id,
                signals=sorted(set(signals)),
                severity=2,
                reasons=[reason],
                snapshot={
                    "caption": job.prompt,
                    "prompt": job.prompt,
                    "author_id": job.requester_id,
                    "cameo_ids": job.cameo_ids,
                    "steps": run.steps,
                },
            ),
            review_policy(),
        )
        return case.id


def run_job(
    job: GenerationJob,
    tools: Tools,
    worker: str,
    progress: Callable[[str, str], None] | None = None,
) -> str:
    """Runs a claimed job to its end; returns the final state."""
    run = Run(job=job, worker=worker, progress=progress or (lambda step, status: None))
    state, reason, fields = "done", "", {}
    try:
        with tempfile.TemporaryDirectory(prefix="cameoguard-gen-") as tmp:
            raw, marked = Path(tmp) / "raw.mp4", Path(tmp) / "marked.mp4"
            run.step("prompt_check", lambda: _prompt_step(run, tools))
            run.step("consent_check", lambda: _consent_step(run, tools))
            run.step("reference_check", lambda: _reference_step(run, tools))
            run.step("render", lambda: _render_step(run, tools, raw))
            run.step("output_scan", lambda: _scan_step(run, tools, raw))
            run.step("mark_and_sign", lambda: _mark_step(run, raw, marked))
            run.step("store", lambda: _store_step(run, marked))
            reason = "generated, scanned, marked and signed"
            fields = {
                "output_location": run.facts["location"],
                "watermark_id": run.facts["watermark_id"],
                "backend": run.facts.get("backend"),
                "grant_ids": run.facts.get("grant_ids", []),
            }
    except Stop as stop:
        state, reason = stop.state, stop.reason
        fields = {"grant_ids": run.facts.get("grant_ids", [])}
        if state == "held":
            fields["review_case_id"] = _hold_for_review(run, reason)
    except Exception as exc:
        log.exception("generation %s failed", job.id)
        state, reason = "failed", f"{type(exc).__name__}: {exc}"
        fields = {"grant_ids": run.facts.get("grant_ids", [])}
    return _finish(run, tools, state, reason, fields)


def _finish(run: Run, tools: Tools, state: str, reason: str, fields: dict[str, Any]) -> str:
    job = run.job
    if state == "done":
        # Asked again at the last moment: a cameo revoked during the job stops it here.
        problem = checks.grants_still_valid(fields.get("grant_ids", []))
        if problem:
            state, reason = "cancelled", f"consent withdrawn before release: {problem}"
            fields = {"grant_ids": fields.get("grant_ids", [])}
    with session_scope(write=True) as session:
        ended = finish_in(session, job.id, run.worker, state, reason, run.steps, **fields)
        if ended is None:
            session.rollback()
            return "cancelled"  # the job was cancelled or taken over: nothing is released
        if state == "done":
            checks.attach_generation(session, fields["grant_ids"], job.id)
            if job.publish is not None:
                tools.publish(
                    session,
                    FeedItemRequest(
                        item_id=job.id,
                        author_id=job.requester_id,
                        media_location=fields["output_location"],
                        caption=str(job.publish.get("caption", "")),
                        author_age_group=job.requester_age_group,
                        audience_age_group=str(job.publish.get("audience_age_group", "all")),
                        cameo_ids=job.cameo_ids,
                        tenant=job.tenant,
                        provenance={
                            "watermark_id": fields["watermark_id"],
                            "generation_id": job.id,
                            "c2pa_state": "Trusted",
                        },
                    ),
                    f"generation:{job.id}",
                )
                ended.item_id = job.id
    run.progress("finish", state)
    return state
