"""Liveness, readiness and metrics endpoints.

/readyz reports every part (database, broker, models). Parts listed in the setting
`ready_requires` must be up for a 200; the others are reported but do not fail the probe.
Areas register their models with `register_model_check`; a model that is not loaded fails closed.
Anyone sees whether each part is up; only an admin key sees the details (latencies, errors, the
broker's address). /metrics is served here unless `metrics_port` moves it to its own listener.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, start_http_server

from cameoguard import db
from cameoguard.broker import probe_broker
from cameoguard.heartbeats import workers_part
from cameoguard.settings import get_settings

log = logging.getLogger("cameoguard.health")
router = APIRouter(tags=["health"])

# name -> callable returning None when the model is loaded, or raising / returning the reason.
_model_checks: dict[str, Callable[[], str | None]] = {}


def register_model_check(name: str, check: Callable[[], str | None]) -> None:
    _model_checks[name] = check


def _timed(check: Callable[[], str | None]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        reason = check()
    except Exception as exc:  # a probe must report, never crash
        reason = f"{type(exc).__name__}: {exc}"
    result: dict[str, Any] = {
        "ok": reason is None,
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }
    if reason is not None:
        result["error"] = reason
    return result


def _database() -> str | None:
    db.ping()
    return None


def _workers() -> dict[str, Any]:
    """The workers seen by their heartbeats (none is required unless `ready_requires` says
    `workers`): instances, last-seen age, counters, lag, and the kinds missing."""
    started = time.perf_counter()
    try:
        part = workers_part()
    except Exception as exc:  # a probe must report, never crash
        part = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {**part, "ms": round((time.perf_counter() - started) * 1000, 1)}


def readiness() -> tuple[bool, dict[str, Any]]:
    settings = get_settings()
    models = {name: _timed(check) for name, check in sorted(_model_checks.items())}
    parts: dict[str, dict[str, Any]] = {
        "database": _timed(_database),
        "broker": {
            **_timed(lambda: probe_broker(settings.kafka_bootstrap)),
            "bootstrap": settings.kafka_bootstrap,
        },
        "models": {"ok": all(m["ok"] for m in models.values()), "models": models},
        "workers": _workers(),
    }
    for name, part in parts.items():
        part["required"] = name in settings.ready_requires
    ready = all(part["ok"] for part in parts.values() if part["required"])
    return ready, parts


@router.get("/healthz", summary="Liveness: the process is serving")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _summary(parts: dict[str, Any]) -> dict[str, Any]:
    """What anyone may see: each part up or not, whether it is required, and which kinds of
    worker are missing (no hosts or counters)."""
    shown = {name: {"ok": part["ok"], "required": part["required"]} for name, part in parts.items()}
    shown["workers"]["missing"] = parts["workers"].get("missing", [])
    return shown


@router.get("/readyz", summary="Readiness of each part: database, broker, models, workers")
def readyz(request: Request) -> JSONResponse:
    """Each part up or not (details, such as errors and the broker's address, for admin keys
    only); 503 when a required part is down."""
    ready, parts = readiness()
    principal = getattr(request.state, "principal", None)
    shown = parts if principal is not None and "admin" in principal.scopes else _summary(parts)
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "parts": shown},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
def metrics() -> Response:
    if get_settings().metrics_port is not None:
        return Response(status_code=404)  # served on its own port (`metrics_port`)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def serve_metrics_port() -> None:
    """Starts the separate metrics listener when `metrics_port` is set (idempotent)."""
    global _metrics_started
    settings = get_settings()
    if settings.metrics_port is None or _metrics_started:
        return
    start_http_server(settings.metrics_port, addr=settings.metrics_host)
    _metrics_started = True


_metrics_started = False
