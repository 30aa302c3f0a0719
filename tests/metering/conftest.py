import pytest
from django.db import connection

from metering.definitions import definitions_invalidate


@pytest.fixture(autouse=True)
def _fresh_metric_definitions():
    """Each test starts with an empty metric-definitions cache (rolled-back metrics linger)."""
    definitions_invalidate()
    yield
    definitions_invalidate()


def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (real concurrent connections); run with DATABASE_URL")
