"""API tokens: scopes enforced by the API's permission class, expiry, `last_used_at` at most once
a minute per token, `create_api_token --scope`, and the admin page (created and shown once,
revoked by an action that needs the change permission)."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from core import authentication
from core.models import ApiToken
from tests.catalog.factories import usd_cents
from tests.core.factories import ApiTokenFactory

pytestmark = pytest.mark.django_db

EVENT = {
    "transaction_id": "scope-1",
    "customer_id": "acme",
    "event_type": "api_call",
    "timestamp": "2026-01-01T00:00:00Z",
}


@pytest.fixture(autouse=True)
def _usd(db):
    usd_cents()


def client_for(scope: str, **fields) -> APIClient:
    raw = f"bk_scope_{scope}_{len(fields)}"
    ApiTokenFactory(raw_token=raw, scope=scope, **fields)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def ingest(client: APIClient, transaction_id: str = "scope-1"):
    event = {**EVENT, "transaction_id": transaction_id, "timestamp": _recent()}
    return client.post("/v1/ingest", [event], format="json")


def _recent() -> str:
    return (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_an_ingest_token_sends_events_and_nothing_else():
    client = client_for("ingest")

    sent = ingest(client)
    listed = client.get("/v1/customers")
    created = client.post("/v1/customers", {"name": "Acme"}, format="json")

    assert sent.status_code == 200
    assert listed.status_code == 403
    assert listed.json() == {
        "message": "This API token's scope is 'ingest', which does not allow GET /v1/customers."
    }
    assert created.status_code == 403


def test_a_read_token_reads_including_posts_that_only_read_but_changes_nothing():
    client = client_for("read")

    assert client.get("/v1/customers").status_code == 200
    assert client.post("/v1/contract-pricing/products/list", {}, format="json").status_code == 200
    assert client.post("/v1/contracts/list", {"customer_id": "x"}, format="json").status_code in (
        400,
        404,
    )
    refused = client.post("/v1/customers", {"name": "Acme"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        "This API token's scope is 'read', which does not allow POST /v1/customers."
    )
    assert ingest(client).status_code == 403


def test_a_full_token_reads_changes_and_ingests():
    client = client_for("full")

    assert client.post("/v1/customers", {"name": "Acme"}, format="json").status_code == 200
    assert client.get("/v1/customers").status_code == 200
    assert ingest(client).status_code == 200


def test_an_expired_token_is_refused():
    client = client_for("full", expires_at=datetime(2020, 1, 1, tzinfo=UTC))

    answer = client.get("/v1/customers")

    assert answer.status_code == 401
    assert answer.json() == {"message": "Invalid, expired or revoked API token."}


def test_last_used_at_is_written_at_most_once_a_minute(monkeypatch):
    client = client_for("ingest")
    token = ApiToken.objects.get()
    first = datetime.now(UTC).replace(microsecond=0)
    clock = {"now": first}
    monkeypatch.setattr(authentication.timezone, "now", lambda: clock["now"])

    def updates(transaction_id: str) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            assert ingest(client, transaction_id).status_code == 200
        return [q["sql"] for q in queries if "last_used_at" in q["sql"] and "UPDATE" in q["sql"]]

    assert len(updates("t1")) == 1
    token.refresh_from_db()
    assert token.last_used_at == first

    clock["now"] = first + timedelta(seconds=59)
    assert updates("t2") == []
    clock["now"] = first + timedelta(seconds=60)
    assert len(updates("t3")) == 1
    token.refresh_from_db()
    assert token.last_used_at == first + timedelta(seconds=60)


def test_the_command_makes_a_token_of_the_given_scope():
    out = StringIO()
    call_command("create_api_token", "collector", "--scope", "ingest", stdout=out)
    raw = out.getvalue().strip()

    token = ApiToken.objects.get()
    assert (token.name, token.scope, token.token_hash) == (
        "collector",
        "ingest",
        ApiToken.hash(raw),
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert ingest(client).status_code == 200
    assert client.get("/v1/customers").status_code == 403


# --- The admin page -------------------------------------------------------------------------


def _staff(*codenames) -> User:
    user = User.objects.create_user("engineer", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def test_creating_a_token_in_the_admin_shows_it_once(client):
    client.force_login(_staff("add_apitoken", "view_apitoken", "change_apitoken"))

    page = client.post(reverse("admin:core_apitoken_add"), {"name": "collector", "scope": "ingest"})

    assert page.status_code == 200
    raw = page.context["raw_token"]
    token = ApiToken.objects.get()
    assert (token.name, token.scope, token.created_by) == ("collector", "ingest", "engineer")
    assert token.token_hash == ApiToken.hash(raw)
    html = page.content.decode()
    assert raw in html and "shown only once" in html
    listing = client.get(reverse("admin:core_apitoken_changelist")).content.decode()
    assert raw not in listing and token.prefix in listing
    assert (
        raw
        not in client.get(reverse("admin:core_apitoken_change", args=[token.pk])).content.decode()
    )


def test_revoking_needs_the_change_permission(client):
    token = ApiTokenFactory()
    url = reverse("admin:core_apitoken_changelist")
    client.force_login(_staff("view_apitoken"))

    page = client.get(url)
    client.post(url, {"action": "revoke_selected", "_selected_action": [token.pk]})

    assert page.status_code == 200
    assert "revoke_selected" not in page.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None


def test_a_revoked_token_stops_working_and_says_so_on_the_list(client):
    raw = "bk_revoke_me_0001"
    token = ApiTokenFactory(raw_token=raw)
    client.force_login(_staff("view_apitoken", "change_apitoken"))
    url = reverse("admin:core_apitoken_changelist")

    client.post(url, {"action": "revoke_selected", "_selected_action": [token.pk]})

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "Revoked " in client.get(url).content.decode()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/v1/customers").status_code == 401


def test_a_token_is_expired_from_its_page(client):
    raw = "bk_expire_me_0001"
    token = ApiTokenFactory(raw_token=raw)
    client.force_login(_staff("view_apitoken", "change_apitoken"))

    answer = client.post(
        reverse("admin:core_apitoken_change", args=[token.pk]),
        {"name": token.name, "expires_at_0": "2020-01-01", "expires_at_1": "00:00:00"},
    )

    assert answer.status_code == 302
    token.refresh_from_db()
    assert token.expires_at == datetime(2020, 1, 1, tzinfo=UTC)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/v1/customers").status_code == 401
