"""Admin: read-only usage events (search, filters, no full count), unattributed ids, and the sandbox
"send test event" form through Django's test client (acceptance and each refusal)."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from metering import selectors, services
from metering.models import UsageEvent
from tests.catalog.factories import ProductFactory, RateCardFactory
from tests.customers.factories import ContractFactory
from tests.metering.stored import stored_count, stored_one

from .factories import (
    BillableMetricFactory,
    CustomerFactory,
    IngestAliasFactory,
    UsageEventFactory,
)

pytestmark = pytest.mark.django_db


def _ingest(customer_id: str, tx: str | None = None, event_type="api_call", **properties):
    services.usage_events_ingest(
        events=[
            {
                "transaction_id": tx or str(uuid.uuid4()),
                "customer_id": customer_id,
                "event_type": event_type,
                "timestamp": (timezone.now() - timedelta(minutes=5)).isoformat(),
                "properties": properties,
            }
        ],
        now=timezone.now(),
    )


@pytest.mark.relational_store
def test_usage_event_list_page(admin_client):
    _ingest("someone", tokens=5)
    UsageEventFactory(transaction_id="old-one", customer_id="other")
    response = admin_client.get(reverse("admin:metering_usageevent_changelist"))
    assert response.status_code == 200
    assert b"someone" in response.content
    assert b"Unattributed events" in response.content


@pytest.mark.relational_store
def test_usage_event_search_by_transaction_id_and_customer_id(admin_client):
    _ingest("alice", tx="tx-alice")
    _ingest("bob", tx="tx-bob")
    url = reverse("admin:metering_usageevent_changelist")
    by_tx = admin_client.get(url, {"q": "tx-alice"})
    assert [e.transaction_id for e in by_tx.context["cl"].result_list] == ["tx-alice"]
    by_customer = admin_client.get(url, {"q": "bob"})
    assert [e.customer_id for e in by_customer.context["cl"].result_list] == ["bob"]


@pytest.mark.relational_store
def test_usage_event_filters_by_event_type_and_date(admin_client):
    _ingest("c", event_type="api_call")
    _ingest("c", event_type="storage")
    url = reverse("admin:metering_usageevent_changelist")
    response = admin_client.get(url, {"event_type": "storage"})
    assert [e.event_type for e in response.context["cl"].result_list] == ["storage"]
    today = timezone.now().date()
    response = admin_client.get(
        url,  # as the date filter's own links give them: aware, in the current time zone
        {
            "timestamp__gte": f"{today - timedelta(days=1)} 00:00:00+00:00",
            "timestamp__lt": f"{today + timedelta(days=1)} 00:00:00+00:00",
        },
    )
    assert len(response.context["cl"].result_list) == 2


@pytest.mark.relational_store
def test_usage_event_list_does_not_count_the_whole_table(admin_client):
    for _ in range(3):
        _ingest("c")
    response = admin_client.get(reverse("admin:metering_usageevent_changelist"))
    cl = response.context["cl"]
    assert cl.show_full_result_count is False
    assert cl.result_count == 3


@pytest.mark.relational_store
def test_usage_event_detail_is_read_only(admin_client):
    _ingest("c", tx="detail", tokens="1.5")
    event = UsageEvent.objects.get()
    url = reverse("admin:metering_usageevent_change", args=[event.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert b"detail" in response.content
    assert admin_client.post(url, {}).status_code == 403
    assert admin_client.get(reverse("admin:metering_usageevent_add")).status_code == 403


@pytest.mark.relational_store
def test_unattributed_page_lists_ids_without_a_customer(admin_client):
    customer = CustomerFactory()
    IngestAliasFactory(customer=customer, alias="known")
    _ingest("known")
    _ingest(str(customer.id))
    _ingest("stranger@example.com")
    _ingest("stranger@example.com")
    response = admin_client.get(reverse("admin:metering_usageevent_unattributed"))
    assert response.status_code == 200
    rows = [row for row, _ in response.context["rows"]]
    assert [(r.customer_id, r.events) for r in rows] == [("stranger@example.com", 2)]
    filtered = admin_client.get(
        reverse("admin:metering_usageevent_changelist"), {"attribution": "unattributed"}
    )
    assert {e.customer_id for e in filtered.context["cl"].result_list} == {"stranger@example.com"}


# --- Sandbox "send test event" -----------------------------------------------------------------


@pytest.fixture
def sandbox():
    metric = BillableMetricFactory(
        name="Tokens",
        aggregation_type="SUM",
        aggregation_key="tokens",
        event_type_filter={"in_values": ["api_call"]},
        property_filters=[{"name": "tier", "in_values": ["pro", "team"]}],
        group_keys=[["region"]],
    )
    product = ProductFactory(billable_metric=metric, name="API tokens")
    customer = CustomerFactory(name="Acme")
    contract = ContractFactory(
        customer=customer,
        rate_card=RateCardFactory(),
        starting_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    url = reverse(
        "admin:metering_send_test_event",
        kwargs={"contract_id": contract.pk, "product_id": product.pk},
    )
    return metric, product, contract, url


def _form_data(response) -> dict:
    form = response.context["form"]
    return {name: form[name].value() or "" for name in form.fields}


def test_sandbox_form_is_prefilled_from_the_metric(admin_client, sandbox):
    _metric, _, contract, url = sandbox
    response = admin_client.get(url)
    assert response.status_code == 200
    data = _form_data(response)
    assert data["event_type"] == "api_call"
    assert data["customer_id"] == str(contract.customer_id)
    assert uuid.UUID(data["transaction_id"])
    assert set(data) >= {"property_tokens", "property_region", "property_tier"}
    assert data["property_tier"] == "pro"
    stamp = datetime.fromisoformat(data["timestamp"])
    assert abs(stamp - timezone.now()) < timedelta(minutes=5)


def test_sandbox_accepts_an_event_and_shows_the_new_value(admin_client, sandbox):
    metric, _, contract, url = sandbox
    data = _form_data(admin_client.get(url)) | {"property_tokens": "1500", "property_region": "eu"}
    response = admin_client.post(url, data, follow=True)
    assert response.redirect_chain[-1][0] == reverse(
        "admin:customers_contract_change", args=[contract.pk]
    )
    message = next(str(m) for m in response.context["messages"])
    assert message.startswith(f"Test event {data['transaction_id']} accepted for Acme. Tokens in ")
    assert message.endswith(": 1,500 (sum of tokens).")
    event = stored_one()
    assert event.transaction_id == data["transaction_id"]
    assert event.properties == {"tokens": "1500", "region": "eu", "tier": "pro"}
    now = timezone.now()
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    assert selectors.metric_usage_by_group(
        metric=metric,
        customer=contract.customer,
        starting_at=start,
        ending_before=(start + timedelta(days=32)).replace(day=1),
        group_keys=["region"],
    ) == {("eu",): Decimal("1500")}


def _refused(admin_client, url, **changes) -> str:
    data = _form_data(admin_client.get(url)) | {"property_tokens": "10", "property_region": "eu"}
    data.update(changes)
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert stored_count(transaction_id=data["transaction_id"]) == (
        1 if changes.get("transaction_id") == "used" else 0
    )
    form = response.context["form"]
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


def test_sandbox_refuses_a_reused_transaction_id(admin_client, sandbox):
    _ingest("anyone", tx="used")
    errors = _refused(admin_client, sandbox[3], transaction_id="used")
    assert "This transaction_id was already accepted on" in errors
    assert "dropped as a duplicate" in errors


def test_sandbox_refuses_a_timestamp_older_than_34_days(admin_client, sandbox):
    old = (timezone.now() - timedelta(days=35)).strftime("%Y-%m-%dT%H:%M:%SZ")
    errors = _refused(admin_client, sandbox[3], timestamp=old)
    assert errors == "Outside the last 34 days: usage events older than 34 days are refused."


def test_sandbox_refuses_a_timestamp_in_the_far_future(admin_client, sandbox):
    later = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _refused(admin_client, sandbox[3], timestamp=later) == (
        "More than 24 hours in the future: it would be refused."
    )


def test_sandbox_refuses_a_malformed_timestamp(admin_client, sandbox):
    assert _refused(admin_client, sandbox[3], timestamp="tomorrow") == (
        "Not an RFC 3339 timestamp; write it like 2026-01-01T12:00:00Z."
    )


def test_sandbox_refuses_the_wrong_event_type(admin_client, sandbox):
    assert _refused(admin_client, sandbox[3], event_type="storage") == (
        "Tokens would not count this event: its event type must be one of: api_call."
    )


def test_sandbox_refuses_a_missing_group_key(admin_client, sandbox):
    assert _refused(admin_client, sandbox[3], property_region="") == (
        "Tokens would not count this event in a group: give region (group key)."
    )


def test_sandbox_refuses_a_property_the_filters_reject(admin_client, sandbox):
    assert _refused(admin_client, sandbox[3], property_tier="free") == (
        "Tokens would not count this event: property 'tier' must be one of: pro, team."
    )


def test_sandbox_refuses_a_missing_aggregation_value(admin_client, sandbox):
    assert _refused(admin_client, sandbox[3], property_tokens="") == (
        "Tokens would not count this event: give tokens (what it aggregates)."
    )


def test_sandbox_refuses_a_non_numeric_value(admin_client, sandbox):
    assert _refused(admin_client, sandbox[3], property_tokens="many") == (
        "Tokens needs a number here."
    )


def test_sandbox_for_an_unknown_contract_is_a_404(admin_client, sandbox):
    _, product, _, _ = sandbox
    url = reverse(
        "admin:metering_send_test_event",
        kwargs={"contract_id": uuid.uuid4(), "product_id": product.pk},
    )
    assert admin_client.get(url).status_code == 404


def test_contract_page_links_to_the_sandbox(admin_client, sandbox):
    _, product, contract, url = sandbox
    from tests.catalog.factories import RateFactory

    RateFactory(rate_card=contract.rate_card, product=product)
    page = admin_client.get(reverse("admin:customers_contract_change", args=[contract.pk]))
    assert page.status_code == 200
    assert url.encode() in page.content


def test_sandbox_says_plainly_that_an_unknown_id_would_be_unattributed(admin_client, sandbox):
    _, _, _, url = sandbox
    data = _form_data(admin_client.get(url)) | {
        "customer_id": "nobody-has-this",
        "property_tokens": "10",
        "property_region": "eu",
    }

    refused = admin_client.post(url, data)

    assert refused.status_code == 200
    assert refused.context["form"].errors["customer_id"] == [
        "No customer has the id 'nobody-has-this' (neither a customer id nor an ingest alias): "
        "the event would be stored unattributed and count for nobody. Use the customer's id or "
        "alias, or tick “Send it unattributed anyway”."
    ]
    assert stored_count() == 0

    sent = admin_client.post(url, data | {"send_unattributed": "on"}, follow=True)

    message = next(str(m) for m in sent.context["messages"])
    assert message == (
        f"Test event {data['transaction_id']} accepted, but it is unattributed: no customer has "
        "the id 'nobody-has-this' (neither a customer id nor an ingest alias), so it counts for "
        "nobody until that id is added to a customer as an ingest alias."
    )
    assert "Acme" not in message
    assert stored_one().customer_id == "nobody-has-this"


def test_sandbox_message_gives_the_products_unit_too(admin_client, sandbox):
    _, product, _, url = sandbox
    product.quantity_conversion_factor = Decimal(60)
    product.quantity_conversion_operation = "DIVIDE"
    product.quantity_conversion_name = "minutes"
    product.save()
    data = _form_data(admin_client.get(url)) | {"property_tokens": "4416", "property_region": "eu"}

    response = admin_client.post(url, data, follow=True)

    message = next(str(m) for m in response.context["messages"])
    assert message.endswith(": 4,416 (sum of tokens) = 73.6 minutes of API tokens.")
