"""Schemathesis over /api/schema/: every operation, 25 generated requests each (bounded), through
the project's WSGI application on the test database. No answer is a 5xx, and every answer matches
the schema (its documented status codes and bodies)."""

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.api.test_never_500 import world as world  # ids of real objects for the examples

EXAMPLES_PER_OPERATION = 25


# Loaded when the module is collected (the schema view reads no database).
schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())


@pytest.fixture(autouse=True)
def _requests_keep_the_test_transaction(db, world):
    """Django closes "old" connections at each request's start and end, which would end the test's
    own transaction; the test client avoids it the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_5xx_or_off_schema(case, api_token):
    response = case.call(headers={"Authorization": f"Bearer {api_token}"})
    case.validate_response(
        response,
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
