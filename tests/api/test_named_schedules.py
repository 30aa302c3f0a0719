"""Named schedules of rate cards, contracts and customers: update cuts what it covers, get by
date, list a customer's contract schedules."""

from datetime import UTC, datetime

import pytest

from tests.api.conftest import UNKNOWN, data, error
from tests.catalog.factories import RateCardFactory
from tests.customers.factories import ContractFactory, CustomerFactory

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
MAR = datetime(2026, 3, 1, tzinfo=UTC)
APR = datetime(2026, 4, 1, tzinfo=UTC)


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def card(db):
    return RateCardFactory()


def test_rate_card_schedule_update_cuts_the_segment_it_covers(card, post):
    update = "/v1/contract-pricing/rate-cards/updateNamedSchedule"
    base = {"rate_card_id": str(card.pk), "schedule_name": "fx"}
    assert post(update, {**base, "starting_at": iso(JAN), "value": {"rate": "1.10"}}).content == b""
    post(update, {**base, "starting_at": iso(FEB), "ending_before": iso(MAR), "value": 2})
    get = "/v1/contract-pricing/rate-cards/getNamedSchedule"
    assert data(post(get, base)) == [
        {
            "starting_at": "2026-01-01T00:00:00Z",
            "ending_before": "2026-02-01T00:00:00Z",
            "value": {"rate": "1.10"},
        },
        {
            "starting_at": "2026-02-01T00:00:00Z",
            "ending_before": "2026-03-01T00:00:00Z",
            "value": 2,
        },
        {"starting_at": "2026-03-01T00:00:00Z", "value": {"rate": "1.10"}},
    ]
    assert data(post(get, {**base, "covering_date": "2026-02-15T00:00:00Z"})) == [
        {"starting_at": "2026-02-01T00:00:00Z", "ending_before": "2026-03-01T00:00:00Z", "value": 2}
    ]
    # A later update from before the first segment replaces everything from then on.
    post(update, {**base, "starting_at": iso(JAN), "value": None})
    assert data(post(get, base)) == [{"starting_at": "2026-01-01T00:00:00Z", "value": None}]


def test_contract_schedules_are_told_apart_by_properties_and_listed(post, db):
    customer = CustomerFactory()
    contract = ContractFactory(customer=customer)
    other = ContractFactory(customer=customer)
    update = "/v1/contracts/updateNamedSchedule"
    ref = {"contract_id": str(contract.pk), "customer_id": str(customer.pk)}
    post(update, {**ref, "schedule_name": "discount", "starting_at": iso(JAN), "value": 0.1})
    post(
        update,
        {
            **ref,
            "schedule_name": "discount",
            "properties": {"region": "eu"},
            "starting_at": iso(JAN),
            "value": 0.2,
        },
    )
    post(
        update,
        {
            "contract_id": str(other.pk),
            "customer_id": str(customer.pk),
            "schedule_name": "minimum",
            "starting_at": iso(APR),
            "value": 100,
        },
    )
    get = "/v1/contracts/getNamedSchedule"
    assert data(post(get, {**ref, "schedule_name": "discount"})) == [
        {"starting_at": "2026-01-01T00:00:00Z", "value": 0.1}
    ]
    assert data(
        post(get, {**ref, "schedule_name": "discount", "properties": {"region": "eu"}})
    ) == [{"starting_at": "2026-01-01T00:00:00Z", "value": 0.2}]
    listed = post("/v1/contracts/listNamedSchedules", {"customer_id": str(customer.pk)}).json()
    found = sorted(
        (s["contract_id"], s["schedule_name"], str(s["properties"])) for s in listed["data"]
    )
    assert found == sorted(
        [
            (str(contract.pk), "discount", "{}"),
            (str(contract.pk), "discount", "{'region': 'eu'}"),
            (str(other.pk), "minimum", "{}"),
        ]
    )
    assert listed["next_page"] is None
    only = post(
        "/v1/contracts/listNamedSchedules",
        {"customer_id": str(customer.pk), "properties": {"region": "eu"}, "limit": 1},
    ).json()
    assert [(s["schedule_name"], s["segments"]) for s in only["data"]] == [
        ("discount", [{"starting_at": "2026-01-01T00:00:00Z", "value": 0.2}])
    ]
    dated = post(
        "/v1/contracts/listNamedSchedules",
        {"customer_id": str(customer.pk), "covering_date": iso(FEB)},
    ).json()["data"]
    assert {s["schedule_name"] for s in dated} == {"discount"}


def test_customer_schedules(post, db):
    customer = CustomerFactory()
    body = {"customer_id": str(customer.pk), "schedule_name": "tier"}
    post("/v1/customers/updateNamedSchedule", {**body, "starting_at": iso(JAN), "value": "gold"})
    assert data(post("/v1/customers/getNamedSchedule", body)) == [
        {"starting_at": "2026-01-01T00:00:00Z", "value": "gold"}
    ]
    assert data(post("/v1/customers/getNamedSchedule", {**body, "schedule_name": "none"})) == []


def test_schedule_errors(card, post, db):
    update = "/v1/contract-pricing/rate-cards/updateNamedSchedule"
    base = {"rate_card_id": str(card.pk), "schedule_name": "fx", "value": 1}
    assert (
        error(post(update, {**base, "starting_at": iso(FEB), "ending_before": iso(JAN)}), 400)
        == "ending_before: Must be after the start."
    )
    assert error(post(update, {**base, "rate_card_id": UNKNOWN, "starting_at": iso(JAN)}), 404)
    assert error(
        post(
            update, {"rate_card_id": str(card.pk), "schedule_name": "fx", "starting_at": iso(JAN)}
        ),
        400,
    ) == ("value: This field is required.")
    assert error(
        post("/v1/customers/getNamedSchedule", {"customer_id": UNKNOWN, "schedule_name": "x"}), 404
    )


def test_update_config(post, get, db):
    customer = CustomerFactory(salesforce_account_id="old")
    url = f"/v1/customers/{customer.pk}/updateConfig"
    response = post(url, {"leave_stripe_invoices_in_draft": True})
    assert (response.status_code, response.content) == (200, b"")
    customer.refresh_from_db()
    assert (customer.salesforce_account_id, customer.leave_stripe_invoices_in_draft) == (
        "old",
        True,
    )
    post(url, {"salesforce_account_id": "0015000000XyZ"})
    detail = data(get(f"/v1/customers/{customer.pk}"))
    assert detail["customer_config"] == {"salesforce_account_id": "0015000000XyZ"}
    post(url, {"salesforce_account_id": None})
    assert data(get(f"/v1/customers/{customer.pk}"))["customer_config"] == {
        "salesforce_account_id": None
    }
    assert error(post(url, {"leave_stripe_invoices_in_draft": "yes"}), 400) == (
        "leave_stripe_invoices_in_draft: Must be true or false."
    )
    assert error(post(f"/v1/customers/{UNKNOWN}/updateConfig", {}), 404)
