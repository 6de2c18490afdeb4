"""The FastAPI application: mounts each area's router behind the shared middleware, and hands
the areas the services they need of each other."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from pydantic import BaseModel

from cameoguard import __version__
from cameoguard.audit.api import router as audit_router
from cameoguard.auth.api import router as keys_router
from cameoguard.auth.principal import Principal, Scope
from cameoguard.deps import require_scope
from cameoguard.errors import install_error_handlers
from cameoguard.health import router as health_router
from cameoguard.health import serve_metrics_port
from cameoguard.middleware import RequestContextMiddleware, RequestGate
from cameoguard.observability import configure_logging
from cameoguard.services import Services
from cameoguard.settings import get_settings
from consumers.api import router as feed_router
from consumers.items import FeedItemActions
from generator.api import router as generator_router
from provenance.api import router as provenance_router
from rights.api import router as rights_router
from safety.consent import models as consent_models
from safety.consent.api import router as consent_router
from safety.policy import service as policy_service
from safety.policy.api import router as policy_router
from safety.review import metrics as review_metrics
from safety.review.api import router as review_router
from safety.review.decisions import ItemActions

DESCRIPTION = """
Trust-and-safety and provenance checks for an AI video app with cameos.

Authenticate with an API key: `Authorization: Bearer cg_...` (create one with
`cameoguard keys create --scope admin`). Every route names the scopes it admits.
Errors share one shape: `{"error": {"code", "message", "request_id", "details"}}`.
"""


class WhoAmI(BaseModel):
    key_id: str
    name: str
    scopes: list[str]
    roles: list[str]
    tenant: str | None


def services() -> Services:
    """What the areas need of each other, handed to them here."""
    provided = Services()
    provided.provide(ItemActions, FeedItemActions())  # reviewers' decisions change feed items
    return provided


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        policy_service.start()
        consent_models.start()
        serve_metrics_port()
        # The libraries and the text model are loaded: move their objects out of the cyclic
        # collector's reach, so its full passes stay short under load.
        gc.freeze()
        yield

    app = FastAPI(
        title="cameoguard", version=__version__, description=DESCRIPTION, lifespan=lifespan
    )
    app.state.services = services()
    install_error_handlers(app)
    # Added inside out: the gate runs inside the request context.
    app.add_middleware(
        RequestGate,
        routes=lambda: app.routes,
        max_body=settings.max_request_bytes,
        max_upload=settings.max_upload_bytes,
    )
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health_router)
    app.include_router(keys_router)
    app.include_router(audit_router)
    app.include_router(policy_router)
    app.include_router(provenance_router)
    app.include_router(consent_router)
    app.include_router(feed_router)
    app.include_router(generator_router)
    app.include_router(review_router)
    app.include_router(rights_router)
    review_metrics.register()

    any_scope = require_scope(*Scope)

    @app.get("/v1/whoami", response_model=WhoAmI, tags=["auth"])
    def whoami(principal: Principal = Depends(any_scope)) -> WhoAmI:
        return WhoAmI(
            key_id=principal.key_id,
            name=principal.name,
            scopes=sorted(principal.scopes),
            roles=sorted(principal.roles),
            tenant=principal.tenant,
        )

    return app
