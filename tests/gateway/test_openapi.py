"""schemathesis against the gateway's OpenAPI document: generated requests never get a 5xx, and every
response matches the documented status codes, content types and schemas."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(scope="module")
def api_schema(make_gateway):
    # The schemathesis client runs the app's lifespan around each call: the fixture owns the lifecycle.
    gateway, app = make_gateway(manage_lifecycle=False, rate=1000.0, burst=1000)
    gateway.start()
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        gateway.close()


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case):
    case.call_and_validate(
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ]
    )
