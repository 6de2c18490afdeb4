"""Property-based fuzzing of the service's own OpenAPI document with Schemathesis: every
operation, with a key that holds every scope, gets generated valid and invalid requests; none
may answer 5xx, and the service keeps serving."""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from tests.conftest import auth, make_key

EXAMPLES_PER_OPERATION = 12


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_no_operation_answers_5xx(client: TestClient) -> None:
    from safety.consent.models import get_models

    get_models()  # the media routes answer 503 until the models are loaded
    key = make_key("platform", "reviewer", "auditor", "admin", name="fuzzer")
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)  # type: ignore[arg-type]
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(headers=auth(key))
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:200]}"
                )

        run()
    assert operations >= 40
    assert sum(statuses.values()) >= operations * 3  # generated requests really went out
    assert any(200 <= status < 300 for status in statuses)  # some were accepted
    assert not failures, "\n".join(failures[:20])
    assert client.get("/healthz").status_code == 200
