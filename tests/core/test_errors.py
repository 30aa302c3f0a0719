"""Answers of last resort: a database outage is a JSON 503 with Retry-After (DRF views and every
other view), a path no route matches under the API is a JSON 404, and OPTIONS on the docs page
answers instead of failing."""

import json

import pytest
from django.db import connection

from tests.metering.test_ingest_api import event

pytestmark = pytest.mark.django_db

UNAVAILABLE = {"message": "The database is unavailable; retry the request later."}


@pytest.fixture
def database_outage(monkeypatch):
    """From here on every statement fails as the driver fails when the server is gone: psycopg's
    cursors (Django's and the ingest's prepared-statement cursor) or Django's SQLite cursor raise
    the driver's OperationalError, which Django wraps as it would a refused connection."""
    error = connection.Database.OperationalError

    def refuse(*args, **kwargs):
        raise error("connection refused: the server is down")

    if connection.vendor == "postgresql":
        import psycopg

        monkeypatch.setattr(psycopg.Cursor, "execute", refuse)
        monkeypatch.setattr(psycopg.Cursor, "executemany", refuse)
    else:
        from django.db.backends.sqlite3.base import SQLiteCursorWrapper

        monkeypatch.setattr(SQLiteCursorWrapper, "execute", refuse)
        monkeypatch.setattr(SQLiteCursorWrapper, "executemany", refuse)


def assert_unavailable(response):
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "5"
    assert response.json() == UNAVAILABLE


def test_an_api_read_during_an_outage_is_a_503(api_client, database_outage):
    assert_unavailable(api_client.get("/v1/customers"))


def test_an_ingest_during_an_outage_is_a_503(api_client, database_outage):
    response = api_client.post("/v1/ingest", json.dumps([event()]), content_type="application/json")
    assert_unavailable(response)


def test_an_admin_page_during_an_outage_is_a_503(admin_client, database_outage):
    assert_unavailable(admin_client.get("/admin/"))


def test_a_missing_api_path_is_a_json_404(api_client):
    response = api_client.get("/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"message": "Not found: /v1/no-such-thing"}


def test_invoice_breakdowns_is_not_taken_for_an_invoice_id(api_client):
    """The invoice-detail route takes only a UUID, so `breakdowns` reaches its own view (which
    looks the customer up) instead of a 400 "not a valid UUID"."""
    customer = "00000000-0000-4000-8000-000000000000"
    response = api_client.get(f"/v1/customers/{customer}/invoices/breakdowns")
    assert response.status_code == 404
    assert response.json() == {"message": f"Customer {customer} not found."}


def test_an_unknown_api_path_is_a_json_404(api_client):
    response = api_client.get("/v1/customers/x/invoices/x/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"message": "Not found: /v1/customers/x/invoices/x/nothing-here"}


def test_options_on_the_api_docs_answers_the_allowed_methods(client):
    response = client.options("/api/docs/")
    assert response.status_code == 200
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    assert client.get("/api/docs/").status_code == 200


def test_options_on_the_schema_answers(client):
    assert client.options("/api/schema/").status_code == 200
