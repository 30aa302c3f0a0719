import os

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


@pytest.fixture(scope="session")
def _chdb_url(tmp_path_factory) -> str:
    """One chdb data path for the whole session (chdb opens one path per process): the one
    EVENT_STORE_URL names on the chdb pass of `.ci/run`, else a temporary one."""
    url = os.environ.get("EVENT_STORE_URL", "")
    if url.startswith("chdb:"):
        return url
    return f"chdb://{tmp_path_factory.mktemp('event-store')}"


@pytest.fixture
def chdb_store(_chdb_url, settings):
    """The ClickHouse store (in-process chdb) as this test's event store, emptied afterwards
    (tests/conftest.py), whatever store the run was started with."""
    from metering.stores import event_store

    settings.EVENT_STORE_URL = _chdb_url
    return event_store()
