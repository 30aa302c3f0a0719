"""Helpers for raw-HTTP tests of the configuration API."""

import pytest

from tests.catalog.factories import usd_cents

USD = "2714e483-4ff1-48e4-9e25-ac732e8f24f2"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(autouse=True)
def _usd(db):
    """The seeded USD (cents) unit (a transactional test elsewhere may have flushed it)."""
    return usd_cents()


@pytest.fixture
def post(api_client):
    def _post(path: str, body=None):
        return api_client.post(path, body if body is not None else {}, format="json")

    return _post


@pytest.fixture
def get(api_client):
    def _get(path: str, params=None):
        return api_client.get(path, params or {})

    return _get


def error(response, status: int) -> str:
    """The message of an error answer, after checking its status and {"message": ...} shape."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"message"}
    return body["message"]


def data(response) -> dict:
    assert response.status_code == 200, response.content
    return response.json()["data"]
