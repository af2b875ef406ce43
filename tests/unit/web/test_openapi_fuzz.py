"""Schemathesis drives every operation of the app's OpenAPI spec in-process (ASGI) with
generated requests, with a staff token (sees everything) and a patient's, on a portal running
every pipeline: no request may produce a server error (5xx)."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from tests.unit.web.conftest import api_token, every_pipeline, make_portal

EXAMPLES_PER_OPERATION = 30


def test_no_generated_request_causes_a_server_error(tmp_path: Path) -> None:
    with make_portal(tmp_path, every_pipeline()) as portal:
        schema = schemathesis.openapi.from_asgi("/openapi.json", portal.client.app)
        headers = {role: api_token(portal, role) for role in ("staff", "patient")}
        tried: list[str] = []
        for result in schema.get_all_operations():
            operation = result.ok()
            tried.append(operation.label)

            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def fuzz(case: schemathesis.Case) -> None:
                for auth in headers.values():
                    response = case.call(headers=auth)
                    assert response.status_code < 500, (case.method, case.path, response.text)

            fuzz()
    assert "POST /api/v1/uploads" in tried
    assert "PUT /storage/{bucket}/{key}" in tried
    assert "GET /api/v1/patients/{patient_id}/health-records" in tried
    assert "POST /api/v1/patients/{patient_id}/care-team" in tried
    assert "DELETE /api/v1/patients/{patient_id}/care-team/{doctor_email}" in tried
