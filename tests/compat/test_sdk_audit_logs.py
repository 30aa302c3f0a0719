"""`v1.audit_logs.list` through the official SDK in strict mode: changes made over the API are
listed oldest first with the token as the actor, filtered by resource, paged by next_page."""

from datetime import UTC, datetime, timedelta

import pytest
from metronome import BadRequestError


def test_changes_made_over_the_api_are_listed_with_the_token_as_actor(client, world):
    logs = list(client.v1.audit_logs.list())

    customers = [log for log in logs if log.resource_type == "customer"]
    assert [log.resource_id for log in customers] == [world["customer"].id]
    created = customers[0]
    assert created.action == "customer.create"
    assert created.actor is not None and created.actor.name == "API token sdk"
    assert created.status == "success"
    assert created.description.startswith("Created customer Acme")
    assert created.request.id
    kinds = {log.resource_type for log in logs}
    assert {"billable_metric", "product", "rate_card", "rate", "customer"} <= kinds
    assert [log.timestamp for log in logs] == sorted(log.timestamp for log in logs)


def test_one_resource_and_newest_first(client, world):
    client.v1.customers.set_name(customer_id=world["customer"].id, name="Acme Corp")

    page = client.v1.audit_logs.list(
        resource_type="customer", resource_id=world["customer"].id, sort="date_desc"
    )

    assert [log.action for log in page.data] == ["customer.update", "customer.create"]
    assert page.data[0].description == "Updated customer Acme Corp: name Acme → Acme Corp"


def test_pages_follow_next_page(client, world):
    first = client.v1.audit_logs.list(limit=2)

    assert len(first.data) == 2
    assert first.next_page
    everything = list(client.v1.audit_logs.list(limit=2))
    assert len(everything) > 2
    assert len({log.id for log in everything}) == len(everything)


def test_a_time_window_and_a_bad_filter(client, world):
    future = datetime.now(UTC) + timedelta(days=1)

    assert client.v1.audit_logs.list(starting_on=future).data == []
    with pytest.raises(BadRequestError) as refused:
        client.v1.audit_logs.list(resource_type="customer")
    assert refused.value.body == {
        "message": "resource_type: Give resource_type and resource_id together."
    }
