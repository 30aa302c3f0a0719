"""The admin's usage event list when events live in ClickHouse (chdb): read from the store, newest
first, exact search by transaction id or customer id, event type and unattributed filters, pages
by cursor, and the view permission it needs."""

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from metering import services

from .factories import CustomerFactory

pytestmark = pytest.mark.django_db

URL = reverse("admin:metering_usageevent_changelist")


def _ingest(*events) -> None:
    now = timezone.now()
    services.usage_events_ingest(
        events=[
            {
                "transaction_id": tx,
                "customer_id": customer_id,
                "event_type": event_type,
                "timestamp": (now - timedelta(minutes=minutes)).isoformat(),
                "properties": {"tokens": 1},
            }
            for tx, customer_id, event_type, minutes in events
        ],
        now=now,
    )


def _listed(response) -> list[str]:
    return [event.transaction_id for event, _ in response.context["events"]]


def test_the_list_reads_the_clickhouse_store_newest_first(admin_client, chdb_store):
    _ingest(("tx-old", "alice", "api_call", 30), ("tx-new", "bob", "api_call", 5))
    response = admin_client.get(URL)
    assert response.status_code == 200
    assert response.templates[0].name == "admin/metering/usageevent/store_list.html"
    assert "Events in the ClickHouse event store, newest first." in response.content.decode()
    assert _listed(response) == ["tx-new", "tx-old"]


def test_search_is_exact_by_transaction_id_then_customer_id(admin_client, chdb_store):
    _ingest(("tx-alice", "alice", "api_call", 10), ("tx-bob", "bob", "api_call", 5))
    assert _listed(admin_client.get(URL, {"q": "tx-alice"})) == ["tx-alice"]
    assert _listed(admin_client.get(URL, {"q": "bob"})) == ["tx-bob"]
    nothing = admin_client.get(URL, {"q": "tx-ali"})
    assert _listed(nothing) == []
    assert "No events match." in nothing.content.decode()


def test_filters_by_event_type_and_unattributed_ids(admin_client, chdb_store):
    customer = CustomerFactory()
    _ingest(
        ("tx-known", str(customer.id), "api_call", 10),
        ("tx-stranger", "nobody-knows", "api_call", 8),
        ("tx-storage", str(customer.id), "storage", 5),
    )
    assert _listed(admin_client.get(URL, {"event_type": "storage"})) == ["tx-storage"]
    assert _listed(admin_client.get(URL, {"attribution": "unattributed"})) == ["tx-stranger"]


def test_pages_go_back_in_time_by_cursor(admin_client, chdb_store):
    _ingest(*[(f"tx-{n:02d}", "alice", "api_call", n) for n in range(52)])
    first = admin_client.get(URL)
    assert _listed(first) == [f"tx-{n:02d}" for n in range(50)]
    assert first.context["next_url"].startswith("?before=")
    second = admin_client.get(URL + first.context["next_url"])
    assert _listed(second) == ["tx-50", "tx-51"]
    assert second.context["next_url"] is None


def test_the_list_needs_the_view_permission(client, chdb_store):
    _ingest((str(uuid.uuid4()), "alice", "api_call", 5))
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(user)
    refused = client.get(URL)
    assert refused.status_code == 302
    assert refused["Location"] == reverse("admin:index")

    user.user_permissions.set(Permission.objects.filter(codename="view_usageevent"))
    allowed = client.get(URL)
    assert allowed.status_code == 200
    assert len(_listed(allowed)) == 1
