"""The policy engine's life in the service: loaded once at start, reported to /readyz, and
required by every check (a missing engine is a 503, never an `allow`)."""

from __future__ import annotations

import logging
import threading

from cameoguard.errors import Refusal, RefusalKind
from cameoguard.health import register_model_check
from safety.policy import engine as engine_module
from safety.policy.engine import PolicyEngine

log = logging.getLogger("cameoguard.policy")
_load_error: str | None = None
_lock = threading.Lock()


def start() -> None:
    """Loads the engine; a failure is recorded for /readyz and the checks, not raised."""
    global _load_error
    register_model_check("text-classifier", readiness)
    with _lock:
        try:
            engine_module.get_engine()
            _load_error = None
        except Exception as exc:
            _load_error = f"{type(exc).__name__}: {exc}"
            log.error("policy engine failed to load", extra={"error": _load_error})


def readiness() -> str | None:
    if engine_module.current_engine() is not None:
        return None
    return _load_error or "policy engine not loaded"


def require_engine() -> PolicyEngine:
    engine = engine_module.current_engine()
    if engine is None:
        raise Refusal(
            RefusalKind.unavailable,
            "model_unavailable",
            f"policy engine unavailable ({readiness()}); nothing can be allowed",
        )
    return engine
