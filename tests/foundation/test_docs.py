"""/docs works offline (Swagger UI's files from a pinned package, no CDN), and the OpenAPI
document shows the real error shape and the raw-body upload routes' request bodies."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_docs_are_served_without_a_cdn(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower() and "/docs-assets/swagger-ui-bundle.js" in page.text
    script = client.get("/docs-assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000
    assert client.get("/docs-assets/swagger-ui.css").status_code == 200


def test_openapi_shows_the_error_shape_and_upload_bodies(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]["error"]["required"]) == {"code", "message", "request_id"}
    ref = {"$ref": "#/components/schemas/Error"}
    moderations = schema["paths"]["/v1/moderations"]["post"]["responses"]
    assert moderations["422"]["content"]["application/json"]["schema"] == ref
    assert moderations["default"]["content"]["application/json"]["schema"] == ref
    for path in ("/v1/generations/references", "/v1/media", "/v1/checks/likeness"):
        body = schema["paths"][path]["post"]["requestBody"]
        assert "application/octet-stream" in body["content"], path
