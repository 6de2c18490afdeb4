"""The FastAPI application: mounts each area's router behind the shared middleware, and hands
the areas the services they need of each other."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from pydantic import BaseModel

from assembly.wiring import wire
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
from wellbeing.api import router as wellbeing_router

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


DOCS_ASSETS = "/docs-assets"


def offline_docs(app: FastAPI) -> None:
    """The interactive API page at /docs with Swagger UI's files from the pinned
    swagger-ui-bundle package (no CDN)."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="cameoguard API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        )


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "request_id"],
            "properties": {
                "code": {"type": "string", "description": "stable, e.g. not_found"},
                "message": {"type": "string"},
                "request_id": {"type": "string", "nullable": True},
                "details": {"description": "limits crossed, measures, fields at fault"},
            },
        }
    },
}
RAW_BODY = {
    "required": True,
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}


def document_the_edge(app: FastAPI) -> None:
    """The OpenAPI document says what the edge really does: every error has the one shape
    (`Error`, for 422 too instead of FastAPI's validation model), and each raw-body upload
    route takes its media as `application/octet-stream`."""
    import re

    from fastapi.openapi.utils import get_openapi

    from cameoguard.uploads import UPLOAD_ENDPOINTS

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

        def is_upload(path: str, method: str, operation: dict[str, Any]) -> bool:
            # FastAPI's operation id: the endpoint's name, the path and the method, \W as _.
            suffix = re.sub(r"\W", "_", path) + f"_{method}"
            name = str(operation.get("operationId", "")).removesuffix(suffix)
            return name in UPLOAD_ENDPOINTS

        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = {"description": "Invalid request", "content": error_ref}
                responses.setdefault("default", {"description": "Error", "content": error_ref})
                if "requestBody" not in operation and is_upload(path, method, operation):
                    operation["requestBody"] = RAW_BODY
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


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
        title="cameoguard",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served below from packaged assets: /docs works offline
        redoc_url=None,  # ReDoc comes from a CDN only
    )
    offline_docs(app)
    document_the_edge(app)
    app.state.services = services()
    wire()
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
    app.include_router(wellbeing_router)
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
