import pytest
from django.db import connection

from metering.definitions import definitions_invalidate


@pytest.fixture(autouse=True)
def _fresh_metric_definitions():
    """Each test starts with an empty metric-definitions cache (rolled-back metrics linger)."""
    definitions_invalidate()
    yield
    definitions_invalidate()


def postgres_only(why: str = "real concurrent connections"):
    if connection.vendor != "postgresql":
        pytest.skip(f"needs PostgreSQL ({why}); run with DATABASE_URL")
