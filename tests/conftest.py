import contextlib
import os

import pytest
from django.db import connections, transaction
from rest_framework.test import APIClient

from core.models import ApiToken

_original_atomic_exit = transaction.Atomic.__exit__


def _atomic_exit_committing_like_production(self, exc_type, exc_value, traceback):
    """A test's own transaction never commits, so Django would never run on_commit callbacks
    (the outbox's dispatch among them). Run them when the outermost block of the code under test
    ends without error, as a real commit would; a rolled-back block has dropped its own."""
    result = _original_atomic_exit(self, exc_type, exc_value, traceback)
    connection = connections[self.using or "default"]
    if (
        exc_type is None
        and connection.in_atomic_block
        and not connection.needs_rollback
        and all(getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)
        and not getattr(connection, "_running_test_commit_hooks", False)
    ):
        connection._running_test_commit_hooks = True
        try:
            while connection.run_on_commit:
                _, callback, robust = connection.run_on_commit.pop(0)
                if robust:
                    with contextlib.suppress(Exception):
                        callback()
                else:
                    callback()
        finally:
            connection._running_test_commit_hooks = False
    return result


@pytest.fixture(autouse=True)
def _on_commit_as_in_production(monkeypatch):
    monkeypatch.setattr(transaction.Atomic, "__exit__", _atomic_exit_committing_like_production)


@pytest.fixture
def api_token(db) -> str:
    _, raw = ApiToken.generate(name="tests")
    return raw


@pytest.fixture
def api_client(api_token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token}")
    return client


@pytest.fixture(autouse=True)
def _empty_clickhouse_event_store(request, settings):
    """With EVENT_STORE_URL=chdb://... (the second pass of `.ci/run`), events live outside the
    test's database transaction: each test starts from an empty store. A test of the relational
    store's own tables (`@pytest.mark.relational_store`) is skipped then."""
    if request.node.get_closest_marker("relational_store") and getattr(
        settings, "EVENT_STORE_URL", ""
    ):
        pytest.skip("reads the relational event store's tables; EVENT_STORE_URL names ClickHouse")
    yield
    url = getattr(settings, "EVENT_STORE_URL", "")
    if url.startswith("chdb:"):
        from metering.stores import event_store

        store = event_store()
        for table in ("usage", "duplicates"):
            store.client.command(f"TRUNCATE TABLE {store.database}.{table}")


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
    (`_empty_clickhouse_event_store`), whatever store the run was started with."""
    from metering.stores import event_store

    settings.EVENT_STORE_URL = _chdb_url
    return event_store()
